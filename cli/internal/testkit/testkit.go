// Package testkit builds git repositories for tests: a fixture kit committed with fixed authors
// and times, so that commit SHAs (and so golden files that show pins) are the same on every run.
package testkit

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a throwaway git repository with a working tree.
type Repo struct {
	t    testing.TB
	Dir  string
	Git  *git.Repository
	tick int
}

// New creates an empty repository in a temporary directory.
func New(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatalf("git init: %v", err)
	}
	return &Repo{t: t, Dir: dir, Git: r}
}

// CopyDir copies a fixture directory into the working tree (not committed).
func (r *Repo) CopyDir(src string) {
	r.t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(r.Dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r.Dir, rel), b, 0o644)
	})
	if err != nil {
		r.t.Fatalf("copy fixture %s: %v", src, err)
	}
}

// Write writes files (slash paths relative to the root) into the working tree.
func (r *Repo) Write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Read returns a working-tree file.
func (r *Repo) Read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, filepath.FromSlash(name)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// Replace edits a working-tree file, failing the test if old is absent.
func (r *Repo) Replace(name, old, new string) {
	r.t.Helper()
	s := r.Read(name)
	if !strings.Contains(s, old) {
		r.t.Fatalf("%s does not contain %q", name, old)
	}
	r.Write(map[string]string{name: strings.Replace(s, old, new, 1)})
}

// Remove deletes a working-tree file or folder.
func (r *Repo) Remove(name string) {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.Dir, filepath.FromSlash(name))); err != nil {
		r.t.Fatal(err)
	}
}

// Commit stages everything (additions and deletions) and commits with a fixed author and a time
// one minute after the previous commit. It returns the full SHA.
func (r *Repo) Commit(msg string) string {
	r.t.Helper()
	wt, err := r.Git.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatalf("git add: %v", err)
	}
	r.tick++
	when := time.Date(2026, 1, 1, 0, r.tick, 0, 0, time.UTC)
	sig := &object.Signature{Name: "Lakeport Test", Email: "test@lakeport.dev", When: when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		r.t.Fatalf("git commit: %v", err)
	}
	return h.String()
}

// FixtureDir is the folder of the fixture kit (two environments, two small charts with a CRD, a
// hook, a .helmignore and capability-dependent templates).
func FixtureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "fixture")
}

// Fixture is the fixture kit committed twice: V1 holds the charts as in the fixture folder; V2
// pins prod's web chart to V1 and changes the web chart, so that dev (HEAD) and prod (V1) render
// different chart revisions.
type Fixture struct {
	*Repo
	V1, V2 string
}

// NewFixture builds the fixture repository.
func NewFixture(t testing.TB) *Fixture {
	t.Helper()
	r := New(t)
	r.CopyDir(FixtureDir())
	v1 := r.Commit("charts v1")
	r.Replace("environments/prod/env.yaml", "PIN_V1", v1)
	r.Replace("charts/web/templates/deployment.yaml", "app.kubernetes.io/name: web\n    spec:", "app.kubernetes.io/name: web\n        tier: frontend\n    spec:")
	v2 := r.Commit("pin prod web to v1; web pods get a tier label")
	return &Fixture{Repo: r, V1: v1, V2: v2}
}

// FanOut turns the fixture into a promotion graph with a stage of two environments:
// dev → staging → prod [prod-eu, prod-us]. staging is dev's env.yaml renamed, with web at 1.1.5;
// prod-eu and prod-us are prod's (web pinned to V1 at 1.1.0), each in its own namespace and
// AppProject. The promotion list is written in the form given (e.g. "[dev, staging, [prod-eu,
// prod-us]]" or the named-stage block form). It commits.
func (f *Fixture) FanOut(promotion string) {
	f.t.Helper()
	project := func(name, server, ns string) string {
		return "---\napiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: " + name +
			"\n  namespace: argocd\nspec:\n  sourceRepos: [https://git.example.test/platform/kit.git, https://git.example.test/platform/kit.git/]\n  destinations:\n    - server: " +
			server + "\n      namespace: " + ns + "\n"
	}
	files := map[string]string{
		"environments/staging/env.yaml": strings.NewReplacer("# dev follows the branch.", "# staging follows the branch.", "environment: dev", "environment: staging", "kit-dev", "kit-staging", "team-dev", "team-staging").Replace(f.Read("environments/dev/env.yaml")),
		"environments/staging/web.yaml": "# web in staging\nimage:\n  tag: \"1.1.5\" # pinned image\nreplicas: 2\n",
		"environments/staging/db.yaml":  f.Read("environments/prod/db.yaml"),
	}
	projects := f.Read("environments/argocd/projects.yaml") + project("kit-staging", "https://kubernetes.default.svc", "team-staging")
	for _, region := range []string{"eu", "us"} {
		env := "prod-" + region
		files["environments/"+env+"/env.yaml"] = strings.NewReplacer("# prod pins", "# "+env+" pins", "environment: prod", "environment: "+env, "kit-prod", "kit-"+env, "team-prod", "team-"+env, "prod.example.test", env+".example.test").Replace(f.Read("environments/prod/env.yaml"))
		files["environments/"+env+"/web.yaml"] = strings.Replace(f.Read("environments/prod/web.yaml"), "# web in prod", "# web in "+env, 1)
		files["environments/"+env+"/db.yaml"] = f.Read("environments/prod/db.yaml")
		projects += project("kit-"+env, "https://"+env+".example.test:6443", "team-"+env)
	}
	files["environments/argocd/projects.yaml"] = projects
	f.Write(files)
	f.Remove("environments/prod")
	f.Replace("environments/lakeport.yaml", "promotion: [dev, prod]", "promotion: "+promotion)
	f.Commit("fan out: staging, then prod in two regions")
}
