package schema

import (
	"context"
	"os"
	"strings"
	"testing"

	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/crds"
)

func validate(t *testing.T, v *Validator, doc string) Validation {
	t.Helper()
	var content map[string]any
	if err := sigsyaml.Unmarshal([]byte(doc), &content); err != nil {
		t.Fatal(err)
	}
	apiVersion, _ := content["apiVersion"].(string)
	kind, _ := content["kind"].(string)
	got := v.Validate(context.Background(), apiVersion, kind, []byte(doc), nil, content)
	// The JSON the caller may pass (render.Object.JSON) must change nothing, and a built-in
	// kind's problems must be the strict YAML decoder's on the document itself.
	if j, err := sigsyaml.YAMLToJSONStrict([]byte(doc)); err == nil {
		if withJSON := v.Validate(context.Background(), apiVersion, kind, []byte(doc), j, content); messages(withJSON) != messages(got) {
			t.Errorf("with the JSON form:\n%s\nwithout:\n%s", messages(withJSON), messages(got))
		}
	}
	if gv, err := k8sschema.ParseGroupVersion(apiVersion); err == nil && v.scheme.Recognizes(gv.WithKind(kind)) {
		ref := Validation{Problems: v.decodeBuiltin(gv.WithKind(kind), v.decoder, []byte(doc))}
		if messages(ref) != messages(got) {
			t.Errorf("the strict YAML decoder on the document gives:\n%s\nValidate gives:\n%s", messages(ref), messages(got))
		}
	}
	return got
}

func messages(v Validation) string {
	var b strings.Builder
	for _, p := range v.Problems {
		b.WriteString(p.Rule + ": " + p.Message + "\n")
	}
	return b.String()
}

const serviceMonitor = `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: trino
  labels: {app: trino}
spec:
  selector:
    matchLabels: {app: trino}
  endpoints:
    - port: http
      interval: 30s
`

const cronWorkflow = `apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly
spec:
  schedules: ["30 1 * * 2-6"]
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 1800
  workflowSpec:
    entrypoint: main
    templates:
      - name: main
        container:
          image: ghcr.io/lakeport/distribution:0.1.0
          resources:
            limits: {cpu: "1", memory: 1Gi}
`

