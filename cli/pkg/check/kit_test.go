package check_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestBundledKitPasses checks the kit of this repository (environments/, charts/, policies/) in
// every environment: no failing finding, warnings included. A chart change that breaks a policy
// fails here, naming the object, the template and the fix.
func TestBundledKitPasses(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	w, rels := renderAll(t, root)
	c, err := check.New(w.Head, check.Options{CRDs: crds.FS})
	if err != nil {
		t.Fatal(err)
	}
	targets := check.Targets(w.Kit.Environments, rels, nil)
	rep, err := c.Check(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) < 3 || rep.Summary.Objects == 0 {
		t.Fatalf("checked %d environments, %d objects", len(targets), rep.Summary.Objects)
	}
	for _, f := range rep.Findings {
		if !f.Excepted() {
			t.Errorf("%s %s %s (%s:%d) [%s %s] %s", f.Environment, f.App, f.Object, f.File, f.Line, f.Severity, f.Rule, f.Message)
		}
	}
}

// TestConftestVerify runs the Rego unit tests with conftest too: both runners see the same tests
// and all pass.
func TestConftestVerify(t *testing.T) {
	conftest := testenv.Tool(t, "conftest")
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(conftest, "verify", "--no-color", "--policy", filepath.Join(root, policy.Dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("conftest verify: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) tests, (\d+) passed`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in conftest's output:\n%s", out)
	}
	w, err := workspace.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := policy.RunTests(context.Background(), w.Head, policy.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, r := range res {
		if r.Pass {
			passed++
		}
	}
	if n, _ := strconv.Atoi(string(m[1])); n != len(res) || passed != len(res) || string(m[1]) != string(m[2]) {
		t.Errorf("conftest: %s tests, %s passed; lakeport: %d tests, %d passed", m[1], m[2], len(res), passed)
	}
}
