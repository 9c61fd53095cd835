package action

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"golang.org/x/sync/errgroup"

	"github.com/lakeport/lakeport/cli/pkg/appset"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/diff/live"
	"github.com/lakeport/lakeport/cli/pkg/diff/scope"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Diff renders Applications on two sides and compares them: two revisions (the pull request
// preview), two environments at one revision, or the cluster and what a sync would make of it.
type Diff struct {
	Config *Config
	// Mode is diff.Revisions, diff.Environments or diff.Live.
	Mode diff.Mode
	// Revisions mode: Base (required) and Head ("" = the working tree). Live mode reads Head.
	Base, Head string
	// Environments mode: From and To at Revision ("" = the working tree).
	FromEnv, ToEnv, Revision string
	// Envs and Apps select (in environments mode, Apps only).
	Envs, Apps []string
	// All renders every application, not only those whose inputs changed (revisions mode).
	All bool
	// Rules are the ignore rules; Context the lines of context of unified diffs; Hasher hashes
	// secret values (nil: a random salt).
	Rules   []diff.Rule
	Context int
	Hasher  *diff.Hasher
	// NoImpacts skips computing impacts (package impact); FailOn makes Verdict ErrImpacts when
	// an impact of one of these kinds is found.
	NoImpacts bool
	FailOn    []impact.Kind
}

// DiffReport is the comparison and what it took.
type DiffReport struct {
	*diff.Report
	// Summary says what was compared and rendered, in one line.
	Summary string
	Took    time.Duration
}

// Verdict is ErrImpacts when an impact of a kind in failOn was found, else ErrChanges when
// anything changed.
func (r *DiffReport) Verdict(failOn ...impact.Kind) error {
	if len(failOn) > 0 && r.Impacted(failOn...) {
		return ErrImpacts
	}
	if r.Changed() {
		return ErrChanges
	}
	return nil
}

// RevisionError is a revision of one side that cannot be read: Side is "base", "head" (the
// revisions of a revisions diff) or "revision" (the one revision of an environments diff).
type RevisionError struct {
	Side, Revision string
	Err            error
}

func (e *RevisionError) Error() string {
	if e.Revision == "" {
		return "working tree: " + e.Err.Error()
	}
	return fmt.Sprintf("%s %s: %v", e.Side, e.Revision, e.Err)
}

func (e *RevisionError) Unwrap() error { return e.Err }

// Run compares.
func (d *Diff) Run(ctx context.Context) (*DiffReport, error) {
	start := d.Config.now()
	if d.Hasher == nil {
		h, err := diff.NewHasher("")
		if err != nil {
			return nil, err
		}
		d.Hasher = h
	}
	repo, err := d.Config.openRepo()
	if err != nil {
		return nil, err
	}
	var rep *DiffReport
	switch d.Mode {
	case diff.Live:
		rep, err = d.runLive(ctx, repo)
	case diff.Environments:
		rep, err = d.runEnvironments(ctx, repo)
	default:
		rep, err = d.runRevisions(ctx, repo)
	}
	if err != nil {
		return nil, err
	}
	rep.Took = d.Config.since(start)
	return rep, nil
}

// HeadLabel names the head side.
func (d *Diff) HeadLabel() string {
	if d.Head == "" {
		return "working tree"
	}
	return d.Head
}

func (d *Diff) runRevisions(ctx context.Context, repo *source.Repo) (*DiffReport, error) {
	ids := scope.NewIDs(repo)
	bw, hw, err := d.openRevisions(repo, ids)
	if err != nil {
		return nil, err
	}
	if err := workspace.CheckNames([]*workspace.Workspace{bw, hw}, d.Envs, d.Apps); err != nil {
		return nil, err
	}
	baseApps := workspace.Filter(bw.Apps, d.Envs, d.Apps)
	headApps := workspace.Filter(hw.Apps, d.Envs, d.Apps)

	var plan *scope.Plan
	if d.All {
		plan = &scope.Plan{Base: baseApps, Head: headApps}
	} else {
		headName := "working tree"
		if d.Head != "" {
			headName = "head " + d.Head
		}
		in := scope.Input{Base: bw, Head: hw, BaseApps: baseApps, HeadApps: headApps, BaseName: "base " + d.Base, HeadName: headName, IDs: ids}
		if plan, err = scope.Compute(in); err != nil {
			return nil, err
		}
	}
	baseRels, headRels, err := renderBoth(ctx, bw, hw, plan.Base, plan.Head, "base "+d.Base, d.HeadLabel())
	if err != nil {
		return nil, err
	}
	var fileImpacts []impact.FileImpact
	if !d.NoImpacts {
		if fileImpacts, err = RepoImpacts(repo, bw.Head, hw.Head); err != nil {
			return nil, err
		}
	}
	rep, err := diff.Compare(
		diff.Side{Label: d.Base, Revision: bw.Head.Revision(), Releases: baseRels},
		diff.Side{Label: d.HeadLabel(), Revision: hw.Head.Revision(), Releases: headRels},
		diff.Options{Mode: diff.Revisions, Rules: d.Rules, Context: d.Context, Hasher: d.Hasher, Scope: plan.Scope,
			Impacts: !d.NoImpacts, FileImpacts: fileImpacts},
	)
	if err != nil {
		return nil, err
	}
	considered := len(unionNames(baseApps, headApps))
	summary := fmt.Sprintf("diff %s → %s: %d applications, rendered %d at base and %d at head (%d unchanged inputs not rendered)",
		d.Base, d.HeadLabel(), considered, len(plan.Base), len(plan.Head), considered-len(rep.Apps))
	return &DiffReport{Report: rep, Summary: summary}, nil
}

// runLive compares the cluster with the rendered Applications of the chosen environments.
func (d *Diff) runLive(ctx context.Context, repo *source.Repo) (*DiffReport, error) {
	c := d.Config
	w, err := workspace.OpenRepo(repo, d.Head)
	if err != nil {
		return nil, err
	}
	if len(d.Envs) == 0 && len(w.Kit.Environments) > 1 {
		return nil, &UsageError{Msg: "a live diff compares with the cluster of your kubeconfig context: choose the environments that run there", Option: "Envs"}
	}
	apps, err := w.Select(d.Envs, d.Apps)
	if err != nil {
		return nil, err
	}
	rels, err := w.Render(ctx, apps)
	if err != nil {
		return nil, err
	}
	cfg, err := c.Conn.restConfig(c.getenv)
	if err != nil {
		return nil, err
	}
	cluster, err := live.New(cfg)
	if err != nil {
		return nil, err
	}
	results, err := cluster.Compare(ctx, rels)
	if err != nil {
		return nil, err
	}
	var lives, predicted []*render.Release
	objects := 0
	for _, r := range results {
		lives, predicted = append(lives, r.Live), append(predicted, r.Predicted)
		objects += len(r.Live.Objects)
		for _, n := range r.Notes {
			c.note(n)
		}
	}
	rep, err := diff.Compare(
		diff.Side{Label: "live " + cluster.Host, Releases: lives},
		diff.Side{Label: d.HeadLabel(), Revision: w.Head.Revision(), Releases: predicted},
		diff.Options{Mode: diff.Live, Rules: d.Rules, Context: d.Context, Hasher: d.Hasher, Impacts: !d.NoImpacts},
	)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("diff live %s → %s: %d applications, %d objects read from the cluster (dry-run predictions, nothing written)",
		cluster.Host, d.HeadLabel(), len(rels), objects)
	return &DiffReport{Report: rep, Summary: summary}, nil
}

// openRevisions loads the kit at the base and head revisions. When none of the files the
// ApplicationSet expands from changed (the kit settings, the ApplicationSet, the AppProjects and
// the files its git generators read, e.g. every env.yaml: a pull request that changes charts or
// values files), the head's expansion serves the base too: the Applications are the same, only the
// revision their floating charts and values are read at differs.
func (d *Diff) openRevisions(repo *source.Repo, ids *scope.IDs) (bw, hw *workspace.Workspace, err error) {
	baseSnap, err := repo.At(d.Base)
	if err != nil {
		return nil, nil, &RevisionError{Side: "base", Revision: d.Base, Err: err}
	}
	// The two sides share the expansion's memory: an environment whose env.yaml (and the
	// ApplicationSet) did not change is expanded once.
	cache, err := d.Config.renderCache()
	if err != nil {
		return nil, nil, err
	}
	// They also share the parsed documents: most documents render the same on both sides.
	sh := &workspace.Shared{Expander: appset.NewExpander(), Cache: cache, Documents: render.NewDocuments()}
	headSnap := repo.Worktree()
	if d.Head != "" {
		if headSnap, err = repo.At(d.Head); err != nil {
			return nil, nil, &RevisionError{Side: "head", Revision: d.Head, Err: err}
		}
	}
	// The files that changed are listed while the head side loads and expands: on a fleet the
	// listing is a tenth of a one-file pull request's CPU, and it depends on neither.
	var changed []string
	var changedErr error
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		changed, changedErr = ids.ChangedFiles(baseSnap, headSnap, path.Dir(kit.File))
	}()
	hw, err = workspace.OpenSnapshotShared(repo, headSnap, sh)
	<-listed
	if err != nil {
		return nil, nil, &RevisionError{Side: "head", Revision: d.Head, Err: err}
	}
	if changedErr != nil {
		return nil, nil, changedErr
	}
	reads := expansionInputs(hw.Kit)
	for _, f := range changed {
		if reads(f) {
			if bw, err = workspace.OpenRepoShared(repo, d.Base, sh); err != nil {
				return nil, nil, &RevisionError{Side: "base", Revision: d.Base, Err: err}
			}
			return bw, hw, nil
		}
	}
	bw = &workspace.Workspace{Repo: repo, Head: baseSnap, Kit: hw.Kit, RepoURL: hw.RepoURL,
		Renderer: render.New(repo, baseSnap, hw.RepoURL), Apps: hw.Apps}
	bw.Renderer.Cache, bw.Renderer.Documents = cache, sh.Documents
	return bw, hw, nil
}

