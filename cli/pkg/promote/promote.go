// Package promote moves a release from one environment to the next: it copies the release pins
// (the chart's git revision in env.yaml and the image tags declared in environments/lakeport.yaml)
// of components from a source environment to a target, and nothing else. It plans the edits
// in memory (comments, key order and formatting kept), gates them on the source's health, previews
// the rendered change, writes every file atomically and commits on a branch named after the
// promotion. It never prints: the CLI reports its results.
package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/syncwindow"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/cli/pkg/yamledit"
)

// Options say what to promote.
type Options struct {
	Components []string
	All        bool
	// From is the source environment ("" = the stage before To in the promotion order; for a
	// rollback with Pin, the target itself).
	From string
	To   string
	// Force allows skipping stages of the promotion order (or promoting backwards).
	Force bool
	// Pin reads the source pins as they were at this git revision (a rollback is a promotion of an
	// older pin: `--to prod --pin <rev>` restores prod's pins as of <rev>).
	Pin string
	// ToStage promotes every environment of a stage of the promotion graph in one commit, from
	// the stage before it (instead of To).
	ToStage string
	// ChangeID is the change-management record the promotion belongs to (recorded in the commit
	// message as a Change-Id trailer); required by environments whose env.yaml says so.
	ChangeID string
	// Override is the reason for promoting into an environment inside a deny sync window
	// (recorded in the commit message); without it such a promotion is refused.
	Override string
	// Now is the clock sync windows are judged at (nil: time.Now).
	Now func() time.Time
}

