package health

import (
	"strings"
	"testing"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// TestAnnotateWindows: an OutOfSync Application of an environment inside a deny window says why
// (Argo CD itself sets no condition); one outside it, or Ready, is left as it was.
func TestAnnotateWindows(t *testing.T) {
	deny := argov1.SyncWindows{{Kind: "deny", Schedule: "30 1 * * 2-6", Duration: "4h", TimeZone: "Europe/London", Description: "nightly publication", Namespaces: []string{"risk-prod"}}}
	specs := map[string]WindowSpec{"prod": {File: "environments/prod/env.yaml", Windows: deny}}
	for _, tc := range []struct {
		name, now string
		want      string
	}{
		{"inside", "2026-12-08T02:00:00Z", `automated sync blocked: inside deny sync window "nightly publication" (30 1 * * 2-6 for 4h, Europe/London) until 2026-12-08 05:30 UTC (environments/prod/env.yaml)`},
		{"outside", "2026-12-08T12:00:00Z", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Applications: []AppHealth{
				{Name: "prod-trino", Environment: "prod", Sync: "OutOfSync", State: StateWaiting},
				{Name: "prod-spark", Environment: "prod", Sync: "Synced", State: StateReady},
				{Name: "dev-trino", Environment: "dev", Sync: "OutOfSync", State: StateWaiting},
			}}
			now, _ := time.Parse(time.RFC3339, tc.now)
			if err := AnnotateWindows(r, specs, now); err != nil {
				t.Fatal(err)
			}
			if got := r.Applications[0].Reason; got != tc.want {
				t.Errorf("prod-trino reason %q, want %q", got, tc.want)
			}
			if r.Applications[1].Reason != "" || r.Applications[2].Reason != "" {
				t.Errorf("a Ready app or another environment was annotated: %+v", r.Applications)
			}
			if len(r.SyncWindows) != 1 || r.SyncWindows[0].CanSync == (tc.want != "") || !strings.HasPrefix(r.SyncWindows[0].File, "environments/prod") {
				t.Errorf("report windows %+v", r.SyncWindows)
			}
		})
	}
}
