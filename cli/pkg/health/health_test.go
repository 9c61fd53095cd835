package health

import (
	"strings"
	"testing"
	"time"

	gitopshealth "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	synccommon "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/sync/common"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	shaOld = "1111111111111111111111111111111111111111"
	shaNew = "2222222222222222222222222222222222222222"
	shaPin = "3333333333333333333333333333333333333333"
	shaPn2 = "4444444444444444444444444444444444444444"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

// app builds an Application the way the kit's ApplicationSet does: a chart source at chartRev and
// a values source following HEAD. Options then set its status.
func app(name, chartRev string, opts ...func(*argov1.Application)) *argov1.Application {
	env, comp, _ := strings.Cut(name, "-")
	a := &argov1.Application{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "argocd",
			Labels: map[string]string{LabelEnvironment: env, LabelComponent: comp},
		},
		Spec: argov1.ApplicationSpec{
			Project: "lakeport-" + env,
			Sources: argov1.ApplicationSources{
				{RepoURL: "file:///repo.git", Path: "charts/" + comp, TargetRevision: chartRev},
				{RepoURL: "file:///repo.git", TargetRevision: "HEAD", Ref: "values"},
			},
		},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// synced: Argo CD compared revs, synced them (operation finished at +10s) and reconciled at +12s.
func synced(revs ...string) func(*argov1.Application) {
	return func(a *argov1.Application) {
		a.Status.Sync = argov1.SyncStatus{Status: argov1.SyncStatusCodeSynced, Revisions: revs}
		a.Status.Health = argov1.AppHealthStatus{Status: gitopshealth.HealthStatusHealthy}
		a.Status.OperationState = &argov1.OperationState{
			Operation:  argov1.Operation{Sync: &argov1.SyncOperation{Revisions: revs}},
			Phase:      synccommon.OperationSucceeded,
			Message:    "successfully synced (all tasks run)",
			StartedAt:  *at(5 * time.Second),
			FinishedAt: at(10 * time.Second),
			SyncResult: &argov1.SyncOperationResult{Revisions: revs},
		}
		a.Status.ReconciledAt = at(12 * time.Second)
	}
}

func reconciled(d time.Duration) func(*argov1.Application) {
	return func(a *argov1.Application) { a.Status.ReconciledAt = at(d) }
}

func healthIs(h gitopshealth.HealthStatusCode, msg string) func(*argov1.Application) {
	return func(a *argov1.Application) { a.Status.Health = argov1.AppHealthStatus{Status: h, Message: msg} }
}

func syncIs(s argov1.SyncStatusCode) func(*argov1.Application) {
	return func(a *argov1.Application) { a.Status.Sync.Status = s }
}

func phase(p synccommon.OperationPhase, msg string) func(*argov1.Application) {
	return func(a *argov1.Application) {
		a.Status.OperationState.Phase = p
		a.Status.OperationState.Message = msg
		if !p.Completed() {
			a.Status.OperationState.FinishedAt = nil
		}
	}
}

func resource(kind, name string, h gitopshealth.HealthStatusCode, msg string) func(*argov1.Application) {
	return func(a *argov1.Application) {
		group := ""
		if kind == "Deployment" || kind == "StatefulSet" {
			group = "apps"
		}
		a.Status.Resources = append(a.Status.Resources, argov1.ResourceStatus{
			Group: group, Version: "v1", Kind: kind, Namespace: "risk-dev", Name: name,
			Status: argov1.SyncStatusCodeSynced, Health: &argov1.HealthStatus{Status: h, Message: msg},
		})
	}
}

func TestAssess(t *testing.T) {
	want := &Expectation{Revisions: []string{shaNew, shaNew}}
	tests := []struct {
		name      string
		app       *argov1.Application
		exp       *Expectation
		state     State
		reason    string // substring
		stale     bool
		resources int
	}{
		{name: "ready without a revision", app: app("dev-trino", "HEAD", synced(shaOld, shaOld)), state: StateReady},
		{name: "ready at the revision", app: app("dev-trino", "HEAD", synced(shaNew, shaNew)), exp: want, state: StateReady},
		{
			name: "the race: Synced and Healthy at the previous commit is not ready",
			app:  app("dev-trino", "HEAD", synced(shaOld, shaOld)), exp: want,
			state: StateWaiting, reason: "compared 111111111111, waiting for 222222222222", stale: true,
		},
		{
			name: "short SHA asked for matches",
			app:  app("dev-trino", "HEAD", synced(shaNew, shaNew)), exp: &Expectation{Revisions: []string{"2222222", "2222222"}},
			state: StateReady,
		},
		{
			name: "sync running",
			app:  app("dev-trino", "HEAD", synced(shaNew, shaNew), phase(synccommon.OperationRunning, "waiting for healthy state of apps/Deployment/trino")),
			exp:  want, state: StateWaiting, reason: "sync Running: waiting for healthy state",
		},
		{
			name: "operation requested, not started",
			app: app("dev-trino", "HEAD", synced(shaNew, shaNew), func(a *argov1.Application) {
				a.Operation = &argov1.Operation{Sync: &argov1.SyncOperation{}}
			}),
			exp: want, state: StateWaiting, reason: "requested",
		},
		{
			name: "reconciled in the same second the sync finished: stale",
			app:  app("dev-trino", "HEAD", synced(shaNew, shaNew), reconciled(10*time.Second)),
			exp:  want, state: StateWaiting, reason: "not reconciled since the sync finished", stale: true,
		},
		{
			name:  "reconciled before the sync finished: stale even without a revision",
			app:   app("dev-trino", "HEAD", synced(shaOld, shaOld), reconciled(3*time.Second)),
			state: StateWaiting, reason: "not reconciled since", stale: true,
		},
		{
			name: "never reconciled",
			app:  app("dev-trino", "HEAD", synced(shaNew, shaNew), func(a *argov1.Application) { a.Status.ReconciledAt = nil }),
			exp:  want, state: StateWaiting, reason: "not reconciled it yet", stale: true,
		},
		{
			name: "never compared",
			app:  app("dev-trino", "HEAD"),
			exp:  want, state: StateWaiting, reason: "not compared it yet", stale: true,
		},
		{
			name: "pinned chart and values at the revision",
			app:  app("staging-trino", shaPin, synced(shaPin, shaNew)),
			exp:  &Expectation{Revisions: []string{shaPin, shaNew}}, state: StateReady,
		},
		{
			name: "pinned chart, values still at the previous commit",
			app:  app("staging-trino", shaPin, synced(shaPin, shaOld)),
			exp:  &Expectation{Revisions: []string{shaPin, shaNew}}, state: StateWaiting, reason: "compared 333333333333,111111111111", stale: true,
		},
		{
			name:  "a promotion the ApplicationSet has not applied yet",
			app:   app("staging-trino", shaPin, synced(shaPin, shaNew)),
			exp:   &Expectation{Revisions: []string{shaPn2, shaNew}, TargetRevisions: []string{shaPn2, "HEAD"}},
			state: StateWaiting, reason: "has not regenerated it yet",
		},
		{
			name: "Degraded names the resource",
			app: app("dev-trino", "HEAD", synced(shaNew, shaNew), healthIs(gitopshealth.HealthStatusDegraded, ""),
				resource("Deployment", "trino-worker", gitopshealth.HealthStatusDegraded, `Deployment "trino-worker" exceeded its progress deadline`),
				resource("Service", "trino", gitopshealth.HealthStatusHealthy, "")),
			exp: want, state: StateDegraded, reason: `Deployment.apps risk-dev/trino-worker: Deployment "trino-worker" exceeded`, resources: 1,
		},
		{
			name: "Progressing waits",
			app: app("dev-trino", "HEAD", synced(shaNew, shaNew), healthIs(gitopshealth.HealthStatusProgressing, ""),
				resource("Deployment", "trino-worker", gitopshealth.HealthStatusProgressing, "Waiting for rollout to finish: 0 of 1 updated replicas are available...")),
			exp: want, state: StateWaiting, reason: "Progressing (Deployment.apps risk-dev/trino-worker: Waiting for rollout", resources: 1,
		},
		{
			name: "OutOfSync waits",
			app:  app("dev-trino", "HEAD", synced(shaNew, shaNew), syncIs(argov1.SyncStatusCodeOutOfSync)),
			exp:  want, state: StateWaiting, reason: "OutOfSync",
		},
		{
			name: "sync failed at the revision",
			app: app("dev-trino", "HEAD", synced(shaNew, shaNew), syncIs(argov1.SyncStatusCodeOutOfSync),
				phase(synccommon.OperationFailed, "one or more objects failed to apply, reason: namespaces \"risk-dev\" not found")),
			exp: want, state: StateFailed, reason: "sync Failed: one or more objects failed to apply",
		},
		{
			name: "automated sync retrying at the revision",
			app: app("dev-trino", "HEAD", synced(shaNew, shaNew), syncIs(argov1.SyncStatusCodeOutOfSync),
				phase(synccommon.OperationRunning, "Retrying attempt #2 at 12:00:30"), func(a *argov1.Application) { a.Status.OperationState.RetryCount = 2 }),
			exp: want, state: StateFailed, reason: "(retry 2)",
		},
		{
			name: "a comparison error blocks",
			app: app("prod-trino", shaPin, synced(shaPin, shaNew), syncIs(argov1.SyncStatusCodeUnknown), healthIs(gitopshealth.HealthStatusUnknown, ""),
				func(a *argov1.Application) {
					a.Status.Conditions = []argov1.ApplicationCondition{{Type: argov1.ApplicationConditionComparisonError, Message: "cluster not found\nmore"}}
				}),
			state: StateFailed, reason: "ComparisonError: cluster not found …",
		},
		{
			name: "a comparison error before any comparison at the revision: Failed, and stale",
			app: app("staging-trino", shaPin, func(a *argov1.Application) {
				a.Status.Sync.Status = argov1.SyncStatusCodeUnknown
				a.Status.ReconciledAt = at(time.Minute)
				a.Status.Conditions = []argov1.ApplicationCondition{{Type: argov1.ApplicationConditionComparisonError, Message: "cannot reference a different revision of the same repository"}}
			}),
			exp: &Expectation{Revisions: []string{shaPin, shaNew}}, state: StateFailed, reason: "ComparisonError: cannot reference", stale: true,
		},
		{
			name: "single-source Application",
			app: app("dev-web", "HEAD", func(a *argov1.Application) {
				a.Spec.Source, a.Spec.Sources = &a.Spec.Sources[0], nil
				synced()(a)
				a.Status.Sync.Revision = shaNew
			}),
			exp: &Expectation{Revisions: []string{shaNew}}, state: StateReady,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Assess(tc.app, tc.exp)
			if h.State != tc.state || !strings.Contains(h.Reason, tc.reason) {
				t.Errorf("state %s reason %q, want %s with %q", h.State, h.Reason, tc.state, tc.reason)
			}
			if h.Stale != tc.stale {
				t.Errorf("stale = %v, want %v", h.Stale, tc.stale)
			}
			if len(h.Resources) != tc.resources {
				t.Errorf("resources = %+v, want %d", h.Resources, tc.resources)
			}
		})
	}
}

type fakePins map[string]string // name → commit ("" = branch)

func (p fakePins) ResolvePin(t string) (string, bool, bool) {
	c, ok := p[t]
	return c, ok && c == "", ok
}

func TestWantRevisions(t *testing.T) {
	src := func(rev string) argov1.ApplicationSource {
		return argov1.ApplicationSource{RepoURL: "u", Path: "p", TargetRevision: rev}
	}
	tests := []struct {
		name    string
		sources []argov1.ApplicationSource
		pins    PinResolver
		want    []string
	}{
		{name: "HEAD and empty follow the revision", sources: []argov1.ApplicationSource{src("HEAD"), src("")}, want: []string{shaNew, shaNew}},
		{name: "a SHA pin keeps its pin", sources: []argov1.ApplicationSource{src(shaPin), src("HEAD")}, want: []string{shaPin, shaNew}},
		{name: "upper-case SHA", sources: []argov1.ApplicationSource{src(strings.ToUpper("abcdefabcdefabcdefabcdefabcdefabcdefabcd"))}, want: []string{"abcdefabcdefabcdefabcdefabcdefabcdefabcd"}},
		{name: "a branch without a repo follows", sources: []argov1.ApplicationSource{src("main")}, want: []string{shaNew}},
		{name: "a version-like tag without a repo: any", sources: []argov1.ApplicationSource{src("v1.4.2"), src("refs/tags/release")}, want: []string{"", ""}},
		{name: "a tag the repo knows", sources: []argov1.ApplicationSource{src("v1.4.2")}, pins: fakePins{"v1.4.2": shaPin}, want: []string{shaPin}},
		{name: "a branch the repo knows", sources: []argov1.ApplicationSource{src("release-1")}, pins: fakePins{"release-1": ""}, want: []string{shaNew}},
		{
			name:    "helm repository charts: exact versions only",
			sources: []argov1.ApplicationSource{{RepoURL: "https://charts", Chart: "x", TargetRevision: "1.2.3"}, {RepoURL: "https://charts", Chart: "y", TargetRevision: "1.x"}, {RepoURL: "https://charts", Chart: "z", TargetRevision: ">=1.0.0"}},
			want:    []string{"1.2.3", "", ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WantRevisions(tc.sources, shaNew, tc.pins)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlanAssess(t *testing.T) {
	apps := []argov1.Application{
		*app("prod-trino", shaPin, synced(shaPin, shaNew)),
		*app("dev-trino", "HEAD", synced(shaNew, shaNew)),
		*app("dev-minio", "HEAD", synced(shaNew, shaNew)),
	}
	plan := &Plan{
		Revision: shaNew,
		Expected: map[string]*argov1.Application{
			"dev-trino": app("dev-trino", "HEAD"),
			"dev-minio": app("dev-minio", "HEAD"),
			"dev-spark": app("dev-spark", "HEAD"),
		},
		EnvOrder: []string{"dev", "staging", "prod"},
	}
	r := plan.Assess(apps, Selector{Envs: []string{"dev"}})
	var names []string
	for _, a := range r.Applications {
		names = append(names, a.Name+"="+string(a.State))
	}
	if got := strings.Join(names, " "); got != "dev-minio=Ready dev-spark=Missing dev-trino=Ready" {
		t.Errorf("got %s", got)
	}
	if r.Outcome != OutcomeUnhealthy {
		t.Errorf("outcome %s, want Unhealthy (dev-spark missing)", r.Outcome)
	}
	r = plan.Assess(apps, Selector{Apps: []string{"trino"}})
	if len(r.Applications) != 2 || r.Applications[0].Name != "dev-trino" || r.Applications[1].Name != "prod-trino" {
		t.Errorf("order by promotion: %+v", r.Applications)
	}
}

func TestSelectorLabelSelector(t *testing.T) {
	for sel, want := range map[*Selector]string{
		{}:                               "lakeport.dev/environment",
		{Envs: []string{"dev"}}:          "lakeport.dev/environment=dev",
		{Envs: []string{"prod", "dev"}}:  "lakeport.dev/environment in (dev,prod)",
		{Envs: nil, Apps: []string{"x"}}: "lakeport.dev/environment",
	} {
		if got := sel.LabelSelector(); got != want {
			t.Errorf("%+v: got %q, want %q", sel, got, want)
		}
	}
}
