package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/diff/live"
	"github.com/lakeport/lakeport/cli/pkg/diff/scope"
	"github.com/lakeport/lakeport/cli/pkg/health"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// DiffOptions are the inputs of `lakeport diff`.
type DiffOptions struct {
	f *Factory

	// Revisions mode.
	Base, Head string
	// Environments mode.
	FromEnv, ToEnv, Revision string
	// Live mode.
	Live                    bool
	Kubeconfig, KubeContext string

	Envs, Apps       []string
	Output           string
	Unified          int
	Ignore           []string
	NoDefaultIgnores bool
	ShowIgnored      bool
	Salt             string
	SplitDir         string
	MarkdownLimit    int
	ExitCode         bool
	All              bool
	headSet, baseSet bool
	format           output.Format
	rules            []diff.Rule
	hasher           *diff.Hasher
	mode             diff.Mode
	rerun            string
	// summaryExtra is where the policy findings a pull request introduces will join the Markdown
	// summary once `lakeport check` can compute them (a column per application and a section
	// after the table); nil until then.
	summaryExtra *diff.SummaryExtra
}

func newDiffCmd(f *Factory, runF func(*DiffOptions) error) *cobra.Command {
	o := &DiffOptions{f: f}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what a change does to the rendered manifests, between revisions or environments",
		Long: `Render Applications on two sides and show, per application, the resources added, removed and
changed, with a unified diff of their YAML. Resources are matched by API group, kind, namespace and
name (the namespace defaults to the release's for namespaced kinds).

Revisions (the pull request preview): --base REV [--head REV] renders every environment at both
revisions, values from each revision and charts at each environment's pins as they stand in that
revision, straight from the git object store (no checkout). --head defaults to the working tree;
without --base and --from-env, --base is HEAD (what your uncommitted edits change). Only what
changed is rendered: an application whose Application, chart (at its pin) and value files are the
same on both sides is left out (--all renders everything).

Environments (what promotion would change): --from-env staging --to-env prod [--app trino] renders
both environments at one revision (--revision, default the working tree) and pairs their
applications by component.

Live (what a sync would change): --live --env dev [--head REV] compares the objects the cluster
of your kubeconfig context (--kubeconfig, --context) holds with what applying the rendered
Applications makes of them, as the API server predicts it in a dry run (the three-way patch of
kubectl apply for objects Argo CD applied client-side, a server-side apply as Argo CD's field
manager otherwise): defaults filled in by the server are not differences. Objects missing from the
cluster show as added; objects the cluster holds for an Application (its Argo CD tracking
annotation or instance label) that no longer render show as removed. Hooks (Helm's or Argo CD's)
are not compared. Nothing is written to the cluster.

Noise is ignored by default: the helm.sh/chart and app.kubernetes.io/version labels, checksum/*
annotations, metadata.managedFields and status. --ignore adds rules, a path such as
'spec.replicas', 'spec.template.spec.containers[*].image', '..annotations["example.com/*"]', or
a regular expression over paths between slashes, '/^metadata\.annotations/'; either may start
with KIND[/NAME-GLOB]: to apply to one kind. --show-ignored lists what was ignored. Ignored
changes never change the exit code.

Secret values are never printed. Every value of a Secret, ConfigMap keys that look like
credentials (and such lines in the files a ConfigMap holds) and env vars with credential-like names
show as a short salted hash (HMAC-SHA256), so that a reviewer sees which key changed. The salt is
random per run unless --salt is given (then hashes are comparable across runs).

Output: -o text (coloured on a terminal), json or yaml (a versioned document: summary, apps,
resources with action, changed paths, ignored paths and diff), markdown for a pull request comment
(summary table, then a collapsed section per application). A comment holds 65,536 characters:
with --split-dir DIR the Markdown is split into DIR/part-N.md files that each fit (their paths are
printed), otherwise the longest diffs are truncated with a note.

Exit codes: 0 no changes, 1 changes (0 with --exit-code=false), 2 error (a revision or pin that does
not resolve, e.g. in a shallow clone, a render failure, bad flags).`,
		Example: `  # What does my branch change, in every environment?
  lakeport diff --base origin/main

  # The pull request comment, split to fit
  lakeport diff --base origin/main -o markdown --split-dir out/diff

  # Between two commits, one application, more context
  lakeport diff --base v1.4.0 --head HEAD --app trino -U 10

  # What would a sync of dev change in the cluster?
  lakeport diff --live --env dev --context dev-cluster

  # What would promoting staging to prod change?
  lakeport diff --from-env staging --to-env prod --app trino

  # Ignore image tags in Deployments, and show what was ignored
  lakeport diff --base origin/main --ignore 'Deployment:spec.template.spec.containers[*].image' --show-ignored`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.baseSet, o.headSet = c.Flags().Changed("base"), c.Flags().Changed("head")
			if err := o.Complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Base, "base", "", "the base revision (a commit, branch, tag or HEAD~1); default HEAD when no mode is given")
	fl.StringVar(&o.Head, "head", "", "the head revision (default: the working tree)")
	fl.StringVar(&o.FromEnv, "from-env", "", "compare this environment...")
	fl.StringVar(&o.ToEnv, "to-env", "", "...with this one, pairing applications by component")
	fl.StringVar(&o.Revision, "revision", "", "with --from-env/--to-env: read the kit at this revision (default: the working tree)")
	fl.BoolVar(&o.Live, "live", false, "compare the cluster's objects with what applying the rendered Applications makes of them")
	fl.StringVar(&o.Kubeconfig, "kubeconfig", "", "with --live: kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	fl.StringVar(&o.KubeContext, "context", "", "with --live: kubeconfig context (default: the current context)")
	addSelectionFlags(cmd, &o.Envs, &o.Apps)
	fl.StringVarP(&o.Output, "output", "o", "text", "output format: text, json, yaml or markdown")
	fl.IntVarP(&o.Unified, "unified", "U", 3, "lines of context around each change in diffs (as git diff -U)")
	fl.StringArrayVar(&o.Ignore, "ignore", nil, "also ignore this path or /regexp/ (repeatable; see above)")
	fl.BoolVar(&o.NoDefaultIgnores, "no-default-ignores", false, "do not ignore chart labels, checksum annotations, managed fields and status")
	fl.BoolVar(&o.ShowIgnored, "show-ignored", false, "list the ignored differences of every resource")
	fl.StringVar(&o.Salt, "salt", "", "salt for secret value hashes (default: random per run)")
	fl.StringVar(&o.SplitDir, "split-dir", "", "with -o markdown: write parts that each fit a comment to DIR/part-N.md")
	fl.IntVar(&o.MarkdownLimit, "markdown-limit", diff.GitHubCommentLimit, "with -o markdown: the most characters in one part (GitHub: 65536)")
	fl.BoolVar(&o.ExitCode, "exit-code", true, "exit 1 when there are changes")
	fl.BoolVar(&o.All, "all", false, "render every application, not only those whose inputs changed")
	return cmd
}

