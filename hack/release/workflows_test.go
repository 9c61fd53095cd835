package release_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lakeport/lakeport/hack/testenv"
)

// TestWorkflowsLint runs actionlint (built from its Go module by hack/ensure.sh) on every GitHub
// workflow of the kit. actionlint also reads action.yml when a workflow uses it as `./`, checking
// the inputs given to it, and runs shellcheck on every `run:` script when shellcheck is installed
// (hack/apt.sh installs it; with LAKEPORT_REQUIRE_TOOLS=1 it must be there).
func TestWorkflowsLint(t *testing.T) {
	actionlint := testenv.Tool(t, "actionlint")
	if actionlint == "" {
		return
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	requireShellcheck(t)
	workflows, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if len(workflows) < 2 {
		t.Fatalf("found %d workflows under .github/workflows, want the PR preview and the release", len(workflows))
	}
	cmd := exec.Command(actionlint, "-no-color")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint found problems in the kit's workflows:\n%s", out)
	}

	// It is a real check: a workflow giving the action an input it does not declare fails.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".github", "workflows", "typo.yml"), `on: pull_request
jobs:
  diff:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        with:
          bsae: origin/main
`)
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "action.yml"), string(action))
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil { // actionlint's project root
		t.Fatal(err)
	}
	cmd = exec.Command(actionlint, "-no-color")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `input "bsae" is not defined in action "lakeport diff"`) {
		t.Errorf("actionlint did not refuse an undeclared input of the action: %v\n%s", err, out)
	}
}

// TestActionScripts: actionlint does not lint a composite action's own steps, so each `run:` of
// action.yml is checked here: no ${{ }} expression inside a script (inputs reach scripts through
// env, never by text substitution, so an input cannot inject shell code) and shellcheck passes.
func TestActionScripts(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Runs struct {
			Using string `yaml:"using"`
			Steps []struct {
				Name  string `yaml:"name"`
				Run   string `yaml:"run"`
				Shell string `yaml:"shell"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if action.Runs.Using != "composite" {
		t.Fatalf("action.yml runs.using = %q, want composite", action.Runs.Using)
	}
	shellcheck := requireShellcheck(t)
	scripts := 0
	for _, s := range action.Runs.Steps {
		if s.Run == "" {
			continue
		}
		scripts++
		if strings.Contains(s.Run, "${{") {
			t.Errorf("action.yml step %q: a ${{ }} expression inside run: (pass it through env)", s.Name)
		}
		if s.Shell != "bash" {
			t.Errorf("action.yml step %q: shell %q, want bash", s.Name, s.Shell)
		}
		if shellcheck == "" {
			continue
		}
		f := filepath.Join(t.TempDir(), "step.sh")
		writeFile(t, f, "#!/usr/bin/env bash\nset -eo pipefail\n"+s.Run)
		if out, err := exec.Command(shellcheck, "-s", "bash", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck on action.yml step %q:\n%s", s.Name, out)
		}
	}
	if scripts == 0 {
		t.Fatal("action.yml has no run: step")
	}
	// install.sh is what the action and the README run to install a release.
	if shellcheck != "" {
		if out, err := exec.Command(shellcheck, filepath.Join(root, "install.sh")).CombinedOutput(); err != nil {
			t.Errorf("shellcheck install.sh:\n%s", out)
		}
	}
}

// requireShellcheck returns shellcheck's path, or "" (then a test requiring tools fails).
func requireShellcheck(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv(testenv.EnvRequireTools) != "" {
			t.Fatalf("shellcheck is not installed: run bash hack/apt.sh")
		}
		t.Log("shellcheck is not installed (bash hack/apt.sh): scripts not checked")
		return ""
	}
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
