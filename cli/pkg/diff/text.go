package diff

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Palette colours text output; a nil function (or a nil Palette) leaves text plain.
type Palette struct {
	Add, Del, Hunk, Title, Dim func(string) string
}

func (p *Palette) paint(f func(*Palette) func(string) string, s string) string {
	if p == nil || s == "" {
		return s
	}
	if fn := f(p); fn != nil {
		return fn(s)
	}
	return s
}

// TextOptions tune WriteText.
type TextOptions struct {
	ShowIgnored bool
	Palette     *Palette
}

// WriteText writes the report for a terminal or a log: per application, each added, removed
// and changed resource with its unified diff, then a summary line.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	bw := bufio.NewWriter(w)
	p := o.Palette
	title := func(s string) string { return p.paint(func(p *Palette) func(string) string { return p.Title }, s) }
	dim := func(s string) string { return p.paint(func(p *Palette) func(string) string { return p.Dim }, s) }
	fmt.Fprintf(bw, "%s\n", title("lakeport diff: "+reportTitle(r)))
	shown := 0
	for i := range r.Apps {
		a := &r.Apps[i]
		res := visible(a.Resources, o.ShowIgnored)
		if a.Action == Unchanged && len(res) == 0 {
			continue
		}
		shown++
		fmt.Fprintf(bw, "\n%s %s\n", title(appTitle(r, a)), dim(appCounts(a)))
		if note := chartNote(a); note != "" {
			fmt.Fprintf(bw, "  %s\n", dim(note))
		}
		for _, rd := range res {
			fmt.Fprintf(bw, "%s %s%s\n", actionMark(rd.Action, p), rd.Key, dim(resourceNote(&rd)))
			for _, im := range rd.Impacts {
				fmt.Fprintf(bw, "    %s\n", paintImpact(im.Kind, p, "impact: "+im.Kind.Words()+": "+im.Reason))
			}
			if rd.Diff != "" {
				for _, l := range strings.SplitAfter(trimNL(rd.Diff), "\n") {
					l = strings.TrimSuffix(l, "\n")
					fmt.Fprintf(bw, "    %s\n", paintLine(l, p))
				}
			}
			if o.ShowIgnored && len(rd.Ignored) > 0 {
				fmt.Fprintf(bw, "    %s\n", dim("ignored: "+strings.Join(rd.Ignored, ", ")))
			}
		}
	}
	if len(r.FileImpacts) > 0 {
		fmt.Fprintf(bw, "\n%s\n", title("Repository files"))
		for _, fi := range r.FileImpacts {
			fmt.Fprintf(bw, "  %s\n    %s\n", fi.File, paintImpact(fi.Kind, p, "impact: "+fi.Kind.Words()+": "+fi.Reason))
		}
	}
	if shown == 0 && len(r.FileImpacts) == 0 {
		if r.Mode == Live {
			fmt.Fprintln(bw, "\nNo changes: a sync would leave the cluster as it is.")
		} else {
			fmt.Fprintln(bw, "\nNo changes in the rendered manifests.")
		}
	}
	fmt.Fprintf(bw, "\n%s\n", summaryLine(r))
	return bw.Flush()
}

func visible(res []ResourceDiff, showIgnored bool) []ResourceDiff {
	if showIgnored {
		return res
	}
	out := make([]ResourceDiff, 0, len(res))
	for _, rd := range res {
		if rd.Action != Unchanged || len(rd.Impacts) > 0 {
			out = append(out, rd)
		}
	}
	return out
}

// paintImpact colours an impact line: refusals and data loss as deletions, the rest as hunks.
func paintImpact(k impact.Kind, p *Palette, s string) string {
	switch k {
	case impact.SyncFails, impact.DataAtRisk:
		return p.paint(func(p *Palette) func(string) string { return p.Del }, s)
	case impact.Security:
		return p.paint(func(p *Palette) func(string) string { return p.Hunk }, s)
	}
	return p.paint(func(p *Palette) func(string) string { return p.Dim }, s)
}