// Change is one pin that changes in the target environment.
type Change struct {
	Component string `json:"component"`
	File      string `json:"file"`
	Key       string `json:"key"`
	Line      int    `json:"line"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// Plan is a promotion worked out in memory: nothing is written yet.
type Plan struct {
	From string `json:"from"`
	// To is the target environment, or the stage name for a stage promotion.
	To string `json:"to"`
	// Stage is set for a stage promotion ({ToStage}).
	Stage string `json:"stage,omitempty"`
	// Targets are the environments the promotion writes (To itself, or every one of Stage's).
	Targets []string `json:"targets"`
	// Sources are the environments the gate checks: From, or every environment of the source
	// stage when the pins came from a stage of several environments that all run them.
	Sources    []string `json:"sources"`
	Components []string `json:"components"`
	// Skipped are the stages of the promotion order between From and To (allowed only with Force).
	Skipped []string `json:"skipped,omitempty"`
	Forced  bool     `json:"forced"`
	// Rollback is set when the pins come from an earlier revision (Options.Pin).
	Rollback bool   `json:"rollback"`
	PinsAt   string `json:"pinsAt"`
	// SourceRevision is the commit whose Argo CD sync the gate checks: the commit that holds the
	// source's pins (HEAD of the branch for a source that follows it).
	SourceRevision string `json:"sourceRevision"`
	// Head is the branch's commit when the plan was made; writing refuses if it moved.
	Head    string   `json:"head"`
	Changes []Change `json:"changes"`
	// Edits are the new contents of the target files, by repository path.
	Edits map[string][]byte `json:"-"`
	// Apps are the target Applications the promotion changes.
	Apps []string `json:"apps"`
	// ChangeID and Override are recorded in the commit message (Options).
	ChangeID string `json:"changeId,omitempty"`
	Override string `json:"override,omitempty"`
	// Windows are the target environments' sync windows at the time of the plan.
	Windows []EnvWindows `json:"windows,omitempty"`
}

// EnvWindows is one environment's sync windows at a time.
type EnvWindows struct {
	Environment string `json:"environment"`
	// File is the env.yaml declaring them.
	File string `json:"file"`
	syncwindow.State
}

// Branch is the branch the promotion commits on: promote/<to>/<components>-<short pin>.
func (p *Plan) Branch() string {
	comps := strings.Join(p.Components, "+")
	if len(p.Components) > 3 {
		comps = "all"
	}
	pin := p.PinsAt
	for _, c := range p.Changes {
		if c.Key == "revision" || strings.HasSuffix(c.Key, ".revision") {
			pin = c.To
			break
		}
	}
	if len(pin) > 8 {
		pin = pin[:8]
	}
	return fmt.Sprintf("promote/%s/%s-%s", p.To, comps, pin)
}

// RefusedError is a promotion refused by change control: a target inside a deny sync window, a
// missing change id. Msg names the env.yaml file, line and key that decide it, and the option that
// overrides it in braces.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// UsageError is a promotion request that cannot be carried out as asked.
//
// Msg names the options that settle it in braces, by their field name in Options ({To}, {From},
// {Pin}, {Force}, {All}): a library caller reads the field, a CLI says its flag.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// NewPlan works out the edits. w must be the working tree.
func NewPlan(w *workspace.Workspace, o Options) (*Plan, error) {
	if w.Head.Revision() != source.Worktree {
		return nil, errors.New("promotion edits the working tree; open the workspace without a revision")
	}
	k := w.Kit
	var targets []string
	switch {
	case o.ToStage != "" && o.To != "":
		return nil, &UsageError{"give {To} or {ToStage}, not both"}
	case o.ToStage != "":
		st, _ := k.Stage(o.ToStage)
		if st == nil {
			return nil, &UsageError{fmt.Sprintf("unknown stage %q (promotion graph %s)", o.ToStage, k.Order())}
		}
		targets = st.Environments
	case o.To == "":
		return nil, &UsageError{"{To} is required"}
	case k.Environment(o.To) == nil:
		return nil, &UsageError{fmt.Sprintf("unknown environment %q (environments: %s)", o.To, strings.Join(k.EnvironmentNames(), ", "))}
	default:
		targets = []string{o.To}
	}
	head, err := w.Repo.Resolve("HEAD")
	if err != nil {
		return nil, fmt.Errorf("resolve HEAD: %w", err)
	}
	// The source kit: the working tree, or the kit as it was at --pin.
	src, pinsAt := w, ""
	if o.Pin != "" {
		rev, err := w.Repo.Resolve(o.Pin)
		if err != nil {
			return nil, fmt.Errorf("pins at %s: %w", o.Pin, err)
		}
		pinsAt = rev.String()
		if src, err = workspace.OpenRepo(w.Repo, pinsAt); err != nil {
			return nil, fmt.Errorf("read the kit at %s: %w", o.Pin, err)
		}
	}
	var p *Plan
	for _, to := range targets {
		one, err := planTarget(w, src, o, to, head.String(), pinsAt)
		if err != nil {
			return nil, err
		}
		if p == nil {
			p = one
			continue
		}
		if one.From != p.From {
			p.From = o.ToStage
		}
		p.Targets = append(p.Targets, one.Targets...)
		p.Changes = append(p.Changes, one.Changes...)
		p.Apps = append(p.Apps, one.Apps...)
		for f, b := range one.Edits {
			p.Edits[f] = b
		}
		for _, s := range one.Sources {
			if !slices.Contains(p.Sources, s) {
				p.Sources = append(p.Sources, s)
			}
		}
	}
	if o.ToStage != "" {
		p.To, p.Stage = o.ToStage, o.ToStage
	}
	p.ChangeID, p.Override = strings.TrimSpace(o.ChangeID), strings.TrimSpace(o.Override)
	if strings.ContainsAny(p.ChangeID, " \t\r\n") {
		return nil, &UsageError{fmt.Sprintf("change id %q must be one word, e.g. CHG0012345 ({ChangeID})", p.ChangeID)}
	}
	if err := p.changeControl(k, o); err != nil {
		return p, err
	}
	return p, nil
}

// planTarget works out the edits of one target environment.
func planTarget(w, src *workspace.Workspace, o Options, target, head, pinsAt string) (*Plan, error) {
	k := w.Kit
	to := k.Environment(target)
	p := &Plan{To: target, Targets: []string{target}, From: o.From, Head: head, Rollback: o.Pin != "", Forced: o.Force, PinsAt: pinsAt}
	if o.Pin != "" && p.From == "" {
		p.From = target
	}
	var sources []string
	if p.From == "" {
		i := k.StageIndex(target)
		if i == 0 {
			return nil, &UsageError{fmt.Sprintf("%s is in the first stage of the promotion graph (%s): nothing comes before it; pass {From} or {Pin}", target, k.Order())}
		}
		sources = k.Stages[i-1].Environments
		p.From = sources[0]
	} else {
		sources = []string{p.From}
	}
	from := src.Kit.Environment(p.From)
	if from == nil {
		return nil, &UsageError{fmt.Sprintf("unknown environment %q (environments: %s)", p.From, strings.Join(k.EnvironmentNames(), ", "))}
	}
	if p.From == p.To && o.Pin == "" {
		return nil, &UsageError{"{From} and {To} are the same environment; to roll back, pass {Pin} <revision>"}
	}
	fi, ti := k.StageIndex(p.From), k.StageIndex(p.To)
	if p.From != p.To {
		if ti < fi {
			if !o.Force {
				return nil, &UsageError{fmt.Sprintf("%s comes after %s in the promotion graph (%s): promoting backwards needs {Force}", p.From, p.To, k.Order())}
			}
		} else if ti-fi > 1 {
			p.Skipped = slices.Clone(k.StageNames()[fi+1 : ti])
			if !o.Force {
				return nil, &UsageError{fmt.Sprintf("promoting %s → %s skips %s (promotion graph %s): promote through each stage, or pass {Force}", p.From, p.To, strings.Join(p.Skipped, ", "), k.Order())}
			}
		}
	}

	p.Components = slices.Clone(o.Components)
	if o.All {
		if len(o.Components) > 0 {
			return nil, &UsageError{"give components or {All}, not both"}
		}
		for _, c := range to.Components {
			if from.Component(c.Component) != nil {
				p.Components = append(p.Components, c.Component)
			}
		}
	}
	if len(p.Components) == 0 {
		return nil, &UsageError{"name the components to promote, or {All}"}
	}
	sort.Strings(p.Components)
	var bad []string
	for _, c := range p.Components {
		switch {
		case to.Component(c) == nil && from.Component(c) == nil:
			bad = append(bad, fmt.Sprintf("unknown component %q", c))
		case to.Component(c) == nil:
			bad = append(bad, fmt.Sprintf("%s has no component %q (%s): adding a component is not a promotion", p.To, c, to.File))
		case from.Component(c) == nil:
			bad = append(bad, fmt.Sprintf("%s has no component %q (%s)", p.From, c, from.File))
		}
	}
	if len(bad) > 0 {
		return nil, &UsageError{strings.Join(bad, "; ")}
	}

	// The commit that holds the source pins: what Argo CD must have synced for the gate.
	p.SourceRevision = p.Head
	if p.PinsAt != "" {
		p.SourceRevision = p.PinsAt
	}
	// A source stage of several environments: they must all run the pins promoted, and the gate
	// checks every one of them.
	p.Sources = []string{p.From}
	if len(sources) > 1 {
		for _, c := range p.Components {
			want, err := readPins(src, from, c, p.SourceRevision)
			if err != nil {
				return nil, err
			}
			for _, s := range sources[1:] {
				se := src.Kit.Environment(s)
				if se.Component(c) == nil {
					continue
				}
				got, err := readPins(src, se, c, p.SourceRevision)
				if err != nil {
					return nil, err
				}
				if !got.same(want) {
					return nil, &UsageError{fmt.Sprintf("the stage before %s (%s) does not run one release of %s: %s has %s, %s has %s; pass {From} to choose", target, strings.Join(sources, ", "), c, p.From, want, s, got)}
				}
				if !slices.Contains(p.Sources, s) {
					p.Sources = append(p.Sources, s)
				}
			}
		}
	}
	p.Edits = map[string][]byte{}
	read := func(file string) ([]byte, error) {
		if b, ok := p.Edits[file]; ok {
			return b, nil
		}
		return w.Head.ReadFile(file)
	}
	for _, c := range p.Components {
		// Chart revision: a floating source pin resolves to the commit it stands for.
		rev := from.Component(c).Revision
		if rev == kit.Floating {
			rev = p.SourceRevision
		} else if h, err := w.Repo.Resolve(rev); err != nil {
			i := slices.IndexFunc(from.Components, func(x kit.Component) bool { return x.Component == c })
			return nil, fmt.Errorf("%s:%d: components[%d].revision: %s's pin of %s: %w", from.File, from.Line("components", fmt.Sprint(i), "revision"), i, p.From, c, err)
		} else {
			rev = h.String()
		}
		idx := slices.IndexFunc(to.Components, func(x kit.Component) bool { return x.Component == c })
		if err := p.set(read, c, to.File, []string{"components", fmt.Sprint(idx), "revision"}, rev); err != nil {
			return nil, err
		}
		// Image pins: every key lakeport.yaml declares (image.tag, image.digest, ...). A key the
		// source does not set is cleared in the target, so that a digest left behind never
		// overrides the promoted tag (the charts prefer image.digest when it is set).
		srcFile := from.ValuesFile(c)
		raw, err := src.Head.ReadFile(srcFile)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", srcFile, err)
		}
		for _, key := range k.ImagePins[c] {
			path := yamledit.ParsePath(key)
			has, err := yamledit.Has(raw, path)
			if err != nil {
				return nil, fmt.Errorf("%s: image pin %s: %w", srcFile, key, err)
			}
			val := ""
			if has {
				if val, err = yamledit.Get(raw, path); err != nil {
					return nil, fmt.Errorf("%s: image pin %s: %w", srcFile, key, err)
				}
			}
			if err := p.setPin(read, c, to.ValuesFile(c), path, val); err != nil {
				return nil, err
			}
		}
		for _, a := range w.Apps {
			if workspace.Environment(&a) == p.To && workspace.Component(&a) == c {
				p.Apps = append(p.Apps, a.Name)
			}
		}
	}
	return p, nil
}

// setPin sets an image pin in a target values file: the key is added when the target lacks it
// and the value is not empty; an empty value for a key the target lacks changes nothing.
func (p *Plan) setPin(read func(string) ([]byte, error), comp, file string, key []string, value string) error {
	raw, err := read(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	has, err := yamledit.Has(raw, key)
	if err != nil {
		var pe *yamledit.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s:%d: %s: %s (the %s pin of %s)", file, pe.Line, pe.Path, pe.Msg, strings.Join(key, "."), comp)
		}
		return fmt.Errorf("%s: %s: %w", file, strings.Join(key, "."), err)
	}
	if has {
		return p.set(read, comp, file, key, value)
	}
	if value == "" {
		return nil
	}
	out, err := yamledit.Insert(raw, key, value)
	if err != nil {
		var pe *yamledit.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s:%d: %s: %s (the %s pin of %s)", file, pe.Line, pe.Path, pe.Msg, strings.Join(key, "."), comp)
		}
		return fmt.Errorf("%s: %s: %w", file, strings.Join(key, "."), err)
	}
	p.Edits[file] = out
	line, _ := yamledit.Line(out, key)
	p.Changes = append(p.Changes, Change{Component: comp, File: file, Key: strings.Join(key, "."), Line: line, From: "", To: value})
	return nil
}

// changeControl refuses a promotion that a target's env.yaml forbids: no change id where one is
// required, a target inside a deny sync window without an override. It records the windows.
func (p *Plan) changeControl(k *kit.Kit, o Options) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var refusals []string
	for _, t := range p.Targets {
		env := k.Environment(t)
		if env.ChangeControl.RequireChangeID && p.ChangeID == "" {
			refusals = append(refusals, fmt.Sprintf("%s:%d: changeControl.requireChangeId: %s requires a change id: pass {ChangeID} ID (or set %s)", env.File, env.Line("changeControl", "requireChangeId"), t, ChangeIDEnv))
		}
		ws := env.ArgoSyncWindows()
		if len(ws) == 0 {
			continue
		}
		st, err := syncwindow.Evaluate(ws, now())
		if err != nil {
			return fmt.Errorf("%s:%d: changeControl.syncWindows: %w", env.File, env.Line("changeControl", "syncWindows"), err)
		}
		p.Windows = append(p.Windows, EnvWindows{Environment: t, File: env.File, State: st})
		if !st.CanSync && p.Override == "" {
			// Name the window that blocks: the first active deny window, else the first allow window.
			idx := -1
			for i, w := range st.Windows {
				if w.Active && w.Kind == "deny" {
					idx = i
					break
				}
			}
			for i, w := range st.Windows {
				if idx < 0 && w.Kind == "allow" {
					idx = i
				}
			}
			refusals = append(refusals, fmt.Sprintf("%s:%d: changeControl.syncWindows[%d]: %s is %s: Argo CD will not sync it; promote after the window, or pass {Override} \"reason\"", env.File, env.Line("changeControl", "syncWindows", fmt.Sprint(idx)), idx, t, st.Reason))
		}
	}
	if len(refusals) > 0 {
		return &RefusedError{Msg: strings.Join(refusals, "\n")}
	}
	return nil
}

// ChangeIDEnv is the environment variable a CI job sets the change id in.
const ChangeIDEnv = "LAKEPORT_CHANGE_ID"

func (p *Plan) set(read func(string) ([]byte, error), comp, file string, key []string, value string) error {
	raw, err := read(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if old, err := yamledit.Get(raw, key); err == nil && old == value {
		return nil
	}
	out, old, err := yamledit.Set(raw, key, value)
	if err != nil {
		var pe *yamledit.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s:%d: %s: %s (the %s pin of %s)", file, pe.Line, pe.Path, pe.Msg, strings.Join(key, "."), comp)
		}
		return fmt.Errorf("%s: %s: %w", file, strings.Join(key, "."), err)
	}
	p.Edits[file] = out
	label := strings.Join(key, ".")
	if key[0] == "components" {
		label = fmt.Sprintf("components[%s].revision", key[1])
	}
	line, _ := yamledit.Line(out, key)
	p.Changes = append(p.Changes, Change{Component: comp, File: file, Key: label, Line: line, From: old, To: value})
	return nil
}

// GateResult is the answer of a Gate.
type GateResult struct {
	OK bool `json:"ok"`
	// Skipped is set when --skip-gate was given or no gate applies (a rollback to the target's own
	// earlier pins).
	Skipped bool     `json:"skipped"`
	Summary string   `json:"summary"`
	Details []string `json:"details,omitempty"`
}

// Gate decides whether a source environment may be promoted from.
type Gate interface {
	// Check says whether env's Applications apps are Synced and Healthy at revision, and have
	// been for at least soak.
	Check(ctx context.Context, env string, apps []string, revision string, soak time.Duration) (GateResult, error)
}

// Message is the commit message of a promotion: what moved, from where, the gate's verdict and
// the rendered change.
func Message(p *Plan, gate GateResult, diffSummary string) string {
	var b strings.Builder
	verb := "promote"
	if p.Rollback {
		verb = "roll back"
	}
	fmt.Fprintf(&b, "%s %s to %s", verb, strings.Join(p.Components, ", "), p.To)
	if p.Stage != "" {
		fmt.Fprintf(&b, " (%s)", strings.Join(p.Targets, ", "))
	}
	if p.From != p.To {
		fmt.Fprintf(&b, " from %s", p.From)
	}
	b.WriteString("\n\n")
	if p.Rollback {
		fmt.Fprintf(&b, "Pins of %s as of %s.\n", p.From, p.PinsAt)
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(&b, "FORCED: skips %s of the promotion order.\n", strings.Join(p.Skipped, ", "))
	} else if p.Forced {
		b.WriteString("Forced against the promotion order.\n")
	}
	b.WriteString("\nPins:\n")
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  %s %s: %s -> %s\n", c.File, c.Key, c.From, c.To)
	}
	b.WriteString("\nGate: ")
	switch {
	case gate.Skipped:
		b.WriteString("SKIPPED. " + gate.Summary + "\n")
	case gate.OK:
		b.WriteString("passed. " + gate.Summary + "\n")
	default:
		b.WriteString("FAILED. " + gate.Summary + "\n")
	}
	if diffSummary != "" {
		b.WriteString("\nRendered change:\n" + diffSummary)
	}
	for _, w := range p.Windows {
		if !w.CanSync {
			fmt.Fprintf(&b, "\nSYNC WINDOW OVERRIDDEN: %s is %s.\n", w.Environment, w.Reason)
		}
	}
	// Git trailers, last: `git log --format=%(trailers:key=Change-Id)` finds them.
	var trailers []string
	if p.ChangeID != "" {
		trailers = append(trailers, "Change-Id: "+p.ChangeID)
	}
	if p.Override != "" {
		trailers = append(trailers, "Sync-Window-Override: "+strings.Join(strings.Fields(p.Override), " "))
	}
	out := strings.TrimRight(b.String(), "\n") + "\n"
	if len(trailers) > 0 {
		out += "\n" + strings.Join(trailers, "\n") + "\n"
	}
	return out
}
