package check_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/conftestpeer"
	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/hack/testenv"
)

// conftestResult is the part of `conftest test -o json` this test reads.
type conftestResult struct {
	FileName string `json:"filename"`
	Failures []struct {
		Msg      string         `json:"msg"`
		Metadata map[string]any `json:"metadata"`
	} `json:"failures"`
	Warnings []struct {
		Msg      string         `json:"msg"`
		Metadata map[string]any `json:"metadata"`
	} `json:"warnings"`
}

// TestConftestParity renders the fixture with every rule's bad and good objects, checks it with
// lakeport, then runs the real conftest binary on the same rendered manifests with the same
// policies and the same data, and asserts that both find exactly the same policy findings:
// environment, application, rule, severity and message. (Exceptions are lakeport's layer on top
// of the findings, so they are compared before exceptions.)
func TestConftestParity(t *testing.T) {
	conftest := testenv.Tool(t, "conftest")
	f := ruleFixture(t)
	_, rep, rels, w := checkFixture(t, f)

	var want []string
	for _, fd := range rep.Findings {
		if fd.Check == check.CheckPolicy {
			want = append(want, strings.Join([]string{fd.Environment, fd.Component, fd.Rule, string(fd.Severity), fd.Message}, " | "))
		}
	}
	sort.Strings(want)
	if len(want) < 50 {
		t.Fatalf("only %d policy findings: the fixture should break every rule", len(want))
	}

	runs, err := conftestpeer.Inputs(t.TempDir(), w.Kit, rels)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, run := range runs {
		cmd := exec.Command(conftest, run.Args(filepath.Join(f.Dir, policy.Dir), "--output", "json")...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
			t.Fatalf("conftest %s: %v\n%s", run.Environment, err, stderr.String())
		}
		var results []conftestResult
		if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
			t.Fatalf("conftest output is not JSON: %v\n%s", err, stdout.String())
		}
		for _, r := range results {
			component := strings.TrimSuffix(filepath.Base(r.FileName), ".yaml")
			for _, x := range r.Failures {
				got = append(got, strings.Join([]string{run.Environment, component, ruleOf(x.Metadata), string(check.Failure), x.Msg}, " | "))
			}
			for _, x := range r.Warnings {
				got = append(got, strings.Join([]string{run.Environment, component, ruleOf(x.Metadata), string(check.Warning), x.Msg}, " | "))
			}
		}
	}
	sort.Strings(got)
	t.Logf("%d policy findings in %d environments, lakeport and conftest", len(want), len(runs))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("conftest and lakeport check disagree (%d vs %d findings):\n%s", len(got), len(want), setDiff(want, got))
	}
}

// ruleOf is the rule ID of conftest's result: its query is data.main.<rule name>.
func ruleOf(meta map[string]any) string {
	q, _ := meta["query"].(string)
	return policy.RuleID(strings.TrimPrefix(q, "data."+policy.Namespace+"."))
}

func setDiff(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var b strings.Builder
	for k, n := range count {
		switch {
		case n > 0:
			b.WriteString("only lakeport: " + k + "\n")
		case n < 0:
			b.WriteString("only conftest: " + k + "\n")
		}
	}
	return b.String()
}
