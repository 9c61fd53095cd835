package depcheck

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

const module = "github.com/lakeport/lakeport/"

type listed struct {
	ImportPath string
	Imports    []string
}

// list returns the packages pattern names, or their dependencies too (deps), with their own
// imports.
func list(t *testing.T, deps bool, pattern string) []listed {
	t.Helper()
	args := []string{"list", "-json=ImportPath,Imports"}
	if deps {
		args = append(args, "-deps")
	}
	out, err := exec.Command("go", append(args, pattern)...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// The commands are flag binding and output: of this module they import the action package, the
// output, view and stream packages, and the domain packages whose types and writers they print; never
// the packages that open revisions, expand the ApplicationSet, scope a diff or read the kit.
func TestCommandsImportOnlyTheActionLayer(t *testing.T) {
	allowed := []string{
		"cli/pkg/action", "cli/internal/output", "cli/internal/view", "cli/internal/iostreams", "cli/internal/version",
		// Results the commands print, and their writers.
		"cli/pkg/check", "cli/pkg/check/report", "cli/pkg/check/policy", "cli/pkg/diff", "cli/pkg/health",
		"cli/pkg/promote", "cli/pkg/render",
		// init's option types and the parsers of their flag forms (NAME=NAMESPACE@SERVER).
		"cli/pkg/adopt",
		// The root command's test hook between two renames (atomicfile.Hook).
		"cli/pkg/atomicfile",
	}
	for _, p := range list(t, false, module+"cli/internal/cmd") {
		for _, imp := range p.Imports {
			rel, ok := strings.CutPrefix(imp, module)
			if ok && !slices.Contains(allowed, rel) {
				t.Errorf("%s imports %s: orchestration belongs in cli/pkg/action", p.ImportPath, imp)
			}
		}
	}
}

// The action layer and the example built on it run without cobra: no package of this module they
// depend on imports it (cobra stays in cli/internal/cmd).
func TestActionLayerWithoutCobra(t *testing.T) {
	for _, root := range []string{module + "cli/pkg/action", module + "cli/examples/prpreview"} {
		for _, p := range list(t, true, root) {
			if !strings.HasPrefix(p.ImportPath, module) {
				continue
			}
			if slices.Contains(p.Imports, "github.com/spf13/cobra") {
				t.Errorf("%s (a dependency of %s) imports cobra", p.ImportPath, root)
			}
		}
	}
}

// The example is built and run: a PR preview and a PR-mode check of the fixture kit through the
// action package alone.
func TestExamplePRPreview(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the example (a large binary)")
	}
	bin := filepath.Join(t.TempDir(), "prpreview")
	if out, err := exec.Command("go", "build", "-o", bin, module+"cli/examples/prpreview").CombinedOutput(); err != nil {
		t.Fatalf("build the example: %v\n%s", err, out)
	}
	f := testkit.NewFixture(t)
	f.Replace("environments/dev/web.yaml", "replicas: 1", "replicas: 2")
	cmd := exec.Command(bin, "-repo", f.Dir, "-base", "HEAD")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("prpreview: %v\n%s", err, out)
	}
	for _, want := range []string{"## Rendered changes", "dev-web", "## Policy findings"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the comment lacks %q:\n%s", want, out)
		}
	}
	if ee == nil || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want 1 (the pull request changes dev-web)", err)
	}
}
