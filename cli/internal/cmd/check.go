package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/internal/version"
	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/check/report"
	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Output formats of check beside table and json.
const (
	formatJUnit  output.Format = "junit"
	formatSARIF  output.Format = "sarif"
	formatGitHub output.Format = "github"
)

// CheckOptions are the inputs of `lakeport check`.
type CheckOptions struct {
	f              *Factory
	Envs           []string
	Apps           []string
	Output         string
	FailOnWarn     bool
	Base           string
	FailOnExisting bool

	format output.Format
	// now is the time exceptions expire against.
	now time.Time
}

func newCheckCmd(f *Factory, runF func(*CheckOptions) error) *cobra.Command {
	o := &CheckOptions{f: f}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate every rendered object's schema and hold it against the kit's policies",
		Long: `Render every Application (as lakeport render does), then check each rendered object offline:

  1. schema: built-in kinds are decoded strictly into the Kubernetes API types (unknown or
     duplicated fields and wrong types fail, names and labels are validated); custom resources
     are validated against the structural OpenAPI schema of their CustomResourceDefinition (the
     CRDs embedded in lakeport, and those the charts render), CEL rules included;
  2. API versions: versions the environment's Kubernetes release (env.yaml kubeVersion) has
     removed fail, deprecated ones warn;
  3. policies: the Rego policies of policies/ (conftest conventions: package main, deny_* and
     violation_* rules fail, warn_* rules warn), evaluated in-process with OPA, with the object as
     input and the environment as data (data.lakeport.environment, and every object the
     environment renders as data.lakeport.objects).

With --app, the other applications of the selected environments are rendered too (rules about
NetworkPolicies, PodDisruptionBudgets and autoscalers see the whole environment), but only the
selected ones are reported.

Exceptions in policies/exceptions/*.yaml waive rules for one object, with a reason and an expiry
date; an expired exception is itself a failure.

With --base REV (PR mode) the kit at REV (its charts, values and policies) is checked too and
findings are reported as new, fixed or unchanged; only new findings fail, unless
--fail-on-existing.

Output: -o table (default), json or yaml (a versioned report), markdown (a pull-request comment, new
findings first, the rest collapsed), junit, sarif (SARIF 2.1.0 for code scanning) or github
(workflow-command annotations).

Exit codes: 0 no failing finding, 1 failing findings (warnings too with --fail-on-warn), 2 error
(a chart that fails to render, a policy that does not compile, a bad exception file).`,
		Example: `  lakeport check
  lakeport check --env prod --app trino
  lakeport check --base origin/main -o github
  lakeport check --base origin/main -o markdown > comment.md
  lakeport check -o sarif > lakeport.sarif
  lakeport check policies test`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	addSelectionFlags(cmd, &o.Envs, &o.Apps)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table, json, yaml, markdown, junit, sarif or github")
	cmd.Flags().BoolVar(&o.FailOnWarn, "fail-on-warn", false, "exit 1 on warnings too")
	cmd.Flags().StringVar(&o.Base, "base", "", "PR mode: compare with the kit at this git revision and fail only on new findings")
	cmd.Flags().BoolVar(&o.FailOnExisting, "fail-on-existing", false, "in PR mode, fail on unchanged findings too")
	cmd.AddCommand(newCheckPoliciesCmd(f))
	return cmd
}

// Complete validates the flags.
func (o *CheckOptions) Complete() error {
	var err error
	if o.format, err = output.Parse(o.Output, output.Table, output.JSON, output.YAML, output.Markdown, formatJUnit, formatSARIF, formatGitHub); err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	if o.FailOnExisting && o.Base == "" {
		return &ExitError{Code: CodeError, Err: errors.New("--fail-on-existing needs --base")}
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	return nil
}

// crdCacheDir is where decoded CRDs are kept between runs ("" when there is no cache folder).
func crdCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "lakeport", "crds")
}

// Run renders, checks and writes the report.
func (o *CheckOptions) Run(ctx context.Context) error {
	// A short-lived process that allocates a lot (YAML, Rego values): collecting less often
	// saves a fifth of the CPU time, and the heap stays small.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	f := o.f
	start := time.Now()
	w, err := f.OpenWorkspace("")
	if err != nil {
		return err
	}
	apps, err := w.Select(o.Envs, o.Apps)
	if err != nil {
		return err
	}
	if o.Base != "" {
		// A base that does not resolve is a mistake on the command line; a base that resolves
		// but cannot be checked (a broken main) only makes every finding new.
		if _, err := w.Repo.Resolve(o.Base); err != nil {
			return fmt.Errorf("--base: %w", err)
		}
	}
	// In PR mode the base is checked at the same time as the head: they share nothing.
	var base *check.Report
	var baseErr error
	baseDone := make(chan struct{})
	if o.Base != "" {
		go func() {
			defer close(baseDone)
			base, baseErr = o.checkBase(ctx)
		}()
	} else {
		close(baseDone)
	}
	rep, err := o.checkWorkspace(ctx, w, apps, false)
	<-baseDone
	if err != nil {
		return err
	}
	if o.Base != "" {
		if err := baseErr; err != nil {
			fmt.Fprintf(f.IO.ErrOut, "warning: base %s could not be checked, so every finding counts as new: %v\n", o.Base, err)
			base = &check.Report{}
		}
		rep = check.Compare(base, rep, o.Base)
		rep.Sort(w.Kit.Promotion)
	}
	if err := o.write(rep); err != nil {
		return err
	}
	envs := map[string]bool{}
	for _, a := range rep.Applications {
		envs[a.Environment] = true
	}
	fmt.Fprintf(f.IO.ErrOut, "checked %d applications (%d objects) in %d environments in %s\n",
		rep.Summary.Applications, rep.Summary.Objects, len(envs), time.Since(start).Round(time.Millisecond))
	if rep.Failed(o.FailOnWarn, o.FailOnExisting) {
		return &ExitError{Code: CodeNegative}
	}
	return nil
}

