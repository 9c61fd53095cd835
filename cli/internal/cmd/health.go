package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/health"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// HealthOptions are the inputs of `lakeport health`.
type HealthOptions struct {
	f    *Factory
	Envs []string
	Apps []string

	Output string

	// Kubernetes API source.
	Kubeconfig string
	Context    string
	Namespaces []string

	// Argo CD API server source.
	Server    string
	AuthToken string
	GRPCWeb   bool
	Insecure  bool
	PlainText bool

	Wait          bool
	Revision      string
	Timeout       time.Duration
	DegradedGrace time.Duration
	Interval      time.Duration
	Refresh       bool

	Deep          bool
	DeepEndpoints []string

	format    output.Format
	endpoints map[string]string
	// restConfig, when set (tests), replaces the kubeconfig.
	restConfig *rest.Config
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
	fl.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	fl.StringVar(&o.Context, "context", "", "kubeconfig context (default: the current context)")
	fl.StringSliceVarP(&o.Namespaces, "namespace", "n", nil, "namespace of the Applications (repeatable; default: the ApplicationSet's namespace, else argocd)")
	fl.StringVar(&o.Server, "server", "", "Argo CD API server host:port (default: ARGOCD_SERVER); reads Applications from it instead of the Kubernetes API")
	fl.StringVar(&o.AuthToken, "auth-token", "", "Argo CD auth token (default: ARGOCD_AUTH_TOKEN)")
	fl.BoolVar(&o.GRPCWeb, "grpc-web", false, "talk gRPC-web to the Argo CD API server (for proxies without HTTP/2)")
	fl.BoolVar(&o.Insecure, "insecure", false, "skip TLS verification of the Argo CD API server")
	fl.BoolVar(&o.PlainText, "plaintext", false, "talk to the Argo CD API server without TLS")
	fl.BoolVarP(&o.Wait, "wait", "w", false, "wait until every Application is Synced and Healthy (at --revision)")
	fl.StringVar(&o.Revision, "revision", "", "the commit the Applications must be Synced and Healthy at")
	fl.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "with --wait: give up (exit 3) after this long")
	fl.DurationVar(&o.DegradedGrace, "degraded-grace", 2*time.Minute, "with --wait: fail (exit 1) once an Application stays Degraded, or its sync Failed, this long")
	fl.DurationVar(&o.Interval, "interval", 2*time.Second, "with --wait: time between two polls")
	fl.BoolVar(&o.Refresh, "refresh", true, "with --wait: ask Argo CD to refresh Applications whose status is stale")
	fl.BoolVar(&o.Deep, "deep", false, "also check Trino, MinIO and Spark through their own APIs")
	fl.StringSliceVar(&o.DeepEndpoints, "deep-endpoint", nil, "with --deep: component=URL to use instead of the Kubernetes service proxy (repeatable)")
	return cmd
}

// Complete reads the environment defaults and validates the flags, all problems at once.
func (o *HealthOptions) Complete(c *cobra.Command) error {
	getenv := o.f.IO.Getenv
	argoOpts := strings.Fields(getenv("ARGOCD_OPTS"))
	optSet := func(name string) bool {
		for _, a := range argoOpts {
			if a == "--"+name || a == "--"+name+"=true" {
				return true
			}
		}
		return false
	}
	if o.Server == "" {
		o.Server = getenv("ARGOCD_SERVER")
	}
	if o.AuthToken == "" {
		o.AuthToken = getenv("ARGOCD_AUTH_TOKEN")
	}
	for name, p := range map[string]*bool{"grpc-web": &o.GRPCWeb, "insecure": &o.Insecure, "plaintext": &o.PlainText} {
		if !c.Flags().Changed(name) && optSet(name) {
			*p = true
		}
	}
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
	if o.Server != "" && (o.Kubeconfig != "" || o.Context != "") {
		errs = append(errs, errors.New("--server (or ARGOCD_SERVER) reads from the Argo CD API server: --kubeconfig and --context do not apply"))
	}
	o.endpoints = map[string]string{}
	for _, e := range o.DeepEndpoints {
		comp, u, ok := strings.Cut(e, "=")
		if !ok || !health.HasDeepCheck(comp) || !strings.Contains(u, "://") {
			errs = append(errs, fmt.Errorf("--deep-endpoint %q: want trino=URL, minio=URL or spark=URL", e))
			continue
		}
		o.endpoints[comp] = u
	}
	if err := errors.Join(errs...); err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	return nil
}

