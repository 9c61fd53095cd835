package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

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
	// BeforeRename is called before each file is renamed into place (crash injection in tests).
	BeforeRename atomicfile.Hook
	// Push pushes the branch to this remote when not empty.
	Push string
}

// Result is what Write did.
type Result struct {
	Branch string   `json:"branch"`
	Commit string   `json:"commit"`
	Files  []string `json:"files"`
	Pushed string   `json:"pushed,omitempty"`
}

// Write checks that nothing moved, writes the edits atomically and commits them on the plan's
// branch. On any failure the working tree and the branches are left as they were.
func Write(w *workspace.Workspace, p *Plan, o WriteOptions) (*Result, error) {
	repo := w.Repo.Git()
	head, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("read HEAD: %w", err)
	}
	if head.Hash().String() != p.Head {
		return nil, &ConflictError{fmt.Sprintf("HEAD moved from %s to %s since the plan was made: run the promotion again", p.Head[:12], head.Hash().String()[:12])}
	}
	if o.ExpectHead != "" && !strings.HasPrefix(p.Head, o.ExpectHead) {
		return nil, &ConflictError{fmt.Sprintf("HEAD is %s, not %s (--expect-head): the branch moved since the preview", p.Head[:12], o.ExpectHead)}
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

	if err := atomicfile.WriteAll(w.Repo.Root(), p.Edits, o.BeforeRename); err != nil {
		return nil, fmt.Errorf("write the promotion (nothing was changed): %w", err)
	}
	hash, err := commit(w, p, head, branch, files, o)
	if err != nil {
		// Put the working tree back: the promotion is all or nothing.
		orig := map[string][]byte{}
		for _, f := range files {
			orig[f], _ = committed.ReadFile(f)
		}
		if rerr := atomicfile.WriteAll(w.Repo.Root(), orig, nil); rerr != nil {
			return nil, fmt.Errorf("commit the promotion: %w (restoring the files also failed: %v)", err, rerr)
		}
		return nil, fmt.Errorf("commit the promotion (files restored): %w", err)
	}
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

// commit creates the branch at HEAD, switches to it (keeping the working tree) and commits the
// promoted files. If that fails, HEAD goes back to where it was and the branch is deleted.
func commit(w *workspace.Workspace, p *Plan, head *plumbing.Reference, branch plumbing.ReferenceName, files []string, o WriteOptions) (plumbing.Hash, error) {
	repo := w.Repo.Git()
	wt, err := repo.Worktree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
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
	status, err := wt.Status()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("git status: %w", err)
	}
	for f, st := range status {
		if st.Staging != git.Unmodified && st.Staging != git.Untracked {
			return plumbing.ZeroHash, &ConflictError{fmt.Sprintf("%s is staged in the index: commit or unstage it, so that the promotion commit holds only the pins", f)}
		}
	}
	origHead, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read HEAD: %w", err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(branch, head.Hash())); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("create branch: %w", err)
	}
	undo := func() {
		_ = repo.Storer.SetReference(origHead)
		_ = repo.Storer.RemoveReference(branch)
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		undo()
		return plumbing.ZeroHash, fmt.Errorf("switch to %s: %w", branch.Short(), err)
	}
	for _, f := range files {
		if _, err := wt.Add(f); err != nil {
			undo()
			return plumbing.ZeroHash, fmt.Errorf("stage %s: %w", f, err)
		}
	}
	h, err := wt.Commit(o.Message, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		undo()
		return plumbing.ZeroHash, err
	}
	return h, nil
}
