package scope

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// TestWorktreeIDsFromIndex: a clean working tree file gets its ID from the git index without
// being read; a file changed since (same size, modification time set back, or changed in the
// instant the index was written) is read and hashed, so its ID is its content's.
func TestWorktreeIDsFromIndex(t *testing.T) {
	dir := t.TempDir()
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitc("init", "-q")
	for _, n := range []string{"clean", "edited", "setback", "racy"} {
		write("environments/"+n+".yaml", "value: 1\n")
	}
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"clean", "edited", "setback"} {
		if err := os.Chtimes(filepath.Join(dir, "environments", n+".yaml"), old, old); err != nil {
			t.Fatal(err)
		}
	}
	gitc("add", ".")
	gitc("commit", "-qm", "one")
	// The racy file is modified within the index's own timestamp: git cannot tell it clean.
	idxInfo, err := os.Stat(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	write("environments/racy.yaml", "value: 2\n")
	if err := os.Chtimes(filepath.Join(dir, "environments", "racy.yaml"), idxInfo.ModTime(), idxInfo.ModTime()); err != nil {
		t.Fatal(err)
	}
	write("environments/edited.yaml", "value: 2\n")
	write("environments/setback.yaml", "value: 3\n")
	if err := os.Chtimes(filepath.Join(dir, "environments", "setback.yaml"), old, old); err != nil {
		t.Fatal(err)
	}

	repo, err := source.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := newHashes(repo)
	if h.index() == nil {
		t.Fatal("the index was not loaded")
	}
	wt := repo.Worktree()
	for name, fromIndex := range map[string]bool{"clean": true, "edited": false, "setback": false, "racy": false} {
		p := "environments/" + name + ".yaml"
		_, ok := h.index().id(p)
		if ok != fromIndex {
			t.Errorf("%s: taken from the index %v, want %v", name, ok, fromIndex)
		}
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		id, exists, err := h.file(wt, p)
		if err != nil || !exists || id != plumbing.ComputeHash(plumbing.BlobObject, b) {
			t.Errorf("%s: ID %s (exists %v, %v), want its content's", name, id, exists, err)
		}
	}
	changed, err := ChangedFiles(repo, mustAt(t, repo, "HEAD"), wt, "environments")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"environments/edited.yaml", "environments/racy.yaml", "environments/setback.yaml"}; !equal(changed, want) {
		t.Errorf("changed %v, want %v", changed, want)
	}
}

func mustAt(t *testing.T, r *source.Repo, rev string) source.Snapshot {
	t.Helper()
	s, err := r.At(rev)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
