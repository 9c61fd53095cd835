package cmd

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/internal/view"
	"github.com/lakeport/lakeport/cli/pkg/action"
)

// PipelineOptions are the inputs of `lakeport pipeline`.
type PipelineOptions struct {
	f *Factory
	action.Pipeline
	conn   action.Connection
	Output string

	format output.Format
}

const pipelineLong = `Show the last run of the nightly pipeline (the distribution chart's Argo Workflows mode) in each
environment: its outcome (succeeded, skipped when the calendar step found the cob date is not a
business day, failed, error, running, none), the cob date the calendar chose, when it was
scheduled, how long it took, its steps and retries, and the failed steps with their exit codes
and messages.

Read-only: it lists the Workflows labelled lakeport.dev/pipeline (the chart's CronWorkflow puts
the label on every run) in each environment's destination namespace, or in -n, through the
Kubernetes API (--kubeconfig/KUBECONFIG, --context). It needs list on workflows.argoproj.io.

Exit codes: 0 every last run succeeded, was skipped or is running, 1 a last run failed, errored
or there is none, 2 error (bad flags, unknown environment, API unreachable).`

func newPipelineCmd(f *Factory, runF func(*PipelineOptions) error) *cobra.Command {
	o := &PipelineOptions{f: f}
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Show the last run of the nightly pipeline (Argo Workflows) per environment",
		Long:  pipelineLong,
		Example: `  lakeport pipeline --env staging
  lakeport pipeline --env staging -o json
  lakeport pipeline --env dev -n risk-dev-sandbox`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Config = f.Config(o.conn)
			if err := o.Complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	cmd.Flags().StringSliceVarP(&o.Envs, "env", "e", nil, "only this environment (repeatable)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table, json or yaml")
	connFlags(cmd, &o.conn, false)
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "read this namespace instead of the environment's destination namespace")
	return cmd
}

// Complete validates the flags.
func (o *PipelineOptions) Complete() error {
	var err error
	if o.format, err = output.Parse(o.Output, output.Table, output.JSON, output.YAML); err != nil {
		return usageError(err)
	}
	if o.Namespace != "" && len(o.Envs) > 1 {
		return usageError(errors.New("-n reads one namespace: give at most one --env"))
	}
	o.Config.Conn = o.conn
	return nil
}

// Run reads the runs, prints them and returns the outcome.
func (o *PipelineOptions) Run(ctx context.Context) error {
	rep, err := o.Pipeline.Run(ctx)
	if err != nil {
		return err
	}
	out := o.f.IO.Out
	switch o.format {
	case output.JSON:
		err = output.WriteJSON(out, rep)
	case output.YAML:
		err = output.WriteYAML(out, rep)
	default:
		err = view.PipelineTable(out, o.f.IO.IsStdoutTTY(), o.f.Styles(), rep.Runs)
	}
	if err != nil {
		return err
	}
	return rep.Verdict()
}
