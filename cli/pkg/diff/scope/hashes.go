package scope

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// hashes compares files by their git object IDs instead of their content: a commit's files by
// the IDs its trees already hold (no blob is read or inflated; an unchanged folder is one tree ID
// comparison), the working tree's by hashing each file as git does ("blob <size>\0<content>").
type hashes struct {
	repo  *source.Repo
	trees map[string]*object.Tree             // commit → root tree
	dirs  map[string]map[string]plumbing.Hash // revision + dir → file → ID

	idxOnce sync.Once
	idx     *worktreeIndex // nil: no usable index, every working tree file is hashed
}

// worktreeIndex is the git index's view of the working tree, used as `git status` uses it: a
// file whose size, modification time and status change time equal its index entry's, and whose
// modification is older than the index itself (git's "racily clean" rule: a file changed in the
// instant the index was written is read), has the entry's object ID without being read. A
// thousand-environment fleet has thousands of files below environments/: hashing each was a
// sixth of a one-file pull request's preview.
type worktreeIndex struct {
	root    string
	entries map[string]*index.Entry
	written time.Time
}

// index loads the working tree's git index once (nil when there is none or it cannot be used).
func (h *hashes) index() *worktreeIndex {
	h.idxOnce.Do(func() {
		if h.repo == nil {
			return
		}
		root := h.repo.Root()
		st, err := os.Stat(filepath.Join(root, ".git", "index"))
		if err != nil || !st.Mode().IsRegular() {
			return // no index, or a linked worktree (.git is a file): hash everything
		}
		var idx *index.Index
		if err := h.withGit(func(g *git.Repository) error {
			var err error
			idx, err = g.Storer.Index()
			return err
		}); err != nil || idx == nil {
			return
		}
		w := &worktreeIndex{root: root, entries: make(map[string]*index.Entry, len(idx.Entries)), written: st.ModTime()}
		for _, e := range idx.Entries {
			// Stage 0: merged (go-git's index.Merged names 1, but decodes merged entries as 0).
			if e.Stage == 0 && !e.SkipWorktree && !e.IntentToAdd {
				w.entries[e.Name] = e
			}
		}
		h.idx = w
	})
	return h.idx
}

// id is the object ID of a clean working tree file, as the index records it (ok false: read it).
func (w *worktreeIndex) id(name string) (plumbing.Hash, bool) {
	e := w.entries[name]
	if e == nil || (e.Mode != filemode.Regular && e.Mode != filemode.Executable) {
		return plumbing.ZeroHash, false
	}
	fi, err := os.Lstat(filepath.Join(w.root, filepath.FromSlash(name)))
	if err != nil || !fi.Mode().IsRegular() || uint32(fi.Size()) != e.Size || !fi.ModTime().Equal(e.ModifiedAt) || !fi.ModTime().Before(w.written) {
		return plumbing.ZeroHash, false
	}
	if ct, ok := ctime(fi); !ok || !ct.Equal(e.CreatedAt) {
		return plumbing.ZeroHash, false
	}
	return e.Hash, true
}

// worktreeFile is a working tree file's object ID, from the index when it is clean.
func (h *hashes) worktreeFile(s source.Snapshot, name string) (plumbing.Hash, error) {
	if w := h.index(); w != nil {
		if id, ok := w.id(name); ok {
			return id, nil
		}
	}
	b, err := s.ReadFile(name)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return plumbing.ComputeHash(plumbing.BlobObject, b), nil
}

func newHashes(repo *source.Repo) *hashes {
	return &hashes{repo: repo, trees: map[string]*object.Tree{}, dirs: map[string]map[string]plumbing.Hash{}}
}

// withGit runs fn while it may read git objects: go-git's storage is shared with the snapshots
// that render concurrently, and is not safe for concurrent use.
func (h *hashes) withGit(fn func(g *git.Repository) error) error {
	if h.repo == nil {
		return fn(nil)
	}
	return h.repo.WithGit(fn)
}

// tree returns a commit's root tree; g is the repository, held through withGit.
func (h *hashes) tree(g *git.Repository, rev string) (*object.Tree, error) {
	if t, ok := h.trees[rev]; ok {
		return t, nil
	}
	if g == nil || !plumbing.IsHash(rev) {
		return nil, fmt.Errorf("revision %q is not a commit of the repository", rev)
	}
	c, err := g.CommitObject(plumbing.NewHash(rev))
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", rev, err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", rev, err)
	}
	h.trees[rev] = t
	return t, nil
}

// treeID is the ID of a folder in a commit (zero when the folder does not exist).
func (h *hashes) treeID(rev, dir string) (id plumbing.Hash, err error) {
	err = h.withGit(func(g *git.Repository) error {
		t, err := h.tree(g, rev)
		if err != nil {
			return err
		}
		e, err := t.FindEntry(dir)
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Mode == filemode.Dir {
			id = e.Hash
		}
		return nil
	})
	return id, err
}

