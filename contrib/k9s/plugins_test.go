package k9s_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// plugin mirrors k9s v0.50.16 internal/config/plugin.go Plugin (yaml tags as json tags for
// sigs.k8s.io/yaml): k9s decodes plugins into it, so a key it lacks is a key k9s ignores.
type plugin struct {
	Scopes          []string `json:"scopes"`
	Args            []string `json:"args"`
	ShortCut        string   `json:"shortCut"`
	Override        bool     `json:"override"`
	Pipes           []string `json:"pipes"`
	Description     string   `json:"description"`
	Command         string   `json:"command"`
	Confirm         bool     `json:"confirm"`
	Background      bool     `json:"background"`
	Dangerous       bool     `json:"dangerous"`
	OverwriteOutput bool     `json:"overwriteOutput"`
}

// k9sEnvRX is k9s v0.50.16 internal/view/env.go envRX: how k9s finds $VARS in plugin args.
var k9sEnvRX = regexp.MustCompile(`(\$(!?)([\w\-]+))|(\$\{(!?)([\w\-%/: ]+)})`)

// substitute replaces $VARS as k9s's Env.Substitute does (longest first, unknown kept).
func substitute(arg string, env map[string]string) string {
	ms := k9sEnvRX.FindAllStringSubmatch(arg, -1)
	sort.Slice(ms, func(i, j int) bool { return len(ms[i][0]) > len(ms[j][0]) })
	for _, m := range ms {
		key := m[3]
		if m[1] == "" {
			key = m[6]
		}
		if v, ok := env[strings.ToUpper(key)]; ok {
			arg = strings.ReplaceAll(arg, m[0], v)
		}
	}
	return arg
}

// boundKeys are the keys k9s v0.50.16 binds in the views the plugins are scoped to, which a
// plugin may not reuse without override (internal/view/table.go: Shift-N, Shift-A, Ctrl-S, Ctrl-Z,
// Ctrl-W; browser.go: c, Ctrl-R, Ctrl-D; ns.go: u, Shift-S).
var boundKeys = map[string]bool{"Shift-N": true, "Shift-A": true, "Shift-S": true, "Ctrl-S": true, "Ctrl-Z": true, "Ctrl-W": true, "Ctrl-R": true, "Ctrl-D": true}

// shortCutRX: the key names k9s adds to tcell's (internal/ui/key.go: Shift-A..Shift-Z) and
// tcell's own Ctrl-A..Ctrl-Z.
var shortCutRX = regexp.MustCompile(`^(Shift|Ctrl)-[A-Z]$`)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "k9s-plugins.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != "21d30bb793fea3cf865d705127f385697ec36a994fbf39de7e5fa336614dab0b" {
		t.Fatal("testdata/k9s-plugins.schema.json is not k9s v0.50.16's internal/config/json/schemas/plugins.json (testdata/SOURCE.md)")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("plugins.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("plugins.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, yamlDoc []byte) error {
	t.Helper()
	js, err := yaml.YAMLToJSON(yamlDoc)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// TestPluginsMatchK9sSchema validates plugins.yaml with k9s's plugins schema and decodes it
// strictly into k9s's Plugin fields.
func TestPluginsMatchK9sSchema(t *testing.T) {
	raw, err := os.ReadFile("plugins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t), raw); err != nil {
		t.Fatalf("plugins.yaml does not match k9s's plugins schema: %v", err)
	}
	var file struct {
		Plugins map[string]plugin `json:"plugins"`
	}
	if err := yaml.UnmarshalStrict(raw, &file); err != nil {
		t.Fatalf("plugins.yaml has keys k9s does not know: %v", err)
	}
	if len(file.Plugins) != 6 {
		t.Fatalf("want health, diff and promote plan on Applications and namespaces, got %d plugins", len(file.Plugins))
	}
	seen := map[string]string{}
	for name, p := range file.Plugins {
		if !shortCutRX.MatchString(p.ShortCut) || boundKeys[p.ShortCut] {
			t.Errorf("%s: shortCut %q is not a k9s key name or is bound by k9s in these views", name, p.ShortCut)
		}
		for _, s := range p.Scopes {
			if s != "applications" && s != "namespaces" {
				t.Errorf("%s: scope %q: the plugins belong on Argo CD Applications and the kit's namespaces", name, s)
			}
			if other, dup := seen[s+"/"+p.ShortCut]; dup {
				t.Errorf("%s and %s both bind %s in %s: k9s refuses duplicate plugin keys", name, other, p.ShortCut, s)
			}
			seen[s+"/"+p.ShortCut] = name
		}
		for _, a := range p.Args {
			for _, m := range k9sEnvRX.FindAllStringSubmatch(a, -1) {
				if k := m[3] + m[6]; k != "NAME" && k != "NAMESPACE" && k != "CONTEXT" {
					t.Errorf("%s: arg %q uses $%s, which k9s does not set for these views", name, a, k)
				}
			}
		}
		if p.Command != "lakeport-k9s" || p.Background || p.Dangerous {
			t.Errorf("%s: want command lakeport-k9s in the foreground, not dangerous: %+v", name, p)
		}
	}
}

// TestK9sSchemaRejects: the vendored schema is not vacuous; it refuses what k9s refuses.
func TestK9sSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	cases := map[string]string{
		"no shortCut":           "plugins:\n  x: {description: d, scopes: [pods], command: ls}\n",
		"no scopes":             "plugins:\n  x: {shortCut: Shift-H, description: d, command: ls}\n",
		"unknown top-level":     "plugins: {}\nplugin: {}\n",
		"args not strings":      "plugins:\n  x: {shortCut: Shift-H, description: d, scopes: [pods], command: ls, args: [{a: b}]}\n",
		"scopes not a list":     "plugins:\n  x: {shortCut: Shift-H, description: d, scopes: pods, command: ls}\n",
		"no plugins key at all": "{}\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := validate(t, s, []byte(doc)); err == nil {
				t.Fatalf("schema accepted %q", doc)
			}
		})
	}
}