// impactSummary is "⛔ sync fails (1), 🔄 restart (2)" (icons optional), in display order.
func impactSummary(counts map[impact.Kind]int, icons bool) string {
	var parts []string
	for _, k := range impact.Kinds {
		n := counts[k]
		if n == 0 {
			continue
		}
		s := fmt.Sprintf("%s (%d)", k.Words(), n)
		if icons {
			s = k.Icon() + " " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// reportTitle is "base → head" (revisions) or "from → to at revision" (environments).
func reportTitle(r *Report) string {
	if r.Mode == Environments {
		at := "the working tree"
		if r.Head.Revision != "worktree" {
			at = source.ShortSHA(r.Head.Revision)
		}
		return fmt.Sprintf("%s → %s at %s", r.Base.Label, r.Head.Label, at)
	}
	return sideName(r.Base) + " → " + sideName(r.Head)
}

func sideName(s SideInfo) string {
	switch {
	case s.Revision == "" || s.Label == s.Revision:
		return s.Label
	case s.Revision == "worktree":
		if s.Label == "" || s.Label == "worktree" || s.Label == "working tree" {
			return "working tree"
		}
		return s.Label + " (working tree)"
	}
	return fmt.Sprintf("%s (%s)", s.Label, source.ShortSHA(s.Revision))
}

func appTitle(r *Report, a *AppDiff) string {
	if r.Mode == Environments {
		from, to := "∅", "∅"
		if a.Base != nil {
			from = a.Base.Environment
		}
		if a.Head != nil {
			to = a.Head.Environment
		}
		return fmt.Sprintf("%s (%s → %s)", a.Name, from, to)
	}
	return fmt.Sprintf("%s (%s)", a.Name, a.Environment)
}

func appCounts(a *AppDiff) string {
	c := a.Counts
	s := fmt.Sprintf("%s: %d added, %d changed, %d removed", appActionWord(a), c.Added, c.Changed, c.Removed)
	if c.Ignored > 0 {
		s += fmt.Sprintf(", %d with ignored changes only", c.Ignored)
	}
	return s
}

func appActionWord(a *AppDiff) string {
	switch a.Action {
	case Added:
		return "new application"
	case Removed:
		return "application removed"
	}
	return string(a.Action)
}

// chartNote says how the chart source moved, when it did.
func chartNote(a *AppDiff) string {
	if a.Base == nil || a.Head == nil {
		return ""
	}
	b, h := a.Base.Chart, a.Head.Chart
	if b.Path == h.Path && b.Revision == h.Revision && b.Version == h.Version {
		return ""
	}
	return fmt.Sprintf("chart %s@%s (%s) → %s@%s (%s)", b.Path, source.ShortSHA(b.Revision), b.Version, h.Path, source.ShortSHA(h.Revision), h.Version)
}

func resourceNote(rd *ResourceDiff) string {
	var parts []string
	switch rd.Action {
	case Added, Removed:
		parts = append(parts, string(rd.Action))
	case Unchanged:
		parts = append(parts, "only ignored changes")
	case Changed:
		if rd.BaseAPIVersion != "" {
			parts = append(parts, fmt.Sprintf("apiVersion %s → %s", rd.BaseAPIVersion, rd.APIVersion))
		}
	}
	if rd.Hook != "" {
		parts = append(parts, "hook "+rd.Hook)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func actionMark(a Action, p *Palette) string {
	switch a {
	case Added:
		return p.paint(func(p *Palette) func(string) string { return p.Add }, "+")
	case Removed:
		return p.paint(func(p *Palette) func(string) string { return p.Del }, "-")
	case Changed:
		return p.paint(func(p *Palette) func(string) string { return p.Hunk }, "~")
	}
	return p.paint(func(p *Palette) func(string) string { return p.Dim }, "=")
}

func paintLine(l string, p *Palette) string {
	switch {
	case strings.HasPrefix(l, "@@"):
		return p.paint(func(p *Palette) func(string) string { return p.Hunk }, l)
	case strings.HasPrefix(l, "+"):
		return p.paint(func(p *Palette) func(string) string { return p.Add }, l)
	case strings.HasPrefix(l, "-"):
		return p.paint(func(p *Palette) func(string) string { return p.Del }, l)
	}
	return l
}

// summaryLine is the one-line verdict shared by the text and Markdown writers.
func summaryLine(r *Report) string {
	t := r.Totals()
	changed := 0
	for i := range r.Apps {
		if r.Apps[i].Action != Unchanged {
			changed++
		}
	}
	s := fmt.Sprintf("%d of %d applications changed: %d added, %d changed, %d removed resources",
		changed, len(r.Apps)+skipped(r), t.Added, t.Changed, t.Removed)
	var notes []string
	if t.Ignored > 0 {
		notes = append(notes, fmt.Sprintf("%d with ignored changes only", t.Ignored))
	}
	if n := skipped(r); n > 0 {
		notes = append(notes, fmt.Sprintf("%d not rendered: inputs unchanged", n))
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, "; ") + ")"
	}
	if im := impactSummary(r.ImpactCounts(), false); im != "" {
		s += ". Impacts: " + im
	}
	return s + "."
}

// skipped counts the applications the scope left out because nothing they render from changed.
func skipped(r *Report) int {
	if r.Scope == nil {
		return 0
	}
	n := 0
	for _, a := range r.Scope.Apps {
		if !a.Rendered {
			n++
		}
	}
	return n
}