// Complete validates the flags and returns every problem at once.
func (o *DiffOptions) Complete() error {
	var errs []error
	var err error
	if o.format, err = output.Parse(o.Output, output.Text, output.JSON, output.YAML, output.Markdown); err != nil {
		errs = append(errs, err)
	}
	envMode := o.FromEnv != "" || o.ToEnv != ""
	switch {
	case o.Live && (envMode || o.baseSet || o.Revision != ""):
		errs = append(errs, errors.New("--live compares the cluster with --head (default the working tree): --base, --from-env, --to-env and --revision do not apply"))
	case !o.Live && (o.Kubeconfig != "" || o.KubeContext != ""):
		errs = append(errs, errors.New("--kubeconfig and --context go with --live"))
	case envMode && (o.baseSet || o.headSet):
		errs = append(errs, errors.New("--base/--head compare revisions and --from-env/--to-env compare environments: use one pair"))
	case envMode && (o.FromEnv == "" || o.ToEnv == ""):
		errs = append(errs, errors.New("--from-env and --to-env go together"))
	case envMode && o.FromEnv == o.ToEnv:
		errs = append(errs, fmt.Errorf("--from-env and --to-env are both %q", o.FromEnv))
	case envMode && len(o.Envs) > 0:
		errs = append(errs, errors.New("--env selects environments in revision mode; with --from-env/--to-env use --app only"))
	case !envMode && o.Revision != "":
		errs = append(errs, errors.New("--revision goes with --from-env/--to-env; to compare revisions use --base and --head"))
	case o.baseSet && o.Base == "":
		errs = append(errs, errors.New("--base needs a revision"))
	}
	switch {
	case o.Live:
		o.mode = diff.Live
	case envMode:
		o.mode = diff.Environments
	default:
		o.mode = diff.Revisions
		if !o.baseSet {
			o.Base = "HEAD"
		}
	}
	if o.Unified < 0 {
		errs = append(errs, fmt.Errorf("--unified (-U) must be 0 or more, not %d", o.Unified))
	}
	if o.SplitDir != "" && o.format != output.Markdown {
		errs = append(errs, errors.New("--split-dir goes with -o markdown"))
	}
	if o.MarkdownLimit < 4096 {
		errs = append(errs, fmt.Errorf("--markdown-limit must be at least 4096, not %d", o.MarkdownLimit))
	}
	if !o.NoDefaultIgnores {
		o.rules = diff.DefaultRules()
	}
	for _, s := range o.Ignore {
		r, err := diff.ParseRule(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.rules = append(o.rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	if o.hasher, err = diff.NewHasher(o.Salt); err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	o.rerun = o.rerunCommand()
	return nil
}

// rerunCommand is the command a reader runs to see everything locally.
func (o *DiffOptions) rerunCommand() string {
	args := []string{"lakeport", "diff"}
	switch o.mode {
	case diff.Live:
		args = append(args, "--live")
		if o.Head != "" {
			args = append(args, "--head", o.Head)
		}
		if o.KubeContext != "" {
			args = append(args, "--context", o.KubeContext)
		}
	case diff.Environments:
		args = append(args, "--from-env", o.FromEnv, "--to-env", o.ToEnv)
		if o.Revision != "" {
			args = append(args, "--revision", o.Revision)
		}
	default:
		args = append(args, "--base", o.Base)
		if o.Head != "" {
			args = append(args, "--head", o.Head)
		}
	}
	for _, e := range o.Envs {
		args = append(args, "--env", e)
	}
	for _, a := range o.Apps {
		args = append(args, "--app", a)
	}
	return strings.Join(args, " ")
}

// Run computes the diff and writes it.
func (o *DiffOptions) Run(ctx context.Context) error {
	start := time.Now()
	dir := o.f.RepoDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return err
		}
	}
	repo, err := source.Open(dir)
	if err != nil {
		return err
	}
	var rep *diff.Report
	var progress string
	switch o.mode {
	case diff.Live:
		rep, progress, err = o.runLive(ctx, repo)
	case diff.Environments:
		rep, progress, err = o.runEnvironments(ctx, repo)
	default:
		rep, progress, err = o.runRevisions(ctx, repo)
	}
	if err != nil {
		return err
	}
	if err := o.write(rep); err != nil {
		return err
	}
	fmt.Fprintf(o.f.IO.ErrOut, "%s in %s\n", progress, time.Since(start).Round(time.Millisecond))
	if rep.Changed() && o.ExitCode {
		return &ExitError{Code: CodeNegative}
	}
	return nil
}

func (o *DiffOptions) runRevisions(ctx context.Context, repo *source.Repo) (*diff.Report, string, error) {
	bw, hw, err := o.openRevisions(repo)
	if err != nil {
		return nil, "", err
	}
	if err := checkSelection([]*workspace.Workspace{bw, hw}, o.Envs, o.Apps); err != nil {
		return nil, "", err
	}
	baseApps := filterApps(bw.Apps, o.Envs, o.Apps)
	headApps := filterApps(hw.Apps, o.Envs, o.Apps)

	var plan *scope.Plan
	if o.All {
		plan = &scope.Plan{Base: baseApps, Head: headApps}
	} else {
		var err error
		headName := "working tree"
		if o.Head != "" {
			headName = "--head " + o.Head
		}
		in := scope.Input{Base: bw, Head: hw, BaseApps: baseApps, HeadApps: headApps, BaseName: "--base " + o.Base, HeadName: headName}
		if plan, err = scope.Compute(in); err != nil {
			return nil, "", err
		}
	}
	baseRels, headRels, err := renderBoth(ctx, bw, hw, plan.Base, plan.Head, "--base "+o.Base, o.headLabel())
	if err != nil {
		return nil, "", err
	}
	rep, err := diff.Compare(
		diff.Side{Label: o.Base, Revision: bw.Head.Revision(), Releases: baseRels},
		diff.Side{Label: o.headLabel(), Revision: hw.Head.Revision(), Releases: headRels},
		diff.Options{Mode: diff.Revisions, Rules: o.rules, Context: o.Unified, Hasher: o.hasher, Scope: plan.Scope},
	)
	if err != nil {
		return nil, "", err
	}
	considered := len(unionNames(baseApps, headApps))
	progress := fmt.Sprintf("diff %s → %s: %d applications, rendered %d at base and %d at head (%d unchanged inputs not rendered)",
		o.Base, o.headLabel(), considered, len(plan.Base), len(plan.Head), considered-len(rep.Apps))
	return rep, progress, nil
}

// runLive compares the cluster with the rendered Applications of the chosen environments.
func (o *DiffOptions) runLive(ctx context.Context, repo *source.Repo) (*diff.Report, string, error) {
	w, err := workspace.OpenRepo(repo, o.Head)
	if err != nil {
		return nil, "", err
	}
	if len(o.Envs) == 0 && len(w.Kit.Environments) > 1 {
		return nil, "", &ExitError{Code: CodeError, Err: errors.New("--live compares with the cluster of your kubeconfig context: choose the environments that run there with --env")}
	}
	apps, err := w.Select(o.Envs, o.Apps)
	if err != nil {
		return nil, "", err
	}
	rels, err := w.Render(ctx, apps)
	if err != nil {
		return nil, "", err
	}
	cfg, err := health.LoadKubeConfig(o.Kubeconfig, o.KubeContext, o.f.IO.Getenv)
	if err != nil {
		return nil, "", err
	}
	cluster, err := live.New(cfg)
	if err != nil {
		return nil, "", err
	}
	results, err := cluster.Compare(ctx, rels)
	if err != nil {
		return nil, "", err
	}
	var lives, predicted []*render.Release
	objects := 0
	for _, r := range results {
		lives, predicted = append(lives, r.Live), append(predicted, r.Predicted)
		objects += len(r.Live.Objects)
		for _, n := range r.Notes {
			fmt.Fprintf(o.f.IO.ErrOut, "note: %s\n", n)
		}
	}
	rep, err := diff.Compare(
		diff.Side{Label: "live " + cluster.Host, Releases: lives},
		diff.Side{Label: o.headLabel(), Revision: w.Head.Revision(), Releases: predicted},
		diff.Options{Mode: diff.Live, Rules: o.rules, Context: o.Unified, Hasher: o.hasher},
	)
	if err != nil {
		return nil, "", err
	}
	progress := fmt.Sprintf("diff live %s → %s: %d applications, %d objects read from the cluster (dry-run predictions, nothing written)",
		cluster.Host, o.headLabel(), len(rels), objects)
	return rep, progress, nil
}

// openRevisions loads the kit at the base and head revisions. When none of the files the
// ApplicationSet expands from changed (the kit settings, the ApplicationSet, the AppProjects and
// the files its git generators read, e.g. every env.yaml: a pull request that changes charts or
// values files), the head's expansion serves the base too: the Applications are the same, only the
// revision their floating charts and values are read at differs.
func (o *DiffOptions) openRevisions(repo *source.Repo) (bw, hw *workspace.Workspace, err error) {
	baseSnap, err := repo.At(o.Base)
	if err != nil {
		return nil, nil, fmt.Errorf("--base %s: %w", o.Base, err)
	}
	if hw, err = workspace.OpenRepo(repo, o.Head); err != nil {
		if o.Head == "" {
			return nil, nil, fmt.Errorf("working tree: %w", err)
		}
		return nil, nil, fmt.Errorf("--head %s: %w", o.Head, err)
	}
	changed, err := scope.ChangedFiles(repo, baseSnap, hw.Head, path.Dir(kit.File))
	if err != nil {
		return nil, nil, err
	}
	reads := expansionInputs(hw.Kit)
	for _, f := range changed {
		if reads(f) {
			if bw, err = workspace.OpenRepo(repo, o.Base); err != nil {
				return nil, nil, fmt.Errorf("--base %s: %w", o.Base, err)
			}
			return bw, hw, nil
		}
	}
	bw = &workspace.Workspace{Repo: repo, Head: baseSnap, Kit: hw.Kit, RepoURL: hw.RepoURL,
		Renderer: render.New(repo, baseSnap, hw.RepoURL), Apps: hw.Apps}
	return bw, hw, nil
}

// expansionInputs says whether a file is one the kit's Applications are generated from: the kit
// settings, the ApplicationSet, the AppProjects, or a file its git generators read. A directories
// generator reads everything.
func expansionInputs(k *kit.Kit) func(string) bool {
	fixed := map[string]bool{kit.File: true, k.ApplicationSetFile: true, k.ProjectsFile: true}
	var patterns []*regexp.Regexp
	all := false
	var walk func(gs []argov1.ApplicationSetGenerator)
	walk = func(gs []argov1.ApplicationSetGenerator) {
		for _, g := range gs {
			if g.Git != nil {
				if len(g.Git.Directories) > 0 {
					all = true
				}
				for _, f := range g.Git.Files {
					// Git pathspec globs: * and ? also match '/'.
					re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(f.Path)) + "$"
					if r, err := regexp.Compile(re); err == nil {
						patterns = append(patterns, r)
					} else {
						all = true
					}
				}
			}
			if g.Matrix != nil || g.Merge != nil {
				var nested []argov1.ApplicationSetNestedGenerator
				if g.Matrix != nil {
					nested = append(nested, g.Matrix.Generators...)
				}
				if g.Merge != nil {
					nested = append(nested, g.Merge.Generators...)
				}
				for _, n := range nested {
					if n.Matrix != nil || n.Merge != nil {
						all = true // deeper nesting: do not try to be clever
					}
					walk([]argov1.ApplicationSetGenerator{{Git: n.Git}})
				}
			}
		}
	}
	if k.ApplicationSet != nil {
		walk(k.ApplicationSet.Spec.Generators)
	}
	return func(f string) bool {
		if all || fixed[f] {
			return true
		}
		for _, r := range patterns {
			if r.MatchString(f) {
				return true
			}
		}
		return false
	}
}

