package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/internal/view"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/diff"
)

// DiffOptions are the inputs of `lakeport diff`.
type DiffOptions struct {
	f *Factory
	action.Diff
	conn action.Connection

	Output           string
	Ignore           []string
	NoDefaultIgnores bool
	ShowIgnored      bool
	Salt             string
	SplitDir         string
	MarkdownLimit    int
	ExitCode         bool
	FailOn           []string
	Live             bool
	headSet, baseSet bool
	format           output.Format
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

Impacts: under each resource, what the change does once Argo CD syncs it, read from the two
objects whole (ignored fields included: a changed checksum/config annotation is a restart even
though the text hides it): restart (the pod template of a Deployment, StatefulSet, DaemonSet or
CronJob changes, and why), sync-fails (a field the API server refuses to update, such as a
selector, a StatefulSet's volumeClaimTemplates, a Job's template, a Service's clusterIP, a bound
claim's spec, an immutable ConfigMap or Secret, with what Argo CD needs to get past it),
data-at-risk (claims or CRDs removed, storage shrunk, another Iceberg warehouse or catalog, a
shorter snapshot or tag retention, an applied migration edited, a data contract's key,
partitioning or column types changed), security (RBAC, NetworkPolicies, service accounts,
security contexts, Secrets read, exposure) and scale (replicas, autoscaling bounds, disruption
budgets). Markdown adds an Impact column to the summary; JSON has impacts: [{kind, reason,
paths}] per resource and, for repository files, at the top.

Exit codes: 0 no changes, 1 changes (0 with --exit-code=false), 4 an impact of a kind named by
--fail-on (whatever --exit-code says), 2 error (a revision or pin that does not resolve, e.g. in a
shallow clone, a render failure, bad flags).`,
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

  # Fail the pull request check (exit 4) when a sync would fail or data is at risk
  lakeport diff --base origin/main -o markdown --fail-on sync-fails,data-at-risk

  # Ignore image tags in Deployments, and show what was ignored
  lakeport diff --base origin/main --ignore 'Deployment:spec.template.spec.containers[*].image' --show-ignored`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Config = f.Config(o.conn)
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
	connFlags(cmd, &o.conn, false) // --kubeconfig, --context: with --live
	addSelectionFlags(cmd, &o.Envs, &o.Apps)
	fl.StringVarP(&o.Output, "output", "o", "text", "output format: text, json, yaml or markdown")
	fl.IntVarP(&o.Context, "unified", "U", 3, "lines of context around each change in diffs (as git diff -U)")
	fl.StringArrayVar(&o.Ignore, "ignore", nil, "also ignore this path or /regexp/ (repeatable; see above)")
	fl.BoolVar(&o.NoDefaultIgnores, "no-default-ignores", false, "do not ignore chart labels, checksum annotations, managed fields and status")
	fl.BoolVar(&o.ShowIgnored, "show-ignored", false, "list the ignored differences of every resource")
	fl.StringVar(&o.Salt, "salt", "", "salt for secret value hashes (default: random per run)")
	fl.StringVar(&o.SplitDir, "split-dir", "", "with -o markdown: write parts that each fit a comment to DIR/part-N.md")
	fl.IntVar(&o.MarkdownLimit, "markdown-limit", diff.GitHubCommentLimit, "with -o markdown: the most characters in one part (GitHub: 65536)")
	fl.BoolVar(&o.ExitCode, "exit-code", true, "exit 1 when there are changes")
	fl.StringSliceVar(&o.FailOn, "fail-on", nil, "exit 4 when an impact of these kinds is found: sync-fails, data-at-risk, security, restart, scale (comma-separated)")
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
	case !o.Live && o.conn.HasKubeOverrides():
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
		o.Mode = diff.Live
	case envMode:
		o.Mode = diff.Environments
	default:
		o.Mode = diff.Revisions
		if !o.baseSet {
			o.Base = "HEAD"
		}
	}
	if o.Context < 0 {
		errs = append(errs, fmt.Errorf("--unified (-U) must be 0 or more, not %d", o.Context))
	}
	if o.SplitDir != "" && o.format != output.Markdown {
		errs = append(errs, errors.New("--split-dir goes with -o markdown"))
	}
	if o.MarkdownLimit < 4096 {
		errs = append(errs, fmt.Errorf("--markdown-limit must be at least 4096, not %d", o.MarkdownLimit))
	}
	for _, s := range o.FailOn {
		k, err := action.ParseImpactKind(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--fail-on: %w", err))
			continue
		}
		o.Diff.FailOn = append(o.Diff.FailOn, k)
	}
	if !o.NoDefaultIgnores {
		o.Rules = diff.DefaultRules()
	}
	for _, s := range o.Ignore {
		r, err := diff.ParseRule(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.Rules = append(o.Rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	if o.Hasher, err = diff.NewHasher(o.Salt); err != nil {
		return usageError(err)
	}
	o.Config.Conn = o.conn
	o.rerun = o.rerunCommand()
	return nil
}

// rerunCommand is the command a reader runs to see everything locally.
func (o *DiffOptions) rerunCommand() string {
	args := []string{"lakeport", "diff"}
	switch o.Mode {
	case diff.Live:
		args = append(args, "--live")
		if o.Head != "" {
			args = append(args, "--head", o.Head)
		}
		if ctx := o.conn.Context(); ctx != "" {
			args = append(args, "--context", ctx)
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
	rep, err := o.Diff.Run(ctx)
	if err != nil {
		return err
	}
	if err := o.write(rep.Report); err != nil {
		return err
	}
	fmt.Fprintf(o.f.IO.ErrOut, "%s in %s\n", rep.Summary, rep.Took.Round(time.Millisecond))
	if err := rep.Verdict(o.Diff.FailOn...); errors.Is(err, action.ErrImpacts) {
		return err
	}
	if o.ExitCode {
		return rep.Verdict()
	}
	return nil
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
			Limit: o.MarkdownLimit, Split: o.SplitDir != "", ShowIgnored: o.ShowIgnored, Rerun: o.rerun, SplitHow: "use --split-dir", Extra: o.summaryExtra,
		})
		if o.SplitDir == "" {
			_, err := fmt.Fprint(out, parts[0])
			return err
		}
		return view.WriteParts(o.SplitDir, parts, out)
	}
	var pal *diff.Palette
	if o.f.IO.ColorEnabled() {
		st := o.f.Styles()
		paint := func(s lipgloss.Style) func(string) string { return func(t string) string { return s.Render(t) } }
		pal = &diff.Palette{Add: paint(st.Good), Del: paint(st.Bad.UnsetBold()), Hunk: paint(st.Warn), Title: paint(st.Header), Dim: paint(st.Dim)}
	}
	return diff.WriteText(out, rep, diff.TextOptions{ShowIgnored: o.ShowIgnored, Palette: pal})
}
