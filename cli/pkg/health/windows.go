package health

import (
	"fmt"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/pkg/syncwindow"
)

// EnvSyncWindows are one environment's sync windows (its env.yaml changeControl.syncWindows, the
// same list its AppProject holds) and their state when the report was made.
type EnvSyncWindows struct {
	Environment string `json:"environment"`
	// File is the env.yaml that declares them.
	File string `json:"file"`
	syncwindow.State
}

// WindowSpec is what AnnotateWindows needs of one environment.
type WindowSpec struct {
	File    string
	Windows argov1.SyncWindows
}

// AnnotateWindows records every environment's sync windows at now in the report, and says why an
// Application of an environment whose windows block automated sync is not Ready: Argo CD's
// controller skips the automated sync (controller/appcontroller.go:
// SyncWindows.Matches(app).CanSync(false, nil)) without any condition on the Application, so an
// OutOfSync Application inside a deny window looks merely stuck unless lakeport says it.
func AnnotateWindows(r *Report, specs map[string]WindowSpec, now time.Time) error {
	states := map[string]syncwindow.State{}
	seen := map[string]bool{}
	for i := range r.Applications {
		env := r.Applications[i].Environment
		if seen[env] {
			continue
		}
		seen[env] = true
		spec, ok := specs[env]
		if !ok || len(spec.Windows) == 0 {
			continue
		}
		st, err := syncwindow.Evaluate(spec.Windows, now)
		if err != nil {
			return fmt.Errorf("%s: changeControl.syncWindows: %w", spec.File, err)
		}
		states[env] = st
		r.SyncWindows = append(r.SyncWindows, EnvSyncWindows{Environment: env, File: spec.File, State: st})
	}
	for i := range r.Applications {
		a := &r.Applications[i]
		st, ok := states[a.Environment]
		if !ok || st.CanSync || a.State == StateReady {
			continue
		}
		why := "automated sync blocked: " + st.Reason + " (" + specs[a.Environment].File + ")"
		if a.Reason == "" {
			a.Reason = why
		} else {
			a.Reason += "; " + why
		}
	}
	return nil
}
