package impact_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/hack/testenv"
)

// The control plane of the sync-fails proof: etcd and kube-apiserver only. No
// kube-controller-manager, so that nothing rewrites the objects between the two applies (the
// persistent-volume binder would reset a claim marked Bound by hand).
var (
	kube    *testenv.Kube
	kubeErr error
	nsSeq   atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		kubeErr = testenv.ErrShort
	} else {
		kube, kubeErr = testenv.StartKube(testenv.KubeOptions{})
	}
	code := m.Run()
	kube.Stop()
	os.Exit(code)
}

func restConfig(t testing.TB, k *testenv.Kube) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", k.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if k.DialContext != nil {
		cfg.Dial = k.DialContext
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg
}

// fieldManager is Argo CD's, applying server-side (--server-side --force-conflicts) as it does
// with ServerSideApply=true: the base and the head are applied by the same manager, so that a
// field the head no longer sets is removed, as in a real sync.
const fieldManager = "argocd-controller"

func resourceOf(apiVersion, kind string) schema.GroupVersionResource {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	plural := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(plural, "y"):
		plural = strings.TrimSuffix(plural, "y") + "ies"
	case strings.HasSuffix(plural, "s"):
		plural += "es"
	default:
		plural += "s"
	}
	return gv.WithResource(plural)
}

func resourceClient(dyn dynamic.Interface, obj map[string]any) dynamic.ResourceInterface {
	u := unstructured.Unstructured{Object: obj}
	ri := dyn.Resource(resourceOf(u.GetAPIVersion(), u.GetKind()))
	if ns := u.GetNamespace(); ns != "" {
		return ri.Namespace(ns)
	}
	return ri
}

func apply(ctx context.Context, dyn dynamic.Interface, obj map[string]any, dryRun bool) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	name, _ := obj["metadata"].(map[string]any)["name"].(string)
	_, err = resourceClient(dyn, obj).Patch(ctx, name, types.ApplyPatchType, data, opts)
	return err
}

func parse(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := sigsyaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return m
}

func deepCopy(t testing.TB, m map[string]any) map[string]any {
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

// set writes value at a dotted path of obj ("spec.template.spec.containers.0.image"); a nil
// value deletes the key.
func set(obj map[string]any, dotted string, value any) {
	keys := strings.Split(dotted, ".")
	var cur any = obj
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if value == nil {
					delete(c, k)
				} else {
					c[k] = value
				}
				return
			}
			if _, ok := c[k]; !ok {
				c[k] = map[string]any{}
			}
			cur = c[k]
		case []any:
			var idx int
			fmt.Sscan(k, &idx)
			if last {
				c[idx] = value
				return
			}
			cur = c[idx]
		}
	}
}

func object(t testing.TB, content map[string]any) *render.Object {
	t.Helper()
	y, err := sigsyaml.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	u := unstructured.Unstructured{Object: content}
	return &render.Object{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), YAML: string(y), Content: content}
}

func hasKind(im []impact.Impact, k impact.Kind) bool {
	for _, i := range im {
		if i.Kind == k {
			return true
		}
	}
	return false
}

const podSpec = `
      containers:
        - name: app
          image: registry.example.test/app:1.0.0
          volumeMounts: [{name: data, mountPath: /data}]`

const (
	deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {checksum/config: aaa}}
    spec:
      containers: [{name: app, image: registry.example.test/app:1.0.0}]`
	daemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: app, image: registry.example.test/app:1.0.0}]`
	statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:` + podSpec + `
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}`
	job = `apiVersion: batch/v1
