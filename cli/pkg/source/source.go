// Package source reads the kit's files as they stand at one revision: the working tree, or a git
// commit read straight from the object store (no checkout, no git binary). Every other package reads
// the repository through a Snapshot, so rendering at a pinned revision and at the working tree is the
// same code.
package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Worktree is the Revision of a Snapshot that reads the working tree.
const Worktree = "worktree"

// ErrNotExist is returned (wrapped) for a path that does not exist in a snapshot.
var ErrNotExist = fs.ErrNotExist

// Snapshot is a read-only view of the repository at one revision. Paths are slash-separated and
// relative to the repository root.
type Snapshot interface {
	// Revision is the commit SHA the snapshot reads, or Worktree.
	Revision() string
	// ReadFile returns the content of one file.
	ReadFile(name string) ([]byte, error)
	// Files returns every file below dir (recursively), sorted, as paths relative to the root.
	Files(dir string) ([]string, error)
}

// RevisionError says that a revision does not resolve in the repository, and how to fix it.
type RevisionError struct {
	Revision string
	Shallow  bool
	Err      error
}

func (e *RevisionError) Error() string {
	hint := "check the revision, or fetch it (git fetch origin <revision>)"
	if e.Shallow {
		hint = "the clone is shallow: run `git fetch --unshallow` (in CI: actions/checkout with fetch-depth: 0, GIT_DEPTH: 0 in GitLab)"
	}
	return fmt.Sprintf("revision %q does not resolve in this repository: %s", e.Revision, hint)
}

func (e *RevisionError) Unwrap() error { return e.Err }

// Repo is a git repository with a working tree.
type Repo struct {
	root string
	git  *git.Repository

	// gitMu serialises every use of the go-git repository: its storage is not safe for concurrent
	// use (the pack index is loaded lazily into a shared map, so a concurrent first lookup sees
	// an empty index and reports a present commit as missing).
	gitMu sync.Mutex

	mu    sync.Mutex // guards snaps
	snaps map[plumbing.Hash]*commitSnapshot
}

// Open opens the repository that contains dir (searching upwards for .git).
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			abs = d
			break
		}
		if filepath.Dir(d) == d {
			return nil, fmt.Errorf("open repository at %s: not inside a git repository (lakeport works on a clone of the kit)", dir)
		}
	}
	r, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", abs, err)
	}
	return &Repo{root: abs, git: r, snaps: map[plumbing.Hash]*commitSnapshot{}}, nil
}

// Root is the absolute path of the working tree.
func (r *Repo) Root() string { return r.root }

// Git exposes the underlying go-git repository for packages that write commits. The caller must
// not use it while snapshots of the repository are being read concurrently; WithGit does that.
func (r *Repo) Git() *git.Repository { return r.git }

// WithGit runs fn with the go-git repository while no snapshot of it is being read.
func (r *Repo) WithGit(fn func(*git.Repository) error) error {
	r.gitMu.Lock()
	defer r.gitMu.Unlock()
	return fn(r.git)
}

// Worktree returns a snapshot of the working tree as it is on disk.
func (r *Repo) Worktree() Snapshot { return &dirSnapshot{root: r.root} }

// Resolve turns a revision (SHA, short SHA, branch, tag, HEAD~1...) into a commit hash.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	r.gitMu.Lock()
	defer r.gitMu.Unlock()
	return r.resolve(rev)
}

func (r *Repo) resolve(rev string) (plumbing.Hash, error) {
	h, err := r.git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, &RevisionError{Revision: rev, Shallow: r.shallow(), Err: err}
	}
	if _, err := r.git.CommitObject(*h); err != nil {
		return plumbing.ZeroHash, &RevisionError{Revision: rev, Shallow: r.shallow(), Err: err}
	}
	return *h, nil
}

func (r *Repo) shallow() bool {
	s, err := r.git.Storer.Shallow()
	return err == nil && len(s) > 0
}

// At returns the snapshot of a commit. Snapshots are cached: the same commit is read once.
func (r *Repo) At(rev string) (Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gitMu.Lock()
	defer r.gitMu.Unlock()
	h, err := r.resolve(rev)
	if err != nil {
		return nil, err
	}
	if s, ok := r.snaps[h]; ok {
		return s, nil
	}
	c, err := r.git.CommitObject(h)
	if err != nil {
		return nil, &RevisionError{Revision: rev, Shallow: r.shallow(), Err: err}
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", h, err)
	}
	s := &commitSnapshot{hash: h, tree: t, mu: &r.gitMu}
	r.snaps[h] = s
	return s, nil
}

type dirSnapshot struct{ root string }

func (d *dirSnapshot) Revision() string { return Worktree }

func (d *dirSnapshot) ReadFile(name string) ([]byte, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(d.root, filepath.FromSlash(name)))
}

