package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// TestGateSoak runs the real promotion gate (no fake gate) against a test apiserver holding the
// Applications, with a fixed clock: dev-web finished syncing at hFinished, so --soak 1h refuses
// half an hour later and passes two hours later.
func TestGateSoak(t *testing.T) {
	c := clusterForHealth(t)
	ctx := context.Background()
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
			if _, err := kubernetes.NewForConfigOrDie(c.Config).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			w, err := workspace.Open(f.Dir, "")
			if err != nil {
				t.Fatal(err)
			}
			ac := argoclient.NewForConfigOrDie(c.Config)
			for i := range w.Apps {
				a := w.Apps[i].DeepCopy()
				atHead(a, f)
				a.Namespace = ns
				if _, err := ac.ArgoprojV1alpha1().Applications(ns).Create(ctx, a, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
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
