// Package syncwindow says whether Argo CD may sync an Application now, from its AppProject's sync
// windows, the way Argo CD's application controller decides it, at a time the caller gives (so
// promotion, health and their golden tests can be judged at a fixed clock).
//
// The semantics are Argo CD v3.6.1's (pkg/apis/application/v1alpha1/types.go):
//   - SyncWindows.Matches: a window applies to an Application when one of its applications,
//     clusters or namespaces globs matches (OR unless andOperator); a window naming none of them
//     applies to nothing;
//   - InlineSyncWindow active(t): with the schedule parsed by robfig/cron's five-field parser
//     (minute hour dom month dow), and off the time zone's current UTC offset
//     (scheduleOffsetByTimeZone, taken at the current time, not at the window's start), the
//     window is active when Next(t+off-duration) is before t+off;
//   - SyncWindows.CanSync(isManual, nil): an active deny window blocks (unless manual and every
//     active deny window has manualSync); else an active allow window permits; else any inactive
//     allow window blocks (unless manual and all of them have manualSync); else sync is allowed.
//
// The application controller calls project.Spec.SyncWindows.Matches(app).CanSync(false, nil)
// before every automated sync (controller/appcontroller.go, processAppRefreshQueueItem): a
// blocked Application stays OutOfSync with no condition saying why, which is what Explain says.
// Argo CD's exported Active and CanSync read time.Now; State re-does the same steps at the given
// time with Argo CD's own parser and types, and the parity test proves both agree at now.
package syncwindow

import (
	"fmt"
	"strings"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/robfig/cron/v3"
)

// Window is one window's state at a time.
type Window struct {
	Kind        string `json:"kind"`
	Schedule    string `json:"schedule"`
	Duration    string `json:"duration"`
	TimeZone    string `json:"timeZone"`
	Description string `json:"description,omitempty"`
	ManualSync  bool   `json:"manualSync,omitempty"`
	Active      bool   `json:"active"`
	// Since and Until bound the current opening when Active; Next is the next opening otherwise.
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	Next  *time.Time `json:"next,omitempty"`
}

// State is whether syncs are allowed at a time, and why.
type State struct {
	// CanSync is Argo CD's CanSync(false, nil): whether an automated sync may run.
	CanSync bool `json:"canSync"`
	// CanSyncManually is CanSync(true, nil).
	CanSyncManually bool     `json:"canSyncManually"`
	Windows         []Window `json:"windows"`
	// Reason says what blocks syncs ("" when nothing does).
	Reason string `json:"reason,omitempty"`
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// offset is Argo CD's scheduleOffsetByTimeZone, at now.
func offset(w *argov1.InlineSyncWindow, now time.Time) time.Duration {
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	_, off := now.In(loc).Zone()
	return time.Duration(off) * time.Second
}

// window evaluates one window at now.
func window(w *argov1.InlineSyncWindow, now time.Time) (Window, error) {
	now = now.UTC()
	out := Window{Kind: w.Kind, Schedule: w.Schedule, Duration: w.Duration, TimeZone: w.TimeZone, Description: w.Description, ManualSync: w.ManualSync}
	if out.TimeZone == "" {
		out.TimeZone = "UTC"
	}
	sched, err := parser.Parse(w.Schedule)
	if err != nil {
		return out, fmt.Errorf("cannot parse schedule '%s': %w", w.Schedule, err)
	}
	d, err := time.ParseDuration(w.Duration)
	if err != nil {
		return out, fmt.Errorf("cannot parse duration '%s': %w", w.Duration, err)
	}
	off := offset(w, now)
	start := sched.Next(now.Add(off - d))
	if start.Before(now.Add(off)) {
		out.Active = true
		since, until := start.Add(-off), start.Add(-off).Add(d)
		out.Since, out.Until = &since, &until
	} else {
		next := start.Add(-off)
		out.Next = &next
	}
	return out, nil
}

// Evaluate reports the state of windows (already matched to an Application or environment) at now.
func Evaluate(windows argov1.SyncWindows, now time.Time) (State, error) {
	st := State{CanSync: true, CanSyncManually: true}
	var activeDeny, inactiveAllow []Window
	activeAllow := false
	for _, w := range windows {
		ws, err := window(w, now)
		if err != nil {
			return State{}, fmt.Errorf("invalid sync windows: %w", err)
		}
		st.Windows = append(st.Windows, ws)
		switch {
		case ws.Active && w.Kind == "deny":
			activeDeny = append(activeDeny, ws)
		case ws.Active && w.Kind == "allow":
			activeAllow = true
		case !ws.Active && w.Kind == "allow":
			inactiveAllow = append(inactiveAllow, ws)
		}
	}
	allManual := func(ws []Window) bool {
		for _, w := range ws {
			if !w.ManualSync {
				return false
			}
		}
		return len(ws) > 0
	}
	switch {
	case len(activeDeny) > 0:
		st.CanSync, st.CanSyncManually = false, allManual(activeDeny)
		var parts []string
		for _, w := range activeDeny {
			parts = append(parts, describe(w))
		}
		st.Reason = "inside deny sync window " + strings.Join(parts, "; ")
	case activeAllow:
	case len(inactiveAllow) > 0:
		st.CanSync, st.CanSyncManually = false, allManual(inactiveAllow)
		var parts []string
		for _, w := range inactiveAllow {
			parts = append(parts, describe(w))
		}
		st.Reason = "outside every allow sync window: " + strings.Join(parts, "; ")
	}
	return st, nil
}

func describe(w Window) string {
	s := fmt.Sprintf("%q (%s for %s, %s)", w.Description, w.Schedule, w.Duration, w.TimeZone)
	if w.Description == "" {
		s = fmt.Sprintf("%s for %s (%s)", w.Schedule, w.Duration, w.TimeZone)
	}
	switch {
	case w.Until != nil:
		s += " until " + w.Until.UTC().Format("2006-01-02 15:04 MST")
	case w.Next != nil:
		s += " next opens " + w.Next.UTC().Format("2006-01-02 15:04 MST")
	}
	return s
}

// String is the window in words, for tables and messages.
func (w Window) String() string {
	state := "closed"
	if w.Active {
		state = "ACTIVE"
	}
	return fmt.Sprintf("%s %s %s", w.Kind, state, describe(w))
}

// ForApp matches the windows of a project to an Application, as Argo CD does.
func ForApp(p *argov1.AppProject, app *argov1.Application) argov1.SyncWindows {
	if p == nil {
		return nil
	}
	m := p.Spec.SyncWindows.Matches(app)
	if m == nil {
		return nil
	}
	return *m
}
