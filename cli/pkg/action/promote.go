package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/health"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/syncwindow"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Promote copies components' release pins from a source environment to a target: plan, gate on
// the source's health, preview the rendered change, write the files and commit on a branch.
type Promote struct {
	Config *Config
	promote.Options
	// SkipGate does not check the source's health (recorded in the commit message).
	SkipGate bool
	// Soak is how long the source must have been Synced and Healthy.
	Soak time.Duration
	// DryRun stops after the preview.
	DryRun bool
	// ExpectHead refuses unless HEAD is this commit (a prefix is enough).
	ExpectHead string
	// Push pushes the promotion branch to this remote ("" = no push).
	Push string
	// Gate decides on the source; nil is the health gate over Config.Conn.
	Gate promote.Gate
	// Step is called as each step ends (plan, gate, preview, write, commit, push).
	Step func(PromotionStep)
	// BeforeRename is called before each file is renamed into place (crash injection in tests).
	BeforeRename atomicfile.Hook
}

// PromotionStep is one step's outcome.
type PromotionStep struct {
	Step   string `json:"step"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// PromoteReport is what a promotion did, as far as it went.
type PromoteReport struct {
	Plan *promote.Plan
	Gate promote.GateResult
	// Preview is the rendered change of the target (nil until previewed).
	Preview *diff.Report
	DryRun  bool
	Result  *promote.Result
	Steps   []PromotionStep
}

// Run promotes. The report is returned with the error too: it says how far the promotion went.
func (p *Promote) Run(ctx context.Context) (*PromoteReport, error) {
	c := p.Config
	rep := &PromoteReport{DryRun: p.DryRun}
	step := func(name, status, detail string) {
		s := PromotionStep{Step: name, Status: status, Detail: detail}
		rep.Steps = append(rep.Steps, s)
		if p.Step != nil {
			p.Step(s)
		}
	}
	w, err := c.openWorkspace("")
	if err != nil {
		return rep, err
	}

	// 1. plan, and change control (change id, sync windows) on the targets
	opts := p.Options
	if opts.ChangeID == "" {
		opts.ChangeID = c.getenv(promote.ChangeIDEnv)
	}
	if opts.Now == nil {
		opts.Now = c.now
	}
	plan, err := promote.NewPlan(w, opts)
	if err != nil {
		var ue *promote.UsageError
		var re *promote.RefusedError
		switch {
		case errors.As(err, &ue):
			step("plan", "refused", ue.Msg)
		case errors.As(err, &re):
			rep.Plan = plan
			step("change control", "refused", re.Msg)
		}
		return rep, err
	}
	rep.Plan = plan
	if len(plan.Changes) == 0 {
		step("plan", "done", fmt.Sprintf("%s already runs %s's pins of %s: nothing to promote", plan.To, plan.From, strings.Join(plan.Components, ", ")))
		return rep, nil
	}
	step("plan", "done", fmt.Sprintf("%s: %s → %s, %d pins change", strings.Join(plan.Components, ", "), plan.From, plan.To, len(plan.Changes)))
	for _, ew := range plan.Windows {
		if !ew.CanSync {
			step("change control", "OVERRIDDEN", fmt.Sprintf("%s is %s; override: %s", ew.Environment, ew.Reason, plan.Override))
		}
	}
	if plan.ChangeID != "" {
		step("change control", "done", "change id "+plan.ChangeID)
	}

	// 2. gate
	gate, err := p.gate(ctx, w, plan)
	rep.Gate = gate
	if err != nil {
		step("gate", "error", err.Error())
		return rep, err
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
		return rep, &GateRefusedError{Gate: gate}
	}

	// 3. preview
	before, after, err := promote.Preview(ctx, w, plan)
	if err != nil {
		step("preview", "error", err.Error())
		return rep, err
	}
	hasher, err := diff.NewHasher("")
	if err != nil {
		return rep, err
	}
	report, err := diff.Compare(
		diff.Side{Label: plan.To + " now", Revision: plan.Head, Releases: before},
		diff.Side{Label: plan.To + " promoted", Revision: "worktree", Releases: after},
		diff.Options{Mode: diff.Revisions, Rules: diff.DefaultRules(), Context: 3, Hasher: hasher, Impacts: true})
	if err != nil {
		return rep, err
	}
	rep.Preview = report
	t := report.Totals()
	step("preview", "done", fmt.Sprintf("%d added, %d changed, %d removed%s", t.Added, t.Changed, t.Removed, impactNote(report)))
	if p.DryRun {
		// The words are the CLI's (golden output); the step is the same for any caller.
		step("write", "skipped", "{DryRun}: nothing written")
		return rep, nil
	}

	// 4 and 5. write and commit
	var diffLines strings.Builder
	for _, a := range report.Apps {
		fmt.Fprintf(&diffLines, "  %s: %d added, %d changed, %d removed\n", a.Name, a.Counts.Added, a.Counts.Changed, a.Counts.Removed)
	}
	wo := promote.WriteOptions{ExpectHead: p.ExpectHead, Message: promote.Message(plan, gate, diffLines.String()), Now: c.Now, BeforeRename: p.BeforeRename, Push: p.Push}
	if name := c.getenv("GIT_AUTHOR_NAME"); name != "" {
		wo.Author = &object.Signature{Name: name, Email: c.getenv("GIT_AUTHOR_EMAIL")}
	}
	res, err := promote.Write(w, plan, wo)
	rep.Result = res
	if err != nil {
		step("write", "refused", err.Error())
		return rep, err
	}
	step("write", "done", fmt.Sprintf("%d files", len(res.Files)))
	step("commit", "done", fmt.Sprintf("%s on branch %s", source.ShortSHA(res.Commit), res.Branch))
	if res.Pushed != "" {
		step("push", "done", "to "+res.Pushed)
	}
	return rep, nil
}

func (p *Promote) gate(ctx context.Context, w *workspace.Workspace, plan *promote.Plan) (promote.GateResult, error) {
	if p.SkipGate {
		return promote.GateResult{Skipped: true, Summary: fmt.Sprintf("gate skipped on request: %s's health at %s was NOT checked", plan.From, source.ShortSHA(plan.SourceRevision))}, nil
	}
	if plan.From == plan.To {
		return promote.GateResult{Skipped: true, Summary: fmt.Sprintf("rollback to %s's own pins as of %s: no source environment to gate on", plan.To, source.ShortSHA(plan.PinsAt))}, nil
	}
	g := p.Gate
	if g == nil {
		g = &HealthGate{Config: p.Config}
	}
	// A source stage of several environments is gated on every one of them.
	sources := plan.Sources
	if len(sources) == 0 {
		sources = []string{plan.From}
	}
	var out promote.GateResult
	for i, src := range sources {
		res, err := g.Check(ctx, src, appsOf(w, src, plan.Components...), plan.SourceRevision, p.Soak)
		if err != nil || len(sources) == 1 {
			return res, err
		}
		if i == 0 {
			out.OK = true
		}
		out.OK = out.OK && res.OK
		if out.Summary != "" {
			out.Summary += "; "
		}
		out.Summary += res.Summary
		out.Details = append(out.Details, res.Details...)
	}
	return out, nil
}

// appsOf names the Applications of env's components.
func appsOf(w *workspace.Workspace, env string, components ...string) []string {
	var apps []string
	for i := range w.Apps {
		a := &w.Apps[i]
		for _, c := range components {
			if workspace.Environment(a) == env && workspace.Component(a) == c {
				apps = append(apps, a.Name)
			}
		}
	}
	return apps
}

// HealthGate gates a promotion on the health verb's revision-aware judgement of the source
// environment, read through Config.Conn exactly as Health reads it (same namespaces, same Argo CD
// options): every Application of the promoted components Ready at the commit holding the pins,
// and synced at least the soak time before Config's clock.
type HealthGate struct{ Config *Config }

// Check implements promote.Gate.
func (g *HealthGate) Check(ctx context.Context, env string, apps []string, revision string, soak time.Duration) (promote.GateResult, error) {
	h := &Health{Config: g.Config, Envs: []string{env}, Apps: apps, Revision: revision}
	plan, sel, err := h.plan()
	if err != nil {
		return promote.GateResult{}, err
	}
	src, err := g.Config.Conn.healthSource(g.Config.getenv)
	if err != nil {
		return promote.GateResult{}, fmt.Errorf("gate: %w", err)
	}
	if cl, ok := src.(interface{ Close() error }); ok {
		defer cl.Close()
	}
	v, err := health.Gate(ctx, src, sel, plan, health.GateOptions{Env: env, Soak: soak, Now: g.Config.now})
	if err != nil {
		return promote.GateResult{}, fmt.Errorf("gate: %w", err)
	}
	return promote.GateResult{OK: v.OK, Summary: v.Summary, Details: v.Details}, nil
}

// ReleasePlan shows the release dashboard: for every component the pins each environment runs,
// and the promotions that would change something, with the source's gate verdict.
type ReleasePlan struct {
	Config *Config
	// SkipGate lists pins only.
	SkipGate bool
	Soak     time.Duration
	// Gate decides on sources; nil is the health gate over Config.Conn.
	Gate promote.Gate
}

// ReleasePlanReport is the dashboard.
type ReleasePlanReport struct {
	Head         string
	Environments []string
	// Stages is the promotion graph.
	Stages []kit.Stage
	Rows   []promote.Row
	// Windows are the sync windows of every environment that declares some, at Config's clock.
	Windows []promote.EnvWindows
	// Impacts are, for every promotable candidate, the impacts of its preview (what promoting
	// it would do once synced), in the order of Rows and their candidates.
	Impacts []CandidateImpacts
}

// CandidateImpacts are the impacts of promoting one component from one environment to the next.
type CandidateImpacts struct {
	Component string           `json:"component"`
	From      string           `json:"from"`
	To        string           `json:"to"`
	Impacts   []ResourceImpact `json:"impacts"`
}

// ResourceImpact is an impact and the resource it is of.
type ResourceImpact struct {
	App      string `json:"app"`
	Resource string `json:"resource"`
	impact.Impact
}

// Kinds counts the candidate's impacts by kind, in display order: "restart 2, scale 1".
func (c *CandidateImpacts) Kinds() string {
	counts := map[impact.Kind]int{}
	for _, im := range c.Impacts {
		counts[im.Kind]++
	}
	var parts []string
	for _, k := range impact.Kinds {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k.Words(), n))
		}
	}
	return strings.Join(parts, ", ")
}

// candidateImpacts previews promoting one candidate and returns the impacts of the preview.
func candidateImpacts(ctx context.Context, w *workspace.Workspace, component string, c promote.Candidate) (CandidateImpacts, error) {
	out := CandidateImpacts{Component: component, From: c.From, To: c.To, Impacts: []ResourceImpact{}}
	// A preview of what the promotion would change, not a promotion: a sync window the target is
	// inside does not hide its impacts (the plan reports the windows itself, at the injected clock).
	plan, err := promote.NewPlan(w, promote.Options{Components: []string{component}, From: c.From, To: c.To, Override: "impact preview"})
	if err != nil || len(plan.Changes) == 0 {
		return out, err
	}
	before, after, err := promote.Preview(ctx, w, plan)
	if err != nil {
		return out, err
	}
	hasher, err := diff.NewHasher("")
	if err != nil {
		return out, err
	}
	rep, err := diff.Compare(diff.Side{Label: c.To + " now", Releases: before}, diff.Side{Label: c.To + " promoted", Releases: after},
		diff.Options{Mode: diff.Revisions, Rules: diff.DefaultRules(), Hasher: hasher, Impacts: true})
	if err != nil {
		return out, err
	}
	for _, a := range rep.Apps {
		for _, rd := range a.Resources {
			for _, im := range rd.Impacts {
				out.Impacts = append(out.Impacts, ResourceImpact{App: a.Name, Resource: rd.Key.String(), Impact: im})
			}
		}
	}
	return out, nil
}

// Run builds the dashboard; a gate that cannot be checked is a warning, not an error.
func (r *ReleasePlan) Run(ctx context.Context) (*ReleasePlanReport, error) {
	w, err := r.Config.openWorkspace("")
	if err != nil {
		return nil, err
	}
	rows, err := promote.Dashboard(w)
	if err != nil {
		return nil, err
	}
	head, err := w.Repo.Resolve("HEAD")
	if err != nil {
		return nil, err
	}
	if !r.SkipGate {
		g := r.Gate
		if g == nil {
			g = &HealthGate{Config: r.Config}
		}
		var gateErr error
		for i := range rows {
			for j := range rows[i].Candidates {
				c := &rows[i].Candidates[j]
				res, err := g.Check(ctx, c.From, appsOf(w, c.From, rows[i].Component), head.String(), r.Soak)
				if err != nil {
					gateErr = err
					res = promote.GateResult{Summary: "gate not checked"}
				}
				c.Gate = &res
			}
		}
		if gateErr != nil {
			msg := gateErr.Error()
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			r.Config.warn(fmt.Sprintf("the gate was not checked: %s (skip the gate to list pins only)", msg))
		}
	}
	rep := &ReleasePlanReport{Head: head.String(), Environments: w.Kit.Promotion, Stages: w.Kit.Stages, Rows: rows, Impacts: []CandidateImpacts{}}
	for _, e := range w.Kit.Environments {
		ws := e.ArgoSyncWindows()
		if len(ws) == 0 {
			continue
		}
		st, err := syncwindow.Evaluate(ws, r.Config.now())
		if err != nil {
			return nil, fmt.Errorf("%s: changeControl.syncWindows: %w", e.File, err)
		}
		rep.Windows = append(rep.Windows, promote.EnvWindows{Environment: e.Name, File: e.File, State: st})
	}
	for i := range rows {
		for _, c := range rows[i].Candidates {
			ci, err := candidateImpacts(ctx, w, rows[i].Component, c)
			if err != nil {
				r.Config.warn(fmt.Sprintf("impacts of %s %s→%s not computed: %v", rows[i].Component, c.From, c.To, err))
				continue
			}
			rep.Impacts = append(rep.Impacts, ci)
		}
	}
	return rep, nil
}

// impactNote is "; impacts: sync-fails 1, restart 2" (empty without impacts), for step details.
func impactNote(r *diff.Report) string {
	counts := r.ImpactCounts()
	var parts []string
	for _, k := range impact.Kinds {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; impacts: " + strings.Join(parts, ", ")
}
