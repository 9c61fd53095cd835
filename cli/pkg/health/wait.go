package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// Check lists the selection once and judges it.
func Check(ctx context.Context, src Source, sel Selector, plan *Plan) (*Report, []argov1.Application, error) {
	apps, err := src.List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	r := plan.Assess(apps, sel)
	if len(r.Applications) == 0 {
		return nil, nil, &NoApplicationsError{Selector: sel, Source: src.String()}
	}
	return r, apps, nil
}

// NoApplicationsError says that nothing matched: a wrong namespace, environment or cluster.
type NoApplicationsError struct {
	Selector Selector
	Source   string
}

func (e *NoApplicationsError) Error() string {
	return fmt.Sprintf("no Application matches %s in namespace(s) %v of %s", e.Selector.LabelSelector(), e.Selector.namespaces(), e.Source)
}

// WaitOptions tune Wait. Zero values take the defaults noted.
type WaitOptions struct {
	// Timeout bounds the whole wait; 0 waits until ctx ends.
	Timeout time.Duration
	// DegradedGrace is how long an Application may stay Degraded (or its sync Failed) at the
	// expected revision before the wait gives up on it.
	DegradedGrace time.Duration
	// Interval is the time between two listings (default 2s).
	Interval time.Duration
	// RefreshEvery is the least time between two refresh requests for one Application
	// (default 10s).
	RefreshEvery time.Duration
	// Now and Sleep inject time (defaults: the wall clock).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, if set, sees every report while waiting.
	Progress func(r *Report, elapsed time.Duration)
	// Warn, if set, hears about problems that do not stop the wait (a refresh refused, a listing
	// that failed once); each distinct message once.
	Warn func(msg string)
	// NoRefresh disables refresh requests (for tests that must see Argo CD's own pace).
	NoRefresh bool
}

func (o *WaitOptions) defaults() {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
}

// maxListFailures is how many listings in a row may fail before the wait fails: one lost
// request should not end a ten-minute wait, an API that went away should.
const maxListFailures = 3

// Wait polls until every selected Application is Ready (OutcomeHealthy), one has stayed Degraded
// or Failed for longer than the grace period (OutcomeDegraded), or the timeout passes
// (OutcomeTimedOut). Stale statuses get a refresh request. An error means the check itself could
// not run (the first listing failed, or listings kept failing).
func Wait(ctx context.Context, src Source, sel Selector, plan *Plan, o WaitOptions) (*Report, error) {
	o.defaults()
	start := o.Now()
	var deadline time.Time
	parent := ctx
	if o.Timeout > 0 {
		deadline = start.Add(o.Timeout)
		// The same bound on the wall clock, so that a request that hangs cannot outlast it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	timedOut := func() bool {
		return !deadline.IsZero() && (!o.Now().Before(deadline) || (ctx.Err() != nil && parent.Err() == nil))
	}
	w := &waiter{src: src, o: o, lastRefresh: map[string]time.Time{}, badSince: map[string]badMark{}, over: map[string]time.Duration{}, warned: map[string]bool{}}
	defer w.wg.Wait()
	var last *Report
	var lastApps []argov1.Application
	failures := 0
	// finish explains the resources of what is not Ready before the report is returned.
	finish := func(r *Report, outcome Outcome) (*Report, error) {
		r.Outcome = outcome
		if outcome != OutcomeHealthy {
			ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			for _, err := range Explain(ectx, src, r, lastApps) {
				w.warn(err.Error())
			}
			cancel()
		}
		for i := range r.Applications {
			a := &r.Applications[i]
			if d, ok := w.over[a.Namespace+"/"+a.Name]; ok && a.State.Bad() {
				a.Reason = fmt.Sprintf("%s for %s (grace %s)", a.Reason, d.Round(time.Second), w.o.DegradedGrace)
			}
		}
		return r, nil
	}
	for {
		r, apps, err := Check(ctx, src, sel, plan)
		now := o.Now()
		switch {
		case err != nil && last != nil && timedOut():
			return finish(last, OutcomeTimedOut)
		case err != nil && (last == nil || errors.As(err, new(*NoApplicationsError))):
			return nil, err
		case err != nil:
			failures++
			if failures >= maxListFailures {
				return last, fmt.Errorf("%d listings in a row failed: %w", failures, err)
			}
			w.warn(err.Error())
		default:
			failures = 0
			last, lastApps = r, apps
			if o.Progress != nil {
				o.Progress(r, now.Sub(start))
			}
			if r.Outcome == OutcomeHealthy {
				return r, nil
			}
			if w.degraded(r, now) {
				return finish(r, OutcomeDegraded)
			}
			if !deadline.IsZero() && !now.Before(deadline) {
				return finish(r, OutcomeTimedOut)
			}
			w.refresh(ctx, r, apps, now)
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			return finish(last, OutcomeTimedOut)
		}
		sleep := o.Interval
		if !deadline.IsZero() && deadline.Sub(now) < sleep {
			sleep = deadline.Sub(now)
		}
		if err := o.Sleep(ctx, sleep); err != nil {
			if last != nil && timedOut() {
				return finish(last, OutcomeTimedOut)
			}
			return last, err
		}
	}
}