// dir returns the files below dir (paths from the repository root) with their IDs.
func (h *hashes) dir(s source.Snapshot, dir string) (map[string]plumbing.Hash, error) {
	key := s.Revision() + "\x00" + dir
	if m, ok := h.dirs[key]; ok {
		return m, nil
	}
	m := map[string]plumbing.Hash{}
	if s.Revision() == source.Worktree {
		names, err := s.Files(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, n := range names {
			id, err := h.worktreeFile(s, n)
			if err != nil {
				return nil, err
			}
			m[n] = id
		}
	} else if err := h.withGit(func(g *git.Repository) error { return h.walk(g, s.Revision(), dir, m) }); err != nil {
		return nil, err
	}
	h.dirs[key] = m
	return m, nil
}

// walk adds the files below dir at a commit, with their IDs, to m (nothing when dir does not
// exist there).
func (h *hashes) walk(g *git.Repository, rev, dir string, m map[string]plumbing.Hash) error {
	t, err := h.tree(g, rev)
	if err != nil {
		return err
	}
	sub := t
	if dir != "" && dir != "." {
		if sub, err = t.Tree(dir); err != nil {
			return nil // no such folder at this revision
		}
	}
	w := object.NewTreeWalker(sub, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("walk %s at %s: %w", dir, rev[:12], err)
		}
		if e.Mode.IsFile() {
			m[path.Join(dir, name)] = e.Hash
		}
	}
}

// file returns one file's ID (ok false when it does not exist).
func (h *hashes) file(s source.Snapshot, name string) (plumbing.Hash, bool, error) {
	// A folder already listed at this revision answers for its files: a diff lists
	// environments/ first, then asks for every Application's values files (3,000 lookups on a
	// fleet, each a tree walk or a stat).
	for d := path.Dir(name); ; d = path.Dir(d) {
		if m, ok := h.dirs[s.Revision()+"\x00"+d]; ok {
			id, ok := m[name]
			return id, ok, nil
		}
		if d == "." || d == "/" {
			break
		}
	}
	if s.Revision() == source.Worktree {
		id, err := h.worktreeFile(s, name)
		if errors.Is(err, fs.ErrNotExist) {
			return plumbing.ZeroHash, false, nil
		}
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		return id, true, nil
	}
	var id plumbing.Hash
	var ok bool
	err := h.withGit(func(g *git.Repository) error {
		t, err := h.tree(g, s.Revision())
		if err != nil {
			return err
		}
		if e, err := t.FindEntry(strings.Trim(path.Clean(name), "/")); err == nil {
			id, ok = e.Hash, e.Mode.IsFile()
		}
		return nil
	})
	return id, ok, err
}

// diffDir lists the files below dir that differ between two snapshots, sorted.
func (h *hashes) diffDir(a, b source.Snapshot, dir string) ([]string, error) {
	if a.Revision() != source.Worktree && b.Revision() != source.Worktree {
		ta, err := h.treeID(a.Revision(), dir)
		if err != nil {
			return nil, err
		}
		tb, err := h.treeID(b.Revision(), dir)
		if err != nil {
			return nil, err
		}
		if ta == tb {
			return nil, nil
		}
	}
	am, err := h.dir(a, dir)
	if err != nil {
		return nil, err
	}
	bm, err := h.dir(b, dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for n, id := range am {
		if bid, ok := bm[n]; !ok || bid != id {
			out = append(out, n)
		}
	}
	for n := range bm {
		if _, ok := am[n]; !ok {
			out = append(out, n)
		}
	}
	return sortStrings(out), nil
}

// sameFile compares one file on two sides (absent on both counts as the same).
func (h *hashes) sameFile(a source.Snapshot, ap string, b source.Snapshot, bp string) (bool, error) {
	if ap == bp && a.Revision() == b.Revision() && a.Revision() != source.Worktree {
		return true, nil
	}
	ia, oka, err := h.file(a, ap)
	if err != nil {
		return false, err
	}
	ib, okb, err := h.file(b, bp)
	if err != nil {
		return false, err
	}
	return oka == okb && ia == ib, nil
}

// ChangedFiles lists the files below dir that differ between two snapshots of the repository
// (added, removed or modified), sorted, comparing git object IDs.
func ChangedFiles(repo *source.Repo, a, b source.Snapshot, dir string) ([]string, error) {
	return newHashes(repo).diffDir(a, b, dir)
}

// IDs compares files of a repository's snapshots by git object ID, remembering the folders it
// has listed: a diff that lists environments/ to plan its expansion hands the same IDs to
// Compute (Input.IDs), which lists it again otherwise. Not safe for concurrent use.
type IDs struct{ h *hashes }

// NewIDs returns an empty memory of the repository's file IDs.
func NewIDs(repo *source.Repo) *IDs { return &IDs{h: newHashes(repo)} }

// ChangedFiles is the package's ChangedFiles, remembered.
func (ids *IDs) ChangedFiles(a, b source.Snapshot, dir string) ([]string, error) {
	return ids.h.diffDir(a, b, dir)
}
