package action

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"

	"github.com/lakeport/lakeport/cli/pkg/adopt"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Init adopts the kit's model in an existing git repository (package adopt), then expands and
// renders the result as `lakeport apps` and `lakeport render` would, so a mistake shows now and
// not in Argo CD.
type Init struct {
	Config *Config
	adopt.Options
	// DryRun plans and reports without writing.
	DryRun bool
}

// InitReport is what Init wrote and what the result expands and renders to.
type InitReport struct {
	// Root is the repository's root folder.
	Root string
	// Files are the kit's files: written, or kept (an existing values file).
	Files []adopt.File
	// Apps and Render are the result's Applications and releases (nil on a dry run).
	Apps   *AppsReport
	Render *RenderReport
}

// Run writes the files (all or nothing) and renders them.
func (a *Init) Run(ctx context.Context) (*InitReport, error) {
	dir, err := a.Config.dir()
	if err != nil {
		return nil, err
	}
	repo, err := source.Open(dir)
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("%s is not inside a git repository (lakeport reads charts and pins from git): run git init first (%v)", dir, err)}
	}
	o := a.Options // the defaults below are this run's, not the caller's options
	o.Root = repo.Root()
	if o.RepoURL == "" {
		if u := originURL(repo); u != "" {
			o.RepoURL = u
			a.Config.note(fmt.Sprintf("repository URL: %s (the origin remote's)", u))
		}
	}
	if len(o.Charts) == 0 {
		if o.Charts, err = adopt.DiscoverCharts(o.Root); err != nil {
			return nil, err
		}
		for _, c := range o.Charts {
			a.Config.note(fmt.Sprintf("chart: %s=%s (found in the repository)", c.Component, c.Path))
		}
	}
	plan, err := adopt.Plan(o)
	if err != nil {
		return nil, &UsageError{Msg: err.Error()} // every Plan error is a bad option
	}
	rep := &InitReport{Root: o.Root, Files: plan}
	if a.DryRun {
		return rep, nil
	}
	if err := adopt.Write(o.Root, plan, o.Force); err != nil {
		var exists *adopt.ExistsError
		if errors.As(err, &exists) {
			return nil, &UsageError{Msg: err.Error()} // names {Force}
		}
		return nil, fmt.Errorf("write the kit files: %w", err)
	}
	cfg := *a.Config
	cfg.RepoDir = o.Root
	if rep.Apps, err = (&Apps{Config: &cfg}).Run(ctx); err != nil {
		return rep, fmt.Errorf("the files are written, but the ApplicationSet does not expand: %w", err)
	}
	if rep.Render, err = (&Render{Config: &cfg}).Run(ctx); err != nil {
		return rep, fmt.Errorf("the files are written, but rendering failed: %w", err)
	}
	return rep, nil
}

// originURL is the fetch URL of the repository's origin remote ("" when there is none).
func originURL(repo *source.Repo) string {
	var u string
	_ = repo.WithGit(func(g *git.Repository) error {
		if r, err := g.Remote("origin"); err == nil && len(r.Config().URLs) > 0 {
			u = r.Config().URLs[0]
		}
		return nil
	})
	return u
}
