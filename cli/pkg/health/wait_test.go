package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	gitopshealth "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// scripted is a Source whose listings follow a script: poll i returns script[min(i, len-1)].
type scripted struct {
	mu        sync.Mutex
	script    []func() ([]argov1.Application, error)
	polls     int
	refreshed []string
	refuse    error
}

func (s *scripted) List(context.Context, Selector) ([]argov1.Application, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.polls, len(s.script)-1)
	s.polls++
	return s.script[i]()
}

func (s *scripted) Refresh(_ context.Context, a *argov1.Application) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshed = append(s.refreshed, a.Name)
	return s.refuse
}

func (s *scripted) String() string { return "a script" }

func apps(as ...*argov1.Application) func() ([]argov1.Application, error) {
	return func() ([]argov1.Application, error) {
		out := make([]argov1.Application, len(as))
		for i, a := range as {
			out[i] = *a.DeepCopy()
		}
		return out, nil
	}
}

func fails(err error) func() ([]argov1.Application, error) {
	return func() ([]argov1.Application, error) { return nil, err }
}

// fakeClock advances only when the wait sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func TestWait(t *testing.T) {
	old := app("dev-trino", "HEAD", synced(shaOld, shaOld))
	syncing := app("dev-trino", "HEAD", synced(shaNew, shaNew), phase("Running", "syncing"))
	ready := app("dev-trino", "HEAD", synced(shaNew, shaNew))
	degraded := app("dev-trino", "HEAD", synced(shaNew, shaNew), healthIs(gitopshealth.HealthStatusDegraded, ""),
		resource("Deployment", "trino-worker", gitopshealth.HealthStatusDegraded, "exceeded its progress deadline"))
	boom := errors.New("connection refused")

	tests := []struct {
		name      string
		script    []func() ([]argov1.Application, error)
		revision  string
		grace     time.Duration
		outcome   Outcome
		err       string
		polls     int
		refreshes int
		reason    string
	}{
		{
			name:   "waits past the previous commit, then through the sync",
			script: []func() ([]argov1.Application, error){apps(old), apps(old), apps(syncing), apps(ready)}, revision: shaNew,
			outcome: OutcomeHealthy, polls: 4, refreshes: 1,
		},
		{
			name:    "without a revision the previous commit is enough (the race a plain wait loses)",
			script:  []func() ([]argov1.Application, error){apps(old), apps(ready)},
			outcome: OutcomeHealthy, polls: 1,
		},
		{
			name:   "Degraded past the grace",
			script: []func() ([]argov1.Application, error){apps(old), apps(degraded)}, revision: shaNew, grace: 10 * time.Second,
			outcome: OutcomeDegraded, polls: 7, refreshes: 1, reason: "for 10s (grace 10s)",
		},
		{
			name:   "Degraded that recovers within the grace",
			script: []func() ([]argov1.Application, error){apps(degraded), apps(degraded), apps(ready)}, revision: shaNew, grace: 10 * time.Second,
			outcome: OutcomeHealthy, polls: 3,
		},
		{
			name:   "timeout",
			script: []func() ([]argov1.Application, error){apps(old)}, revision: shaNew,
			outcome: OutcomeTimedOut, polls: 31, refreshes: 6,
		},
		{
			name:   "an API that is not there from the start is an error",
			script: []func() ([]argov1.Application, error){fails(boom)},
			err:    "connection refused", polls: 1,
		},
		{
			name:   "one failed listing is tolerated",
			script: []func() ([]argov1.Application, error){apps(old), fails(boom), apps(ready)}, revision: shaNew,
			outcome: OutcomeHealthy, polls: 3, refreshes: 1,
		},
		{
			name:   "an API that goes away is an error",
			script: []func() ([]argov1.Application, error){apps(old), fails(boom)}, revision: shaNew,
			err: "3 listings in a row failed", polls: 4, refreshes: 1,
		},
		{
			name:   "nothing selected is an error",
			script: []func() ([]argov1.Application, error){apps()},
			err:    "no Application matches", polls: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &scripted{script: tc.script}
			clock := &fakeClock{now: t0}
			var plan *Plan
			if tc.revision != "" {
				plan = &Plan{Revision: tc.revision}
			}
			r, err := Wait(context.Background(), src, Selector{}, plan, WaitOptions{
				Timeout: time.Minute, DegradedGrace: tc.grace, Interval: 2 * time.Second, RefreshEvery: 10 * time.Second,
				Now: clock.Now, Sleep: clock.Sleep,
			})
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case r.Outcome != tc.outcome:
				t.Errorf("outcome %s, want %s (%+v)", r.Outcome, tc.outcome, r.Applications)
			}
			if src.polls != tc.polls {
				t.Errorf("polls = %d, want %d", src.polls, tc.polls)
			}
			if len(src.refreshed) != tc.refreshes {
				t.Errorf("refreshes = %v, want %d", src.refreshed, tc.refreshes)
			}
			if tc.reason != "" && (r == nil || !strings.Contains(r.Applications[0].Reason, tc.reason)) {
				t.Errorf("reason %q, want %q", r.Applications[0].Reason, tc.reason)
			}
		})
	}
}

func TestWaitRefusedRefreshWarnsOnce(t *testing.T) {
	old := app("dev-trino", "HEAD", synced(shaOld, shaOld))
	src := &scripted{script: []func() ([]argov1.Application, error){apps(old)}, refuse: errPermissionDenied}
	clock := &fakeClock{now: t0}
	var warnings []string
	var mu sync.Mutex
	r, err := Wait(context.Background(), src, Selector{}, &Plan{Revision: shaNew}, WaitOptions{
		Timeout: 30 * time.Second, Interval: time.Second, RefreshEvery: 5 * time.Second,
		Now: clock.Now, Sleep: clock.Sleep,
		Warn: func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() },
	})
	if err != nil || r.Outcome != OutcomeTimedOut {
		t.Fatalf("got %v, %v", r, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "cannot ask Argo CD to refresh") {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestWaitSkipsRefreshWhilePending(t *testing.T) {
	old := app("dev-trino", "HEAD", synced(shaOld, shaOld), func(a *argov1.Application) {
		a.Annotations = map[string]string{argov1.AnnotationKeyRefresh: "normal"}
	})
	src := &scripted{script: []func() ([]argov1.Application, error){apps(old)}}
	clock := &fakeClock{now: t0}
	if _, err := Wait(context.Background(), src, Selector{}, &Plan{Revision: shaNew}, WaitOptions{
		Timeout: 30 * time.Second, Now: clock.Now, Sleep: clock.Sleep,
	}); err != nil {
		t.Fatal(err)
	}
	if len(src.refreshed) != 0 {
		t.Errorf("refreshed %v while a refresh was pending", src.refreshed)
	}
}