type badMark struct {
	state State
	since time.Time
}

type waiter struct {
	src         Source
	o           WaitOptions
	lastRefresh map[string]time.Time
	badSince    map[string]badMark
	over        map[string]time.Duration // bad past the grace, and for how long
	mu          sync.Mutex
	warned      map[string]bool
	wg          sync.WaitGroup
}

func (w *waiter) warn(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warned[msg] || w.o.Warn == nil {
		return
	}
	w.warned[msg] = true
	w.o.Warn(msg)
}

// degraded tracks how long each Application has been Degraded or Failed and says whether one has
// been so for longer than the grace period; it then notes the duration in the reason.
func (w *waiter) degraded(r *Report, now time.Time) bool {
	over := false
	for i := range r.Applications {
		a := &r.Applications[i]
		key := a.Namespace + "/" + a.Name
		if !a.State.Bad() {
			delete(w.badSince, key)
			continue
		}
		m, ok := w.badSince[key]
		if !ok || m.state != a.State {
			m = badMark{state: a.State, since: now}
			w.badSince[key] = m
		}
		if d := now.Sub(m.since); d >= w.o.DegradedGrace {
			over = true
			w.over[key] = d
		}
	}
	return over
}

// refresh asks Argo CD to look again at every stale Application, at most once per RefreshEvery
// and never while a refresh is still pending; the requests run in the background (the Argo CD
// API server answers a refresh only once the controller has done it).
func (w *waiter) refresh(ctx context.Context, r *Report, apps []argov1.Application, now time.Time) {
	if w.o.NoRefresh {
		return
	}
	byName := map[string]*argov1.Application{}
	for i := range apps {
		byName[apps[i].Namespace+"/"+apps[i].Name] = &apps[i]
	}
	appsets := map[string]bool{}
	for i := range r.Applications {
		h := &r.Applications[i]
		key := h.Namespace + "/" + h.Name
		a := byName[key]
		if a == nil {
			continue
		}
		if h.SpecStale && h.AppSet != "" {
			appsets[a.Namespace+"/"+h.AppSet] = true
			continue
		}
		if !h.Stale || h.RefreshRequested || now.Sub(w.lastRefresh[key]) < w.o.RefreshEvery {
			continue
		}
		w.lastRefresh[key] = now
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := w.src.Refresh(rctx, a); err != nil && ctx.Err() == nil {
				if IsForbidden(err) {
					w.warn(fmt.Sprintf("cannot ask Argo CD to refresh (%v): waiting for its own reconciliation instead", err))
					return
				}
				w.warn(err.Error())
			}
		}()
	}
	ar, ok := w.src.(AppSetRefresher)
	if !ok {
		return
	}
	for key := range appsets {
		if now.Sub(w.lastRefresh["appset:"+key]) < w.o.RefreshEvery {
			continue
		}
		w.lastRefresh["appset:"+key] = now
		ns, name := splitKey(key)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := ar.RefreshAppSet(rctx, ns, name); err != nil && ctx.Err() == nil {
				w.warn(err.Error())
			}
		}()
	}
}

func splitKey(key string) (string, string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
