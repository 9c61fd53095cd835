package render

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/appset"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// cacheKit renders the fixture kit's Applications with a renderer using cache (nil: none).
func cacheKit(t *testing.T, dir string, cache *Cache) ([]*Release, []argov1.Application) {
	t.Helper()
	repo, err := source.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	head := repo.Worktree()
	k, err := kit.Load(head)
	if err != nil {
		t.Fatal(err)
	}
	gits, _ := appset.GitGenerators(k.ApplicationSet.Spec.Generators)
	r := New(repo, head, gits[0].RepoURL)
	r.Cache = cache
	apps, err := appset.Expand(k.ApplicationSet, r)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := r.Render(context.Background(), apps)
	if err != nil {
		t.Fatal(err)
	}
	return rels, apps
}

func sameReleases(t *testing.T, what string, got, want []*Release) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d releases, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s: release %s differs from the uncached render", what, want[i].App)
		}
	}
}

func openCache(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCache: a cold run misses and writes every release; a second process (a new Cache on the
// same directory) hits every release with the same bytes and objects as the uncached render; a
// values change misses for that release only and serves the new render; a truncated entry and an
// edited entry are detected by their checksum and rendered again; another lakeport build misses.
func TestCache(t *testing.T) {
	f := testkit.NewFixture(t)
	dir := t.TempDir()
	want, apps := cacheKit(t, f.Dir, nil)
	n := int64(len(apps))

	c := openCache(t, dir)
	got, _ := cacheKit(t, f.Dir, c)
	sameReleases(t, "cold", got, want)
	if s := c.Stats(); s.Misses != n || s.Hits != 0 {
		t.Fatalf("cold run: %+v, want %d misses", s, n)
	}

	c = openCache(t, dir)
	got, _ = cacheKit(t, f.Dir, c)
	sameReleases(t, "warm", got, want)
	if s := c.Stats(); s.Hits != n || s.Misses != 0 {
		t.Fatalf("warm run: %+v, want %d hits", s, n)
	}

	// A values change: that release misses and renders the new value; the others hit.
	vf := filepath.Join(f.Dir, "environments", "dev", "web.yaml")
	b, err := os.ReadFile(vf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vf, []byte(strings.Replace(string(b), "replicas: 1", "replicas: 3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	want2, _ := cacheKit(t, f.Dir, nil)
	c = openCache(t, dir)
	got, _ = cacheKit(t, f.Dir, c)
	sameReleases(t, "after a values change", got, want2)
	if s := c.Stats(); s.Misses != 1 || s.Hits != n-1 {
		t.Fatalf("after a values change: %+v, want 1 miss and %d hits", s, n-1)
	}
	changed := 0
	for i := range want {
		if want[i].Manifest != want2[i].Manifest {
			changed++
		}
	}
	if changed != 1 {
		t.Fatalf("%d releases changed with the values file, want 1", changed)
	}

	// Corrupt two entries: one truncated, one edited with its checksum line left as it was.
	entries, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil || len(entries) < 3 {
		t.Fatalf("cache entries: %v (err %v)", entries, err)
	}
	raw, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entries[0], raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(entries[1])
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), "apiVersion", "apiVersiom", 1)
	if edited == string(raw) {
		t.Fatal("nothing to edit in a cache entry")
	}
	if err := os.WriteFile(entries[1], []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir)
	got, _ = cacheKit(t, f.Dir, c)
	sameReleases(t, "with corrupt entries", got, want2)
	s := c.Stats()
	if s.Corrupt < 1 {
		t.Fatalf("corrupt entries not detected: %+v", s)
	}
	// The two entries may belong to the current or the old dev/web render; whichever is current
	// is rendered again and rewritten, so a next run hits everything.
	c = openCache(t, dir)
	got, _ = cacheKit(t, f.Dir, c)
	sameReleases(t, "after the rewrite", got, want2)
	if s := c.Stats(); s.Hits != n || s.Corrupt != 0 {
		t.Fatalf("after the rewrite: %+v, want %d hits and nothing corrupt", s, n)
	}

	// Another lakeport build never reads these entries.
	c = openCache(t, dir)
	c.build = "exe:another-build"
	got, _ = cacheKit(t, f.Dir, c)
	sameReleases(t, "another build", got, want2)
	if s := c.Stats(); s.Hits != 0 || s.Misses != n {
		t.Fatalf("another build: %+v, want %d misses", s, n)
	}
}

// TestCacheConcurrentWriters: several processes' worth of caches on one directory render the
// same releases at once (every entry written by several writers); all see the uncached render,
// and the directory then serves every release, none corrupt.
func TestCacheConcurrentWriters(t *testing.T) {
	f := testkit.NewFixture(t)
	dir := t.TempDir()
	want, apps := cacheKit(t, f.Dir, nil)
	const writers = 6
	results := make([][]*Release, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			results[i], _ = cacheKit(t, f.Dir, openCache(t, dir))
		})
	}
	wg.Wait()
	for i := range results {
		sameReleases(t, "concurrent writer", results[i], want)
	}
	c := openCache(t, dir)
	got, _ := cacheKit(t, f.Dir, c)
	sameReleases(t, "after concurrent writers", got, want)
	if s := c.Stats(); s.Hits != int64(len(apps)) || s.Corrupt != 0 {
		t.Fatalf("after concurrent writers: %+v", s)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
