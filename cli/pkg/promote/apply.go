package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Preview renders the target Applications the plan changes, before and after its edits.
func Preview(ctx context.Context, w *workspace.Workspace, p *Plan) (before, after []*render.Release, err error) {
	apps, err := w.Select(nil, p.Apps)
	if err != nil {
		return nil, nil, err
	}
	if before, err = w.Render(ctx, apps); err != nil {
		return nil, nil, fmt.Errorf("render %s before the promotion: %w", p.To, err)
	}
	next, err := workspace.OpenSnapshot(w.Repo, &source.Overlay{Base: w.Head, Edits: p.Edits})
	if err != nil {
		return nil, nil, fmt.Errorf("the promoted kit does not load: %w", err)
	}
	apps, err = next.Select(nil, p.Apps)
	if err != nil {
		return nil, nil, err
	}
	if after, err = next.Render(ctx, apps); err != nil {
		return nil, nil, fmt.Errorf("render %s after the promotion: %w", p.To, err)
	}
	return before, after, nil
}

// ConflictError is a refusal to write: the working tree or the branch is not as the plan saw it.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// WriteOptions control Write.
type WriteOptions struct {
	// ExpectHead refuses unless HEAD is this commit (a prefix of it is enough).
	ExpectHead string
	// Message is the commit message.
	Message string
	// Author overrides the git config's user.name and user.email (the CLI passes
	// GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL when set).
	Author *object.Signature
	// Now stamps the commit.
	Now func() time.Time
	// BeforeRename is called before each working-tree file is renamed into place (failure
	// injection in tests).
	BeforeRename atomicfile.Hook
	// Checkpoint is called after each step of the write has reached the disk (StepBlobs ...
	// StepFiles): tests kill the process there to prove that every prefix of the steps leaves
	// the repository consistent.
	Checkpoint func(step string)
	// Push pushes the branch to this remote when not empty.
	Push string
}

// The steps of Write, in order. Until StepBranch, only unreferenced objects exist; StepBranch is
// one atomic ref update that publishes the complete commit; then HEAD, the index and the working
// tree follow it.
const (
	StepBlobs  = "blobs"
	StepTree   = "tree"
	StepCommit = "commit"
	StepBranch = "branch"
	StepHead   = "head"
	StepIndex  = "index"
	StepFiles  = "files"
)

// Result is what Write did.
type Result struct {
	Branch string   `json:"branch"`
	Commit string   `json:"commit"`
	Files  []string `json:"files"`
	Pushed string   `json:"pushed,omitempty"`
}

