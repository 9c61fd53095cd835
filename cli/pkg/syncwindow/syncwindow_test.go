package syncwindow

import (
	"fmt"
	"testing"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// TestParityWithArgoCD builds windows around the current time (Argo CD's exported Active and
// CanSync read time.Now) and checks that Evaluate at now decides as Argo CD v3.6.1 does, window
// by window and for the whole set, automated and manual.
func TestParityWithArgoCD(t *testing.T) {
	now := time.Now().UTC()
	// Skip the seconds around a minute boundary, where the two clocks may straddle a schedule.
	if now.Second() > 55 {
		time.Sleep(6 * time.Second)
		now = time.Now().UTC()
	}
	cronAt := func(t time.Time) string { return fmt.Sprintf("%d %d * * *", t.Minute(), t.Hour()) }
	ny, _ := time.LoadLocation("America/New_York")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	win := func(kind string, start time.Time, d, tz string, manual bool) *argov1.InlineSyncWindow {
		return &argov1.InlineSyncWindow{Kind: kind, Schedule: cronAt(start), Duration: d, TimeZone: tz, ManualSync: manual, Namespaces: []string{"ns"}}
	}
	for _, tc := range []struct {
		name string
		ws   argov1.SyncWindows
	}{
		{"none", nil},
		{"deny active", argov1.SyncWindows{win("deny", now.Add(-10*time.Minute), "1h", "UTC", false)}},
		{"deny over", argov1.SyncWindows{win("deny", now.Add(-2*time.Hour), "1h", "UTC", false)}},
		{"deny later", argov1.SyncWindows{win("deny", now.Add(30*time.Minute), "1h", "UTC", false)}},
		{"deny active manual", argov1.SyncWindows{win("deny", now.Add(-10*time.Minute), "1h", "UTC", true)}},
		{"deny active in New York", argov1.SyncWindows{win("deny", now.In(ny).Add(-10*time.Minute), "1h", "America/New_York", false)}},
		{"deny UTC schedule read in Tokyo", argov1.SyncWindows{win("deny", now.Add(-10*time.Minute), "1h", "Asia/Tokyo", false)}},
		{"deny in Tokyo", argov1.SyncWindows{win("deny", now.In(tokyo).Add(-5*time.Minute), "30m", "Asia/Tokyo", false)}},
		{"allow active", argov1.SyncWindows{win("allow", now.Add(-10*time.Minute), "1h", "UTC", false)}},
		{"allow inactive", argov1.SyncWindows{win("allow", now.Add(2*time.Hour), "1h", "UTC", false)}},
		{"allow inactive manual", argov1.SyncWindows{win("allow", now.Add(2*time.Hour), "1h", "UTC", true)}},
		{"allow and deny active", argov1.SyncWindows{win("allow", now.Add(-10*time.Minute), "1h", "UTC", false), win("deny", now.Add(-5*time.Minute), "1h", "UTC", false)}},
		{"deny over, allow active", argov1.SyncWindows{win("allow", now.Add(-10*time.Minute), "1h", "UTC", false), win("deny", now.Add(-3*time.Hour), "1h", "UTC", false)}},
		{"two deny, one manual", argov1.SyncWindows{win("deny", now.Add(-10*time.Minute), "1h", "UTC", true), win("deny", now.Add(-5*time.Minute), "1h", "UTC", false)}},
		{"long deny (freeze)", argov1.SyncWindows{{Kind: "deny", Schedule: fmt.Sprintf("0 0 %d %d *", now.AddDate(0, 0, -3).Day(), int(now.AddDate(0, 0, -3).Month())), Duration: "240h", TimeZone: "UTC", Namespaces: []string{"ns"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Evaluate(tc.ws, now)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.ws {
				want, err := w.Active()
				if err != nil {
					t.Fatal(err)
				}
				if st.Windows[i].Active != want {
					t.Errorf("window %d active %v, Argo CD says %v", i, st.Windows[i].Active, want)
				}
			}
			ws := tc.ws
			auto, err := ws.CanSync(false, nil)
			if err != nil {
				t.Fatal(err)
			}
			manual, _ := ws.CanSync(true, nil)
			if st.CanSync != auto || st.CanSyncManually != manual {
				t.Errorf("CanSync %v/%v (auto/manual), Argo CD says %v/%v (reason %q)", st.CanSync, st.CanSyncManually, auto, manual, st.Reason)
			}
			if !st.CanSync && st.Reason == "" {
				t.Error("blocked without a reason")
			}
		})
	}
}

// TestEvaluateAtFixedTime is the window arithmetic at a clock the test sets: a weekday nightly
// publication window in London, in winter (UTC+0) and in summer (UTC+1).
func TestEvaluateAtFixedTime(t *testing.T) {
	w := argov1.SyncWindows{{Kind: "deny", Schedule: "0 22 * * 1-5", Duration: "3h", TimeZone: "Europe/London", Description: "nightly publication", Namespaces: []string{"ns"}}}
	for _, tc := range []struct {
		now      string
		canSync  bool
		boundary string // Until when active, Next otherwise
	}{
		{"2026-12-07T22:30:00Z", false, "2026-12-08T01:00:00Z"}, // Monday, winter: 22:00-01:00 UTC
		{"2026-12-07T21:59:00Z", true, "2026-12-07T22:00:00Z"},
		{"2026-12-08T01:00:00Z", true, "2026-12-08T22:00:00Z"},
		{"2026-12-05T23:00:00Z", true, "2026-12-07T22:00:00Z"},  // Saturday
		{"2026-07-06T21:30:00Z", false, "2026-07-07T00:00:00Z"}, // Monday, summer: 21:00-00:00 UTC
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		st, err := Evaluate(w, now)
		if err != nil {
			t.Fatal(err)
		}
		got := st.Windows[0].Next
		if st.Windows[0].Active {
			got = st.Windows[0].Until
		}
		if st.CanSync != tc.canSync || got == nil || got.UTC().Format(time.RFC3339) != tc.boundary {
			t.Errorf("at %s: canSync %v boundary %v, want %v %s (%s)", tc.now, st.CanSync, got, tc.canSync, tc.boundary, st.Reason)
		}
	}
}
