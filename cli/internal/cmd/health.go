package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/internal/view"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/health"
)

// HealthOptions are the inputs of `lakeport health`.
type HealthOptions struct {
	f *Factory
	action.Health
	conn   action.Connection
	Output string
	// Deep endpoints as given: component=URL.
	Endpoints []string

	format output.Format
}

const healthLong = `Report whether the kit's Argo CD Applications are Synced and Healthy: per Application its sync
status, health, the revision(s) Argo CD compared (one per source), the last operation and, for an
Application that is not Ready, each resource that is not Healthy or not Synced, with its message.

Sources (same output from either):
  - the Kubernetes API (default): --kubeconfig/KUBECONFIG, --context; Applications are read with
    one List per namespace (-n, default the ApplicationSet's namespace, else argocd), filtered by
    the lakeport.dev/environment label;
  - the Argo CD API server: --server or ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, --grpc-web, --insecure,
    --plaintext (ARGOCD_OPTS is read for these flags too). Only the Application API that v2.14
    and v3 share is used (tested against v3.6.1).

--revision SHA asks for the Applications to be Synced and Healthy AT that commit, not at the one
before it. A status is trusted only when no operation is pending or running, Argo CD reconciled
after the last operation finished (reconciledAt later than finishedAt), and every source was
compared at the revision expected for it:
  - a source that follows a branch (HEAD or a branch name): the commit asked for;
  - a source pinned to a commit SHA (staging and prod charts): that pin; when the kit's clone has
    the commit, the pins are read from the kit at that commit, so a promotion is only Ready once
    the ApplicationSet has regenerated the Application with the new pin;
  - a source pinned to a tag: the commit the tag names (when the clone knows the tag);
  - a Helm repository chart: its version.
--revision accepts anything the local clone resolves (HEAD, origin/main, a short SHA) or, outside
a clone, a SHA or a prefix of at least 7 hex digits.

--wait polls (every --interval) until every selected Application is Ready, asks Argo CD to refresh
an Application whose status is stale (this needs patch on applications; without it the wait
relies on Argo CD's own polling), fails once one stays Degraded, or its sync Failed, for longer
than --degraded-grace, and gives up after --timeout. Progress goes to stderr (a live table on a
terminal); the final table goes to stdout.

--deep also asks the components themselves, through the Kubernetes API's service proxy (or the
URLs given with --deep-endpoint component=URL): Trino's active workers (system.runtime.nodes)
against the workers the values ask for, MinIO's /minio/health/cluster, and the Spark master's
alive workers (its /json/ endpoint).

Exit codes: 0 every Application Ready (and every deep check passed), 1 unhealthy or degraded
(some Application not Ready, Degraded past the grace, or a deep check failed), 3 timed out while
waiting, 2 error (bad flags, unknown environment or app, API unreachable, no Application found).`

func newHealthCmd(f *Factory, runF func(*HealthOptions) error) *cobra.Command {
	o := &HealthOptions{f: f}
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that Applications are Synced and Healthy, optionally at a revision, and wait for it",
		Long:  healthLong,
		Example: `  lakeport health --env dev
  lakeport health --env prod --wait --revision "$(git rev-parse HEAD)" --timeout 15m
  lakeport health --env staging --app trino --deep -o json
  ARGOCD_SERVER=argocd.example.com ARGOCD_AUTH_TOKEN=... lakeport health --env prod --grpc-web`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Config = f.Config(o.conn)
			if err := o.Complete(c); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	addSelectionFlags(cmd, &o.Envs, &o.Apps)
	fl := cmd.Flags()
	fl.StringVarP(&o.Output, "output", "o", "table", "output format: table, json or yaml")
	connFlags(cmd, &o.conn, true)
	fl.BoolVarP(&o.Wait, "wait", "w", false, "wait until every Application is Synced and Healthy (at --revision)")
	fl.StringVar(&o.Revision, "revision", "", "the commit the Applications must be Synced and Healthy at")
	fl.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "with --wait: give up (exit 3) after this long")
	fl.DurationVar(&o.DegradedGrace, "degraded-grace", 2*time.Minute, "with --wait: fail (exit 1) once an Application stays Degraded, or its sync Failed, this long")
	fl.DurationVar(&o.Interval, "interval", 2*time.Second, "with --wait: time between two polls")
	fl.BoolVar(&o.Refresh, "refresh", true, "with --wait: ask Argo CD to refresh Applications whose status is stale")
	fl.BoolVar(&o.Deep, "deep", false, "also check Trino, MinIO and Spark through their own APIs")
	fl.StringSliceVar(&o.Endpoints, "deep-endpoint", nil, "with --deep: component=URL to use instead of the Kubernetes service proxy (repeatable)")
	return cmd
}

