package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/internal/version"
	"github.com/lakeport/lakeport/cli/internal/view"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/check/report"
)

// Output formats of check beside table and json.
const (
	formatJUnit  output.Format = "junit"
	formatSARIF  output.Format = "sarif"
	formatGitHub output.Format = "github"
)

// CheckOptions are the inputs of `lakeport check`.
type CheckOptions struct {
	f *Factory
	action.Check
	Output string

	format output.Format
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
			o.Config = f.Config(action.Connection{})
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
		return usageError(err)
	}
	if o.FailOnExisting && o.Base == "" {
		return usageError(errors.New("--fail-on-existing needs --base"))
	}
	return nil
}

// Run checks and writes the report.
func (o *CheckOptions) Run(ctx context.Context) error {
	rep, err := o.Check.Run(ctx)
	if err != nil {
		return err
	}
	if err := o.write(rep.Report); err != nil {
		return err
	}
	fmt.Fprintf(o.f.IO.ErrOut, "checked %d applications (%d objects) in %d environments in %s\n",
		rep.Summary.Applications, rep.Summary.Objects, rep.Environments, rep.Took.Round(time.Millisecond))
	return rep.Verdict()
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
	return view.CheckTable(o.f.IO.Out, o.f.IO.IsStdoutTTY(), o.f.Styles(), rep, o.FailOnWarn, o.FailOnExisting)
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
	f *Factory
	action.PolicyTests
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
			o.Config = f.Config(action.Connection{})
			var err error
			if o.format, err = output.Parse(o.Output, output.Table, output.JSON); err != nil {
				return usageError(err)
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
	rep, err := o.PolicyTests.Run(ctx)
	if err != nil {
		return err
	}
	res := rep.Tests
	list := PolicyTestList{APIVersion: output.APIVersion, Kind: "PolicyTestList", Tests: res, Passed: rep.Passed, Failed: rep.Failed}
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
	return rep.Verdict()
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
		RunE: func(c *cobra.Command, _ []string) error {
			format, err := output.Parse(out, output.Table, output.JSON)
			if err != nil {
				return usageError(err)
			}
			rules, err := (&action.PolicyRules{Config: f.Config(action.Connection{})}).Run(c.Context())
			if err != nil {
				return err
			}
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