func (o *DiffOptions) headLabel() string {
	if o.Head == "" {
		return "working tree"
	}
	return o.Head
}

func (o *DiffOptions) runEnvironments(ctx context.Context, repo *source.Repo) (*diff.Report, string, error) {
	w, err := workspace.OpenRepo(repo, o.Revision)
	if err != nil {
		if o.Revision != "" {
			return nil, "", fmt.Errorf("--revision %s: %w", o.Revision, err)
		}
		return nil, "", err
	}
	if err := checkSelection([]*workspace.Workspace{w}, []string{o.FromEnv, o.ToEnv}, o.Apps); err != nil {
		return nil, "", err
	}
	from := filterApps(w.Apps, []string{o.FromEnv}, o.Apps)
	to := filterApps(w.Apps, []string{o.ToEnv}, o.Apps)
	if len(from)+len(to) == 0 {
		return nil, "", &ExitError{Code: CodeError, Err: fmt.Errorf("no application of %s or %s matches --app %s", o.FromEnv, o.ToEnv, strings.Join(o.Apps, ","))}
	}
	fromRels, toRels, err := renderBoth(ctx, w, w, from, to, o.FromEnv, o.ToEnv)
	if err != nil {
		return nil, "", err
	}
	rev := w.Head.Revision()
	label := o.Revision
	if label == "" {
		label = "working tree"
	}
	rep, err := diff.Compare(
		diff.Side{Label: o.FromEnv, Revision: rev, Releases: fromRels},
		diff.Side{Label: o.ToEnv, Revision: rev, Releases: toRels},
		diff.Options{Mode: diff.Environments, Rules: o.rules, Context: o.Unified, Hasher: o.hasher},
	)
	if err != nil {
		return nil, "", err
	}
	progress := fmt.Sprintf("diff %s → %s at %s: rendered %d and %d applications", o.FromEnv, o.ToEnv, label, len(from), len(to))
	return rep, progress, nil
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

// checkSelection accepts environment and app names that exist on at least one side.
func checkSelection(ws []*workspace.Workspace, envs, apps []string) error {
	knownEnv, knownApp := map[string]bool{}, map[string]bool{}
	var envNames, comps []string
	for _, w := range ws {
		for i := range w.Apps {
			a := &w.Apps[i]
			if e := workspace.Environment(a); !knownEnv[e] {
				knownEnv[e] = true
				envNames = append(envNames, e)
			}
			if c := workspace.Component(a); !knownApp[c] {
				knownApp[c] = true
				comps = append(comps, c)
			}
			knownApp[a.Name] = true
		}
	}
	slices.Sort(envNames)
	slices.Sort(comps)
	var bad []string
	for _, e := range envs {
		if !knownEnv[e] {
			bad = append(bad, fmt.Sprintf("unknown environment %q (environments: %s)", e, strings.Join(envNames, ", ")))
		}
	}
	for _, a := range apps {
		if !knownApp[a] {
			bad = append(bad, fmt.Sprintf("unknown app %q (components: %s)", a, strings.Join(comps, ", ")))
		}
	}
	if len(bad) > 0 {
		return &workspace.UsageError{Msg: strings.Join(bad, "; ")}
	}
	return nil
}

func filterApps(all []argov1.Application, envs, apps []string) []argov1.Application {
	var out []argov1.Application
	for i := range all {
		a := &all[i]
		if len(envs) > 0 && !slices.Contains(envs, workspace.Environment(a)) {
			continue
		}
		if len(apps) > 0 && !slices.Contains(apps, workspace.Component(a)) && !slices.Contains(apps, a.Name) {
			continue
		}
		out = append(out, *a)
	}
	return out
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

func (o *DiffOptions) write(rep *diff.Report) error {
	out := o.f.IO.Out
	switch o.format {
	case output.JSON:
		return output.WriteJSON(out, rep.Document())
	case output.YAML:
		return output.WriteYAML(out, rep.Document())
	case output.Markdown:
		parts := diff.Markdown(rep, diff.MarkdownOptions{
			Limit: o.MarkdownLimit, Split: o.SplitDir != "", ShowIgnored: o.ShowIgnored, Rerun: o.rerun, Extra: o.summaryExtra,
		})
		if o.SplitDir == "" {
			_, err := fmt.Fprint(out, parts[0])
			return err
		}
		return writeParts(o.SplitDir, parts, out)
	}
	var pal *diff.Palette
	if o.f.IO.ColorEnabled() {
		st := o.f.Styles()
		paint := func(s lipgloss.Style) func(string) string { return func(t string) string { return s.Render(t) } }
		pal = &diff.Palette{Add: paint(st.Good), Del: paint(st.Bad.UnsetBold()), Hunk: paint(st.Warn), Title: paint(st.Header), Dim: paint(st.Dim)}
	}
	return diff.WriteText(out, rep, diff.TextOptions{ShowIgnored: o.ShowIgnored, Palette: pal})
}

// writeParts writes DIR/part-N.md, removes parts a previous run left beyond N, and prints the
// paths in order.
func writeParts(dir string, parts []string, out interface{ Write([]byte) (int, error) }) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--split-dir: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "part-*.md"))
	keep := map[string]bool{}
	for i, p := range parts {
		name := filepath.Join(dir, fmt.Sprintf("part-%d.md", i+1))
		keep[name] = true
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, []byte(p), 0o644); err != nil {
			return fmt.Errorf("--split-dir: %w", err)
		}
		if err := os.Rename(tmp, name); err != nil {
			return fmt.Errorf("--split-dir: %w", err)
		}
		if _, err := fmt.Fprintln(out, name); err != nil {
			return err
		}
	}
	for _, p := range old {
		if !keep[p] {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("--split-dir: remove stale %s: %w", p, err)
			}
		}
	}
	return nil
}