// TestPluginsRun runs each plugin's command as k9s would for a selected item (args substituted
// the k9s way), with kubectl and lakeport replaced by recorders, and checks the lakeport command.
func TestPluginsRun(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	raw, err := os.ReadFile("plugins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Plugins map[string]plugin `json:"plugins"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script, err := filepath.Abs("lakeport-k9s")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(script, filepath.Join(bin, "lakeport-k9s")); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(bin, "argv")
	// kubectl: the Application's labels, or the environments deploying into a namespace.
	writeExec(t, filepath.Join(bin, "kubectl"), `#!/bin/sh
case "$*" in
  *"get applications.argoproj.io staging-trino "*) printf 'staging trino' ;;
  *"--all-namespaces"*'destination.namespace=="risk-staging"'*) printf 'staging\nstaging\n' ;;
  *"--all-namespaces"*) ;;
  *) echo "kubectl: unexpected $*" >&2; exit 1 ;;
esac
`)
	writeExec(t, filepath.Join(bin, "lakeport"), "#!/bin/sh\nprintf '%s\\n' \"$@\" > "+record+"\n")
	want := map[string]string{
		"lakeport-app-health":       "health --env staging --app trino --context ctx-a",
		"lakeport-app-diff":         "diff --live --env staging --app trino --context ctx-a",
		"lakeport-app-promote-plan": "promote --plan trino --context ctx-a",
		"lakeport-ns-health":        "health --env staging --context ctx-a",
		"lakeport-ns-diff":          "diff --live --env staging --context ctx-a",
		"lakeport-ns-promote-plan":  "promote --plan --context ctx-a",
	}
	real := realLakeport(t)
	for name, p := range file.Plugins {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"NAME": "staging-trino", "NAMESPACE": "argocd", "CONTEXT": "ctx-a"}
			if strings.HasPrefix(name, "lakeport-ns-") {
				env = map[string]string{"NAME": "risk-staging", "NAMESPACE": "", "CONTEXT": "ctx-a"}
			}
			var argv []string
			for _, a := range p.Args {
				argv = append(argv, substitute(a, env))
			}
			_ = os.Remove(record)
			// k9s finds the command on its PATH; here, the test's bin folder.
			cmd := exec.Command(filepath.Join(bin, p.Command), argv...)
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+"/usr/bin:/bin", "LAKEPORT_REPO=")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s %v: %v\n%s", p.Command, argv, err, out)
			}
			got, err := os.ReadFile(record)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(strings.Fields(string(got)), " "); g != want[name] {
				t.Errorf("lakeport %s, want lakeport %s", g, want[name])
			}
			if real != "" {
				// The real CLI accepts these flags (cobra refuses unknown flags even with --help).
				check := exec.Command(real, append(strings.Fields(want[name]), "--help")...)
				if out, err := check.CombinedOutput(); err != nil {
					t.Errorf("%s %s --help: %v\n%s", real, want[name], err, out)
				}
			}
		})
	}
	// A namespace no Application deploys into, and an Application without the kit's labels.
	cmd := exec.Command(filepath.Join(bin, "lakeport-k9s"), "health", "ns", "kube-system", "ctx-a")
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no lakeport Application deploys into namespace kube-system") {
		t.Errorf("kube-system: %v %s", err, out)
	}
	cmd = exec.Command(filepath.Join(bin, "lakeport-k9s"), "health", "app", "other", "argocd", "ctx-a")
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "cannot read Application argocd/other") {
		t.Errorf("unlabelled Application: %v %s", err, out)
	}
}

func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(fmt.Errorf("write %s: %w", path, err))
	}
}

// realLakeport is the lakeport binary whose flags the plugins are checked against: $LAKEPORT_BIN,
// else one built with the flags `go test` compiles with (no -trimpath, the default CGO_ENABLED), so
// that the packages the CLI's tests compiled are reused and this costs a link; else "" under
// -short. The release build itself is the release test's.
func realLakeport(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LAKEPORT_BIN"); p != "" {
		return p
	}
	if testing.Short() {
		t.Log("-short: the plugins' flags are not checked against a lakeport binary")
		return ""
	}
	out := filepath.Join(t.TempDir(), "lakeport")
	cmd := exec.Command("go", "build", "-o", out, "./cli/cmd/lakeport")
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build lakeport: %v\n%s", err, b)
	}
	return out
}
