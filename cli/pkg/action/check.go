package action

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Check renders the selected Applications and checks every rendered object: schemas, API
// versions and the kit's policies. With Base (PR mode) the kit at that revision is checked too and
// findings are reported as new, fixed or unchanged.
type Check struct {
	Config *Config
	// Envs and Apps select; the other applications of the selected environments are rendered
	// too (cross-object rules see a whole environment) but not reported.
	Envs, Apps []string
	// Base is the revision of PR mode ("" = off).
	Base string
	// FailOnWarn and FailOnExisting decide the verdict: warnings fail too; in PR mode,
	// unchanged findings fail too.
	FailOnWarn, FailOnExisting bool
	// CacheDir keeps decoded CRDs between runs ("" = the user cache folder, when there is one).
	CacheDir string
}

// CheckReport is the checked report and what it took.
type CheckReport struct {
	*check.Report
	// Environments is the number of environments checked.
	Environments int
	Took         time.Duration
	failOnWarn   bool
	all          bool
}

// Verdict is ErrFindings when a finding fails (by the Check's FailOnWarn and FailOnExisting).
func (r *CheckReport) Verdict() error {
	if r.Failed(r.failOnWarn, r.all) {
		return ErrFindings
	}
	return nil
}

// BaseError is a PR-mode base revision that does not resolve.
type BaseError struct {
	Revision string
	Err      error
}

func (e *BaseError) Error() string { return "base: " + e.Err.Error() }

func (e *BaseError) Unwrap() error { return e.Err }

// Run renders, checks (both sides at once in PR mode) and compares.
func (c *Check) Run(ctx context.Context) (*CheckReport, error) {
	cfg := c.Config
	start := cfg.now()
	w, err := cfg.openWorkspace("")
	if err != nil {
		return nil, err
	}
	apps, err := w.Select(c.Envs, c.Apps)
	if err != nil {
		return nil, err
	}
	if c.Base != "" {
		// A base that does not resolve is a mistake of the caller; a base that resolves but
		// cannot be checked (a broken main) only makes every finding new.
		if _, err := w.Repo.Resolve(c.Base); err != nil {
			return nil, &BaseError{Revision: c.Base, Err: err}
		}
	}
	var base *check.Report
	var baseErr error
	baseDone := make(chan struct{})
	// The two sides share what checking an object found: an environment the pull request does
	// not change is evaluated once (check.Shared).
	shared := check.NewShared()
	if c.Base != "" {
		go func() {
			defer close(baseDone)
			base, baseErr = c.checkBase(ctx, shared)
		}()
	} else {
		close(baseDone)
	}
	rep, err := c.checkWorkspace(ctx, w, apps, false, shared)
	<-baseDone
	if err != nil {
		return nil, err
	}
	if c.Base != "" {
		if baseErr != nil {
			cfg.warn(fmt.Sprintf("base %s could not be checked, so every finding counts as new: %v", c.Base, baseErr))
			base = &check.Report{}
		}
		rep = check.Compare(base, rep, c.Base)
		rep.Sort(w.Kit.Promotion)
	}
	envs := map[string]bool{}
	for _, a := range rep.Applications {
		envs[a.Environment] = true
	}
	return &CheckReport{Report: rep, Environments: len(envs), Took: cfg.since(start), failOnWarn: c.FailOnWarn, all: c.FailOnExisting}, nil
}

// checkBase checks the same selection in the kit at the base revision. Environments and apps the
// base does not have are simply absent from it.
func (c *Check) checkBase(ctx context.Context, shared *check.Shared) (*check.Report, error) {
	w, err := c.Config.openWorkspace(c.Base)
	if err != nil {
		return nil, err
	}
	return c.checkWorkspace(ctx, w, workspace.Filter(w.Apps, c.Envs, c.Apps), true, shared)
}

func (c *Check) cacheDir() string {
	if c.CacheDir != "" {
		return c.CacheDir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "lakeport", "crds")
}

// checkWorkspace renders the selected applications, plus the other applications of their
// environments, and checks them.
func (c *Check) checkWorkspace(ctx context.Context, w *workspace.Workspace, apps []argov1.Application, base bool, shared *check.Shared) (*check.Report, error) {
	readFile := func(rev, path string) ([]byte, error) {
		if rev == source.Worktree {
			return w.Head.ReadFile(path)
		}
		snap, err := w.Repo.At(rev)
		if err != nil {
			return nil, err
		}
		return snap.ReadFile(path)
	}
	checker, err := check.New(w.Head, check.Options{Now: c.Config.now(), CRDs: crds.FS, CacheDir: c.cacheDir(), ReadFile: readFile, Shared: shared})
	if err != nil {
		return nil, err
	}
	if len(checker.Engine.Rules) == 0 && !base {
		c.Config.note(fmt.Sprintf("no deny/violation/warn rules in %s/ (package %s): only schemas and API versions are checked", policy.Dir, policy.Namespace))
	}
	selected := map[string]bool{}
	envs := map[string]bool{}
	for i := range apps {
		selected[apps[i].Name] = true
		envs[workspace.Environment(&apps[i])] = true
	}
	var all []argov1.Application
	for _, a := range w.Apps {
		if envs[workspace.Environment(&a)] {
			all = append(all, a)
		}
	}
	rels, err := w.Render(ctx, all)
	if err != nil {
		return nil, err
	}
	var chosen []*kit.Environment
	for _, env := range w.Kit.Environments {
		if envs[env.Name] {
			chosen = append(chosen, env)
		}
	}
	targets := check.Targets(chosen, rels, func(r *render.Release) bool { return selected[r.App] })
	rep, err := checker.Check(ctx, targets)
	if err != nil {
		return nil, err
	}
	rep.Sort(w.Kit.Promotion)
	return rep, nil
}

// PolicyTests runs the Rego unit tests of the kit's policies/ in-process.
type PolicyTests struct {
	Config *Config
	// Filter runs only the tests whose name matches this regular expression.
	Filter string
}

// PolicyTestReport counts the results.
type PolicyTestReport struct {
	Tests          []policy.TestResult
	Passed, Failed int
}

// Verdict is ErrFindings when a test failed.
func (r *PolicyTestReport) Verdict() error {
	if r.Failed > 0 {
		return ErrFindings
	}
	return nil
}

// Run runs the tests.
func (p *PolicyTests) Run(ctx context.Context) (*PolicyTestReport, error) {
	w, err := p.Config.openWorkspace("")
	if err != nil {
		return nil, err
	}
	res, err := policy.RunTests(ctx, w.Head, policy.Dir, p.Filter)
	if err != nil {
		return nil, err
	}
	rep := &PolicyTestReport{Tests: res}
	for _, r := range res {
		if r.Pass {
			rep.Passed++
		} else if !r.Skip {
			rep.Failed++
		}
	}
	return rep, nil
}

// PolicyRules lists every rule check applies: the built-in checks and the kit's policies.
type PolicyRules struct{ Config *Config }

// Run lists the rules.
func (p *PolicyRules) Run(context.Context) ([]check.RuleInfo, error) {
	w, err := p.Config.openWorkspace("")
	if err != nil {
		return nil, err
	}
	c, err := check.New(w.Head, check.Options{})
	if err != nil {
		return nil, err
	}
	return c.Rules(), nil
}
