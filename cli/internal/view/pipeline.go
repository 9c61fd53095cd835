package view

import (
	"fmt"
	"io"
	"time"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/pipeline"
)

// PipelineTable prints one row per environment's last pipeline run, then the failed steps of
// the runs that failed.
func PipelineTable(w io.Writer, tty bool, st *output.Styles, runs []pipeline.Run) error {
	t := output.NewTable(tty, st, "ENV", "NAMESPACE", "WORKFLOW", "OUTCOME", "COB_DATE", "SCHEDULED", "DURATION", "STEPS", "RETRIES", "MESSAGE")
	for i := range runs {
		r := &runs[i]
		sched, dur := "-", "-"
		if r.Scheduled != nil {
			sched = r.Scheduled.UTC().Format(time.RFC3339)
		}
		if d := r.Duration(); d > 0 {
			dur = d.Round(time.Second).String()
		}
		msg := r.Message
		if r.Outcome == pipeline.OutcomeSkipped {
			msg = "not a business day: " + r.Reason
		}
		if r.Outcome == pipeline.OutcomeNone {
			msg = "no run of the pipeline in this namespace"
		}
		t.Row(r.Env, r.Namespace, dash(r.Workflow), r.Outcome, dash(r.CobDate), sched, dur, fmt.Sprint(r.Steps), fmt.Sprint(r.Retries), msg)
	}
	if err := t.Render(w); err != nil {
		return err
	}
	for i := range runs {
		r := &runs[i]
		if len(r.Failed) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s %s: failed steps\n", r.Env, r.Workflow)
		ft := output.NewTable(tty, st, "STEP", "PHASE", "EXIT", "MESSAGE")
		for _, f := range r.Failed {
			ft.Row(f.Step, f.Phase, dash(f.ExitCode), f.Message)
		}
		if err := ft.Render(w); err != nil {
			return err
		}
	}
	return nil
}
