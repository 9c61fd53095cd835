// Package view prints the reports of the action layer for people: the tables, live progress and
// summaries that `lakeport` shows on a terminal or in a CI log. The commands in cli/internal/cmd
// bind flags, call an action and hand its report here (or to the output package's JSON/YAML
// writers); nothing here runs a verb.
package view

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/health"
)

// HealthTable prints one row per Application, then, per Application that is not Ready, the
// resources that are not Healthy, then the deep checks.
func HealthTable(w io.Writer, tty bool, st *output.Styles, r *health.Report) error {
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
	if len(r.SyncWindows) > 0 {
		fmt.Fprintln(w, "\nSync windows:")
		for _, ew := range r.SyncWindows {
			verdict := "automated sync allowed now"
			if !ew.CanSync {
				verdict = "automated sync BLOCKED now: " + ew.Reason
			}
			fmt.Fprintf(w, "  %s (%s): %s\n", ew.Environment, ew.File, verdict)
			for _, sw := range ew.Windows {
				fmt.Fprintf(w, "    %s\n", sw)
			}
		}
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

// NotReady names the Applications that are not Ready (bad: only Degraded or Failed ones, with
// their worst resource).
func NotReady(r *health.Report, bad bool) []string {
	var out []string
	for i := range r.Applications {
		a := &r.Applications[i]
		if a.State == health.StateReady && !a.DeepFailed() {
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

// HealthProgress shows a wait on stderr: on a terminal a live table redrawn in place, otherwise one line
// per Application whenever its state or reason changes (a log a CI job can read afterwards).
type HealthProgress struct {
	w   io.Writer
	tty bool
	st  *output.Styles

	mu    sync.Mutex
	lines int               // lines of the live table drawn last (terminal)
	last  map[string]string // what was last said per Application (log)
}

// NewHealthProgress returns the progress display of a wait on w.
func NewHealthProgress(w io.Writer, tty bool, st *output.Styles) *HealthProgress {
	return &HealthProgress{w: w, tty: tty, st: st, last: map[string]string{}}
}

// Update shows the report of one poll.
func (p *HealthProgress) Update(r *health.Report, elapsed time.Duration) {
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
func (p *HealthProgress) clear() {
	if p.tty && p.lines > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.lines)
		p.lines = 0
	}
}

// Warn prints a warning between two polls.
func (p *HealthProgress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "warning: %s\n", msg)
}

// Done removes the live table: the final one goes to stdout.
func (p *HealthProgress) Done() {
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