// Run checks (and with --wait, waits), prints the report and returns the exit code as an error.
func (o *HealthOptions) Run(ctx context.Context) error {
	io := o.f.IO
	plan, sel, err := o.plan()
	if err != nil {
		return err
	}
	src, err := o.source()
	if err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	if c, ok := src.(interface{ Close() error }); ok {
		defer c.Close()
	}

	var report *health.Report
	start := time.Now()
	if o.Wait {
		prog := newProgress(io.ErrOut, io.IsStderrTTY(), o.f.Styles())
		what := "Synced and Healthy"
		if plan.Revision != "" {
			what += " at " + shortRev(plan.Revision)
		}
		fmt.Fprintf(io.ErrOut, "waiting up to %s for %s from %s\n", o.Timeout, what, src)
		report, err = health.Wait(ctx, src, sel, plan, health.WaitOptions{
			Timeout:       o.Timeout,
			DegradedGrace: o.DegradedGrace,
			Interval:      o.Interval,
			NoRefresh:     !o.Refresh,
			Progress:      prog.update,
			Warn:          func(msg string) { prog.warn(msg) },
		})
		prog.done()
	} else {
		var apps []argov1.Application
		report, apps, err = health.Check(ctx, src, sel, plan)
		if err == nil && report.Outcome != health.OutcomeHealthy {
			for _, e := range health.Explain(ctx, src, report, apps) {
				fmt.Fprintf(io.ErrOut, "warning: %v\n", e)
			}
		}
	}
	if err != nil {
		var none *health.NoApplicationsError
		if errors.As(err, &none) {
			return &ExitError{Code: CodeError, Err: err}
		}
		if report == nil {
			return &ExitError{Code: CodeError, Err: err}
		}
		fmt.Fprintf(io.ErrOut, "Error: %v\n", err)
	}
	if o.Deep {
		o.deep(ctx, report)
	}
	if werr := o.write(report); werr != nil {
		return werr
	}
	o.summary(report, time.Since(start))
	switch {
	case err != nil:
		return &ExitError{Code: CodeError}
	case report.Outcome == health.OutcomeHealthy:
		return nil
	case report.Outcome == health.OutcomeTimedOut:
		return &ExitError{Code: CodeTimeout}
	}
	return &ExitError{Code: CodeNegative}
}

// plan builds the expectation: from the kit when one is at hand (validating --env/--app, giving the
// promotion order and, with --revision, the Applications and pins generated at that commit).
func (o *HealthOptions) plan() (*health.Plan, health.Selector, error) {
	sel := health.Selector{Namespaces: o.Namespaces, Envs: o.Envs, Apps: o.Apps}
	plan := &health.Plan{}
	w, err := o.f.OpenWorkspace("")
	if err != nil {
		if o.f.RepoDir != "" {
			return nil, sel, &ExitError{Code: CodeError, Err: err}
		}
		// Outside a clone of the kit: the Applications' own specs say everything.
		w = nil
	}
	if w != nil {
		plan.EnvOrder = w.Kit.Promotion
		plan.Pins = health.RepoPins{Repo: w.Repo}
		if _, err := w.Select(o.Envs, o.Apps); err != nil {
			return nil, sel, &ExitError{Code: CodeError, Err: err}
		}
		if len(sel.Namespaces) == 0 && w.Kit.ApplicationSet.Namespace != "" {
			sel.Namespaces = []string{w.Kit.ApplicationSet.Namespace}
		}
	}
	if o.Revision == "" {
		return plan, sel, nil
	}
	if w != nil {
		h, err := w.Repo.Resolve(o.Revision)
		if err == nil {
			plan.Revision = h.String()
			at, err := workspace.OpenRepo(w.Repo, plan.Revision)
			if err != nil {
				return nil, sel, &ExitError{Code: CodeError, Err: fmt.Errorf("read the kit at %s: %w", shortRev(plan.Revision), err)}
			}
			apps, err := at.Select(o.Envs, o.Apps)
			if err != nil {
				return nil, sel, &ExitError{Code: CodeError, Err: fmt.Errorf("the kit at %s: %w", shortRev(plan.Revision), err)}
			}
			plan.Expected = map[string]*argov1.Application{}
			for i := range apps {
				plan.Expected[apps[i].Name] = &apps[i]
			}
			return plan, sel, nil
		}
		if !isHexPrefix(o.Revision) {
			return nil, sel, &ExitError{Code: CodeError, Err: err}
		}
		fmt.Fprintf(o.f.IO.ErrOut, "warning: %s is not in the local clone: pins are read from the Applications' own specs\n", o.Revision)
	} else if !isHexPrefix(o.Revision) {
		return nil, sel, &ExitError{Code: CodeError, Err: fmt.Errorf("--revision %q: outside a clone of the kit, give a commit SHA (at least 7 hex digits)", o.Revision)}
	}
	plan.Revision = strings.ToLower(o.Revision)
	return plan, sel, nil
}

