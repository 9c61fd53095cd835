package charts_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// workload is a pod template found in a rendered object.
type workload struct {
	obj      chartrender.Object
	replicas int64 // -1 when the object has no replicas (jobs) or an HPA owns them
	labels   map[string]string
	spec     map[string]any
}

// workloads returns the pod templates of the built-in workload kinds.
func workloads(t *testing.T, objs []chartrender.Object) []workload {
	t.Helper()
	var out []workload
	for _, o := range objs {
		var path []string
		switch o.Kind() {
		case "Deployment", "StatefulSet":
			path = []string{"spec", "template"}
		case "Job":
			path = []string{"spec", "template"}
		case "CronJob":
			path = []string{"spec", "jobTemplate", "spec", "template"}
		default:
			continue
		}
		tmpl, _, _ := unstructured.NestedMap(o.U.Object, path...)
		labels, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "labels")
		spec, _, _ := unstructured.NestedMap(tmpl, "spec")
		replicas := int64(-1)
		if o.Kind() == "Deployment" || o.Kind() == "StatefulSet" {
			if r, ok, _ := unstructured.NestedInt64(o.U.Object, "spec", "replicas"); ok {
				replicas = r
			}
		}
		out = append(out, workload{obj: o, replicas: replicas, labels: labels, spec: spec})
	}
	return out
}

var allowedImage = regexp.MustCompile(`^(docker\.io/trinodb/|docker\.io/apache/|quay\.io/minio/|quay\.io/oauth2-proxy/|ghcr\.io/lakeport/|registry\.risk\.internal/lakeport/)[a-z0-9._/-]+:[A-Za-z0-9._-]+(@sha256:[a-f0-9]{64})?$`)

// plaintextSecret finds key=value or key: value lines whose key names a credential and whose
// value is not a reference (${ENV:...}, ${...}) or a path.
var plaintextSecret = regexp.MustCompile(`(?im)^\s*([A-Za-z0-9_.-]*(password|secret|access-key|secret-key|accesskeyid|secretaccesskey|token|credential)[A-Za-z0-9_.-]*)\s*[=:]\s*(\S+)\s*$`)

// notASecretKey are keys that name a credential's plumbing, not a credential.
var notASecretKey = regexp.MustCompile(`(?i)(authenticator|\.name$|\.type$|-file$|\.path$|\.uri$|\.url$|server-uri$|-key-id$)`)

// TestEnvironmentPolicies checks, on what Argo CD deploys, the rules the OPA policies will
// enforce, so the charts pass them by design.
func TestEnvironmentPolicies(t *testing.T) {
	forEachEnvRender(t, func(t *testing.T, env chartrender.Env, component string, objs []chartrender.Object) {
		wls := workloads(t, objs)
		if len(wls) == 0 {
			t.Fatal("no workloads rendered")
		}
		for _, w := range wls {
			name := w.obj.Kind() + "/" + w.obj.Name()
			checkPodSecurity(t, name, w.spec)
			if !selectedByNetworkPolicy(objs, w.labels) {
				t.Errorf("%s: no NetworkPolicy selects its pods", name)
			}
			if env.Name == "dev" {
				if w.replicas > 1 {
					t.Errorf("%s: dev runs single replicas, got %d", name, w.replicas)
				}
			}
			if env.Name == "prod" && (w.obj.Kind() == "Deployment" || w.obj.Kind() == "StatefulSet") {
				checkProdHA(t, name, w, objs)
			}
		}
		for _, o := range objs {
			switch o.Kind() {
			case "PersistentVolumeClaim":
				if env.Name == "dev" {
					t.Errorf("dev renders a PVC %s", o.Name())
				}
			case "StatefulSet":
				if _, ok, _ := unstructured.NestedSlice(o.U.Object, "spec", "volumeClaimTemplates"); ok && env.Name == "dev" {
					t.Errorf("dev StatefulSet %s has volumeClaimTemplates (no provisioner on a simulated cluster)", o.Name())
				}
			case "CronJob":
				spec := o.U.Object["spec"].(map[string]any)
				job, _, _ := unstructured.NestedMap(spec, "jobTemplate", "spec")
				if spec["concurrencyPolicy"] != "Forbid" || spec["startingDeadlineSeconds"] == nil || job["activeDeadlineSeconds"] == nil {
					t.Errorf("CronJob %s: want concurrencyPolicy Forbid, startingDeadlineSeconds and activeDeadlineSeconds", o.Name())
				}
			case "ConfigMap":
				data, _, _ := unstructured.NestedStringMap(o.U.Object, "data")
				for file, text := range data {
					for _, m := range plaintextSecret.FindAllStringSubmatch(text, -1) {
						v := strings.Trim(m[3], `"'`)
						if notASecretKey.MatchString(m[1]) {
							continue
						}
						if strings.HasPrefix(v, "${") || strings.HasPrefix(v, "/") || v == "true" || v == "false" || strings.HasPrefix(v, "https://") || !strings.ContainsAny(v, "abcdefghijklmnopqrstuvwxyz0123456789") {
							continue
						}
						t.Errorf("ConfigMap %s %s: %s looks like a plaintext secret", o.Name(), file, m[1])
					}
				}
			case "CronWorkflow":
				if fmt.Sprint(o.U.Object["spec"].(map[string]any)["concurrencyPolicy"]) != "Forbid" {
					t.Errorf("CronWorkflow %s: concurrencyPolicy must be Forbid", o.Name())
				}
			}
			if o.U.GetNamespace() != env.Destination.Namespace {
				t.Errorf("%s %s: namespace %q, want %q", o.Kind(), o.Name(), o.U.GetNamespace(), env.Destination.Namespace)
			}
			switch o.Kind() {
			case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass":
				t.Errorf("%s %s: the AppProjects allow only namespaced kinds", o.Kind(), o.Name())
			}
		}
		if env.Name == "prod" && component == "trino" {
			p := properties(configData(t, objs, "trino-catalog", "iceberg.properties"))
			if !strings.HasPrefix(p["s3.endpoint"], "https://") {
				t.Errorf("prod Trino must reach S3 over TLS, got %s", p["s3.endpoint"])
			}
		}
	})
}