// expansionInputs says whether a file is one the kit's Applications are generated from: the kit
// settings, the ApplicationSet, the AppProjects, or a file its git generators read.
func expansionInputs(k *kit.Kit) func(string) bool {
	fixed := map[string]bool{kit.File: true, k.ApplicationSetFile: true, k.ProjectsFile: true}
	var reads func(string) bool
	if k.ApplicationSet != nil {
		reads = appset.GitInputs(k.ApplicationSet.Spec.Generators)
	}
	return func(f string) bool {
		return fixed[f] || (reads != nil && reads(f))
	}
}

func (d *Diff) runEnvironments(ctx context.Context, repo *source.Repo) (*DiffReport, error) {
	w, err := workspace.OpenRepo(repo, d.Revision)
	if err != nil {
		if d.Revision != "" {
			return nil, &RevisionError{Side: "revision", Revision: d.Revision, Err: err}
		}
		return nil, err
	}
	if err := workspace.CheckNames([]*workspace.Workspace{w}, []string{d.FromEnv, d.ToEnv}, d.Apps); err != nil {
		return nil, err
	}
	from := workspace.Filter(w.Apps, []string{d.FromEnv}, d.Apps)
	to := workspace.Filter(w.Apps, []string{d.ToEnv}, d.Apps)
	if len(from)+len(to) == 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("no application of %s or %s matches app %s", d.FromEnv, d.ToEnv, strings.Join(d.Apps, ","))}
	}
	fromRels, toRels, err := renderBoth(ctx, w, w, from, to, d.FromEnv, d.ToEnv)
	if err != nil {
		return nil, err
	}
	rev := w.Head.Revision()
	label := d.Revision
	if label == "" {
		label = "working tree"
	}
	rep, err := diff.Compare(
		diff.Side{Label: d.FromEnv, Revision: rev, Releases: fromRels},
		diff.Side{Label: d.ToEnv, Revision: rev, Releases: toRels},
		diff.Options{Mode: diff.Environments, Rules: d.Rules, Context: d.Context, Hasher: d.Hasher, Impacts: !d.NoImpacts},
	)
	if err != nil {
		return nil, err
	}
	summary := fmt.Sprintf("diff %s → %s at %s: rendered %d and %d applications", d.FromEnv, d.ToEnv, label, len(from), len(to))
	return &DiffReport{Report: rep, Summary: summary}, nil
}

