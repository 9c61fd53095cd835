package policy

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
)

// fsSnapshot serves an in-memory file tree as a source.Snapshot.
type fsSnapshot struct{ fs fstest.MapFS }

func (s fsSnapshot) Revision() string                     { return "test" }
func (s fsSnapshot) ReadFile(name string) ([]byte, error) { return fs.ReadFile(s.fs, name) }
func (s fsSnapshot) Files(dir string) ([]string, error) {
	var out []string
	err := fs.WalkDir(s.fs, dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	sort.Strings(out)
	return out, err
}

const policies = `package main

# METADATA
# title: Named things
deny_named contains msg if {
	input.metadata.name == "bad"
	msg := sprintf("%s %s is bad", [input.kind, input.metadata.name])
}

# Structured results carry metadata, as in conftest.
violation_structured contains {"msg": "structured", "details": {"env": data.lakeport.environment.name}} if input.kind == "Pod"

# A complete rule that is undefined for most inputs must not hide the other rules.
deny_complete := ["complete"] if input.kind == "Service"

warn_everything contains "always"

helper := 1
`

func TestEngine(t *testing.T) {
	snap := fsSnapshot{fstest.MapFS{
		"policies/main.rego":      {Data: []byte(policies)},
		"policies/main_test.rego": {Data: []byte("package main\n\ntest_named if { deny_named[\"Pod bad is bad\"] with input as {\"kind\": \"Pod\", \"metadata\": {\"name\": \"bad\"}} }\n")},
		"policies/notes.txt":      {Data: []byte("not rego")},
	}}
	e, err := Load(snap, Dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range e.Rules {
		ids = append(ids, string(r.Severity)+":"+r.ID)
	}
	if got := strings.Join(ids, " "); got != "failure:complete failure:named failure:structured warning:everything" {
		t.Fatalf("rules %s", got)
	}
	if e.Rule("named").Title != "Named things" || e.Rule("named").File != "policies/main.rego" || e.Rule("named").Line != 5 {
		t.Errorf("rule metadata %+v", e.Rule("named"))
	}
	ev, err := e.Prepare(context.Background(), map[string]any{"lakeport": map[string]any{"environment": map[string]any{"name": "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	eval := func(obj map[string]any) []string {
		res, err := ev.Eval(context.Background(), ast.MustInterfaceToValue(obj))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res {
			s := r.Rule.ID + ": " + r.Message
			if r.Metadata != nil {
				s += " " + ast.MustInterfaceToValue(r.Metadata).String()
			}
			out = append(out, s)
		}
		return out
	}
	if got := strings.Join(eval(map[string]any{"kind": "Pod", "metadata": map[string]any{"name": "bad"}}), "; "); got != `named: Pod bad is bad; structured: structured {"details": {"env": "prod"}}; everything: always` {
		t.Errorf("pod: %s", got)
	}
	if got := strings.Join(eval(map[string]any{"kind": "Service", "metadata": map[string]any{"name": "ok"}}), "; "); got != "complete: complete; everything: always" {
		t.Errorf("service: %s", got)
	}

	res, err := RunTests(context.Background(), snap, Dir, "")
	if err != nil || len(res) != 1 || !res[0].Pass || res[0].Name != "test_named" {
		t.Fatalf("tests: %+v, %v", res, err)
	}
}

func TestLoadErrors(t *testing.T) {
	snap := fsSnapshot{fstest.MapFS{
		"policies/a.rego": {Data: []byte("package main\n\ndeny_a contains msg if {\n\tmsg := \n}\n")},
		"policies/b.rego": {Data: []byte("package main\n\ndeny_b contains msg if {\n\tmsg := undefined_fn(1)\n}\n")},
	}}
	_, err := Load(snap, Dir)
	if err == nil || !strings.Contains(err.Error(), "policies/a.rego:5: rego_parse_error") {
		t.Fatalf("parse error: %v", err)
	}
	delete(snap.fs, "policies/a.rego")
	_, err = Load(snap, Dir)
	if err == nil || !strings.Contains(err.Error(), "policies/b.rego:4: rego_type_error: undefined function undefined_fn") {
		t.Fatalf("compile error: %v", err)
	}
	snap.fs["policies/b.rego"] = &fstest.MapFile{Data: []byte("package main\n\nexception contains rules if {\n\tinput.kind == \"Pod\"\n\trules := [\"named\"]\n}\n")}
	_, err = Load(snap, Dir)
	if err == nil || !strings.Contains(err.Error(), `policies/b.rego:3: rule "exception": declare exceptions in policies/exceptions/*.yaml`) {
		t.Fatalf("conftest exception rule: %v", err)
	}
	e, err := Load(fsSnapshot{fstest.MapFS{}}, Dir)
	if err != nil || len(e.Rules) != 0 {
		t.Fatalf("no policies folder: %v, %v", e, err)
	}
}
