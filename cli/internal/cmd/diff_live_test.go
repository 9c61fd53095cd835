package cmd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/diff/live"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestDiffLive runs `lakeport diff --live` against a real kube-apiserver holding the fixture's dev
// environment as Argo CD would have synced it some time ago: web applied client-side (kubectl's
// last-applied annotation, Argo CD's default) with a label the chart no longer sets, db applied
// server-side as Argo CD's field manager. Since then someone scaled the Deployment, deleted the
// Service and left a ConfigMap the Application tracks but no longer renders. The diff shows
// exactly those, and nothing for the objects nobody touched: the server's defaults are on both
// sides.
func TestDiffLive(t *testing.T) {
	c := clusterForHealth(t)
	kubectl := testenv.Tool(t, "kubectl")
	f := testkit.NewFixture(t)
	const ns = "live-diff"
	f.Replace("environments/dev/env.yaml", "namespace: team-dev", "namespace: "+ns)
	f.Replace("environments/argocd/projects.yaml", "team-dev", ns)
	// db's ServiceMonitor moves to a group this cluster does not serve (it has the Prometheus
	// Operator's CRDs), as a chart written for an operator nobody installed would render it.
	for range 2 {
		f.Replace("charts/db/templates/servicemonitor.yaml", "monitoring.coreos.com/v1", "monitoring.example.com/v1")
	}
	f.Replace("environments/dev/env.yaml", "monitoring.coreos.com/v1", "monitoring.example.com/v1")
	env := map[string]string{"KUBECONFIG": c.Kube.KubeconfigPath}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), kubectl, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kube.KubeconfigPath)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("create", "namespace", ns)

	w, err := workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := w.Select([]string{"dev"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := w.Render(context.Background(), apps)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// write returns a release's objects as Argo CD applies them (its tracking annotation added),
	// hooks left out (they run at sync) and the ServiceMonitor (no such CRD in this cluster).
	write := func(r *render.Release, legacyLabel bool) string {
		var docs []string
		for _, o := range r.Objects {
			if o.Hook != "" || o.Kind == "ServiceMonitor" {
				continue
			}
			obj := deepCopyJSON(t, o.Content)
			md := obj["metadata"].(map[string]any)
			ann, _ := md["annotations"].(map[string]any)
			if ann == nil {
				ann = map[string]any{}
				md["annotations"] = ann
			}
			objNS := ns
			if o.Kind == "CustomResourceDefinition" {
				objNS = ""
			}
			ann[live.TrackingAnnotation] = r.App + ":" + o.Group() + "/" + o.Kind + ":" + objNS + "/" + o.Name
			if o.Kind == "Deployment" && legacyLabel {
				md["labels"].(map[string]any)["tier"] = "legacy" // a label the chart has since dropped
			}
			b, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(b))
		}
		p := filepath.Join(dir, r.App+".yaml")
		if err := os.WriteFile(p, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, r := range rels {
		if r.Component == "web" {
			run("apply", "-n", ns, "-f", write(r, true))
		} else {
			run("apply", "-n", ns, "--server-side", "--field-manager", live.FieldManager, "-f", write(r, false))
		}
	}
	run("-n", ns, "scale", "deployment", "web", "--replicas", "3")
	run("-n", ns, "delete", "service", "web")
	run("-n", ns, "create", "configmap", "web-old", "--from-literal", "k=v")
	run("-n", ns, "annotate", "configmap", "web-old", live.TrackingAnnotation+"=dev-web:/ConfigMap:"+ns+"/web-old")
	// A leftover Secret applied client-side: its last-applied annotation holds the value in clear.
	const planted = "s3cr3t-live-value"
	secret := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-creds\n  annotations:\n    "+
		live.TrackingAnnotation+": dev-web:/Secret:"+ns+"/web-creds\nstringData:\n  password: "+planted+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("apply", "-n", ns, "-f", secret)
	// The migrate hook Job's ConfigMap as a sync leaves it (a hook with its tracking annotation):
	// hooks are never pruned, so it is no leftover.
	hook := filepath.Join(dir, "hook.yaml")
	if err := os.WriteFile(hook, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-hook-data\n  annotations:\n    helm.sh/hook: pre-install\n    "+
		live.TrackingAnnotation+": dev-web:/ConfigMap:"+ns+"/web-hook-data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("apply", "-n", ns, "-f", hook)

	out, errOut, code := runWith(t, &Factory{}, f.Dir, "diff --live --env dev -o json", env)
	if code != CodeNegative {
		t.Fatalf("exit %d, want %d\nstderr:\n%s\nstdout:\n%s", code, CodeNegative, errOut, out)
	}
	var doc diff.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Mode != diff.Live || !strings.HasPrefix(doc.Base.Label, "live https://127.0.0.1:") {
		t.Errorf("mode %q, base %+v", doc.Mode, doc.Base)
	}
	got := map[string]string{}
	paths := map[string][]string{}
	for _, a := range doc.Apps {
		for _, r := range a.Resources {
			k := a.Name + " " + r.Kind + "/" + r.Name
			got[k] = string(r.Action)
			paths[k] = r.Paths
		}
	}
	for _, format := range []string{"text", "yaml", "markdown"} {
		o, e, _ := runWith(t, &Factory{}, f.Dir, "diff --live --env dev -o "+format, env)
		for _, leak := range []string{planted, base64.StdEncoding.EncodeToString([]byte(planted))} {
			if strings.Contains(o+e, leak) {
				t.Errorf("-o %s prints the Secret's value", format)
			}
		}
	}
	if strings.Contains(out, planted) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(planted))) {
		t.Error("-o json prints the Secret's value")
	}
	want := map[string]string{
		"dev-web Secret/web-creds":  "removed",
		"dev-web Deployment/web":    "changed",
		"dev-web Service/web":       "added",
		"dev-web ConfigMap/web-old": "removed",
		"dev-db ServiceMonitor/db":  "added",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if want[k] == "" && v != string(diff.Unchanged) {
			t.Errorf("%s: %s (paths %v), want no difference", k, v, paths[k])
		}
	}
	if p := paths["dev-web Deployment/web"]; !slices.Contains(p, "spec.replicas") || !slices.Contains(p, "metadata.labels.tier") || len(p) != 2 {
		t.Errorf("Deployment paths %v, want spec.replicas (scaled) and metadata.labels.tier (dropped by the chart)", p)
	}
	if !strings.Contains(errOut, "does not serve monitoring.example.com/v1") || !strings.Contains(errOut, "1 hook(s) not compared") {
		t.Errorf("stderr does not note the missing CRD and the hook:\n%s", errOut)
	}

	// Synced again as Argo CD would (client-side apply, prune): no difference, exit 0.
	for _, r := range rels {
		if r.Component == "web" {
			run("apply", "-n", ns, "-f", write(r, false))
		}
	}
	run("-n", ns, "delete", "configmap", "web-old")
	run("-n", ns, "delete", "secret", "web-creds")
	out, errOut, code = runWith(t, &Factory{}, f.Dir, "diff --live --env dev --app web", env)
	if code != CodeOK || !strings.Contains(out, "No changes") {
		t.Errorf("after the sync: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	for _, tc := range []struct{ args, want string }{
		{"diff --live", "choose the environments that run there with --env"},
		{"diff --live --env dev --base HEAD", "--base, --from-env, --to-env and --revision do not apply"},
		{"diff --base HEAD --context x", "--kubeconfig and --context go with --live"},
	} {
		_, errOut, code := runWith(t, &Factory{}, f.Dir, tc.args, env)
		if code != CodeError || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want exit 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	_, errOut, code = runWith(t, &Factory{}, f.Dir, "diff --live --env dev", map[string]string{"KUBECONFIG": filepath.Join(dir, "missing")})
	if code != CodeError {
		t.Errorf("no cluster: exit %d, stderr %q, want 2", code, errOut)
	}
}

func deepCopyJSON(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