func isHexPrefix(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	return strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

// source picks the Argo CD API server when one is named, the Kubernetes API otherwise.
func (o *HealthOptions) source() (health.Source, error) {
	if o.Server != "" {
		return health.NewArgoCDSource(health.ArgoCDOptions{
			Server: o.Server, AuthToken: o.AuthToken, GRPCWeb: o.GRPCWeb, Insecure: o.Insecure, PlainText: o.PlainText,
		})
	}
	cfg, err := o.kubeConfig()
	if err != nil {
		return nil, err
	}
	return health.NewKubeSource(cfg)
}

func (o *HealthOptions) kubeConfig() (*rest.Config, error) {
	if o.restConfig != nil {
		return o.restConfig, nil
	}
	return health.LoadKubeConfig(o.Kubeconfig, o.Context, o.f.IO.Getenv)
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
	return writeHealthTable(out, o.f.IO.IsStdoutTTY(), o.f.Styles(), r)
}

// writeHealthTable prints one row per Application, then, per Application that is not Ready, the
// resources that are not Healthy, then the deep checks.
func writeHealthTable(w io.Writer, tty bool, st *output.Styles, r *health.Report) error {
	t := output.NewTable(tty, st, "APPLICATION", "SYNC", "HEALTH", "REVISION", "OPERATION", "STATE", "MESSAGE")
	for i := range r.Applications {
		a := &r.Applications[i]
		op := ""
		if a.Operation != nil {
			op = a.Operation.Phase
		}
		t.Row(a.Name, dash(a.Sync), dash(a.Health), dash(health.ShortRevisions(a.Revisions)), dash(op), string(a.State), a.Reason)
		t.Style(1, syncStyle(st, a.Sync))
		t.Style(2, healthStyle(st, a.Health))
		t.Style(5, stateStyle(st, a.State))
	}
	if err := t.Render(w); err != nil {
		return err
	}
	for i := range r.Applications {
		a := &r.Applications[i]
		if a.State == health.StateReady || len(a.Resources) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %s\n", a.Name, a.State)
		rt := output.NewTable(tty, st, "RESOURCE", "SYNC", "HEALTH", "MESSAGE")
		for _, res := range a.Resources {
			ref := res.Ref()
			if res.Hook {
				ref += " (hook)"
			}
			rt.Row(ref, dash(res.Sync), dash(res.Health), res.Message)
			rt.Style(2, healthStyle(st, res.Health))
		}
		if err := indented(w, rt); err != nil {
			return err
		}
	}
	var deep [][]string
	for i := range r.Applications {
		for _, d := range r.Applications[i].Deep {
			res := "ok"
			if !d.OK {
				res = "FAIL"
			}
			deep = append(deep, []string{r.Applications[i].Name, d.Check, res, d.Message, d.Endpoint})
		}
	}
	if len(deep) > 0 {
		fmt.Fprintln(w)
		dt := output.NewTable(tty, st, "APPLICATION", "DEEP CHECK", "RESULT", "MESSAGE", "ENDPOINT")
		for _, row := range deep {
			dt.Row(row...)
			if row[2] == "ok" {
				dt.Style(2, st.Good)
			} else {
				dt.Style(2, st.Bad)
			}
		}
		return dt.Render(w)
	}
	return nil
}

// indented renders a table with every line prefixed by two spaces.
func indented(w io.Writer, t *output.TablePrinter) error {
	var b strings.Builder
	if err := t.Render(&b); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		if l != "" {
			if _, err := io.WriteString(w, "  "+l); err != nil {
				return err
			}
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func syncStyle(st *output.Styles, s string) lipgloss.Style {
	switch s {
	case health.SyncSynced:
		return st.Good
	case health.SyncOutOfSync:
		return st.Warn
	}
	return st.Dim
}

func healthStyle(st *output.Styles, s string) lipgloss.Style {
	switch s {
	case health.HealthHealthy:
		return st.Good
	case health.HealthDegraded, health.HealthMissing:
		return st.Bad
	case health.HealthProgressing, health.HealthSuspended:
		return st.Warn
	}
	return st.Dim
}

func stateStyle(st *output.Styles, s health.State) lipgloss.Style {
	switch s {
	case health.StateReady:
		return st.Good
	case health.StateWaiting:
		return st.Warn
	}
	return st.Bad
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
		fmt.Fprintf(w, "timed out after %s: %d/%d applications Synced and Healthy%s; waiting on %s\n", o.Timeout, r.Ready(), n, at, strings.Join(notReady(r, false), ", "))
	case health.OutcomeDegraded:
		fmt.Fprintf(w, "gave up after %s: %s\n", took, strings.Join(notReady(r, true), "; "))
	default:
		fmt.Fprintf(w, "%d/%d applications Synced and Healthy%s; not ready: %s\n", r.Ready(), n, at, strings.Join(notReady(r, false), ", "))
	}
}

// notReady names the Applications that are not Ready (bad: only Degraded or Failed ones, with
// their worst resource).
func notReady(r *health.Report, bad bool) []string {
	var out []string
	for i := range r.Applications {
		a := &r.Applications[i]
		if a.State == health.StateReady && !deepFailed(a) {
			continue
		}
		if bad && !a.State.Bad() {
			continue
		}
		s := a.Name + " (" + string(a.State) + ")"
		if a.State == health.StateReady {
			s = a.Name + " (deep check failed)"
		}
		if bad {
			s = a.Name + " " + string(a.State) + ": " + a.Reason
			if len(a.Resources) > 0 {
				res := a.Resources[0]
				s += "; " + res.Ref() + " " + res.Health
				if res.Message != "" {
					s += ": " + res.Message
				}
			}
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func deepFailed(a *health.AppHealth) bool {
	for _, d := range a.Deep {
		if !d.OK {
			return true
		}
	}
	return false
}

// progress shows a wait on stderr: on a terminal a live table redrawn in place, otherwise one line
// per Application whenever its state or reason changes (a log a CI job can read afterwards).
type progress struct {
	w   io.Writer
	tty bool
	st  *output.Styles

	mu    sync.Mutex
	lines int               // lines of the live table drawn last (terminal)
	last  map[string]string // what was last said per Application (log)
}

func newProgress(w io.Writer, tty bool, st *output.Styles) *progress {
	return &progress{w: w, tty: tty, st: st, last: map[string]string{}}
}

func (p *progress) update(r *health.Report, elapsed time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := elapsed.Round(time.Second)
	if !p.tty {
		for i := range r.Applications {
			a := &r.Applications[i]
			say := string(a.State)
			if a.Reason != "" {
				say += ": " + a.Reason
			}
			if p.last[a.Name] == say {
				continue
			}
			p.last[a.Name] = say
			fmt.Fprintf(p.w, "[%s] %s %s\n", el, a.Name, say)
		}
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d/%d ready after %s\n", p.st.Header.Render("waiting:"), r.Ready(), len(r.Applications), el)
	t := output.NewTable(false, p.st, "APPLICATION", "SYNC", "HEALTH", "REVISION", "STATE", "MESSAGE")
	for i := range r.Applications {
		a := &r.Applications[i]
		t.Row(a.Name, dash(a.Sync), dash(a.Health), dash(health.ShortRevisions(a.Revisions)), string(a.State), truncate(a.Reason, 80))
	}
	_ = t.Render(&b)
	p.clear()
	fmt.Fprint(p.w, b.String())
	p.lines = strings.Count(b.String(), "\n")
}

// clear erases the live table (terminal only).
func (p *progress) clear() {
	if p.tty && p.lines > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.lines)
		p.lines = 0
	}
}

func (p *progress) warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "warning: %s\n", msg)
}

// done removes the live table: the final one goes to stdout.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// deep runs the deep checks of the Ready Applications whose component has one. Endpoints and the
// worker counts the values ask for come from the kit's own rendering of the Application (at
// --revision when given); the requests go through the Kubernetes API's service proxy unless
// --deep-endpoint names a URL.
func (o *HealthOptions) deep(ctx context.Context, r *health.Report) {
	var rels map[string]*render.Release
	var renderErr error
	rendered := false
	var cfg *rest.Config
	var cfgErr error
	for i := range r.Applications {
		a := &r.Applications[i]
		if !health.HasDeepCheck(a.Component) {
			continue
		}
		if a.State != health.StateReady {
			a.Deep = append(a.Deep, health.DeepResult{Check: a.Component, Message: "skipped: the Application is not Ready"})
			continue
		}
		if !rendered {
			rels, renderErr = o.renderForDeep(ctx, r)
			rendered = true
		}
		t := health.DeepTarget{Component: a.Component, WantWorkers: -1}
		rel := rels[a.Name]
		if rel != nil {
			t.WantWorkers = wantWorkers(rel)
		}
		if u, ok := o.endpoints[a.Component]; ok {
			t.BaseURL = u
		} else {
			if rel == nil {
				msg := "no endpoint: pass --deep-endpoint " + a.Component + "=URL, or run from a clone of the kit"
				if renderErr != nil {
					msg += " (" + renderErr.Error() + ")"
				}
				a.Deep = append(a.Deep, health.DeepResult{Check: a.Component, Message: msg})
				continue
			}
			svc, port, ok := serviceFor(rel)
			if !ok {
				a.Deep = append(a.Deep, health.DeepResult{Check: a.Component, Message: "the rendered chart has no Service to ask"})
				continue
			}
			if cfg == nil && cfgErr == nil {
				cfg, cfgErr = o.kubeConfig()
			}
			if cfgErr != nil {
				a.Deep = append(a.Deep, health.DeepResult{Check: a.Component, Message: fmt.Sprintf("no Kubernetes API to proxy through: %v (or pass --deep-endpoint)", cfgErr)})
				continue
			}
			rt, err := rest.TransportFor(cfg)
			if err != nil {
				a.Deep = append(a.Deep, health.DeepResult{Check: a.Component, Message: err.Error()})
				continue
			}
			ref := fmt.Sprintf("http:%s:%d", svc, port)
			t.BaseURL = fmt.Sprintf("http://%s.%s.svc:%d", svc, rel.Namespace, port)
			t.Display = "service/" + rel.Namespace + "/" + svc + ":" + fmt.Sprint(port) + " via the API server"
			t.Client = &http.Client{Timeout: 15 * time.Second, Transport: &health.ServiceProxyTransport{
				APIServer: cfg.Host, Namespace: rel.Namespace, Service: ref, Next: rt,
			}}
		}
		a.Deep = append(a.Deep, health.Deep(ctx, t))
	}
	if r.Outcome == health.OutcomeHealthy {
		for i := range r.Applications {
			if deepFailed(&r.Applications[i]) {
				r.Outcome = health.OutcomeUnhealthy
			}
		}
	}
}

// renderForDeep renders the kit's Applications that have a deep check, by name.
func (o *HealthOptions) renderForDeep(ctx context.Context, r *health.Report) (map[string]*render.Release, error) {
	w, err := o.f.OpenWorkspace(r.Revision)
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

// serviceFor picks the Service a component's API answers on: the coordinator (Trino), server
// (MinIO) or master (Spark) Service that is not headless, and its HTTP port.
func serviceFor(rel *render.Release) (string, int64, bool) {
	role := map[string]string{health.ComponentTrino: "coordinator", health.ComponentMinIO: "server", health.ComponentSpark: "master"}[rel.Component]
	ports := map[string][]string{health.ComponentTrino: {"http"}, health.ComponentMinIO: {"s3", "api", "http"}, health.ComponentSpark: {"webui", "http"}}[rel.Component]
	for _, obj := range rel.Objects {
		if obj.Kind != "Service" || obj.Group() != "" || label(obj, "app.kubernetes.io/component") != role {
			continue
		}
		spec, _ := obj.Content["spec"].(map[string]any)
		if ip, _ := spec["clusterIP"].(string); ip == "None" {
			continue
		}
		list, _ := spec["ports"].([]any)
		for _, want := range ports {
			for _, p := range list {
				pm, _ := p.(map[string]any)
				if pm["name"] == want {
					if n, ok := toInt(pm["port"]); ok {
						return obj.Name, n, true
					}
				}
			}
		}
	}
	return "", 0, false
}

// wantWorkers is the number of workers the rendered chart asks for: the worker Deployment's or
// StatefulSet's replicas, or its autoscaler's minimum; -1 when there is none.
func wantWorkers(rel *render.Release) int {
	if rel.Component == health.ComponentMinIO {
		return -1
	}
	workload := ""
	n := int64(-1)
	for _, obj := range rel.Objects {
		if (obj.Kind == "Deployment" || obj.Kind == "StatefulSet") && label(obj, "app.kubernetes.io/component") == "worker" {
			workload = obj.Name
			spec, _ := obj.Content["spec"].(map[string]any)
			if v, ok := toInt(spec["replicas"]); ok {
				n = v
			} else {
				n = 1 // Kubernetes' default
			}
		}
	}
	for _, obj := range rel.Objects {
		if obj.Kind != "HorizontalPodAutoscaler" || workload == "" {
			continue
		}
		spec, _ := obj.Content["spec"].(map[string]any)
		ref, _ := spec["scaleTargetRef"].(map[string]any)
		if ref["name"] == workload {
			if v, ok := toInt(spec["minReplicas"]); ok {
				n = v
			} else {
				n = 1
			}
		}
	}
	return int(n)
}

func label(obj *render.Object, key string) string {
	md, _ := obj.Content["metadata"].(map[string]any)
	l, _ := md["labels"].(map[string]any)
	s, _ := l[key].(string)
	return s
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	}
	return 0, false
}