func TestValidate(t *testing.T) {
	v := New()
	if err := v.AddFS(crds.FS); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		doc  string
		want []string // substrings of the problems, in order; none means valid
	}{
		{name: "valid deployment", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: x}]}\n"},
		{name: "unknown field", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {}\n", want: []string{`schema: unknown field "datta"`}},
		{name: "unknown nested field", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, imagePullPolicies: Always}]}}}\n", want: []string{`unknown field "spec.template.spec.containers[0].imagePullPolicies"`}},
		{name: "wrong type", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n", want: []string{"spec.replicas"}},
		{name: "duplicate field", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n", want: []string{`"data" already set`}},
		{name: "bad name and label", doc: "apiVersion: v1\nkind: Service\nmetadata:\n  name: Web_1\n  labels: {version: \"1.0+build\"}\n", want: []string{"metadata.name", "metadata.labels"}},
		{name: "unknown built-in version", doc: "apiVersion: apps/v9\nkind: Deployment\nmetadata: {name: x}\n", want: []string{"schema_unknown_kind: apps/v9 Deployment is not a Kubernetes API type"}},
		{name: "no CRD", doc: "apiVersion: example.test/v1\nkind: Widget\nmetadata: {name: x}\n", want: []string{"schema_unknown_kind: no schema for example.test/v1 Widget"}},
		{name: "valid ServiceMonitor", doc: serviceMonitor},
		{name: "ServiceMonitor unknown field", doc: strings.Replace(serviceMonitor, "interval: 30s", "intervall: 30s", 1), want: []string{`unknown field "spec.endpoints[0].intervall"`}},
		{name: "ServiceMonitor wrong type", doc: strings.Replace(serviceMonitor, "interval: 30s", "interval: 30", 1), want: []string{"spec.endpoints[0].interval"}},
		{name: "unserved version", doc: strings.Replace(serviceMonitor, "monitoring.coreos.com/v1", "monitoring.coreos.com/v9", 1), want: []string{"CRD servicemonitors.monitoring.coreos.com does not serve monitoring.coreos.com/v9"}},
		{name: "valid CronWorkflow", doc: cronWorkflow},
		{name: "CronWorkflow unknown field", doc: strings.Replace(cronWorkflow, "concurrencyPolicy: Forbid", "concurrency: Forbid", 1), want: []string{`unknown field "spec.concurrency"`}},
		{name: "CronWorkflow bad container", doc: strings.Replace(cronWorkflow, "image: ghcr", "imagex: ghcr", 1), want: []string{`unknown field "spec.workflowSpec.templates[0].container.imagex"`}},
		// Argo Workflows v3.7.6's CRDs (the controller the tests run) carry no CEL rules (v4 added
		// "template must have at most one template type"); CEL rules of a CRD are tested below.
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := messages(validate(t, v, tc.doc))
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("want no problem, got:\n%s", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems do not mention %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestCache proves the JSON cache gives the same CRDs as the YAML.
func TestCache(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ { // the first run writes the cache, the second reads it
		v := New()
		v.CacheDir = dir
		if err := v.AddFS(crds.FS); err != nil {
			t.Fatal(err)
		}
		if got := messages(validate(t, v, strings.Replace(cronWorkflow, "image: ghcr", "imagex: ghcr", 1))); !strings.Contains(got, "imagex") {
			t.Fatalf("run %d: %s", i, got)
		}
		if got := messages(validate(t, v, serviceMonitor)); got != "" {
			t.Fatalf("run %d: %s", i, got)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("want 2 cached CRD files, got %d", len(entries))
	}
}

func TestWithRenderedCRD(t *testing.T) {
	crd := map[string]any{}
	doc := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.test}
spec:
  group: example.test
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      deprecated: true
      deprecationWarning: example.test/v1 Widget is deprecated; use v2
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1}
              x-kubernetes-validations:
                - rule: "self.size <= 10"
                  message: size must be at most 10
`
	if err := sigsyaml.Unmarshal([]byte(doc), &crd); err != nil {
		t.Fatal(err)
	}
	v, err := New().With("chart web", []map[string]any{crd})
	if err != nil {
		t.Fatal(err)
	}
	ok := validate(t, v, "apiVersion: example.test/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n")
	if len(ok.Problems) != 0 || ok.Deprecated != "example.test/v1 Widget is deprecated; use v2" {
		t.Fatalf("got %+v", ok)
	}
	bad := messages(validate(t, v, "apiVersion: example.test/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 0, colour: red}\n"))
	for _, w := range []string{`unknown field "spec.colour"`, "spec.size: Invalid value: 0"} {
		if !strings.Contains(bad, w) {
			t.Errorf("problems do not mention %q:\n%s", w, bad)
		}
	}
	cel := messages(validate(t, v, "apiVersion: example.test/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 11}\n"))
	if !strings.Contains(cel, "size must be at most 10") {
		t.Errorf("CEL rule not applied:\n%s", cel)
	}
}

func BenchmarkCronWorkflowFirstUse(b *testing.B) {
	benchmarkCronWorkflow(b, "")
}

func BenchmarkCronWorkflowCached(b *testing.B) {
	benchmarkCronWorkflow(b, b.TempDir())
}

func benchmarkCronWorkflow(b *testing.B, cache string) {
	for b.Loop() {
		v := New()
		v.CacheDir = cache
		if err := v.AddFS(crds.FS); err != nil {
			b.Fatal(err)
		}
		var content map[string]any
		_ = sigsyaml.Unmarshal([]byte(cronWorkflow), &content)
		if got := v.Validate(context.Background(), "argoproj.io/v1alpha1", "CronWorkflow", []byte(cronWorkflow), nil, content); len(got.Problems) > 0 {
			b.Fatal(got.Problems)
		}
	}
}
