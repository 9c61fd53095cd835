package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
	"github.com/lakeport/lakeport/cli/pkg/generate"
	"github.com/lakeport/lakeport/cli/pkg/kit"
)

// Generate brings the kit's generated files (CODEOWNERS, the AppProjects' sync windows) in line
// with the environments model, or, with Check, only says which are stale.
type Generate struct {
	Config *Config
	// Check writes nothing; a stale file is the ErrStale outcome.
	Check bool
}

// GeneratedFile is one generated file's state.
type GeneratedFile struct {
	Path string `json:"path"`
	// Status is current, written, removed or stale (with Check).
	Status   string             `json:"status"`
	Problems []generate.Problem `json:"problems,omitempty"`
}

// ErrStale is the outcome of Generate with Check when a generated file is stale.
var ErrStale = errors.New("generated files are stale")

// Run generates. With Check, a stale file returns ErrStale with the report.
func (g *Generate) Run(context.Context) ([]GeneratedFile, error) {
	repo, err := g.Config.openRepo()
	if err != nil {
		return nil, err
	}
	snap := repo.Worktree()
	k, err := kit.Load(snap)
	if err != nil {
		return nil, err
	}
	files, err := generate.Files(snap, k)
	if err != nil {
		return nil, err
	}
	var out []GeneratedFile
	writes := map[string][]byte{}
	var removes []string
	stale := false
	for _, f := range files {
		gf := GeneratedFile{Path: f.Path, Status: "current", Problems: f.Problems}
		switch {
		case !f.Stale() && string(f.Current) == string(f.Want):
		case g.Check && f.Stale():
			gf.Status, stale = "stale", true
		case g.Check:
			// Only bytes that do not matter differ (a cosmetic edit): current.
		case f.Want == nil && f.Current != nil:
			gf.Status = "removed"
			removes = append(removes, f.Path)
		case f.Want != nil:
			gf.Status = "written"
			writes[f.Path] = f.Want
		}
		out = append(out, gf)
	}
	if g.Check {
		if stale {
			return out, ErrStale
		}
		return out, nil
	}
	for p := range writes {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo.Root(), filepath.FromSlash(p))), 0o755); err != nil {
			return out, err
		}
	}
	if len(writes) > 0 {
		if err := atomicfile.WriteAll(repo.Root(), writes, nil); err != nil {
			return out, fmt.Errorf("write generated files: %w", err)
		}
	}
	for _, p := range removes {
		if err := os.Remove(filepath.Join(repo.Root(), filepath.FromSlash(p))); err != nil {
			return out, fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return out, nil
}
