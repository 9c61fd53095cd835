package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lakeport/lakeport/cli/pkg/source"
)

// GateOptions say what a promotion gate asks of the source environment.
type GateOptions struct {
	// Env is the source environment (for messages).
	Env string
	// Soak is how long ago, at least, the last sync of every Application must have finished.
	Soak time.Duration
	// Now is the clock the soak is measured against (nil = time.Now).
	Now func() time.Time
}

// GateVerdict is a promotion gate's answer.
type GateVerdict struct {
	OK bool
	// Summary is one line for people; Details name each Application that is not ready.
	Summary string
	Details []string
	// Ready are the Applications that passed.
	Ready []string
}

// Gate judges whether the source environment of a promotion may be promoted from: every
// Application the selector and plan pick must be Ready (Synced and Healthy at plan.Revision,
// reconciled after its last sync), and that sync must have finished at least o.Soak ago.
func Gate(ctx context.Context, src Source, sel Selector, plan *Plan, o GateOptions) (GateVerdict, error) {
	r, _, err := Check(ctx, src, sel, plan)
	if err != nil {
		return GateVerdict{}, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	v := Judge(r, o.Soak, now())
	at := source.ShortSHA(plan.Revision)
	if v.OK {
		v.Summary = fmt.Sprintf("%s Synced and Healthy at %s (%s)", strings.Join(v.Ready, ", "), at, src)
		if o.Soak > 0 {
			v.Summary += fmt.Sprintf(", for at least %s", o.Soak)
		}
	} else {
		v.Summary = fmt.Sprintf("%s is not Synced and Healthy at %s for promotion (%d of %d ready)", o.Env, at, len(v.Ready), len(r.Applications))
	}
	return v, nil
}

// Judge applies the gate's rule to a health report at time now: OK when every Application is
// Ready and its last operation finished at least soak before now. Summary is left empty.
func Judge(r *Report, soak time.Duration, now time.Time) GateVerdict {
	v := GateVerdict{OK: true}
	for _, a := range r.Applications {
		switch {
		case a.State != StateReady:
			v.OK = false
			v.Details = append(v.Details, fmt.Sprintf("%s: %s (%s/%s) %s", a.Name, a.State, a.Sync, a.Health, a.Reason))
			for _, rs := range a.Resources {
				v.Details = append(v.Details, fmt.Sprintf("  %s: %s %s", rs.Ref(), rs.Health, rs.Message))
			}
		case soak > 0 && (a.Operation == nil || a.Operation.FinishedAt == nil || now.Sub(*a.Operation.FinishedAt) < soak):
			v.OK = false
			since := "never synced by an operation"
			if a.Operation != nil && a.Operation.FinishedAt != nil {
				since = fmt.Sprintf("synced %s ago", now.Sub(*a.Operation.FinishedAt).Round(time.Second))
			}
			v.Details = append(v.Details, fmt.Sprintf("%s: Ready but %s, less than the soak time of %s", a.Name, since, soak))
		default:
			v.Ready = append(v.Ready, a.Name)
		}
	}
	return v
}
