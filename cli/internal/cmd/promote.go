package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/promote"
)

// PromoteOptions are the inputs of `lakeport promote`.
type PromoteOptions struct {
	f *Factory
	action.Promote
	conn   action.Connection
	Remote string
	Push   bool
	Output string
	Plan   bool

	format output.Format
}

func newPromoteCmd(f *Factory, runF func(*PromoteOptions) error) *cobra.Command {
	o := &PromoteOptions{f: f}
	cmd := &cobra.Command{
		Use:   "promote COMPONENT... --to ENV | --to-stage STAGE",
		Short: "Promote components' release pins to the next environment: gated, previewed, atomic",
		Long: `Copy the release pins of components (the chart's git revision in env.yaml and the image tags
that environments/lakeport.yaml declares) from a source environment to a target, and nothing else:

  1. read the source's pins; --from defaults to the stage before --to in the promotion graph
     (environments/lakeport.yaml promotion:, e.g. [dev, staging, [prod-eu, prod-us]]): when that
     stage holds several environments they must all run the same pins, and the gate checks each;
     skipping a stage (or promoting backwards) is refused unless --force (recorded in the commit);
     --to-stage STAGE promotes every environment of STAGE in one commit, gated on the stage before;
  change control, from each target's env.yaml changeControl: a target that requires a change id
     is refused without --change-id (or LAKEPORT_CHANGE_ID); a target inside a deny sync window
     (or outside every allow window), when Argo CD would not sync it, is refused unless
     --override "reason"; both are recorded in the commit message (Change-Id and
     Sync-Window-Override trailers) and the JSON report;
  2. gate: the source's Applications for those components must be Synced and Healthy at the commit
     that holds the pins (Kubernetes API or Argo CD API server, as ` + "`lakeport health`" + `), for at
     least --soak; --skip-gate is loud and recorded in the commit message;
  3. preview: the rendered diff of the target before and after, with the impacts of each change
     (restart, sync-fails, data-at-risk, security, scale: see lakeport diff --help);
  4. write: only the pins change, comments, key order and formatting kept, all files atomically or
     none; refuses when those files have uncommitted changes or HEAD moved (--expect-head);
  5. commit on a new branch promote/<env>/<components>-<pin>, and --push it.
--dry-run stops after the preview. --plan shows the release dashboard instead: the promotion
graph, every environment's sync windows (open or closed now), and for every component the pins
each environment runs and which promotions would change something, with the source's gate verdict
(unless --skip-gate) and the impacts each promotion's preview has. A rollback is a promotion of older pins: --pin REV takes the
pins as they were at REV (of the target itself unless --from is given).

Exit codes: 0 promoted (or nothing to promote, or a dry run), 1 refused (by the gate, a sync
window or a missing change id), 2 error (bad input, a dirty tree, a moved branch, a refused stage skip).`,
		Example: `  lakeport promote trino --to prod
  lakeport promote trino spark --to staging --dry-run
  lakeport promote --all --to prod --soak 2h --push
  lakeport promote trino --to prod --pin HEAD~3     # roll prod's trino back to its pins of HEAD~3
  lakeport promote trino --to prod --from dev --force --skip-gate
  lakeport promote --plan                           # the release dashboard
  lakeport promote trino --to prod-eu               # pins from the stage before prod-eu
  lakeport promote trino --to-stage prod --change-id CHG0012345
  lakeport promote trino --to prod --override "P1 incident INC42: hotfix approved by CAB"`,
		RunE: func(c *cobra.Command, args []string) error {
			o.Config = f.Config(o.conn)
			o.Components = args
			if err := o.Complete(c); err != nil {
				return err
			}
			if o.Plan {
				return o.RunPlan(c.Context())
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.To, "to", "", "the target environment")
	fl.StringVar(&o.ToStage, "to-stage", "", "promote every environment of this stage of the promotion graph, in one commit")
	fl.StringVar(&o.ChangeID, "change-id", "", "the change record of this promotion (default $LAKEPORT_CHANGE_ID), recorded in the commit")
	fl.StringVar(&o.Override, "override", "", "promote into a closed sync window; the reason is recorded in the commit")
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
	connFlags(cmd, &o.conn, true) // where the gate reads health from, as lakeport health
	return cmd
}

// Complete validates the flags and completes the gate's connection.
func (o *PromoteOptions) Complete(c *cobra.Command) error {
	var err error
	if o.Plan && o.Output == "text" {
		o.Output = "table"
	}
	allowed := []output.Format{output.Text, output.JSON}
	if o.Plan {
		allowed = []output.Format{output.Table, output.JSON}
	}
	if o.format, err = output.Parse(o.Output, allowed...); err != nil {
		return usageError(err)
	}
	if err := completeConn(c, o.f, &o.conn); err != nil {
		return usageError(err)
	}
	o.Config.Conn = o.conn
	if o.Push {
		o.Promote.Push = o.Remote
	}
	o.Gate = o.f.Gate
	o.BeforeRename = o.f.beforeRename
	return nil
}

// PromotionReport is the JSON shape of `lakeport promote -o json`.
type PromotionReport struct {
	APIVersion string                 `json:"apiVersion"`
	Kind       string                 `json:"kind"`
	Plan       *promote.Plan          `json:"plan"`
	Gate       promote.GateResult     `json:"gate"`
	Preview    *diff.Document         `json:"preview,omitempty"`
	DryRun     bool                   `json:"dryRun"`
	Result     *promote.Result        `json:"result,omitempty"`
	Steps      []action.PromotionStep `json:"steps"`
}

// Run performs the promotion.
func (o *PromoteOptions) Run(ctx context.Context) error {
	f := o.f
	if o.format == output.Text {
		o.Step = func(s action.PromotionStep) {
			if (s.Step == "plan" || s.Step == "change control") && s.Status == "refused" {
				return // the error says it
			}
			fmt.Fprintf(f.IO.ErrOut, "%-8s %s %s\n", s.Step+":", s.Status, sayFlags(s.Detail))
		}
	}
	rep, err := o.Promote.Run(ctx)
	if o.format == output.JSON {
		steps := make([]action.PromotionStep, len(rep.Steps))
		for i, s := range rep.Steps {
			s.Detail = sayFlags(s.Detail)
			steps[i] = s
		}
		out := PromotionReport{APIVersion: output.APIVersion, Kind: "Promotion", Plan: rep.Plan, Gate: rep.Gate,
			DryRun: rep.DryRun, Result: rep.Result, Steps: steps}
		if rep.Preview != nil {
			doc := rep.Preview.Document()
			out.Preview = &doc
		}
		if werr := output.WriteJSON(f.IO.Out, out); werr != nil {
			return werr
		}
		return err
	}
	if rep.Preview != nil {
		if werr := diff.WriteText(f.IO.Out, rep.Preview, diff.TextOptions{}); werr != nil {
			return werr
		}
		o.writeChanges(rep.Plan)
	}
	return err
}

func (o *PromoteOptions) writeChanges(p *promote.Plan) {
	t := output.NewTable(o.f.IO.IsStdoutTTY(), o.f.Styles(), "COMPONENT", "FILE", "KEY", "FROM", "TO")
	for _, c := range p.Changes {
		t.Row(c.Component, fmt.Sprintf("%s:%d", c.File, c.Line), c.Key, shortRev(c.From), shortRev(c.To))
	}
	fmt.Fprintln(o.f.IO.Out)
	_ = t.Render(o.f.IO.Out)
}

// ReleasePlan is the JSON shape of `lakeport promote --plan`.
type ReleasePlan struct {
	APIVersion   string               `json:"apiVersion"`
	Kind         string               `json:"kind"`
	Head         string               `json:"head"`
	Environments []string             `json:"environments"`
	Stages       []PlanStage          `json:"stages"`
	Windows      []promote.EnvWindows `json:"windows,omitempty"`
	Components   []promote.Row        `json:"components"`
	// Impacts are what promoting each candidate would do once synced.
	Impacts []action.CandidateImpacts `json:"impacts"`
}

// PlanStage is one stage of the promotion graph in `promote --plan -o json`.
type PlanStage struct {
	Name         string   `json:"name"`
	Environments []string `json:"environments"`
}

// RunPlan prints the release dashboard.
func (o *PromoteOptions) RunPlan(ctx context.Context) error {
	f := o.f
	rp, err := (&action.ReleasePlan{Config: o.Config, SkipGate: o.SkipGate, Soak: o.Soak, Gate: o.Gate}).Run(ctx)
	if err != nil {
		return err
	}
	rows := rp.Rows
	stages := make([]PlanStage, len(rp.Stages))
	for i, s := range rp.Stages {
		stages[i] = PlanStage{Name: s.Name, Environments: s.Environments}
	}
	if o.format == output.JSON {
		return output.WriteJSON(f.IO.Out, ReleasePlan{APIVersion: output.APIVersion, Kind: "ReleasePlan", Head: rp.Head, Environments: rp.Environments, Stages: stages, Windows: rp.Windows, Components: rows, Impacts: rp.Impacts})
	}
	var graph []string
	for _, s := range rp.Stages {
		if len(s.Environments) == 1 && s.Environments[0] == s.Name {
			graph = append(graph, s.Name)
		} else {
			graph = append(graph, s.Name+" ["+strings.Join(s.Environments, ", ")+"]")
		}
	}
	fmt.Fprintf(f.IO.Out, "Promotion graph: %s\n", strings.Join(graph, " → "))
	if len(rp.Windows) > 0 {
		fmt.Fprintln(f.IO.Out, "Sync windows:")
		for _, ew := range rp.Windows {
			verdict := "syncs allowed now"
			if !ew.CanSync {
				verdict = "CLOSED now: " + ew.Reason
			}
			fmt.Fprintf(f.IO.Out, "  %s (%s): %s\n", ew.Environment, ew.File, verdict)
			for _, w := range ew.Windows {
				fmt.Fprintf(f.IO.Out, "    %s\n", w)
			}
		}
	}
	fmt.Fprintln(f.IO.Out)
	header := append([]string{"COMPONENT"}, rp.Environments...)
	header = append(header, "PROMOTABLE", "IMPACTS")
	t := output.NewTable(f.IO.IsStdoutTTY(), f.Styles(), header...)
	for _, r := range rows {
		cells := []string{r.Component}
		for _, e := range rp.Environments {
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
		var imp []string
		for i := range rp.Impacts {
			ci := &rp.Impacts[i]
			if ci.Component == r.Component {
				if k := ci.Kinds(); k != "" {
					imp = append(imp, ci.From+"→"+ci.To+": "+k)
				}
			}
		}
		if len(imp) == 0 {
			imp = []string{"-"}
		}
		cells = append(cells, strings.Join(imp, "; "))
		t.Row(cells...)
	}
	return t.Render(f.IO.Out)
}