kind: Job
metadata: {name: load}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: app, image: registry.example.test/app:1.0.0}]`
	cronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: app, image: registry.example.test/app:1.0.0}]`
	service = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]`
	headless = `apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]`
	pvc = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: expandable
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}`
	configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {a: "1"}`
	immutableConfigMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
immutable: true
data: {a: "1"}`
	secret = `apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
stringData: {password: one}`
	immutableSecret = `apiVersion: v1
kind: Secret
metadata: {name: creds}
type: Opaque
immutable: true
data: {password: b25l}`
	role = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]`
	roleBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: app}]`
	serviceAccount = `apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
automountServiceAccountToken: false`
	networkPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: 8080}]}]`
	hpa = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]`
	pdb = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: web}}`
	serviceMonitor = `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  endpoints: [{port: http, interval: 30s}]`
	podMonitor = `apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  podMetricsEndpoints: [{port: http}]`
	cronWorkflow = `apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: pipeline}
spec:
  schedules: ["0 3 * * *"]
  workflowSpec:
    entrypoint: main
    templates: [{name: main, container: {image: registry.example.test/app:1.0.0}}]`
	crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.impact.lakeport.dev}
spec:
  group: impact.lakeport.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}`
)

// syncCase changes one field of a base object. want is what the API server does (refuses or
// not), written down so that the table is sure to hold both outcomes for every rule; the test
// requires lakeport's prediction and the server's answer to agree with it.
type syncCase struct {
	name   string
	base   string
	change func(m map[string]any)
	refuse bool
	// clusterScoped objects get a name unique to the case instead of a namespace.
	clusterScoped bool
}