// checkBase checks the same selection in the kit at the base revision. Environments and apps the
// base does not have are simply absent from it.
func (o *CheckOptions) checkBase(ctx context.Context) (*check.Report, error) {
	w, err := o.f.OpenWorkspace(o.Base)
	if err != nil {
		return nil, err
	}
	var apps []argov1.Application
	for _, a := range w.Apps {
		if (len(o.Envs) == 0 || slices.Contains(o.Envs, workspace.Environment(&a))) &&
			(len(o.Apps) == 0 || slices.Contains(o.Apps, workspace.Component(&a)) || slices.Contains(o.Apps, a.Name)) {
			apps = append(apps, a)
		}
	}
	return o.checkWorkspace(ctx, w, apps, true)
}

// checkWorkspace renders the selected applications, plus the other applications of their
// environments (cross-object rules see a whole environment), and checks them.
func (o *CheckOptions) checkWorkspace(ctx context.Context, w *workspace.Workspace, apps []argov1.Application, base bool) (*check.Report, error) {
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
	checker, err := check.New(w.Head, check.Options{Now: o.now, CRDs: crds.FS, CacheDir: crdCacheDir(), ReadFile: readFile})
	if err != nil {
		return nil, err
	}
	if len(checker.Engine.Rules) == 0 && !base {
		fmt.Fprintf(o.f.IO.ErrOut, "note: no deny/violation/warn rules in %s/ (package %s): only schemas and API versions are checked\n", policy.Dir, policy.Namespace)
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

func (o *CheckOptions) write(rep *check.Report) error {
	out := o.f.IO.Out
	ro := report.Options{FailOnWarn: o.FailOnWarn, All: o.FailOnExisting, Version: version.Get().Version}
	switch o.format {
	case output.JSON:
		return output.WriteJSON(out, rep)
	case output.YAML:
		return output.WriteYAML(out, rep)
	case formatJUnit:
		return report.JUnit(out, rep, ro)
	case formatSARIF:
		return report.SARIF(out, rep, ro)
	case formatGitHub:
		return report.GitHub(out, rep, ro)
	case output.Markdown:
		return report.Markdown(out, rep, ro)
	}
	return o.writeTable(rep)
}

func (o *CheckOptions) writeTable(rep *check.Report) error {
	out := o.f.IO.Out
	st := o.f.Styles()
	if len(rep.Findings) > 0 {
		header := []string{"ENV", "APP", "OBJECT", "RULE", "SEVERITY", "MESSAGE"}
		if rep.Base != "" {
			header = append([]string{"STATUS"}, header...)
		}
		t := output.NewTable(o.f.IO.IsStdoutTTY(), st, header...)
		for _, fd := range rep.Findings {
			env, app, obj := fd.Environment, fd.App, ""
			if fd.Object != nil {
				obj = fd.Object.String()
			}
			if app == "" {
				env, app = "-", fmt.Sprintf("%s:%d", fd.File, fd.Line)
			}
			sev := string(fd.Severity)
			if fd.Excepted() {
				sev = "excepted"
			}
			row := []string{env, app, obj, fd.Rule, sev, fd.Message}
			col := 4
			if rep.Base != "" {
				row = append([]string{string(fd.Status)}, row...)
				col = 5
			}
			t.Row(row...)
			switch {
			case fd.Excepted() || fd.Status == check.StatusFixed:
				t.Style(col, st.Dim)
			case fd.Severity == check.Failure:
				t.Style(col, st.Bad)
			default:
				t.Style(col, st.Warn)
			}
		}
		if err := t.Render(out); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	s := rep.Summary
	pr := ""
	if rep.Base != "" {
		pr = fmt.Sprintf(" (against %s: %d new, %d fixed, %d unchanged)", rep.Base, s.New, s.Fixed, s.Unchanged)
	}
	verdict := st.Good.Render("PASS")
	if rep.Failed(o.FailOnWarn, o.FailOnExisting) {
		verdict = st.Bad.Render("FAIL")
	}
	_, err := fmt.Fprintf(out, "%s: %d applications, %d objects: %d failures, %d warnings, %d excepted%s\n",
		verdict, s.Applications, s.Objects, s.Failures, s.Warnings, s.Excepted, pr)
	return err
}

// --- lakeport check policies ---------------------------------------------------------------------

func newCheckPoliciesCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "Work with the kit's Rego policies",
		Long: `Commands for the Rego policies in policies/: test runs their unit tests, list shows the rules.

Exit codes: see each command.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCheckPoliciesTestCmd(f, nil), newCheckPoliciesListCmd(f))
	return cmd
}

// PoliciesTestOptions are the inputs of `lakeport check policies test`.
type PoliciesTestOptions struct {
	f       *Factory
	Filter  string
	Verbose bool
	Output  string

	format output.Format
}

func newCheckPoliciesTestCmd(f *Factory, runF func(*PoliciesTestOptions) error) *cobra.Command {
	o := &PoliciesTestOptions{f: f}
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the Rego unit tests of policies/ in-process",
		Long: `Run every test_ rule of the Rego files under policies/ (the *_test.rego files), in-process with
OPA, as opa test and conftest verify do. Failing tests show the expression that was false.

Exit codes: 0 every test passed, 1 a test failed, 2 error (a file that does not parse or compile).`,
		Example: `  lakeport check policies test
  lakeport check policies test --run 'test_pdb' -v`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if o.format, err = output.Parse(o.Output, output.Table, output.JSON); err != nil {
				return &ExitError{Code: CodeError, Err: err}
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	cmd.Flags().StringVar(&o.Filter, "run", "", "only tests whose name matches this regular expression")
	cmd.Flags().BoolVarP(&o.Verbose, "verbose", "v", false, "list passing tests and print() output too")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

// PolicyTestList is the JSON shape of `lakeport check policies test -o json`.
type PolicyTestList struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Passed     int                 `json:"passed"`
	Failed     int                 `json:"failed"`
	Tests      []policy.TestResult `json:"tests"`
}

// Run runs the tests.
func (o *PoliciesTestOptions) Run(ctx context.Context) error {
	w, err := o.f.OpenWorkspace("")
	if err != nil {
		return err
	}
	res, err := policy.RunTests(ctx, w.Head, policy.Dir, o.Filter)
	if err != nil {
		return err
	}
	list := PolicyTestList{APIVersion: output.APIVersion, Kind: "PolicyTestList", Tests: res}
	for _, r := range res {
		if r.Pass {
			list.Passed++
		} else if !r.Skip {
			list.Failed++
		}
	}
	out := o.f.IO.Out
	st := o.f.Styles()
	if o.format == output.JSON {
		if err := output.WriteJSON(out, list); err != nil {
			return err
		}
	} else {
		for _, r := range res {
			if r.Pass && !o.Verbose {
				continue
			}
			status := st.Good.Render("PASS")
			switch {
			case r.Skip:
				status = st.Dim.Render("SKIP")
			case !r.Pass:
				status = st.Bad.Render("FAIL")
			}
			fmt.Fprintf(out, "%s %s:%d: %s.%s\n", status, r.File, r.Line, r.Package, r.Name)
			if r.FailedAt != "" {
				fmt.Fprintf(out, "     false at %s\n", r.FailedAt)
			}
			if r.Error != "" {
				fmt.Fprintf(out, "     error: %s\n", r.Error)
			}
			if r.Output != "" && (o.Verbose || !r.Pass) {
				for _, l := range strings.Split(strings.TrimRight(r.Output, "\n"), "\n") {
					fmt.Fprintf(out, "     | %s\n", l)
				}
			}
		}
		verdict := st.Good.Render("PASS")
		if list.Failed > 0 {
			verdict = st.Bad.Render("FAIL")
		}
		fmt.Fprintf(out, "%s: %d tests, %d passed, %d failed\n", verdict, len(res), list.Passed, list.Failed)
	}
	if list.Failed > 0 {
		return &ExitError{Code: CodeNegative}
	}
	return nil
}

func newCheckPoliciesListCmd(f *Factory) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the rules lakeport check applies",
		Long: `List every rule: the built-in checks (schema, API versions, exceptions) and the deny/warn rules
of policies/, with the ID exceptions use, severity, title and where each rule is defined.

Exit codes: 0 success, 2 error.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			format, err := output.Parse(out, output.Table, output.JSON)
			if err != nil {
				return &ExitError{Code: CodeError, Err: err}
			}
			w, err := f.OpenWorkspace("")
			if err != nil {
				return err
			}
			c, err := check.New(w.Head, check.Options{})
			if err != nil {
				return err
			}
			rules := c.Rules()
			if format == output.JSON {
				return output.WriteJSON(f.IO.Out, struct {
					APIVersion string           `json:"apiVersion"`
					Kind       string           `json:"kind"`
					Rules      []check.RuleInfo `json:"rules"`
				}{output.APIVersion, "RuleList", rules})
			}
			t := output.NewTable(f.IO.IsStdoutTTY(), f.Styles(), "ID", "CHECK", "SEVERITY", "TITLE", "DEFINED")
			for _, r := range rules {
				def := "built in"
				if r.File != "" {
					def = fmt.Sprintf("%s:%d", r.File, r.Line)
				}
				t.Row(r.ID, r.Check, string(r.Severity), r.Title, def)
			}
			return t.Render(f.IO.Out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	return cmd
}
