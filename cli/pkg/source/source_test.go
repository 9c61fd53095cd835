package source_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

func TestGlob(t *testing.T) {
	f := testkit.NewFixture(t)
	repo, err := source.Open(filepath.Join(f.Dir, "charts", "web"))
	if err != nil {
		t.Fatal(err)
	}
	head, err := repo.At("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, snap := range []source.Snapshot{repo.Worktree(), head} {
		for _, tc := range []struct {
			pattern string
			want    []string
		}{
			{"environments/*/env.yaml", []string{"environments/dev/env.yaml", "environments/prod/env.yaml"}},
			{"environments/d?v/web.yaml", []string{"environments/dev/web.yaml"}},
			{"environments/[dp]*/db.yaml", []string{"environments/dev/db.yaml", "environments/prod/db.yaml"}},
			// git pathspecs: '*' crosses '/', as `git ls-files` (Argo CD's default) does.
			{"charts/*.yaml", []string{"charts/db/Chart.yaml", "charts/db/templates/pdb.yaml", "charts/db/templates/servicemonitor.yaml", "charts/db/templates/statefulset.yaml", "charts/db/values.yaml", "charts/web/Chart.yaml", "charts/web/ci/test-values.yaml", "charts/web/crds/widgets.yaml", "charts/web/templates/deployment.yaml", "charts/web/templates/migrate-job.yaml", "charts/web/templates/service.yaml", "charts/web/values.yaml"}},
			{"nowhere/*.yaml", nil},
		} {
			got, err := source.Glob(snap, tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: Glob(%q) = %v, want %v", snap.Revision(), tc.pattern, got, tc.want)
			}
		}
	}
}

func TestSnapshotsAtRevisions(t *testing.T) {
	f := testkit.NewFixture(t)
	repo, err := source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(map[string]string{"environments/dev/web.yaml": "uncommitted: true\n"})
	v1, err := repo.At(f.V1)
	if err != nil {
		t.Fatal(err)
	}
	short, err := repo.At(f.V1[:8])
	if err != nil || short.Revision() != f.V1 {
		t.Fatalf("short SHA: %v %v", short, err)
	}
	for _, tc := range []struct {
		snap source.Snapshot
		want string
	}{
		{repo.Worktree(), "uncommitted: true\n"},
		{v1, "# web in dev\nimage:\n  tag: \"1.2.0\" # pinned image\nreplicas: 1\n"},
	} {
		got, err := tc.snap.ReadFile("environments/dev/web.yaml")
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q %v", tc.snap.Revision(), got, err)
		}
	}
	if _, err := v1.ReadFile("no/such/file"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := v1.ReadFile("../outside"); err == nil {
		t.Error("a path outside the repository was read")
	}
}

func TestRevisionErrors(t *testing.T) {
	f := testkit.NewFixture(t)
	repo, err := source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.At("0123456789abcdef0123456789abcdef01234567")
	var re *source.RevisionError
	if !errors.As(err, &re) || re.Shallow {
		t.Fatalf("got %v", err)
	}
	// A shallow clone: the hint says how to deepen it.
	if err := os.WriteFile(filepath.Join(f.Dir, ".git", "shallow"), []byte(f.V2+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err = source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.At("does-not-exist")
	if !errors.As(err, &re) || !re.Shallow {
		t.Fatalf("got %v", err)
	}
	if want := "git fetch --unshallow"; !strings.Contains(err.Error(), want) {
		t.Errorf("%v does not say %q", err, want)
	}
}

// TestConcurrentReadsOfAPackedRepository reads two commits of a freshly cloned (packed)
// repository from many goroutines at once, as the renderer does. go-git loads the pack index
// lazily into a shared map: unguarded, a concurrent first lookup saw an empty index and reported
// a pinned commit as "does not resolve" (CI, on a fresh clone); the race detector sees it too.
func TestConcurrentReadsOfAPackedRepository(t *testing.T) {
	f := testkit.NewFixture(t)
	if out, err := exec.Command("git", "-C", f.Dir, "repack", "-adq").CombinedOutput(); err != nil {
		t.Fatalf("git repack: %v\n%s", err, out)
	}
	for round := 0; round < 5; round++ {
		repo, err := source.Open(f.Dir)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 0; i < 16; i++ {
			rev := []string{f.V1, f.V2}[i%2]
			wg.Go(func() {
				if _, err := repo.Resolve(rev); err != nil {
					errs <- err
					return
				}
				s, err := repo.At(rev)
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.ReadFile("environments/dev/web.yaml"); err != nil {
					errs <- err
					return
				}
				if _, err := s.Files("charts"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}
}