// Write checks that nothing moved, builds the promotion commit in git's object store (the edited
// blobs, the trees above them, the commit), publishes it with one atomic update of the new branch
// ref, then moves HEAD to the branch and brings the index and the working tree to it. A crash at
// any point leaves either no branch (and the repository as it was) or the complete branch; a
// failure before the working tree is written undoes HEAD, the index and the branch.
func Write(w *workspace.Workspace, p *Plan, o WriteOptions) (*Result, error) {
	repo := w.Repo.Git()
	head, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	if head.Hash().String() != p.Head {
		return nil, &ConflictError{fmt.Sprintf("HEAD moved from %s to %s since the plan was made: run the promotion again", source.ShortSHA(p.Head), source.ShortSHA(head.Hash().String()))}
	}
	if o.ExpectHead != "" && !strings.HasPrefix(p.Head, o.ExpectHead) {
		return nil, &ConflictError{fmt.Sprintf("HEAD is %s, not %s ({ExpectHead}): the branch moved since the preview", source.ShortSHA(p.Head), o.ExpectHead)}
	}
	files := make([]string, 0, len(p.Edits))
	for f := range p.Edits {
		files = append(files, f)
	}
	sort.Strings(files)
	committed, err := w.Repo.At(p.Head)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		disk, err := os.ReadFile(filepath.Join(w.Repo.Root(), filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		inHead, err := committed.ReadFile(f)
		if err != nil || !bytes.Equal(disk, inHead) {
			return nil, &ConflictError{fmt.Sprintf("%s has uncommitted changes: commit or stash them before promoting", f)}
		}
	}
	branch := plumbing.NewBranchReferenceName(p.Branch())
	if _, err := repo.Reference(branch, false); err == nil {
		return nil, &ConflictError{fmt.Sprintf("branch %s already exists: delete it or promote from a fresh plan", p.Branch())}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	status, err := wt.Status()
	if err != nil {
		return nil, fmt.Errorf("git status: %w", err)
	}
	for f, st := range status {
		if st.Staging != git.Unmodified && st.Staging != git.Untracked {
			return nil, &ConflictError{fmt.Sprintf("%s is staged in the index: commit or unstage it, so that the promotion commit holds only the pins", f)}
		}
	}
	checkpoint := func(step string) {
		if o.Checkpoint != nil {
			o.Checkpoint(step)
		}
	}

	hash, blobs, err := buildCommit(repo, head.Hash(), p, files, o, checkpoint)
	if err != nil {
		return nil, fmt.Errorf("build the promotion commit (nothing was changed): %w", err)
	}
	refs, err := newRefWriter(repo, w.Repo.Root())
	if err != nil {
		return nil, err
	}
	origHead, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	if err := refs.set(plumbing.NewHashReference(branch, hash)); err != nil {
		return nil, fmt.Errorf("create branch %s (nothing was changed): %w", p.Branch(), err)
	}
	checkpoint(StepBranch)
	undo := func(cause error, what string) error {
		var errs []error
		errs = append(errs, refs.set(origHead), refs.remove(branch))
		if rerr := errors.Join(errs...); rerr != nil {
			return fmt.Errorf("%s: %w (undoing the branch and HEAD also failed: %v)", what, cause, rerr)
		}
		return fmt.Errorf("%s (nothing was changed): %w", what, cause)
	}
	if err := refs.set(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return nil, undo(err, "switch to "+p.Branch())
	}
	checkpoint(StepHead)
	restoreIndex, err := refs.updateIndex(blobs)
	if err != nil {
		return nil, undo(err, "update the index")
	}
	checkpoint(StepIndex)
	if err := atomicfile.WriteAll(w.Repo.Root(), p.Edits, o.BeforeRename); err != nil {
		if rerr := restoreIndex(); rerr != nil {
			return nil, undo(fmt.Errorf("%w (restoring the index also failed: %v)", err, rerr), "write the promotion")
		}
		return nil, undo(err, "write the promotion")
	}
	checkpoint(StepFiles)
	res := &Result{Branch: p.Branch(), Commit: hash.String(), Files: files}
	if o.Push != "" {
		spec := config.RefSpec(fmt.Sprintf("%s:%s", branch, branch))
		if err := repo.Push(&git.PushOptions{RemoteName: o.Push, RefSpecs: []config.RefSpec{spec}}); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return res, fmt.Errorf("push %s to %s: %w (the commit is on the local branch)", p.Branch(), o.Push, err)
		}
		res.Pushed = o.Push
	}
	return res, nil
}

// buildCommit writes the edited files as blobs, the trees above them and the commit into the
// object store. Nothing refers to them yet: a crash leaves only unreachable objects.
func buildCommit(repo *git.Repository, parent plumbing.Hash, p *Plan, files []string, o WriteOptions, checkpoint func(string)) (plumbing.Hash, map[string]plumbing.Hash, error) {
	store := repo.Storer
	blobs := map[string]plumbing.Hash{}
	for _, f := range files {
		h, err := writeObject(store, plumbing.BlobObject, p.Edits[f])
		if err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("blob %s: %w", f, err)
		}
		blobs[f] = h
	}
	checkpoint(StepBlobs)
	base, err := repo.CommitObject(parent)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	tree := base.TreeHash
	for _, f := range files {
		if tree, err = replaceInTree(store, tree, strings.Split(f, "/"), blobs[f]); err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("tree for %s: %w", f, err)
		}
	}
	checkpoint(StepTree)
	sig := o.Author
	if sig == nil {
		sig = &object.Signature{Name: "lakeport", Email: "lakeport@localhost"}
		if cfg, err := repo.ConfigScoped(config.GlobalScope); err == nil && cfg.User.Name != "" {
			sig = &object.Signature{Name: cfg.User.Name, Email: cfg.User.Email}
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	sig.When = now()
	c := &object.Commit{Author: *sig, Committer: *sig, Message: o.Message, TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	obj := store.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	h, err := store.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	checkpoint(StepCommit)
	return h, blobs, nil
}

func writeObject(store storer.EncodedObjectStorer, t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	obj := store.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(data)))
	wr, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := wr.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := wr.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return store.SetEncodedObject(obj)
}

