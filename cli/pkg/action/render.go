package action

import (
	"context"
	"sync/atomic"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Apps lists the Applications the kit's ApplicationSet generates.
type Apps struct {
	Config *Config
	// Envs and Apps select environments and components or Application names (empty: all).
	Envs, Apps []string
	// Revision reads the kit at this git revision ("" = the working tree).
	Revision string
}

// AppsReport is what Apps found.
type AppsReport struct {
	// Items are the selected Applications, sorted by name, with apiVersion and kind set.
	Items []argov1.Application
}

// Run expands the ApplicationSet and selects.
func (a *Apps) Run(context.Context) (*AppsReport, error) {
	w, err := a.Config.openWorkspace(a.Revision)
	if err != nil {
		return nil, err
	}
	apps, err := w.Select(a.Envs, a.Apps)
	if err != nil {
		return nil, err
	}
	for i := range apps {
		apps[i].APIVersion, apps[i].Kind = "argoproj.io/v1alpha1", "Application"
	}
	return &AppsReport{Items: apps}, nil
}

// Render renders the selected Applications as Argo CD's repo server would.
type Render struct {
	Config *Config
	// Envs and Apps select environments and components or Application names (empty: all).
	Envs, Apps []string
	// Revision reads the kit at this git revision ("" = the working tree).
	Revision string
	// Dir, when set, receives Dir/<env>/<component>.yaml, replacing Dir as a whole only once
	// everything rendered. Each release is written as soon as it is rendered and its Manifest and
	// Objects are dropped (the report's Releases then carry neither): memory does not grow with
	// the fleet.
	Dir string
	// ManifestsOnly drops each release's decoded Objects as soon as it is rendered (they are
	// counted in the report's Objects): a fleet's manifests alone are a fraction of the memory
	// its decoded objects take.
	ManifestsOnly bool
}

// RenderReport is what Render produced.
type RenderReport struct {
	Releases []*render.Release
	// Objects and Environments count what was rendered.
	Objects, Environments int
	// Took is the wall time by the Config's clock.
	Took time.Duration
}

// Run renders (and writes Dir when set).
func (r *Render) Run(ctx context.Context) (*RenderReport, error) {
	start := r.Config.now()
	w, err := r.Config.openWorkspace(r.Revision)
	if err != nil {
		return nil, err
	}
	apps, err := w.Select(r.Envs, r.Apps)
	if err != nil {
		return nil, err
	}
	rep := &RenderReport{}
	var each func(*render.Release) error
	var objects atomic.Int64
	if r.Dir != "" {
		dw, err := render.NewDirWriter(r.Dir)
		if err != nil {
			return nil, err
		}
		each = func(rel *render.Release) error {
			if err := dw.Write(rel); err != nil {
				return err
			}
			objects.Add(int64(len(rel.Objects)))
			rel.Manifest, rel.Objects = "", nil
			return nil
		}
		rels, err := w.RenderStream(ctx, apps, each)
		if err != nil {
			dw.Abort()
			return nil, err
		}
		if err := dw.Commit(); err != nil {
			return nil, err
		}
		rep.Releases = rels
	} else {
		each = func(rel *render.Release) error {
			objects.Add(int64(len(rel.Objects)))
			if r.ManifestsOnly {
				rel.Objects = nil
			}
			return nil
		}
		if rep.Releases, err = w.RenderStream(ctx, apps, each); err != nil {
			return nil, err
		}
	}
	rep.Objects = int(objects.Load())
	envs := map[string]bool{}
	for _, rel := range rep.Releases {
		envs[rel.Environment] = true
	}
	rep.Environments = len(envs)
	rep.Took = r.Config.since(start)
	return rep, nil
}
