package health

import (
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// RepoPins resolves targetRevisions against a local clone of the kit: branches (local or
// origin's) follow the commit asked for, tags name a fixed commit.
type RepoPins struct{ Repo *source.Repo }

// ResolvePin implements PinResolver.
func (p RepoPins) ResolvePin(t string) (commit string, follows, ok bool) {
	if p.Repo == nil {
		return "", false, false
	}
	_ = p.Repo.WithGit(func(g *git.Repository) error {
		commit, follows, ok = resolvePin(g, t)
		return nil
	})
	return commit, follows, ok
}

func resolvePin(repo *git.Repository, t string) (string, bool, bool) {
	name := strings.TrimPrefix(strings.TrimPrefix(t, "refs/heads/"), "refs/tags/")
	if !strings.HasPrefix(t, "refs/tags/") {
		for _, ref := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(name), plumbing.NewRemoteReferenceName("origin", name)} {
			if _, err := repo.Reference(ref, true); err == nil {
				return "", true, true
			}
		}
	}
	if !strings.HasPrefix(t, "refs/heads/") {
		if ref, err := repo.Tag(name); err == nil {
			h := ref.Hash()
			if tag, err := repo.TagObject(h); err == nil { // annotated: peel to the commit
				if c, err := tag.Commit(); err == nil {
					h = c.Hash
				}
			}
			return h.String(), false, true
		}
	}
	return "", false, false
}