// renderBoth renders the two sides at once; each side's errors name the side.
func renderBoth(ctx context.Context, bw, hw *workspace.Workspace, bApps, hApps []argov1.Application, bName, hName string) ([]*render.Release, []*render.Release, error) {
	var bRels, hRels []*render.Release
	var bErr, hErr error
	g := errgroup.Group{}
	g.Go(func() error {
		if len(bApps) > 0 {
			bRels, bErr = bw.Render(ctx, bApps)
		}
		return nil
	})
	g.Go(func() error {
		if len(hApps) > 0 {
			hRels, hErr = hw.Render(ctx, hApps)
		}
		return nil
	})
	_ = g.Wait()
	var errs []error
	if bErr != nil {
		errs = append(errs, fmt.Errorf("%s: %w", bName, bErr))
	}
	if hErr != nil {
		errs = append(errs, fmt.Errorf("%s: %w", hName, hErr))
	}
	return bRels, hRels, errors.Join(errs...)
}

func unionNames(a, b []argov1.Application) map[string]bool {
	out := map[string]bool{}
	for i := range a {
		out[a[i].Name] = true
	}
	for i := range b {
		out[b[i].Name] = true
	}
	return out
}

// ParseImpactKind reads an impact kind as a caller spells it ("sync-fails", "data at risk").
func ParseImpactKind(s string) (impact.Kind, error) { return impact.ParseKind(s) }

// RepoImpacts computes the impacts of the repository files that changed between two snapshots
// (applied migrations, data contracts: impact.Files).
func RepoImpacts(repo *source.Repo, base, head source.Snapshot) ([]impact.FileImpact, error) {
	var changed []string
	for _, dir := range impact.FilesDirs {
		files, err := scope.ChangedFiles(repo, base, head, dir)
		if err != nil {
			return nil, fmt.Errorf("impacts of %s: %w", dir, err)
		}
		changed = append(changed, files...)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return impact.Files(changed, base, head)
}
