package fleet

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestBuild builds a small fleet and loads it as lakeport does: every generated environment
// validates, expands to four Applications at its own pins and namespace, renders, and the three
// pull request shapes apply.
func TestBuild(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := Build(ctx, Options{Src: root, Dir: filepath.Join(t.TempDir(), "fleet"), Apps: 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Envs) != 10 || len(f.Pins) != Releases || f.Next == "" {
		t.Fatalf("envs %d pins %d next %q", len(f.Envs), len(f.Pins), f.Next)
	}
	w, err := workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	apps := workspace.Filter(w.Apps, f.Envs, nil)
	if len(apps) != 40 {
		t.Fatalf("%d generated Applications, want 40", len(apps))
	}
	pins, namespaces := map[string]bool{}, map[string]bool{}
	for _, a := range apps {
		pins[a.Spec.GetSources()[0].TargetRevision] = true
		namespaces[a.Spec.Destination.Namespace] = true
	}
	if len(pins) != Releases || len(namespaces) != 10 {
		t.Errorf("pins %v, %d namespaces: want %d pins and 10 namespaces", pins, len(namespaces), Releases)
	}
	rels, err := w.Render(ctx, apps)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 40 {
		t.Fatalf("%d releases", len(rels))
	}
	for _, pr := range []func() error{f.PRValuesFile, func() error { return f.PRMovePin("trino") }, f.PRApplicationSet} {
		if err := pr(); err != nil {
			t.Fatal(err)
		}
	}
	w, err = workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range workspace.Filter(w.Apps, f.Envs, []string{"trino"}) {
		if got := a.Spec.GetSources()[0].TargetRevision; got != f.Next {
			t.Errorf("%s: pin %s after PRMovePin, want %s", a.Name, got, f.Next)
		}
		if a.Labels["lakeport.dev/fleet"] == "" {
			t.Errorf("%s: no label after PRApplicationSet", a.Name)
		}
	}
}
