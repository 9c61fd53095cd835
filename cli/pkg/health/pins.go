package health

import (
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// RepoPins resolves targetRevisions against a local clone of the kit: branches (local or
// origin's) follow the commit asked for, tags name a fixed commit.
type RepoPins struct{ Repo *git.Repository }

// ResolvePin implements PinResolver.
func (p RepoPins) ResolvePin(t string) (string, bool, bool) {
	if p.Repo == nil {
		return "", false, false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(t, "refs/heads/"), "refs/tags/")
	if !strings.HasPrefix(t, "refs/tags/") {
		for _, ref := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(name), plumbing.NewRemoteReferenceName("origin", name)} {
			if _, err := p.Repo.Reference(ref, true); err == nil {
				return "", true, true
			}
		}
	}
	if !strings.HasPrefix(t, "refs/heads/") {
		if ref, err := p.Repo.Tag(name); err == nil {
			h := ref.Hash()
			if tag, err := p.Repo.TagObject(h); err == nil { // annotated: peel to the commit
				if c, err := tag.Commit(); err == nil {
					h = c.Hash
				}
			}
			return h.String(), false, true
		}
	}
	return "", false, false
}
