// Package action holds lakeport's verbs as cobra-free structs: each verb's options are its fields
// and Run(ctx) returns a report. The CLI binds flags onto them and prints what they return; a PR
// bot, a dashboard or any Go program runs the same verbs with the same results. Actions never
// print and never exit: progress and warnings go through the callbacks of Config, outcomes through
// the returned report and the typed errors of this package.
package action

import (
	"context"
	"os"
	"time"

	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Config is what every action shares: where the kit is, the clock, where warnings go and how to
// reach a cluster or Argo CD.
type Config struct {
	// RepoDir is where the kit repository is searched from ("" = the working directory).
	RepoDir string
	// Now is the clock (nil = time.Now): report times, exception expiry, the promotion's commit
	// time and soak.
	Now func() time.Time
	// Sleep, with Now, drives the polling of waits (a fake clock); nil: waits use the wall clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Warn receives warnings ("" prefix: the caller decides how to show them); nil drops them.
	Warn func(msg string)
	// Note receives informational notes; nil drops them.
	Note func(msg string)
	// Getenv reads the environment (nil = os.Getenv): KUBECONFIG, ARGOCD_*, GIT_AUTHOR_*.
	Getenv func(string) string
	// Conn is how health, diff --live and the promotion gate reach Kubernetes and Argo CD.
	Conn Connection
	// RenderCache is the directory of the opt-in render cache ("" = no cache; the CLI sets it
	// from --cache or LAKEPORT_CACHE).
	RenderCache string
}

// renderCache opens the render cache, nil when there is none.
func (c *Config) renderCache() (*render.Cache, error) {
	if c.RenderCache == "" {
		return nil, nil
	}
	return render.OpenCache(c.RenderCache)
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) since(start time.Time) time.Duration { return c.now().Sub(start) }

func (c *Config) getenv(k string) string {
	if c.Getenv != nil {
		return c.Getenv(k)
	}
	return os.Getenv(k)
}

func (c *Config) warn(msg string) {
	if c.Warn != nil {
		c.Warn(msg)
	}
}

func (c *Config) note(msg string) {
	if c.Note != nil {
		c.Note(msg)
	}
}

func (c *Config) dir() (string, error) {
	if c.RepoDir != "" {
		return c.RepoDir, nil
	}
	return os.Getwd()
}

// openRepo opens the kit repository.
func (c *Config) openRepo() (*source.Repo, error) {
	dir, err := c.dir()
	if err != nil {
		return nil, err
	}
	return source.Open(dir)
}

// openWorkspace loads the kit at a revision ("" = working tree).
func (c *Config) openWorkspace(revision string) (*workspace.Workspace, error) {
	repo, err := c.openRepo()
	if err != nil {
		return nil, err
	}
	cache, err := c.renderCache()
	if err != nil {
		return nil, err
	}
	return workspace.OpenRepoShared(repo, revision, &workspace.Shared{Cache: cache})
}

// ShortSHA shortens a full commit SHA to 12 hex digits for people; anything else is returned as
// written (source.ShortSHA, for callers that print reports).
func ShortSHA(rev string) string { return source.ShortSHA(rev) }
