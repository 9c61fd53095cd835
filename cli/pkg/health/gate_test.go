package health

import (
	"strings"
	"testing"
	"time"
)

func TestJudgeSoak(t *testing.T) {
	finished := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ready := func(name string, at *time.Time) AppHealth {
		return AppHealth{Name: name, State: StateReady, Operation: &Operation{FinishedAt: at}}
	}
	for _, tc := range []struct {
		name   string
		apps   []AppHealth
		soak   time.Duration
		now    time.Time
		ok     bool
		detail string
	}{
		{"ready, no soak", []AppHealth{ready("dev-web", &finished)}, 0, finished, true, ""},
		{"soaked long enough", []AppHealth{ready("dev-web", &finished)}, time.Hour, finished.Add(2 * time.Hour), true, ""},
		{"not soaked yet", []AppHealth{ready("dev-web", &finished)}, time.Hour, finished.Add(30 * time.Minute), false, "dev-web: Ready but synced 30m0s ago, less than the soak time of 1h0m0s"},
		{"never synced by an operation", []AppHealth{{Name: "dev-web", State: StateReady}}, time.Hour, finished, false, "never synced by an operation"},
		{"not ready", []AppHealth{{Name: "dev-web", State: StateDegraded, Sync: "Synced", Health: "Degraded", Reason: "deadline",
			Resources: []Resource{{Kind: "Deployment", Name: "web", Health: "Degraded", Message: "exceeded"}}}}, 0, finished, false, "dev-web: Degraded (Synced/Degraded) deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(&Report{Applications: tc.apps}, tc.soak, tc.now)
			if v.OK != tc.ok {
				t.Errorf("OK = %v, want %v (%v)", v.OK, tc.ok, v.Details)
			}
			if tc.detail != "" && !strings.Contains(strings.Join(v.Details, "\n"), tc.detail) {
				t.Errorf("details %q lack %q", v.Details, tc.detail)
			}
			if tc.ok && len(v.Ready) != len(tc.apps) {
				t.Errorf("ready %v", v.Ready)
			}
		})
	}
}