// Complete reads the environment defaults and validates the flags, all problems at once.
func (o *HealthOptions) Complete(c *cobra.Command) error {
	var errs []error
	var err error
	if o.format, err = output.Parse(o.Output, output.Table, output.JSON, output.YAML); err != nil {
		errs = append(errs, err)
	}
	if o.Wait && o.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be positive"))
	}
	if o.DegradedGrace < 0 {
		errs = append(errs, errors.New("--degraded-grace must not be negative"))
	}
	if o.Interval <= 0 {
		errs = append(errs, errors.New("--interval must be positive"))
	}
	if err := completeConn(c, o.f, &o.conn); err != nil {
		errs = append(errs, err)
	}
	o.Config.Conn = o.conn
	o.DeepEndpoints = map[string]string{}
	for _, e := range o.Endpoints {
		comp, u, ok := strings.Cut(e, "=")
		if !ok || !health.HasDeepCheck(comp) || !strings.Contains(u, "://") {
			errs = append(errs, fmt.Errorf("--deep-endpoint %q: want trino=URL, minio=URL or spark=URL", e))
			continue
		}
		o.DeepEndpoints[comp] = u
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

// Run checks (and with --wait, waits), prints the report and returns the outcome.
func (o *HealthOptions) Run(ctx context.Context) error {
	io := o.f.IO
	var prog *view.HealthProgress
	if o.Wait {
		prog = view.NewHealthProgress(io.ErrOut, io.IsStderrTTY(), o.f.Styles())
		o.Started = func(what, src string) {
			fmt.Fprintf(io.ErrOut, "waiting up to %s for %s from %s\n", o.Timeout, what, src)
		}
		o.Progress = prog.Update
		o.Config.Warn = prog.Warn
	}
	rep, err := o.Health.Run(ctx)
	if prog != nil {
		prog.Done()
	}
	if rep == nil {
		return err
	}
	if werr := o.write(rep.Report); werr != nil {
		return werr
	}
	o.summary(rep.Report, rep.Took)
	if err != nil {
		return err
	}
	return rep.Verdict()
}

// write prints the report in the chosen format.
func (o *HealthOptions) write(r *health.Report) error {
	out := o.f.IO.Out
	switch o.format {
	case output.JSON:
		return output.WriteJSON(out, r)
	case output.YAML:
		return output.WriteYAML(out, r)
	}
	return view.HealthTable(out, o.f.IO.IsStdoutTTY(), o.f.Styles(), r)
}

// summary says on stderr what the outcome means.
func (o *HealthOptions) summary(r *health.Report, took time.Duration) {
	at := ""
	if r.Revision != "" {
		at = " at " + shortRev(r.Revision)
	}
	n := len(r.Applications)
	w := o.f.IO.ErrOut
	took = took.Round(time.Second)
	switch r.Outcome {
	case health.OutcomeHealthy:
		fmt.Fprintf(w, "%d/%d applications Synced and Healthy%s\n", n, n, at)
	case health.OutcomeTimedOut:
		fmt.Fprintf(w, "timed out after %s: %d/%d applications Synced and Healthy%s; waiting on %s\n", o.Timeout, r.Ready(), n, at, strings.Join(view.NotReady(r, false), ", "))
	case health.OutcomeDegraded:
		fmt.Fprintf(w, "gave up after %s: %s\n", took, strings.Join(view.NotReady(r, true), "; "))
	default:
		fmt.Fprintf(w, "%d/%d applications Synced and Healthy%s; not ready: %s\n", r.Ready(), n, at, strings.Join(view.NotReady(r, false), ", "))
	}
}
