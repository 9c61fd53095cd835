package diff

import (
	"fmt"
	"strings"
)

// GitHubCommentLimit is the most characters GitHub accepts in an issue or pull request comment.
// The Markdown writer counts bytes, which are never fewer than characters.
const GitHubCommentLimit = 65536

// Marker starts every Markdown part, so that CI can find and update its own comments.
const Marker = "<!-- lakeport-diff"

// SummaryExtra lets another command add to the Markdown summary: `lakeport check` will pass the
// policy findings a pull request introduces (a column per application and a section after the
// table). The diff engine does not compute it.
type SummaryExtra struct {
	// Column is the header of an extra summary-table column, e.g. "New findings".
	Column string
	// Cells are that column's cells by application (AppDiff.Name); missing cells stay empty.
	Cells map[string]string
	// Section is Markdown placed after the summary table.
	Section string
}

// MarkdownOptions tune Markdown.
type MarkdownOptions struct {
	// Limit is the size of one part in bytes (default GitHubCommentLimit).
	Limit int
	// Split allows more than one part; without it the one part is kept under Limit by
	// truncating the longest resource diffs, each with a note.
	Split bool
	// ShowIgnored lists ignored paths.
	ShowIgnored bool
	// Rerun is the command that shows everything locally; truncation notes cite it.
	Rerun string
	// SplitHow says how to get the report in parts when even the summary fills a part (a CLI
	// names its flag); empty: "split the report into parts".
	SplitHow string
	// Extra adds to the summary (nil: nothing).
	Extra *SummaryExtra
}

// mdResource is one resource block before it is sized.
type mdResource struct {
	head   string // the line naming the resource
	diff   string // unified diff, possibly empty
	ignore string // the ignored-paths line, possibly empty
}

type mdApp struct {
	open, cont string // <details> opening, and its "(continued)" form
	res        []mdResource
}

const mdClose = "</details>\n\n"

// footerReserve is kept free in every part for its footer ("part i of n").
const footerReserve = 120

// Markdown renders the report for a pull request comment: a summary table (environment ×
// application × added/changed/removed) then a collapsed section per application. With Split the
// output is as many parts as needed, each at most Limit bytes, and nothing is lost: a resource
// block is never cut unless it alone exceeds a part. Without Split there is one part, with the
// longest diffs truncated (and said so) to fit.
func Markdown(r *Report, o MarkdownOptions) []string {
	if o.Limit <= 0 {
		o.Limit = GitHubCommentLimit
	}
	header := mdHeader(r, &o)
	apps := mdApps(r, &o)
	if o.Split {
		return packParts(header, apps, &o)
	}
	return []string{fitOne(header, apps, &o)}
}

