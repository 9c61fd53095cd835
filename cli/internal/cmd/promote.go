package cmd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// PromoteOptions are the inputs of `lakeport promote`.
type PromoteOptions struct {
	f *Factory
	promote.Options
	SkipGate   bool
	Soak       time.Duration
	DryRun     bool
	ExpectHead string
	Push       bool
	Remote     string
	Output     string
	Plan       bool
	Gate       GateFlags

	format output.Format
}

// GateFlags say where the promotion gate reads Application health from (as `lakeport health`).
type GateFlags struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Server     string
	AuthToken  string
	GRPCWeb    bool
	Insecure   bool
	PlainText  bool
}

func newPromoteCmd(f *Factory, runF func(*PromoteOptions) error) *cobra.Command {
	o := &PromoteOptions{f: f}
	cmd := &cobra.Command{
		Use:   "promote COMPONENT... --to ENV",
		Short: "Promote components' release pins to the next environment: gated, previewed, atomic",
		Long: `Copy the release pins of components (the chart's git revision in env.yaml and the image tags
that environments/lakeport.yaml declares) from a source environment to a target, and nothing else:

  1. read the source's pins; --from defaults to the stage before --to in the promotion order, and
     skipping a stage (or promoting backwards) is refused unless --force (recorded in the commit);
  2. gate: the source's Applications for those components must be Synced and Healthy at the commit
     that holds the pins (Kubernetes API or Argo CD API server, as ` + "`lakeport health`" + `), for at
     least --soak; --skip-gate is loud and recorded in the commit message;
  3. preview: the rendered diff of the target before and after;
  4. write: only the pins change, comments, key order and formatting kept, all files atomically or
     none; refuses when those files have uncommitted changes or HEAD moved (--expect-head);
  5. commit on a new branch promote/<env>/<components>-<pin>, and --push it.
--dry-run stops after the preview. --plan shows the release dashboard instead: for every
component, the pins each environment runs, and which promotions would change something, with the
source's gate verdict (unless --skip-gate). A rollback is a promotion of older pins: --pin REV takes the
pins as they were at REV (of the target itself unless --from is given).

Exit codes: 0 promoted (or nothing to promote, or a dry run), 1 refused by the gate,
2 error (bad input, a dirty tree, a moved branch, a refused stage skip).`,
		Example: `  lakeport promote trino --to prod
  lakeport promote trino spark --to staging --dry-run
  lakeport promote --all --to prod --soak 2h --push
  lakeport promote trino --to prod --pin HEAD~3     # roll prod's trino back to its pins of HEAD~3
  lakeport promote trino --to prod --from dev --force --skip-gate
  lakeport promote --plan                           # the release dashboard`,
		RunE: func(c *cobra.Command, args []string) error {
			o.Components = args
			if o.Plan {
				if err := o.Complete(); err != nil {
					return err
				}
				return o.RunPlan(c.Context())
			}
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
	fl.StringVar(&o.To, "to", "", "the target environment")
	fl.StringVar(&o.From, "from", "", "the source environment (default: the stage before --to)")
	fl.BoolVar(&o.All, "all", false, "promote every component the two environments share")
	fl.BoolVar(&o.Force, "force", false, "allow skipping stages of the promotion order")
	fl.StringVar(&o.Pin, "pin", "", "take the pins as they were at this git revision (rollback)")
	fl.BoolVar(&o.SkipGate, "skip-gate", false, "do not check the source's health (recorded in the commit message)")
	fl.DurationVar(&o.Soak, "soak", 0, "require the source to have been healthy for at least this long")
	fl.BoolVar(&o.DryRun, "dry-run", false, "plan, gate and preview only: write nothing")
	fl.StringVar(&o.ExpectHead, "expect-head", "", "refuse unless HEAD is this commit (for scripts that previewed first)")
	fl.BoolVar(&o.Push, "push", false, "push the promotion branch")
	fl.StringVar(&o.Remote, "remote", "origin", "the remote --push pushes to")
	fl.StringVarP(&o.Output, "output", "o", "text", "output format: text or json (with --plan: table or json)")
	fl.BoolVar(&o.Plan, "plan", false, "show the release dashboard: the pins every environment runs and what is promotable now")
	fl.StringVar(&o.Gate.Kubeconfig, "kubeconfig", "", "gate: kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	fl.StringVar(&o.Gate.Context, "context", "", "gate: kubeconfig context")
	fl.StringVarP(&o.Gate.Namespace, "namespace", "n", "argocd", "gate: the namespace of the Application resources")
	fl.StringVar(&o.Gate.Server, "server", "", "gate: Argo CD API server (default: ARGOCD_SERVER)")
	fl.StringVar(&o.Gate.AuthToken, "auth-token", "", "gate: Argo CD auth token (default: ARGOCD_AUTH_TOKEN)")
	fl.BoolVar(&o.Gate.GRPCWeb, "grpc-web", false, "gate: use gRPC-Web to reach the Argo CD API server")
	fl.BoolVar(&o.Gate.Insecure, "insecure", false, "gate: skip TLS verification of the Argo CD API server")
	fl.BoolVar(&o.Gate.PlainText, "plaintext", false, "gate: talk to the Argo CD API server without TLS")
	return cmd
}

// Complete validates the flags.
func (o *PromoteOptions) Complete() error {
	var err error
	if o.Plan && o.Output == "text" {
		o.Output = "table"
	}
	allowed := []output.Format{output.Text, output.JSON}
	if o.Plan {
		allowed = []output.Format{output.Table, output.JSON}
	}
	if o.format, err = output.Parse(o.Output, allowed...); err != nil {
		return &ExitError{Code: CodeError, Err: err}
	}
	return nil
}

// PromotionReport is the JSON shape of `lakeport promote -o json`.
type PromotionReport struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Plan       *promote.Plan       `json:"plan"`
	Gate       promote.GateResult  `json:"gate"`
	Preview    *diff.Document      `json:"preview,omitempty"`
	DryRun     bool                `json:"dryRun"`
	Result     *promote.Result     `json:"result,omitempty"`
	Steps      []PromotionStepInfo `json:"steps"`
}

// PromotionStepInfo is one step's outcome.
type PromotionStepInfo struct {
	Step   string `json:"step"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Run performs the promotion.
func (o *PromoteOptions) Run(ctx context.Context) error {
	f := o.f
	errOut := f.IO.ErrOut
	w, err := f.OpenWorkspace("")
	if err != nil {
		return err
	}
	rep := &PromotionReport{APIVersion: output.APIVersion, Kind: "Promotion", DryRun: o.DryRun}
	step := func(name, status, detail string) {
		rep.Steps = append(rep.Steps, PromotionStepInfo{Step: name, Status: status, Detail: detail})
		if o.format == output.Text {
			fmt.Fprintf(errOut, "%-8s %s %s\n", name+":", status, detail)
		}
	}
	finish := func(err error) error {
		if o.format == output.JSON {
			if werr := output.WriteJSON(f.IO.Out, rep); werr != nil {
				return werr
			}
		}
		return err
	}

	// 1. plan
	plan, err := promote.NewPlan(w, o.Options)
	if err != nil {
		var ue *promote.UsageError
		if errors.As(err, &ue) && o.format == output.JSON {
			step("plan", "refused", ue.Msg)
		}
		return finish(err)
	}
	rep.Plan = plan
	if len(plan.Changes) == 0 {
		step("plan", "done", fmt.Sprintf("%s already runs %s's pins of %s: nothing to promote", plan.To, plan.From, strings.Join(plan.Components, ", ")))
		return finish(nil)
	}
	step("plan", "done", fmt.Sprintf("%s: %s → %s, %d pins change", strings.Join(plan.Components, ", "), plan.From, plan.To, len(plan.Changes)))

	// 2. gate
	gate, err := o.gate(ctx, w, plan)
	rep.Gate = gate
	if err != nil {
		step("gate", "error", err.Error())
		return finish(err)
	}
	switch {
	case gate.Skipped:
		step("gate", "SKIPPED", gate.Summary)
	case gate.OK:
		step("gate", "passed", gate.Summary)
	default:
		step("gate", "refused", gate.Summary)
		for _, d := range gate.Details {
			step("gate", "detail", d)
		}
		return finish(&ExitError{Code: CodeNegative, Err: fmt.Errorf("gate: %s", gate.Summary)})
	}

	// 3. preview
	before, after, err := promote.Preview(ctx, w, plan)
	if err != nil {
		step("preview", "error", err.Error())
		return finish(err)
	}
	hasher, err := diff.NewHasher("")
	if err != nil {
		return finish(err)
	}
	report, err := diff.Compare(
		diff.Side{Label: plan.To + " now", Revision: plan.Head, Releases: before},
		diff.Side{Label: plan.To + " promoted", Revision: "worktree", Releases: after},
		diff.Options{Mode: diff.Revisions, Rules: diff.DefaultRules(), Context: 3, Hasher: hasher})
	if err != nil {
		return finish(err)
	}
	doc := report.Document()
	rep.Preview = &doc
	t := report.Totals()
	summary := fmt.Sprintf("%d added, %d changed, %d removed", t.Added, t.Changed, t.Removed)
	step("preview", "done", summary)
	if o.format == output.Text {
		if err := diff.WriteText(f.IO.Out, report, diff.TextOptions{}); err != nil {
			return err
		}
		o.writeChanges(plan)
	}
	if o.DryRun {
		step("write", "skipped", "--dry-run: nothing written")
		return finish(nil)
	}

	// 4 and 5. write and commit
	var diffLines strings.Builder
	for _, a := range report.Apps {
		fmt.Fprintf(&diffLines, "  %s: %d added, %d changed, %d removed\n", a.Name, a.Counts.Added, a.Counts.Changed, a.Counts.Removed)
	}
	wo := promote.WriteOptions{ExpectHead: o.ExpectHead, Message: promote.Message(plan, gate, diffLines.String()), Now: f.Now, BeforeRename: f.beforeRename}
	if o.Push {
		wo.Push = o.Remote
	}
	if name := f.IO.Getenv("GIT_AUTHOR_NAME"); name != "" {
		wo.Author = &object.Signature{Name: name, Email: f.IO.Getenv("GIT_AUTHOR_EMAIL")}
	}
	res, err := promote.Write(w, plan, wo)
	rep.Result = res
	if err != nil {
		step("write", "refused", err.Error())
		return finish(err)
	}
	step("write", "done", fmt.Sprintf("%d files", len(res.Files)))
	step("commit", "done", fmt.Sprintf("%s on branch %s", res.Commit[:12], res.Branch))
	if res.Pushed != "" {
		step("push", "done", "to "+res.Pushed)
	}
	return finish(nil)
}

func (o *PromoteOptions) writeChanges(p *promote.Plan) {
	t := output.NewTable(o.f.IO.IsStdoutTTY(), o.f.Styles(), "COMPONENT", "FILE", "KEY", "FROM", "TO")
	for _, c := range p.Changes {
		t.Row(c.Component, fmt.Sprintf("%s:%d", c.File, c.Line), c.Key, shortRev(c.From), shortRev(c.To))
	}
	fmt.Fprintln(o.f.IO.Out)
	_ = t.Render(o.f.IO.Out)
}

func (o *PromoteOptions) gate(ctx context.Context, w *workspace.Workspace, p *promote.Plan) (promote.GateResult, error) {
	if o.SkipGate {
		return promote.GateResult{Skipped: true, Summary: fmt.Sprintf("--skip-gate: %s's health at %s was NOT checked", p.From, shortRev(p.SourceRevision))}, nil
	}
	if p.From == p.To {
		return promote.GateResult{Skipped: true, Summary: fmt.Sprintf("rollback to %s's own pins as of %s: no source environment to gate on", p.To, shortRev(p.PinsAt))}, nil
	}
	newGate := o.f.NewGate
	if newGate == nil {
		newGate = newHealthGate
	}
	g, err := newGate(o)
	if err != nil {
		return promote.GateResult{}, err
	}
	var apps []string
	for _, a := range w.Apps {
		for _, c := range p.Components {
			if workspace.Environment(&a) == p.From && workspace.Component(&a) == c {
				apps = append(apps, a.Name)
			}
		}
	}
	return g.Check(ctx, p.From, apps, p.SourceRevision, o.Soak)
}

// ReleasePlan is the JSON shape of `lakeport promote --plan`.
type ReleasePlan struct {
	APIVersion   string        `json:"apiVersion"`
	Kind         string        `json:"kind"`
	Head         string        `json:"head"`
	Environments []string      `json:"environments"`
	Components   []promote.Row `json:"components"`
}

// RunPlan prints the release dashboard.
func (o *PromoteOptions) RunPlan(ctx context.Context) error {
	f := o.f
	w, err := f.OpenWorkspace("")
	if err != nil {
		return err
	}
	rows, err := promote.Dashboard(w)
	if err != nil {
		return err
	}
	head, err := w.Repo.Resolve("HEAD")
	if err != nil {
		return err
	}
	if !o.SkipGate {
		var g promote.Gate
		newGate := f.NewGate
		if newGate == nil {
			newGate = newHealthGate
		}
		g, err = newGate(o)
		var gateErr error
		for i := range rows {
			for j := range rows[i].Candidates {
				c := &rows[i].Candidates[j]
				res := promote.GateResult{Summary: "not checked"}
				if err == nil {
					var apps []string
					for _, a := range w.Apps {
						if workspace.Environment(&a) == c.From && workspace.Component(&a) == rows[i].Component {
							apps = append(apps, a.Name)
						}
					}
					r, gerr := g.Check(ctx, c.From, apps, head.String(), o.Soak)
					if gerr != nil {
						gateErr = gerr
						res.Summary = "gate not checked"
					} else {
						res = r
					}
				}
				c.Gate = &res
			}
		}
		if err == nil {
			err = gateErr
		}
		if err != nil {
			fmt.Fprintf(f.IO.ErrOut, "warning: the gate was not checked: %s (--skip-gate to list pins only)\n", firstLineOf(err.Error()))
		}
	}
	if o.format == output.JSON {
		return output.WriteJSON(f.IO.Out, ReleasePlan{APIVersion: output.APIVersion, Kind: "ReleasePlan", Head: head.String(), Environments: w.Kit.Promotion, Components: rows})
	}
	header := append([]string{"COMPONENT"}, w.Kit.Promotion...)
	header = append(header, "PROMOTABLE")
	t := output.NewTable(f.IO.IsStdoutTTY(), f.Styles(), header...)
	for _, r := range rows {
		cells := []string{r.Component}
		for _, e := range w.Kit.Promotion {
			p := r.Pins[e]
			if p == nil {
				cells = append(cells, "-")
				continue
			}
			cell := shortRev(p.Chart)
			if p.Chart == "HEAD" {
				cell = "HEAD@" + p.Resolved[:8]
			}
			keys := make([]string, 0, len(p.Images))
			for k := range p.Images {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				cell += " " + p.Images[k]
			}
			cells = append(cells, cell)
		}
		var prom []string
		for _, c := range r.Candidates {
			s := c.From + "→" + c.To
			switch {
			case c.Gate == nil:
			case c.Gate.OK:
				s += " (ready)"
			default:
				s += " (" + c.Gate.Summary + ")"
			}
			prom = append(prom, s)
		}
		if len(prom) == 0 {
			prom = []string{"-"}
		}
		cells = append(cells, strings.Join(prom, "; "))
		t.Row(cells...)
	}
	return t.Render(f.IO.Out)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
