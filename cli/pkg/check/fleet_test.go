package check_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/scale/fleet"
	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// renderAll opens the kit at dir and renders every Application.
func renderAll(tb testing.TB, dir string) (*workspace.Workspace, []*render.Release) {
	tb.Helper()
	w, err := workspace.Open(dir, "")
	if err != nil {
		tb.Fatal(err)
	}
	rels, err := w.Render(context.Background(), w.Apps)
	if err != nil {
		tb.Fatal(err)
	}
	return w, rels
}

// buildFleet generates a fleet of about apps Applications from this repository's kit.
func buildFleet(tb testing.TB, apps int) string {
	tb.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	f, err := fleet.Build(context.Background(), fleet.Options{Src: root, Dir: filepath.Join(tb.TempDir(), "fleet"), Apps: apps})
	if err != nil {
		tb.Fatal(err)
	}
	return f.Dir
}

// TestFastPathsMatchLibrary compares the report's policy findings with the policy engine
// evaluated the plain way, on every object of the kit, of the rules fixture and of a generated
// fleet. The plain way converts the environment's data in OPA's store, converts each object
// again as its input, and evaluates one object at a time. Check converts each object once and
// prepares the environments concurrently.
func TestFastPathsMatchLibrary(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The rules fixture breaks every rule: it has the findings the kit and the fleet lack.
	kits := []struct{ name, dir string }{{"kit", root}, {"rules fixture", ruleFixture(t).Dir}}
	if !testing.Short() {
		kits = append(kits, struct{ name, dir string }{"fleet", buildFleet(t, 100)})
	}
	for _, k := range kits {
		t.Run(k.name, func(t *testing.T) {
			w, rels := renderAll(t, k.dir)
			comparePolicies(t, w, rels)
		})
	}
}

func comparePolicies(t *testing.T, w *workspace.Workspace, rels []*render.Release) {
	ctx := context.Background()
	c, err := check.New(w.Head, check.Options{CRDs: crds.FS})
	if err != nil {
		t.Fatal(err)
	}
	targets := check.Targets(w.Kit.Environments, rels, nil)
	rep, err := c.Check(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		if f.Check == check.CheckPolicy {
			got = append(got, strings.Join([]string{f.Environment, f.App, f.Object.Kind, f.Object.Namespace, f.Object.Name, f.Rule, string(f.Severity), f.Message}, " | "))
		}
	}
	var want []string
	for _, tg := range targets {
		ev, err := c.Engine.Prepare(ctx, check.PolicyData(tg.Environment, tg.Releases))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tg.Releases {
			for _, o := range r.Objects {
				input, err := ast.InterfaceToValue(o.Content)
				if err != nil {
					t.Fatal(err)
				}
				res, err := ev.Eval(ctx, input)
				if err != nil {
					t.Fatal(err)
				}
				ns := o.Namespace
				if ns == "" {
					ns = r.Namespace
				}
				for _, x := range res {
					want = append(want, strings.Join([]string{tg.Environment.Name, r.App, o.Kind, ns, o.Name, x.Rule.ID, string(x.Rule.Severity), x.Message}, " | "))
				}
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 {
		t.Fatal("no policy finding to compare")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the report's policy findings differ from a plain evaluation:\ngot  %d: %s\nwant %d: %s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	t.Logf("%d policy findings match", len(got))
}

// benchApps is the fleet size of the benchmarks: LAKEPORT_BENCH_APPS, default 600 (the
// 617-Application fleet of the check target).
func benchApps(b *testing.B) int {
	s := os.Getenv("LAKEPORT_BENCH_APPS")
	if s == "" {
		return 600
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("LAKEPORT_BENCH_APPS=%q: %v", s, err)
	}
	return n
}

// BenchmarkCheckFleet checks every Application of a generated fleet (rendered once, outside the
// timing), as `lakeport check` does after rendering: policies and exceptions loaded, every
// environment prepared, every object checked. LAKEPORT_BENCH_APPS sets the fleet's size
// (default 600: the 617-Application fleet of issue 14).
//
//	go test -run '^$' -bench CheckFleet -benchtime 3x ./cli/pkg/check
func BenchmarkCheckFleet(b *testing.B) {
	w, rels := renderAll(b, buildFleet(b, benchApps(b)))
	targets := check.Targets(w.Kit.Environments, rels, nil)
	ctx := context.Background()
	objects := 0
	for _, r := range rels {
		objects += len(r.Objects)
	}
	b.ResetTimer()
	for b.Loop() {
		// A new Checker each time: its memory of per-object results would serve every object.
		c, err := check.New(w.Head, check.Options{CRDs: crds.FS})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Check(ctx, targets); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(objects), "objects")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(objects), "µs/object")
}

// BenchmarkPoliciesFleet evaluates only the policies, object by object on one goroutine, on every
// object of a generated fleet (rendered and converted outside the timing): the policy part of
// check's floor. With the render's CPU (`lakeport render -o dir=`) it bounds how fast check can
// be on a given number of cores while each object is evaluated in its environment.
// LAKEPORT_BENCH_APPS sets the fleet's size (default 600).
//
//	go test -run '^$' -bench PoliciesFleet -benchtime 3x ./cli/pkg/check
func BenchmarkPoliciesFleet(b *testing.B) {
	w, rels := renderAll(b, buildFleet(b, benchApps(b)))
	ctx := context.Background()
	c, err := check.New(w.Head, check.Options{CRDs: crds.FS})
	if err != nil {
		b.Fatal(err)
	}
	type env struct {
		ev     *policy.Evaluator
		inputs []ast.Value
	}
	var envs []env
	objects := 0
	for _, tg := range check.Targets(w.Kit.Environments, rels, nil) {
		ev, err := c.Engine.Prepare(ctx, check.PolicyData(tg.Environment, tg.Releases))
		if err != nil {
			b.Fatal(err)
		}
		e := env{ev: ev}
		for _, r := range tg.Releases {
			for _, o := range r.Objects {
				v, err := ast.InterfaceToValue(o.Content)
				if err != nil {
					b.Fatal(err)
				}
				e.inputs = append(e.inputs, v)
			}
		}
		objects += len(e.inputs)
		envs = append(envs, e)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, e := range envs {
			for _, in := range e.inputs {
				if _, err := e.ev.Eval(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(objects), "objects")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(objects), "µs/object")
}