func syncCases() []syncCase {
	v2 := map[string]any{"name": "v2", "served": true, "storage": false, "schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
	return []syncCase{
		{name: "deployment image", base: deployment, change: func(m map[string]any) {
			set(m, "spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		{name: "deployment checksum annotation", base: deployment, change: func(m map[string]any) { set(m, "spec.template.metadata.annotations.checksum/config", "bbb") }},
		{name: "deployment replicas", base: deployment, change: func(m map[string]any) { set(m, "spec.replicas", 3) }},
		{name: "deployment selector", base: deployment, refuse: true, change: func(m map[string]any) {
			set(m, "spec.selector.matchLabels.tier", "front")
			set(m, "spec.template.metadata.labels.tier", "front")
		}},
		{name: "daemonset image", base: daemonSet, change: func(m map[string]any) {
			set(m, "spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		{name: "daemonset selector", base: daemonSet, refuse: true, change: func(m map[string]any) {
			set(m, "spec.selector.matchLabels.tier", "node")
			set(m, "spec.template.metadata.labels.tier", "node")
		}},
		{name: "statefulset image", base: statefulSet, change: func(m map[string]any) {
			set(m, "spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		{name: "statefulset replicas and partition", base: statefulSet, change: func(m map[string]any) {
			set(m, "spec.replicas", 2)
			set(m, "spec.updateStrategy", map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"partition": 1}})
		}},
		// The server defaulted rollingUpdate: it stays beside OnDelete (found by this test).
		{name: "statefulset switched to OnDelete", base: statefulSet, refuse: true, change: func(m map[string]any) {
			set(m, "spec.updateStrategy", map[string]any{"type": "OnDelete"})
		}},
		{name: "deployment switched to Recreate", base: deployment, refuse: true, change: func(m map[string]any) {
			set(m, "spec.strategy", map[string]any{"type": "Recreate"})
		}},
		{name: "daemonset switched to OnDelete", base: daemonSet, change: func(m map[string]any) {
			set(m, "spec.updateStrategy", map[string]any{"type": "OnDelete"})
		}},
		{name: "statefulset claim storage", base: statefulSet, refuse: true, change: func(m map[string]any) {
			set(m, "spec.volumeClaimTemplates.0.spec.resources.requests.storage", "2Gi")
		}},
		{name: "statefulset claim renamed", base: statefulSet, refuse: true, change: func(m map[string]any) {
			set(m, "spec.volumeClaimTemplates.0.metadata.name", "pgdata")
			set(m, "spec.template.spec.containers.0.volumeMounts.0.name", "pgdata")
		}},
		{name: "statefulset claim volumeMode made explicit", base: statefulSet, change: func(m map[string]any) {
			set(m, "spec.volumeClaimTemplates.0.spec.volumeMode", "Filesystem")
		}},
		{name: "statefulset claim type fields made explicit", base: statefulSet, change: func(m map[string]any) {
			set(m, "spec.volumeClaimTemplates.0.apiVersion", "v1")
			set(m, "spec.volumeClaimTemplates.0.kind", "PersistentVolumeClaim")
		}},
		{name: "statefulset serviceName", base: statefulSet, refuse: true, change: func(m map[string]any) { set(m, "spec.serviceName", "db-headless") }},
		{name: "statefulset podManagementPolicy", base: statefulSet, refuse: true, change: func(m map[string]any) { set(m, "spec.podManagementPolicy", "Parallel") }},
		{name: "statefulset podManagementPolicy default made explicit", base: statefulSet, change: func(m map[string]any) { set(m, "spec.podManagementPolicy", "OrderedReady") }},
		{name: "statefulset selector", base: statefulSet, refuse: true, change: func(m map[string]any) {
			set(m, "spec.selector.matchLabels.tier", "data")
			set(m, "spec.template.metadata.labels.tier", "data")
		}},
		{name: "job template", base: job, refuse: true, change: func(m map[string]any) {
			set(m, "spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		{name: "job backoffLimit", base: job, change: func(m map[string]any) { set(m, "spec.backoffLimit", 4) }},
		{name: "job labels", base: job, change: func(m map[string]any) { set(m, "metadata.labels", map[string]any{"team": "risk"}) }},
		{name: "cronjob template and schedule", base: cronJob, change: func(m map[string]any) {
			set(m, "spec.schedule", "0 4 * * *")
			set(m, "spec.jobTemplate.spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		{name: "service port", base: service, change: func(m map[string]any) { set(m, "spec.ports.0.port", 8080) }},
		{name: "service made headless", base: service, refuse: true, change: func(m map[string]any) { set(m, "spec.clusterIP", "None") }},
		{name: "service given an address", base: service, refuse: true, change: func(m map[string]any) { set(m, "spec.clusterIP", "10.0.0.200") }},
		{name: "service type NodePort", base: service, change: func(m map[string]any) { set(m, "spec.type", "NodePort") }},
		{name: "service type ExternalName", base: service, change: func(m map[string]any) {
			set(m, "spec.type", "ExternalName")
			set(m, "spec.externalName", "web.example.test")
			set(m, "spec.selector", nil)
		}},
		{name: "headless service clusterIP omitted", base: headless, change: func(m map[string]any) { set(m, "spec.clusterIP", nil) }},
		{name: "headless service given an address", base: headless, refuse: true, change: func(m map[string]any) { set(m, "spec.clusterIP", "10.0.0.201") }},
		{name: "pvc storage grows", base: pvc, change: func(m map[string]any) { set(m, "spec.resources.requests.storage", "2Gi") }},
		{name: "pvc storage shrinks", base: pvc, refuse: true, change: func(m map[string]any) { set(m, "spec.resources.requests.storage", "512Mi") }},
		{name: "pvc access modes", base: pvc, refuse: true, change: func(m map[string]any) { set(m, "spec.accessModes", []any{"ReadWriteMany"}) }},
		{name: "pvc storage class", base: pvc, refuse: true, change: func(m map[string]any) { set(m, "spec.storageClassName", "other") }},
		{name: "pvc labels", base: pvc, change: func(m map[string]any) { set(m, "metadata.labels", map[string]any{"team": "risk"}) }},
		{name: "configmap data", base: configMap, change: func(m map[string]any) { set(m, "data.a", "2") }},
		{name: "immutable configmap data", base: immutableConfigMap, refuse: true, change: func(m map[string]any) { set(m, "data.a", "2") }},
		{name: "immutable configmap made mutable", base: immutableConfigMap, refuse: true, change: func(m map[string]any) { set(m, "immutable", nil) }},
		{name: "immutable configmap labels", base: immutableConfigMap, change: func(m map[string]any) { set(m, "metadata.labels", map[string]any{"team": "risk"}) }},
		{name: "secret data", base: secret, change: func(m map[string]any) { set(m, "stringData.password", "two") }},
		{name: "secret type", base: secret, refuse: true, change: func(m map[string]any) { set(m, "type", "kubernetes.io/basic-auth") }},
		{name: "immutable secret data", base: immutableSecret, refuse: true, change: func(m map[string]any) { set(m, "data.password", "dHdv") }},
		{name: "role rules", base: role, change: func(m map[string]any) { set(m, "rules.0.verbs", []any{"get", "list"}) }},
		{name: "rolebinding subjects", base: roleBinding, change: func(m map[string]any) { set(m, "subjects.0.name", "other") }},
		{name: "rolebinding roleRef", base: roleBinding, refuse: true, change: func(m map[string]any) { set(m, "roleRef.name", "writer") }},
		{name: "serviceaccount token mount", base: serviceAccount, change: func(m map[string]any) { set(m, "automountServiceAccountToken", true) }},
		{name: "networkpolicy ports", base: networkPolicy, change: func(m map[string]any) { set(m, "spec.ingress.0.ports.0.port", 9090) }},
		{name: "hpa bounds and target", base: hpa, change: func(m map[string]any) {
			set(m, "spec.maxReplicas", 8)
			set(m, "spec.scaleTargetRef.name", "api")
		}},
		{name: "pdb budget and selector", base: pdb, change: func(m map[string]any) {
			set(m, "spec.maxUnavailable", nil)
			set(m, "spec.minAvailable", 1)
			set(m, "spec.selector.matchLabels.app", "api")
		}},
		{name: "servicemonitor interval", base: serviceMonitor, change: func(m map[string]any) { set(m, "spec.endpoints.0.interval", "15s") }},
		{name: "podmonitor port", base: podMonitor, change: func(m map[string]any) { set(m, "spec.podMetricsEndpoints.0.port", "metrics") }},
		{name: "cronworkflow schedule and image", base: cronWorkflow, change: func(m map[string]any) {
			set(m, "spec.schedules", []any{"0 4 * * *"})
			set(m, "spec.workflowSpec.templates.0.container.image", "registry.example.test/app:2.0.0")
		}},
		{name: "crd new version", base: crd, clusterScoped: true, change: func(m map[string]any) {
			set(m, "spec.versions", append(getList(m, "spec", "versions"), v2))
		}},
		{name: "crd scope", base: crd, clusterScoped: true, refuse: true, change: func(m map[string]any) { set(m, "spec.scope", "Cluster") }},
		{name: "crd kind", base: crd, clusterScoped: true, refuse: true, change: func(m map[string]any) {
			set(m, "spec.names.kind", "Gadget")
			set(m, "spec.names.listKind", "GadgetList")
		}},
		{name: "crd stored version removed", base: crd, clusterScoped: true, refuse: true, change: func(m map[string]any) {
			v := deepCopyAny(v2)
			v["storage"] = true
			set(m, "spec.versions", []any{v})
		}},
	}
}

func getList(m map[string]any, keys ...string) []any {
	var cur any = m
	for _, k := range keys {
		cur = cur.(map[string]any)[k]
	}
	l, _ := cur.([]any)
	return append([]any(nil), l...)
}

func deepCopyAny(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// TestSyncFailsMatchesAPIServer applies each base object to the real kube-apiserver, then
// server-side-applies the head as a dry run: lakeport predicts "sync fails" exactly when the
// server refuses the update as invalid (HTTP 422), for every kind the kit renders and a CRD.
// The head is also created on its own (dry run) so that a refusal is the update's, never an
// invalid head.
func TestSyncFailsMatchesAPIServer(t *testing.T) {
	testenv.NeedServer(t, kubeErr)
	cfg := restConfig(t, kube)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	installKitCRDs(t, dyn)
	sc := parse(t, "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: expandable}\nprovisioner: example.test/none\nallowVolumeExpansion: true")
	if err := apply(ctx, dyn, sc, false); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, tc := range syncCases() {
		t.Run(tc.name, func(t *testing.T) {
			base := parse(t, tc.base)
			md := base["metadata"].(map[string]any)
			ns := ""
			if tc.clusterScoped {
				n := nsSeq.Add(1)
				// A CRD's name is plural.group: the case gets its own group.
				group := fmt.Sprintf("c%d.impact.lakeport.dev", n)
				md["name"] = "widgets." + group
				set(base, "spec.group", group)
			} else {
				ns = fmt.Sprintf("sync-%d", nsSeq.Add(1))
				if err := apply(ctx, dyn, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}, false); err != nil {
					t.Fatal(err)
				}
				md["namespace"] = ns
			}
			head := deepCopy(t, base)
			tc.change(head)
			kinds[base["kind"].(string)] = true

			if err := apply(ctx, dyn, base, false); err != nil {
				t.Fatalf("apply base: %v", err)
			}
			prepare(t, dyn, base)
			predicted := hasKind(impact.Analyze(object(t, base), object(t, head)), impact.SyncFails)

			err := apply(ctx, dyn, head, true)
			refused := apierrors.IsInvalid(err)
			if err != nil && !refused {
				t.Fatalf("dry-run apply of head: not a validation refusal: %v", err)
			}
			if !tc.clusterScoped {
				alone := deepCopy(t, head)
				set(alone, "metadata.name", "alone-"+md["name"].(string))
				if err := apply(ctx, dyn, alone, true); err != nil {
					t.Fatalf("the head alone is not valid, so the case proves nothing: %v", err)
				}
			}
			if refused != tc.refuse {
				t.Errorf("the API server refused=%v, the case says %v (error: %v)", refused, tc.refuse, err)
			}
			if predicted != refused {
				t.Errorf("lakeport predicts sync fails=%v, the API server refused=%v (error: %v)\nimpacts: %+v", predicted, refused, err, impact.Analyze(object(t, base), object(t, head)))
			}
		})
	}
	// Every kind the kit's charts render (charts/testdata/golden), plus Secret, DaemonSet and a CRD.
	for _, k := range []string{"ConfigMap", "CronJob", "CronWorkflow", "Deployment", "HorizontalPodAutoscaler", "Job", "NetworkPolicy",
		"PersistentVolumeClaim", "PodDisruptionBudget", "PodMonitor", "Role", "RoleBinding", "Service", "ServiceAccount", "ServiceMonitor",
		"StatefulSet", "Secret", "DaemonSet", "CustomResourceDefinition"} {
		if !kinds[k] {
			t.Errorf("no case covers %s", k)
		}
	}
}

// prepare puts a base object in the state a real cluster holds it in before the update: a
// claim bound to its volume (only a bound claim may grow), a CRD established (its names become
// immutable then).
func prepare(t *testing.T, dyn dynamic.Interface, base map[string]any) {
	t.Helper()
	ctx := context.Background()
	u := unstructured.Unstructured{Object: base}
	switch u.GetKind() {
	case "PersistentVolumeClaim":
		patch := []byte(`{"status":{"phase":"Bound","capacity":{"storage":"1Gi"}}}`)
		if _, err := resourceClient(dyn, base).Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			t.Fatalf("mark the claim Bound: %v", err)
		}
	case "CustomResourceDefinition":
		waitEstablished(t, dyn, u.GetName())
	}
}

func waitEstablished(t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	ri := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := ri.Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s not Established within 30 s", name)
}

// installKitCRDs installs the CRDs of the custom resources the kit renders (cli/pkg/crds).
func installKitCRDs(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	names, err := crds.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(crds.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		obj := parse(t, string(b))
		if err := apply(context.Background(), dyn, obj, false); err != nil {
			t.Fatalf("install %s: %v", n, err)
		}
		waitEstablished(t, dyn, obj["metadata"].(map[string]any)["name"].(string))
	}
}
