package action

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/scale/fleet"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestFleetRenderMatchesSingleRelease renders a generated fleet of 3,000 Applications (the
// issue's size; LAKEPORT_SCALE_APPS changes it, -short skips; several minutes on a busy 2-core
// machine) the fast ways: `render -o dir=` streaming every release out of a concurrent render
// through the render cache, cold (everything rendered and written to the cache) and then warm
// (everything read back from it), and requires every file to hold exactly the bytes of the slow
// way: one release at a time (Concurrency 1), no cache, no streaming, written by WriteDir.
func TestFleetRenderMatchesSingleRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("renders a 3,000-Application fleet three times")
	}
	if raceEnabled {
		// Under the race detector (make test) the three renders take ~15 minutes on 2 cores; the
		// bytes compared do not depend on it (the concurrent render is race-tested on the kit), so
		// the fleet is rendered by this test compiled without it, as a child process.
		runWithoutRace(t, "TestFleetRenderMatchesSingleRelease")
		return
	}
	apps := 3000
	if s := os.Getenv("LAKEPORT_SCALE_APPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("LAKEPORT_SCALE_APPS=%q: %v", s, err)
		}
		apps = n
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tmp := t.TempDir()
	f, err := fleet.Build(ctx, fleet.Options{Src: root, Dir: filepath.Join(tmp, "fleet"), Apps: apps})
	if err != nil {
		t.Fatal(err)
	}

	// The slow way.
	w, err := workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Renderer.Concurrency = 1
	rels, err := w.Render(ctx, w.Apps)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(tmp, "want")
	if err := render.WriteDir(want, rels); err != nil {
		t.Fatal(err)
	}
	rels = nil

	cache := filepath.Join(tmp, "cache")
	for _, run := range []struct {
		name  string
		cache string
	}{{"cold cache", cache}, {"warm cache", cache}} {
		out := filepath.Join(tmp, "out")
		rep, err := (&Render{Config: &Config{RepoDir: f.Dir, RenderCache: run.cache}, Dir: out}).Run(ctx)
		if err != nil {
			t.Fatalf("%s: %v", run.name, err)
		}
		if len(rep.Releases) < apps {
			t.Fatalf("%s: %d releases, want at least %d", run.name, len(rep.Releases), apps)
		}
		for _, rel := range rep.Releases {
			if rel.Manifest != "" || rel.Objects != nil {
				t.Fatalf("%s: %s kept its manifest in memory after it was written", run.name, rel.App)
			}
		}
		sameTree(t, run.name, out, want)
	}
}

// sameTree requires dir to hold exactly the files of want, byte for byte.
func sameTree(t *testing.T, what, dir, want string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(want, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(a) != string(b) {
			t.Errorf("%s: %s differs from the single-release render", what, rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m := 0
	_ = filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			m++
		}
		return nil
	})
	if m != n {
		t.Errorf("%s: %d files, want %d", what, m, n)
	}
}

// TestDiffSharesExpansion: a pull request that changes one values file of a small fleet
// expands both sides with one memory (the base reuses every element of the head) and reports
// exactly that one Application changed.
func TestDiffSharesExpansion(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, err := fleet.Build(ctx, fleet.Options{Src: root, Dir: filepath.Join(t.TempDir(), "fleet"), Apps: 40})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range []struct {
		name  string
		apply func() error
		want  int
	}{
		{"one values file", f.PRValuesFile, 1},
		{"ApplicationSet template", f.PRApplicationSet, 0},
	} {
		if err := pr.apply(); err != nil {
			t.Fatal(err)
		}
		if err := fleet.Commit(ctx, f.Dir, pr.name); err != nil {
			t.Fatal(err)
		}
		rep, err := (&Diff{Config: &Config{RepoDir: f.Dir}, Mode: diff.Revisions, Base: "HEAD~1"}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, a := range rep.Apps {
			if a.Action != diff.Unchanged {
				changed++
			}
		}
		if changed != pr.want {
			t.Errorf("%s: %d Applications changed, want %d (%s)", pr.name, changed, pr.want, rep.Summary)
		}
	}
}

// runWithoutRace runs one test of this package in a `go test` child built without the race
// detector, failing with its output if it fails.
func runWithoutRace(t *testing.T, name string) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-count=1", "-timeout=40m", "-run", "^"+name+"$", "./cli/pkg/action")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -run %s (without -race): %v\n%s", name, err, out)
	}
	t.Logf("without -race: %s", bytes.TrimSpace(out))
}
