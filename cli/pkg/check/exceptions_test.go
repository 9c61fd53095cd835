package check

import (
	"strings"
	"testing"
	"time"
)

func TestExceptionExpiryAndMatch(t *testing.T) {
	raw := `apiVersion: lakeport.dev/v1alpha1
kind: PolicyExceptions
exceptions:
  - object: {kind: Deployment, name: web, namespace: team-prod}
    environments: [prod]
    apps: [web]
    rules: [pdb, resources]
    reason: because
    expires: "2026-06-01"
`
	exc, err := parseExceptions("policies/exceptions/x.yaml", []byte(raw), func(string) bool { return true }, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := exc[0]
	if e.File != "policies/exceptions/x.yaml" || e.Line != 4 {
		t.Errorf("located at %s:%d", e.File, e.Line)
	}
	// The expiry day is the last day the exception holds (UTC).
	if e.Expired(time.Date(2026, 6, 1, 23, 59, 59, 0, time.UTC)) || !e.Expired(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)) {
		t.Error("an exception expires at the end of its expiry day")
	}
	f := &Finding{Environment: "prod", App: "prod-web", Component: "web", Object: &ObjectRef{Kind: "Deployment", Name: "web", Namespace: "team-prod"}, Rule: "pdb"}
	if !e.Matches(f) {
		t.Error("does not match its object")
	}
	for name, mod := range map[string]func(f *Finding){
		"other rule":      func(f *Finding) { f.Rule = "probes" },
		"other env":       func(f *Finding) { f.Environment = "dev" },
		"other app":       func(f *Finding) { f.App, f.Component = "prod-db", "db" },
		"other kind":      func(f *Finding) { f.Object.Kind = "StatefulSet" },
		"other namespace": func(f *Finding) { f.Object.Namespace = "team-dev" },
	} {
		g := *f
		obj := *f.Object
		g.Object = &obj
		mod(&g)
		if e.Matches(&g) {
			t.Errorf("%s: matches", name)
		}
	}
}

func TestExceptionErrors(t *testing.T) {
	raw := `apiVersion: lakeport.dev/v1alpha1
kind: PolicyExceptions
exceptions:
  - object: {kind: Deployment}
    rules: []
    reason: "  "
  - object: {kind: Job, name: j}
    rules: [nope]
    reason: ok
    expires: tomorrow
    owner: me
`
	_, err := parseExceptions("x.yaml", []byte(raw), func(id string) bool { return id != "nope" }, []string{"pdb"})
	if err == nil || !strings.Contains(err.Error(), `field owner not found`) {
		t.Fatalf("unknown keys are errors: %v", err)
	}
	raw = strings.Replace(raw, "    owner: me\n", "", 1)
	_, err = parseExceptions("x.yaml", []byte(raw), func(id string) bool { return id != "nope" }, []string{"pdb"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"x.yaml:4: exceptions[0].object: must name one object",
		"x.yaml:5: exceptions[0].rules: must list the rule IDs",
		"x.yaml:6: exceptions[0].reason: is missing",
		"x.yaml:4: exceptions[0].expires: is missing",
		`x.yaml:8: exceptions[1].rules[0]: unknown rule "nope" (rules: pdb)`,
		`x.yaml:10: exceptions[1].expires: "tomorrow" is not a date YYYY-MM-DD`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestCompare(t *testing.T) {
	mk := func(msgs ...string) *Report {
		r := &Report{}
		for _, m := range msgs {
			r.Findings = append(r.Findings, &Finding{Environment: "prod", App: "prod-web", Rule: "r", Severity: Failure, Message: m})
		}
		return r
	}
	// Two identical findings in base, three in head: two unchanged, one new. "gone" is fixed.
	rep := Compare(mk("same", "same", "gone"), mk("same", "same", "same", "added"), "main")
	got := map[Status]int{}
	for _, f := range rep.Findings {
		got[f.Status]++
	}
	if got[StatusUnchanged] != 2 || got[StatusNew] != 2 || got[StatusFixed] != 1 {
		t.Fatalf("statuses %v", got)
	}
	if rep.Summary.Failures != 4 || rep.Summary.New != 2 || rep.Summary.Fixed != 1 {
		t.Errorf("summary %+v", rep.Summary)
	}
	if !rep.Failed(false, false) {
		t.Error("new failures must fail")
	}
	only := Compare(mk("same"), mk("same"), "main")
	if only.Failed(false, false) || !only.Failed(false, true) {
		t.Error("unchanged findings fail only with all")
	}
}
