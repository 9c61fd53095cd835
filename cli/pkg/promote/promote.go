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
	From       string   `json:"from"`
	To         string   `json:"to"`
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
	to := k.Environment(o.To)
	if o.To == "" {
		return nil, &UsageError{"{To} is required"}
	}
	if to == nil {
		return nil, &UsageError{fmt.Sprintf("unknown environment %q (environments: %s)", o.To, strings.Join(k.EnvironmentNames(), ", "))}
	}
	head, err := w.Repo.Resolve("HEAD")
	if err != nil {
		return nil, fmt.Errorf("resolve HEAD: %w", err)
	}
	p := &Plan{To: o.To, From: o.From, Head: head.String(), Rollback: o.Pin != "", Forced: o.Force}

	// The source kit: the working tree, or the kit as it was at --pin.
	src := w
	if o.Pin != "" {
		rev, err := w.Repo.Resolve(o.Pin)
		if err != nil {
			return nil, fmt.Errorf("pins at %s: %w", o.Pin, err)
		}
		p.PinsAt = rev.String()
		if src, err = workspace.OpenRepo(w.Repo, p.PinsAt); err != nil {
			return nil, fmt.Errorf("read the kit at %s: %w", o.Pin, err)
		}
		if p.From == "" {
			p.From = o.To
		}
	}
	if p.From == "" {
		i := slices.Index(k.Promotion, o.To)
		if i == 0 {
			return nil, &UsageError{fmt.Sprintf("%s is the first stage of the promotion order (%s): nothing comes before it; pass {From} or {Pin}", o.To, strings.Join(k.Promotion, " → "))}
		}
		p.From = k.Promotion[i-1]
	}
	from := src.Kit.Environment(p.From)
	if from == nil {
		return nil, &UsageError{fmt.Sprintf("unknown environment %q (environments: %s)", p.From, strings.Join(k.EnvironmentNames(), ", "))}
	}
	if p.From == p.To && o.Pin == "" {
		return nil, &UsageError{"{From} and {To} are the same environment; to roll back, pass {Pin} <revision>"}
	}
	fi, ti := slices.Index(k.Promotion, p.From), slices.Index(k.Promotion, p.To)
	if p.From != p.To {
		if ti < fi {
			if !o.Force {
				return nil, &UsageError{fmt.Sprintf("%s comes after %s in the promotion order (%s): promoting backwards needs {Force}", p.From, p.To, strings.Join(k.Promotion, " → "))}
			}
		} else if ti-fi > 1 {
			p.Skipped = slices.Clone(k.Promotion[fi+1 : ti])
			if !o.Force {
				return nil, &UsageError{fmt.Sprintf("promoting %s → %s skips %s (promotion order %s): promote through each stage, or pass {Force}", p.From, p.To, strings.Join(p.Skipped, ", "), strings.Join(k.Promotion, " → "))}
			}
		}
	}

	p.Components = o.Components
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
		// Image pins.
		for _, key := range k.ImagePins[c] {
			srcFile := from.ValuesFile(c)
			raw, err := src.Head.ReadFile(srcFile)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", srcFile, err)
			}
			val, err := yamledit.Get(raw, yamledit.ParsePath(key))
			if err != nil {
				return nil, fmt.Errorf("%s: image pin %s: %w", srcFile, key, err)
			}
			if err := p.set(read, c, to.ValuesFile(c), yamledit.ParsePath(key), val); err != nil {
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
	return strings.TrimRight(b.String(), "\n") + "\n"
}