func checkPodSecurity(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	psc, _ := spec["securityContext"].(map[string]any)
	if psc["runAsNonRoot"] != true {
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", name)
	}
	if sp, _, _ := unstructured.NestedString(psc, "seccompProfile", "type"); sp != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile must be RuntimeDefault", name)
	}
	containers, _ := spec["containers"].([]any)
	initContainers, _ := spec["initContainers"].([]any)
	for _, c := range append(containers, initContainers...) {
		cm := c.(map[string]any)
		cname := fmt.Sprintf("%s container %v", name, cm["name"])
		sc, _ := cm["securityContext"].(map[string]any)
		if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true {
			t.Errorf("%s: allowPrivilegeEscalation false and readOnlyRootFilesystem true required", cname)
		}
		if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" {
			t.Errorf("%s: capabilities must drop ALL", cname)
		}
		for _, kind := range []string{"requests", "limits"} {
			for _, res := range []string{"cpu", "memory"} {
				if _, ok, _ := unstructured.NestedFieldNoCopy(cm, "resources", kind, res); !ok {
					t.Errorf("%s: resources.%s.%s missing", cname, kind, res)
				}
			}
		}
		image, _ := cm["image"].(string)
		if strings.HasSuffix(image, ":latest") || !allowedImage.MatchString(image) {
			t.Errorf("%s: image %q is not a pinned image from an allowed registry", cname, image)
		}
	}
}

func checkProdHA(t *testing.T, name string, w workload, objs []chartrender.Object) {
	t.Helper()
	if _, singleton := w.obj.U.GetAnnotations()["lakeport.dev/singleton"]; singleton {
		return
	}
	replicas := w.replicas
	if replicas < 0 {
		for _, o := range objs {
			if o.Kind() == "HorizontalPodAutoscaler" && fmt.Sprint(field(t, o, "spec", "scaleTargetRef", "name")) == w.obj.Name() {
				replicas, _, _ = unstructured.NestedInt64(o.U.Object, "spec", "minReplicas")
			}
		}
	}
	if replicas < 2 {
		t.Errorf("%s: prod needs at least 2 replicas, got %d", name, replicas)
	}
	if _, ok := w.spec["topologySpreadConstraints"]; !ok {
		t.Errorf("%s: prod needs topology spread", name)
	}
	pdb := false
	for _, o := range objs {
		if o.Kind() != "PodDisruptionBudget" {
			continue
		}
		sel, _, _ := unstructured.NestedStringMap(o.U.Object, "spec", "selector", "matchLabels")
		if subset(sel, w.labels) {
			pdb = true
		}
	}
	if !pdb {
		t.Errorf("%s: prod needs a PodDisruptionBudget", name)
	}
}

func selectedByNetworkPolicy(objs []chartrender.Object, labels map[string]string) bool {
	for _, o := range objs {
		if o.Kind() != "NetworkPolicy" {
			continue
		}
		sel, _, _ := unstructured.NestedStringMap(o.U.Object, "spec", "podSelector", "matchLabels")
		if subset(sel, labels) {
			return true
		}
	}
	return false
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// TestImagePins: every values file carries the keys `lakeport promote` copies
// (environments/lakeport.yaml imagePins), pinned (not latest), and the chart uses them.
func TestImagePins(t *testing.T) {
	var kit struct {
		ImagePins map[string][]string `json:"imagePins"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "environments", "lakeport.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kit); err != nil {
		t.Fatal(err)
	}
	envs, err := chartrender.Envs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envs {
		env, err := chartrender.LoadEnv(repoRoot, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range env.Components {
			var values map[string]any
			raw, err := os.ReadFile(filepath.Join(repoRoot, "environments", name, c.Component+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
			rendered, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, c.Component))
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range kit.ImagePins[c.Component] {
				v, ok, _ := unstructured.NestedString(values, strings.Split(key, ".")...)
				if strings.HasSuffix(key, "digest") {
					// A digest pin is optional (the tag is used without one); when set it must be a
					// sha256 digest and the render must pull by it.
					switch {
					case v == "":
					case !digestRE.MatchString(v):
						t.Errorf("%s/%s.yaml: %s must be sha256:<64 hex>, got %q", name, c.Component, key, v)
					case !strings.Contains(rendered, "@"+v):
						t.Errorf("%s/%s: the render does not pull by %s=%s", name, c.Component, key, v)
					}
					continue
				}
				if !ok || v == "" || v == "latest" {
					t.Errorf("%s/%s.yaml: %s must be a pinned tag, got %q", name, c.Component, key, v)
					continue
				}
				if !strings.Contains(rendered, ":"+v) {
					t.Errorf("%s/%s: the render does not use %s=%s", name, c.Component, key, v)
				}
			}
		}
	}
}