// replaceInTree returns the tree treeHash with the file at path (split on '/') set to blob,
// writing the new trees on the way up.
func replaceInTree(store storer.EncodedObjectStorer, treeHash plumbing.Hash, path []string, blob plumbing.Hash) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !treeHash.IsZero() {
		t, err := object.GetTree(store, treeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, t.Entries...)
	}
	i := slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == path[0] })
	var entry object.TreeEntry
	if i >= 0 {
		entry = entries[i]
	} else {
		entry = object.TreeEntry{Name: path[0], Mode: filemode.Regular}
		if len(path) > 1 {
			entry.Mode = filemode.Dir
		}
	}
	if len(path) == 1 {
		entry.Hash = blob
	} else {
		sub := plumbing.ZeroHash
		if i >= 0 {
			sub = entry.Hash
		}
		h, err := replaceInTree(store, sub, path[1:], blob)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entry.Hash = h
	}
	if i >= 0 {
		entries[i] = entry
	} else {
		entries = append(entries, entry)
		// Git's order: by name, a directory's name compared as if it ended in '/'.
		key := func(e object.TreeEntry) string {
			if e.Mode == filemode.Dir {
				return e.Name + "/"
			}
			return e.Name
		}
		sort.Slice(entries, func(a, b int) bool { return key(entries[a]) < key(entries[b]) })
	}
	obj := store.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return store.SetEncodedObject(obj)
}

// refWriter updates refs and the index of a repository with a .git folder by writing each file
// whole and renaming it into place, so that a crash never leaves one half-written (go-git's own
// writers truncate first). Other layouts (a linked worktree's .git file) fall back to go-git.
type refWriter struct {
	repo   *git.Repository
	gitDir string // "" = go-git
}

func newRefWriter(repo *git.Repository, root string) (*refWriter, error) {
	rw := &refWriter{repo: repo}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err == nil && fi.IsDir() {
		rw.gitDir = filepath.Join(root, ".git")
	}
	return rw, nil
}

func (r *refWriter) set(ref *plumbing.Reference) error {
	if r.gitDir == "" {
		return r.repo.Storer.SetReference(ref)
	}
	line := ref.Hash().String()
	if ref.Type() == plumbing.SymbolicReference {
		line = "ref: " + ref.Target().String()
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(r.gitDir, filepath.FromSlash(ref.Name().String()))), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteAll(r.gitDir, map[string][]byte{ref.Name().String(): []byte(line + "\n")}, nil)
}

func (r *refWriter) remove(name plumbing.ReferenceName) error {
	if r.gitDir == "" {
		return r.repo.Storer.RemoveReference(name)
	}
	err := os.Remove(filepath.Join(r.gitDir, filepath.FromSlash(name.String())))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// updateIndex points the index entries of the promoted files at their new blobs, and returns how
// to put the previous index back. Their stat data is left as it was: git re-reads a file whose
// stat data does not match, and finds the new content.
func (r *refWriter) updateIndex(blobs map[string]plumbing.Hash) (restore func() error, err error) {
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return nil, fmt.Errorf("read the index: %w", err)
	}
	var before bytes.Buffer
	if err := index.NewEncoder(&before).Encode(idx); err != nil {
		return nil, err
	}
	for _, e := range idx.Entries {
		if h, ok := blobs[e.Name]; ok {
			e.Hash = h
			e.ModifiedAt = time.Time{}
		}
	}
	// The cached trees of the index describe the old entries: drop them (git rebuilds them).
	idx.Cache = nil
	write := func(i *index.Index, raw []byte) error {
		if r.gitDir == "" {
			return r.repo.Storer.SetIndex(i)
		}
		return atomicfile.WriteAll(r.gitDir, map[string][]byte{"index": raw}, nil)
	}
	var after bytes.Buffer
	if err := index.NewEncoder(&after).Encode(idx); err != nil {
		return nil, err
	}
	if err := write(idx, after.Bytes()); err != nil {
		return nil, fmt.Errorf("write the index: %w", err)
	}
	orig := before.Bytes()
	return func() error {
		if r.gitDir != "" {
			return write(nil, orig)
		}
		prev := &index.Index{}
		if err := index.NewDecoder(bytes.NewReader(orig)).Decode(prev); err != nil {
			return err
		}
		return write(prev, nil)
	}, nil
}
