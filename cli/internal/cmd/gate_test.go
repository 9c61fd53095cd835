package cmd

import (
	"strings"
	"testing"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

// TestGateSoak runs the real promotion gate (no fake gate) against a test apiserver holding the
// Applications, with a fixed clock: dev-web finished syncing at hFinished, so --soak 1h refuses
// half an hour later and passes two hours later.
func TestGateSoak(t *testing.T) {
	c := clusterForHealth(t)
	for _, tc := range []struct {
		name     string
		after    time.Duration
		wantCode int
		want     string
	}{
		{"gate-soak-too-early", 30 * time.Minute, CodeNegative, "dev-web: Ready but synced 30m0s ago, less than the soak time of 1h0m0s"},
		{"gate-soak-passed", 2 * time.Hour, CodeOK, "dev-web Synced and Healthy at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			ns := tc.name
			createApps(t, c, f, ns, func(a *argov1.Application, f *testkit.Fixture) bool { atHead(a, f); return true })
			now := hFinished.Add(tc.after)
			fac := &Factory{Now: func() time.Time { return now }}
			env := map[string]string{"KUBECONFIG": c.Kube.KubeconfigPath, "GIT_AUTHOR_NAME": "Release Bot", "GIT_AUTHOR_EMAIL": "release@lakeport.dev"}
			_, errOut, code := runWith(t, fac, f.Dir, "promote web --to prod --soak 1h -n "+ns, env)
			if code != tc.wantCode || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want %d and %q in stderr:\n%s", code, tc.wantCode, tc.want, errOut)
			}
		})
	}
}