func (d *dirSnapshot) Files(dir string) ([]string, error) {
	if err := checkPath(dir); err != nil {
		return nil, err
	}
	base := filepath.Join(d.root, filepath.FromSlash(dir))
	var out []string
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

type commitSnapshot struct {
	hash plumbing.Hash
	tree *object.Tree

	mu *sync.Mutex // the repository's gitMu: go-git storage is not safe for concurrent use
}

func (c *commitSnapshot) Revision() string { return c.hash.String() }

func (c *commitSnapshot) ReadFile(name string) ([]byte, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := c.tree.File(path.Clean(name))
	if err != nil {
		if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			return nil, fmt.Errorf("%s at %s: %w", name, c.hash.String()[:12], fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read %s at %s: %w", name, c.hash.String()[:12], err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", name, c.hash.String()[:12], err)
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func (c *commitSnapshot) Files(dir string) ([]string, error) {
	if err := checkPath(dir); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tree
	dir = strings.Trim(path.Clean(dir), "/")
	if dir != "" && dir != "." {
		sub, err := c.tree.Tree(dir)
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", dir, c.hash.String()[:12], fs.ErrNotExist)
		}
		t = sub
	} else {
		dir = ""
	}
	var out []string
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("walk %s at %s: %w", dir, c.hash.String()[:12], err)
		}
		if !e.Mode.IsFile() {
			continue
		}
		out = append(out, path.Join(dir, name))
	}
	sort.Strings(out)
	return out, nil
}

func checkPath(name string) error {
	if path.IsAbs(name) || strings.HasPrefix(path.Clean(name), "..") {
		return fmt.Errorf("path %q is outside the repository", name)
	}
	return nil
}

// Files lists the files of a snapshot below dir, sorted; a folder that does not exist has none.
func Files(s Snapshot, dir string) ([]string, error) {
	files, err := s.Files(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return files, err
}

// Match returns the files (as Files lists them) that match a git pathspec glob, as Glob does.
// A pattern that does not compile matches nothing.
func Match(files []string, pattern string) []string {
	re, err := globRegexp(pattern)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range files {
		if re.MatchString(f) {
			out = append(out, f)
		}
	}
	return out
}

// Glob returns the files of a snapshot that match a git pathspec glob, as `git ls-files -- <pattern>`
// does (the matching Argo CD's git generator uses by default): '*' and '?' also match '/'.
func Glob(s Snapshot, pattern string) ([]string, error) {
	re, err := globRegexp(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	dir := staticPrefix(pattern)
	files, err := s.Files(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, f := range files {
		if re.MatchString(f) {
			out = append(out, f)
		}
	}
	return out, nil
}

func staticPrefix(pattern string) string {
	i := strings.IndexAny(pattern, "*?[")
	if i < 0 {
		return path.Dir(pattern)
	}
	return path.Dir(pattern[:i+1])
}

func globRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(pattern[i:], ']')
			if j < 0 {
				return nil, errors.New("unterminated [")
			}
			class := pattern[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Overlay is a snapshot that reads some files from memory and everything else from a base
// snapshot: the kit as it would be after an edit, before anything is written.
type Overlay struct {
	Base  Snapshot
	Edits map[string][]byte
}

// Revision is the base's revision.
func (o *Overlay) Revision() string { return o.Base.Revision() }

// ReadFile reads the overlaid file if there is one.
func (o *Overlay) ReadFile(name string) ([]byte, error) {
	if b, ok := o.Edits[path.Clean(name)]; ok {
		return b, nil
	}
	return o.Base.ReadFile(name)
}

// Files lists the base's files plus the overlaid ones below dir.
func (o *Overlay) Files(dir string) ([]string, error) {
	files, err := o.Base.Files(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	seen := map[string]bool{}
	for _, f := range files {
		seen[f] = true
	}
	prefix := strings.Trim(path.Clean(dir), "/")
	for name := range o.Edits {
		if (prefix == "." || prefix == "" || strings.HasPrefix(name, prefix+"/")) && !seen[name] {
			files = append(files, name)
		}
	}
	sort.Strings(files)
	return files, nil
}

// ShortSHA shortens a full commit SHA (SHA-1 or SHA-256) to 12 hex digits for people to read;
// anything else (a tag, a branch, HEAD, a short SHA) is returned as written.
func ShortSHA(rev string) string {
	if (len(rev) == 40 || len(rev) == 64) && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:12]
	}
	return rev
}

// Memo returns a snapshot that reads each file and each listing of s once and then answers
// from memory: for a short-lived reader that reads the same files twice (loading the kit and
// expanding the ApplicationSet both read every env.yaml). It is safe for concurrent use.
func Memo(s Snapshot) Snapshot { return &memo{base: s} }

type memo struct {
	base  Snapshot
	files sync.Map // name -> memoFile
	dirs  sync.Map // dir -> memoDir
}

type memoFile struct {
	b   []byte
	err error
}

type memoDir struct {
	names []string
	err   error
}

func (m *memo) Revision() string { return m.base.Revision() }

// ReadFile returns a copy of the remembered content: callers may change what they are given.
func (m *memo) ReadFile(name string) ([]byte, error) {
	v, ok := m.files.Load(name)
	if !ok {
		b, err := m.base.ReadFile(name)
		v, _ = m.files.LoadOrStore(name, memoFile{b, err})
	}
	f := v.(memoFile)
	if f.err != nil {
		return nil, f.err
	}
	return append([]byte(nil), f.b...), nil
}

func (m *memo) Files(dir string) ([]string, error) {
	v, ok := m.dirs.Load(dir)
	if !ok {
		names, err := m.base.Files(dir)
		v, _ = m.dirs.LoadOrStore(dir, memoDir{names, err})
	}
	d := v.(memoDir)
	if d.err != nil {
		return nil, d.err
	}
	return append([]string(nil), d.names...), nil
}
