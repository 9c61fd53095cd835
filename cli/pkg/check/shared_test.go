package check_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/crds"
)

// TestSharedEvaluation checks the rule fixture (every rule broken) with two Checkers sharing one
// memory, as the two sides of `check --base` do: the second evaluates no object and reports
// exactly what an unshared Checker reports; an environment whose data differs (its Kubernetes
// version) is evaluated again.
func TestSharedEvaluation(t *testing.T) {
	f := ruleFixture(t)
	_, want, rels, w := checkFixture(t, f)
	targets := check.Targets(w.Kit.Environments, rels, nil)
	opts := check.Options{Now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), CRDs: crds.FS, Shared: check.NewShared()}
	run := func() *check.Report {
		t.Helper()
		c, err := check.New(w.Head, opts)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := c.Check(context.Background(), targets)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	js := func(r *check.Report) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first := run()
	n := opts.Shared.Evaluated()
	if n == 0 || int(n) > want.Summary.Objects {
		t.Fatalf("%d objects evaluated for %d checked", n, want.Summary.Objects)
	}
	second := run()
	if got := opts.Shared.Evaluated(); got != n {
		t.Errorf("the second Checker evaluated %d objects again, want none", got-n)
	}
	if js(first) != js(want) || js(second) != js(want) {
		t.Errorf("shared reports differ from the unshared one:\n%.2000s\n----\n%.2000s", js(second), js(want))
	}
	if len(want.Findings) < 50 {
		t.Fatalf("only %d findings: the fixture should break every rule", len(want.Findings))
	}

	// Another Kubernetes version in one environment: its objects are evaluated again.
	env := *targets[0].Environment
	env.KubeVersion = "1.30.0"
	targets[0].Environment = &env
	run()
	if opts.Shared.Evaluated() == n {
		t.Error("an environment with other data was served from the memory")
	}
}