func mdHeader(r *Report, o *MarkdownOptions) string {
	var b strings.Builder
	if r.Mode == Environments {
		fmt.Fprintf(&b, "### lakeport diff: %s\n\n", mdEscape(reportTitle(r)))
	} else {
		fmt.Fprintf(&b, "### lakeport diff: %s → %s\n\n", mdCode(sideName(r.Base)), mdCode(sideName(r.Head)))
	}
	t := r.Totals()
	if !r.Changed() {
		if r.Mode == Live {
			b.WriteString("**No changes**: a sync would leave the cluster as it is.")
		} else {
			b.WriteString("**No changes** in the rendered manifests.")
		}
	} else {
		changed := 0
		for i := range r.Apps {
			if r.Apps[i].Action != Unchanged {
				changed++
			}
		}
		fmt.Fprintf(&b, "**%d %s changed**: %d added, %d changed, %d removed resources.", changed,
			plural(changed, "application", "applications"), t.Added, t.Changed, t.Removed)
	}
	var notes []string
	if t.Ignored > 0 {
		notes = append(notes, fmt.Sprintf("%d %s with ignored changes only", t.Ignored, plural(t.Ignored, "resource", "resources")))
	}
	if n := skipped(r); n > 0 {
		notes = append(notes, fmt.Sprintf("%d %s not rendered (inputs unchanged)", n, plural(n, "application", "applications")))
	}
	if len(notes) > 0 {
		b.WriteString(" " + strings.Join(notes, "; ") + ".")
	}
	b.WriteString(" Secret values are shown as salted hashes.\n\n")

	var rows []*AppDiff
	for i := range r.Apps {
		if r.Apps[i].Action != Unchanged || len(r.Apps[i].ImpactCounts()) > 0 {
			rows = append(rows, &r.Apps[i])
		}
	}
	if len(rows) > 0 {
		extra := o.Extra != nil && o.Extra.Column != ""
		envHead := "Environment"
		if r.Mode == Environments {
			envHead = "Environments"
		}
		impacts := r.ImpactsComputed
		fmt.Fprintf(&b, "| %s | Application | Added | Changed | Removed |", envHead)
		if impacts {
			b.WriteString(" Impact |")
		}
		if extra {
			fmt.Fprintf(&b, " %s |", mdCell(o.Extra.Column))
		}
		b.WriteString("\n| --- | --- | ---: | ---: | ---: |")
		if impacts {
			b.WriteString(" --- |")
		}
		if extra {
			b.WriteString(" --- |")
		}
		b.WriteString("\n")
		// A table row is about 60 bytes: a kit of thousands of applications still fits, but never
		// let the table alone crowd out part one.
		maxRows := max((o.Limit/2)/80, 10)
		for i, a := range rows {
			if i == maxRows {
				fmt.Fprintf(&b, "| … | %d more | | | |", len(rows)-maxRows)
				if impacts {
					b.WriteString(" |")
				}
				if extra {
					b.WriteString(" |")
				}
				b.WriteString("\n")
				break
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |", mdEnv(r, a), mdAppCell(a), a.Counts.Added, a.Counts.Changed, a.Counts.Removed)
			if impacts {
				cell := impactSummary(a.ImpactCounts(), true)
				if cell == "" {
					cell = "none"
				}
				fmt.Fprintf(&b, " %s |", mdCell(cell))
			}
			if extra {
				fmt.Fprintf(&b, " %s |", mdCell(o.Extra.Cells[a.Name]))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(r.FileImpacts) > 0 {
		b.WriteString("**Repository files**:\n\n")
		for _, fi := range r.FileImpacts {
			fmt.Fprintf(&b, "- %s: %s **%s**: %s\n", mdCode(fi.File), fi.Kind.Icon(), fi.Kind.Words(), mdEscape(fi.Reason))
		}
		b.WriteString("\n")
	}
	if o.Extra != nil && o.Extra.Section != "" {
		b.WriteString(strings.TrimRight(o.Extra.Section, "\n") + "\n\n")
	}
	return b.String()
}

func mdEnv(r *Report, a *AppDiff) string {
	if r.Mode != Environments {
		return a.Environment
	}
	from, to := "∅", "∅"
	if a.Base != nil {
		from = a.Base.Environment
	}
	if a.Head != nil {
		to = a.Head.Environment
	}
	return from + " → " + to
}

func mdAppCell(a *AppDiff) string {
	switch a.Action {
	case Added:
		return a.Name + " (new)"
	case Removed:
		return a.Name + " (removed)"
	}
	return a.Name
}

func mdApps(r *Report, o *MarkdownOptions) []mdApp {
	var out []mdApp
	for i := range r.Apps {
		a := &r.Apps[i]
		res := visible(a.Resources, o.ShowIgnored)
		if a.Action == Unchanged && len(res) == 0 {
			continue
		}
		summary := fmt.Sprintf("<b>%s</b> (%s): %s", a.Name, mdEnv(r, a), appCounts(a))
		ma := mdApp{
			open: fmt.Sprintf("<details><summary>%s</summary>\n\n", summary),
			cont: fmt.Sprintf("<details><summary>%s (continued)</summary>\n\n", summary),
		}
		if note := chartNote(a); note != "" {
			ma.open += "_" + mdEscape(note) + "_\n\n"
		}
		for _, rd := range res {
			mr := mdResource{head: fmt.Sprintf("**%s %s**%s", mdMark(rd.Action), mdEscape(rd.Key.String()), mdEscape(resourceNote(&rd)))}
			if rd.Action == Changed && len(rd.Paths) > 0 {
				mr.head += ": " + mdPaths(rd.Paths, 8)
			}
			mr.head += "\n"
			if len(rd.Impacts) > 0 {
				mr.head += "\n"
				for _, im := range rd.Impacts {
					mr.head += fmt.Sprintf("- %s **%s**: %s\n", im.Kind.Icon(), im.Kind.Words(), mdEscape(im.Reason))
				}
				mr.head += "\n"
			}
			mr.diff = rd.Diff
			if o.ShowIgnored && len(rd.Ignored) > 0 {
				mr.ignore = "\nignored: " + mdPaths(rd.Ignored, 1<<30) + "\n"
			}
			ma.res = append(ma.res, mr)
		}
		out = append(out, ma)
	}
	return out
}

func mdMark(a Action) string {
	switch a {
	case Added:
		return "+"
	case Removed:
		return "−"
	case Changed:
		return "~"
	}
	return "="
}

func mdPaths(paths []string, limit int) string {
	var parts []string
	for i, p := range paths {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(paths)-limit))
			break
		}
		parts = append(parts, mdCode(p))
	}
	return strings.Join(parts, ", ")
}

// render writes a resource block, its diff cut to at most capBytes bytes (whole lines) when
// capBytes >= 0, with a note saying what was cut.
func (m mdResource) render(capBytes int, rerun string) string {
	var b strings.Builder
	b.WriteString(m.head)
	if m.diff != "" {
		d, cut := m.diff, 0
		if capBytes >= 0 && len(d) > capBytes {
			d, cut = cutLines(d, capBytes)
		}
		if d != "" {
			fence := mdFence(d)
			b.WriteString(fence + "diff\n" + d)
			if !strings.HasSuffix(d, "\n") {
				b.WriteByte('\n')
			}
			b.WriteString(fence + "\n")
		}
		if cut > 0 {
			how := "run `lakeport diff` locally"
			if rerun != "" {
				how = "run " + mdCode(rerun) + " locally"
			}
			fmt.Fprintf(&b, "_… %d more %s not shown (comment size limit): %s._\n", cut, plural(cut, "line", "lines"), how)
		}
	}
	b.WriteString(m.ignore)
	b.WriteByte('\n')
	return b.String()
}

// cutLines keeps the whole lines of s that fit in n bytes and says how many were dropped.
func cutLines(s string, n int) (string, int) {
	lines := strings.SplitAfter(s, "\n")
	size := 0
	for i, l := range lines {
		if size+len(l) > n {
			dropped := 0
			for _, r := range lines[i:] {
				if r != "" {
					dropped++
				}
			}
			return s[:size], dropped
		}
		size += len(l)
	}
	return s, 0
}

func partMarker(i int) string { return fmt.Sprintf("%s part %d of @@TOTAL@@ -->\n", Marker, i) }

// packParts fills parts in order; a resource block that does not fit in the current part starts
// the next one (its application's section reopens as "continued").
func packParts(header string, apps []mdApp, o *MarkdownOptions) []string {
	var parts []string
	cur := &strings.Builder{}
	cur.WriteString(partMarker(1))
	cur.WriteString(header)
	// open: an application's <details> is open in cur; fresh: cur holds no resource block yet
	// (a block that does not fit in a fresh part is cut, not moved on).
	open, fresh := false, false
	finish := func() {
		parts = append(parts, cur.String())
		cur = &strings.Builder{}
		cur.WriteString(partMarker(len(parts) + 1))
		fmt.Fprintf(cur, "### lakeport diff (continued)\n\n")
		open, fresh = false, true
	}
	for _, a := range apps {
		started := false
		blocks := a.res
		if len(blocks) == 0 {
			blocks = []mdResource{{head: "_No resources._\n"}} // render adds the blank line
		}
		for _, res := range blocks {
			block := res.render(-1, o.Rerun)
			opening := ""
			if !open {
				opening = a.open
				if started {
					opening = a.cont
				}
			}
			if cur.Len()+len(opening)+len(block)+len(mdClose)+footerReserve > o.Limit && !fresh {
				if open {
					cur.WriteString(mdClose)
				}
				finish()
				opening = a.open
				if started {
					opening = a.cont
				}
			}
			if room := o.Limit - cur.Len() - len(opening) - len(mdClose) - footerReserve; len(block) > room {
				block = fitBlock(res, room, o.Rerun)
			}
			cur.WriteString(opening)
			cur.WriteString(block)
			open, started, fresh = true, true, false
		}
		cur.WriteString(mdClose)
		open = false
	}
	parts = append(parts, cur.String())
	n := len(parts)
	for i := range parts {
		parts[i] = strings.Replace(parts[i], "@@TOTAL@@", fmt.Sprint(n), 1)
		if n > 1 {
			parts[i] += fmt.Sprintf("<sub>Part %d of %d.</sub>\n", i+1, n)
		}
	}
	return parts
}

// fitBlock renders a resource block in at most room bytes, cutting its diff.
func fitBlock(res mdResource, room int, rerun string) string {
	lo, hi := 0, len(res.diff)
	best := res.render(0, rerun)
	for lo <= hi {
		mid := (lo + hi) / 2
		s := res.render(mid, rerun)
		if len(s) <= room {
			best, lo = s, mid+1
		} else {
			hi = mid - 1
		}
	}
	return best
}

// fitOne renders everything in one part under the limit: the largest per-resource diff budget
// that fits, found by bisection; when even headings alone do not fit, the sections give way to a
// note.
func fitOne(header string, apps []mdApp, o *MarkdownOptions) string {
	build := func(capBytes int) string {
		var b strings.Builder
		b.WriteString(partMarker(1))
		b.WriteString(header)
		for _, a := range apps {
			b.WriteString(a.open)
			if len(a.res) == 0 {
				b.WriteString("_No resources._\n\n")
			}
			for _, res := range a.res {
				b.WriteString(res.render(capBytes, o.Rerun))
			}
			b.WriteString(mdClose)
		}
		return strings.Replace(b.String(), "@@TOTAL@@", "1", 1)
	}
	if s := build(-1); len(s) <= o.Limit {
		return s
	}
	maxDiff := 0
	for _, a := range apps {
		for _, r := range a.res {
			maxDiff = max(maxDiff, len(r.diff))
		}
	}
	if s := build(0); len(s) <= o.Limit {
		lo, hi, best := 0, maxDiff, s
		for lo <= hi {
			mid := (lo + hi) / 2
			if s := build(mid); len(s) <= o.Limit {
				best, lo = s, mid+1
			} else {
				hi = mid - 1
			}
		}
		return best
	}
	// Too many resources even without diffs: the summary and a note.
	split := o.SplitHow
	if split == "" {
		split = "split the report into parts"
	}
	how := "run `lakeport diff` locally or " + split
	if o.Rerun != "" {
		how = "run " + mdCode(o.Rerun) + " locally or " + split
	}
	s := strings.Replace(partMarker(1), "@@TOTAL@@", "1", 1) + header +
		fmt.Sprintf("_The per-application sections do not fit in one comment: %s._\n", how)
	if len(s) > o.Limit {
		s = s[:o.Limit-64]
		s = s[:strings.LastIndexByte(s, '\n')+1] + "\n_… truncated._\n"
	}
	return s
}

// mdFence returns a code fence longer than any backtick run in s.
func mdFence(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func mdCode(s string) string {
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

var mdEscaper = strings.NewReplacer("<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "|", "\\|")

func mdEscape(s string) string { return mdEscaper.Replace(s) }

func mdCell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
