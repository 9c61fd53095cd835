package cmd

import (
	"context"
	"fmt"
	"strings"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

// AppsOptions are the inputs of `lakeport apps`.
type AppsOptions struct {
	f *Factory
	action.Apps
	Output string

	format output.Format
}

func newAppsCmd(f *Factory, runF func(*AppsOptions) error) *cobra.Command {
	o := &AppsOptions{f: f}
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List the Applications the kit's ApplicationSet generates",
		Long: `List the Argo CD Applications that environments/argocd/applicationset.yaml generates, expanded
in-process with Argo CD's own generators and templates: the same list the applicationset-controller
creates. -o json and -o yaml print the Applications themselves.

Exit codes: 0 success, 2 error.`,
		Example: `  lakeport apps
  lakeport apps --env prod -o yaml
  lakeport apps --app trino -o json`,
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
	addSelectionFlags(cmd, &o.Envs, &o.Apps.Apps)
	cmd.Flags().StringVar(&o.Revision, "revision", "", "read the kit at this git revision instead of the working tree")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func addSelectionFlags(cmd *cobra.Command, envs, apps *[]string) {
	cmd.Flags().StringSliceVarP(envs, "env", "e", nil, "only this environment (repeatable)")
	cmd.Flags().StringSliceVarP(apps, "app", "a", nil, "only this component or Application name (repeatable)")
}

// Complete validates the flags.
func (o *AppsOptions) Complete() error {
	var err error
	o.format, err = output.Parse(o.Output, output.Table, output.JSON, output.YAML)
	if err != nil {
		return usageError(err)
	}
	return nil
}

// AppList is the JSON/YAML shape of `lakeport apps`.
type AppList struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Items      []argov1.Application `json:"items"`
}

// Run lists the Applications.
func (o *AppsOptions) Run(ctx context.Context) error {
	rep, err := o.Apps.Run(ctx)
	if err != nil {
		return err
	}
	apps := rep.Items
	switch o.format {
	case output.JSON:
		return output.WriteJSON(o.f.IO.Out, AppList{APIVersion: output.APIVersion, Kind: "ApplicationList", Items: apps})
	case output.YAML:
		return output.WriteYAML(o.f.IO.Out, AppList{APIVersion: output.APIVersion, Kind: "ApplicationList", Items: apps})
	}
	t := output.NewTable(o.f.IO.IsStdoutTTY(), o.f.Styles(), "NAME", "ENV", "COMPONENT", "PROJECT", "DESTINATION", "CHART", "REVISION", "SYNC")
	for i := range apps {
		a := &apps[i]
		path, rev := chartOf(a)
		dest := a.Spec.Destination.Server
		if dest == "" {
			dest = a.Spec.Destination.Name
		}
		t.Row(a.Name, a.Labels[render.LabelEnvironment], a.Labels[render.LabelComponent], a.Spec.Project,
			dest+" ns/"+a.Spec.Destination.Namespace, path, shortRev(rev), syncSummary(a.Spec.SyncPolicy))
	}
	return t.Render(o.f.IO.Out)
}

func chartOf(a *argov1.Application) (string, string) {
	for _, s := range a.Spec.GetSources() {
		if s.Ref == "" {
			return s.Path, s.TargetRevision
		}
	}
	return "", ""
}

func syncSummary(p *argov1.SyncPolicy) string {
	if p == nil || p.Automated == nil || (p.Automated.Enabled != nil && !*p.Automated.Enabled) {
		return "manual"
	}
	var opts []string
	if p.Automated.Prune != nil && *p.Automated.Prune {
		opts = append(opts, "prune")
	}
	if p.Automated.SelfHeal != nil && *p.Automated.SelfHeal {
		opts = append(opts, "self-heal")
	}
	if len(opts) == 0 {
		return "auto"
	}
	return fmt.Sprintf("auto (%s)", strings.Join(opts, ", "))
}

// shortRev shortens a full commit SHA for tables; tags, branches and HEAD stay as written.
func shortRev(rev string) string { return action.ShortSHA(rev) }
