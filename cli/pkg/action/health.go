package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"k8s.io/client-go/rest"

	"github.com/lakeport/lakeport/cli/pkg/health"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Health checks, and with Wait waits, that the kit's Applications are Synced and Healthy,
// optionally at a revision, reading them through Config.Conn.
type Health struct {
	Config *Config
	// Envs and Apps select environments and components or Application names (empty: all).
	Envs, Apps []string
	// Revision is the commit the Applications must be Synced and Healthy at ("" = any): anything
	// the kit's clone resolves, or outside a clone a SHA or a prefix of at least 7 hex digits.
	Revision string

	// Wait polls every Interval until every Application is Ready, Degraded past DegradedGrace,
	// or Timeout passed; Refresh asks Argo CD to refresh stale Applications meanwhile.
	Wait                             bool
	Timeout, DegradedGrace, Interval time.Duration
	Refresh                          bool
	// Started is called once before a wait, with what is awaited and the source read.
	Started func(what, source string)
	// Progress is called with the report after every poll of a wait.
	Progress func(r *health.Report, elapsed time.Duration)

	// Deep also asks Trino, MinIO and Spark through their own APIs; DeepEndpoints give URLs by
	// component instead of the Kubernetes API's service proxy.
	Deep          bool
	DeepEndpoints map[string]string
}

// HealthReport is the outcome of Health.
type HealthReport struct {
	*health.Report
	// Took is the wall time by the Config's clock.
	Took time.Duration
}

// Run checks (or waits). When the wait fails after Applications were read, both the report (the
// last state seen) and the error are returned.
func (h *Health) Run(ctx context.Context) (*HealthReport, error) {
	c := h.Config
	start := c.now()
	plan, sel, err := h.plan()
	if err != nil {
		return nil, err
	}
	src, err := c.Conn.healthSource(c.getenv)
	if err != nil {
		return nil, err
	}
	if cl, ok := src.(interface{ Close() error }); ok {
		defer cl.Close()
	}
	var report *health.Report
	if h.Wait {
		if h.Started != nil {
			what := "Synced and Healthy"
			if plan.Revision != "" {
				what += " at " + source.ShortSHA(plan.Revision)
			}
			h.Started(what, src.String())
		}
		wo := health.WaitOptions{
			Timeout:       h.Timeout,
			DegradedGrace: h.DegradedGrace,
			Interval:      h.Interval,
			NoRefresh:     !h.Refresh,
			Progress:      h.Progress,
			Warn:          c.warn,
		}
		if c.Sleep != nil {
			// A wait needs a clock that moves with its sleeps: the Config's only when it
			// also says how to sleep (a fake clock), else the wall clock.
			wo.Now, wo.Sleep = c.Now, c.Sleep
		}
		report, err = health.Wait(ctx, src, sel, plan, wo)
	} else {
		var apps []argov1.Application
		report, apps, err = health.Check(ctx, src, sel, plan)
		if err == nil && report.Outcome != health.OutcomeHealthy {
			for _, e := range health.Explain(ctx, src, report, apps) {
				c.warn(e.Error())
			}
		}
	}
	if err != nil {
		var none *health.NoApplicationsError
		if report == nil || errors.As(err, &none) {
			return nil, err
		}
	}
	if werr := health.AnnotateWindows(report, plan.Windows, c.now()); werr != nil {
		return nil, werr
	}
	if h.Deep {
		health.RunDeep(ctx, report, health.DeepOptions{
			Endpoints:  h.DeepEndpoints,
			Releases:   func(ctx context.Context) (map[string]*render.Release, error) { return h.renderForDeep(ctx, report) },
			KubeConfig: func() (*rest.Config, error) { return c.Conn.restConfig(c.getenv) },
		})
	}
	return &HealthReport{Report: report, Took: c.since(start)}, err
}

// plan builds the expectation: from the kit when one is at hand (validating the selection, giving
// the promotion order and, with a revision, the Applications and pins generated at that commit).
func (h *Health) plan() (*health.Plan, health.Selector, error) {
	c := h.Config
	plan := &health.Plan{}
	w, err := c.openWorkspace("")
	if err != nil {
		if c.RepoDir != "" {
			return nil, health.Selector{}, err
		}
		// Outside a clone of the kit: the Applications' own specs say everything.
		w = nil
	}
	appsetNS := ""
	if w != nil {
		plan.EnvOrder = w.Kit.Promotion
		plan.Windows = map[string]health.WindowSpec{}
		for _, e := range w.Kit.Environments {
			plan.Windows[e.Name] = health.WindowSpec{File: e.File, Windows: e.ArgoSyncWindows()}
		}
		plan.Pins = health.RepoPins{Repo: w.Repo}
		if _, err := w.Select(h.Envs, h.Apps); err != nil {
			return nil, health.Selector{}, err
		}
		appsetNS = w.Kit.ApplicationSet.Namespace
	}
	sel := c.Conn.selector(h.Envs, h.Apps, appsetNS)
	if h.Revision == "" {
		return plan, sel, nil
	}
	if w != nil {
		hash, err := w.Repo.Resolve(h.Revision)
		if err == nil {
			plan.Revision = hash.String()
			if plan.Expected, err = expected(w.Repo, plan.Revision, h.Envs, h.Apps); err != nil {
				return nil, sel, err
			}
			return plan, sel, nil
		}
		if !isHexPrefix(h.Revision) {
			return nil, sel, err
		}
		c.warn(fmt.Sprintf("%s is not in the local clone: pins are read from the Applications' own specs", h.Revision))
	} else if !isHexPrefix(h.Revision) {
		return nil, sel, &UsageError{Msg: fmt.Sprintf("revision %q: outside a clone of the kit, give a commit SHA (at least 7 hex digits)", h.Revision)}
	}
	plan.Revision = strings.ToLower(h.Revision)
	return plan, sel, nil
}

// expected are the selected Applications the kit generates at a commit, by name.
func expected(repo *source.Repo, rev string, envs, apps []string) (map[string]*argov1.Application, error) {
	at, err := workspace.OpenRepo(repo, rev)
	if err != nil {
		return nil, fmt.Errorf("read the kit at %s: %w", source.ShortSHA(rev), err)
	}
	sel, err := at.Select(envs, apps)
	if err != nil {
		return nil, fmt.Errorf("the kit at %s: %w", source.ShortSHA(rev), err)
	}
	out := map[string]*argov1.Application{}
	for i := range sel {
		out[sel[i].Name] = &sel[i]
	}
	return out, nil
}

func isHexPrefix(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	return strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

// renderForDeep renders the kit's Applications that have a deep check, by name.
func (h *Health) renderForDeep(ctx context.Context, r *health.Report) (map[string]*render.Release, error) {
	w, err := h.Config.openWorkspace(r.Revision)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for i := range r.Applications {
		if health.HasDeepCheck(r.Applications[i].Component) {
			want[r.Applications[i].Name] = true
		}
	}
	var apps = w.Apps[:0:0]
	for i := range w.Apps {
		if want[w.Apps[i].Name] {
			apps = append(apps, w.Apps[i])
		}
	}
	rels, err := w.Render(ctx, apps)
	out := map[string]*render.Release{}
	for _, rel := range rels {
		out[rel.App] = rel
	}
	return out, err
}

// Verdict is nil when every Application is Ready (and every deep check passed), ErrTimedOut when a
// wait gave up, ErrUnhealthy otherwise.
func (r *HealthReport) Verdict() error {
	switch r.Outcome {
	case health.OutcomeHealthy:
		return nil
	case health.OutcomeTimedOut:
		return ErrTimedOut
	}
	return ErrUnhealthy
}
