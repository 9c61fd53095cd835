package charts_test

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// strictDecoder decodes YAML into the typed Kubernetes API objects and fails on unknown or
// duplicated fields; wrong types fail any decoding.
var strictDecoder = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// crdGroups are the API groups the charts render that are served by CRDs, validated by the
// server-side dry run (charts/dryrun) instead.
var crdGroups = map[string]bool{"monitoring.coreos.com": true, "argoproj.io": true}

// strictCheck decodes every built-in object strictly and returns every problem at once.
func strictCheck(objs []chartrender.Object) error {
	var problems []string
	for _, o := range objs {
		gvk := o.U.GroupVersionKind()
		if crdGroups[gvk.Group] {
			continue
		}
		if !scheme.Scheme.Recognizes(gvk) {
			problems = append(problems, fmt.Sprintf("%s %s: kind not known to the Kubernetes API types", gvk, o.Name()))
			continue
		}
		if _, _, err := strictDecoder.Decode(o.Raw, &gvk, nil); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s (%s): %v", gvk.Kind, o.Name(), o.Source, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// TestStrictDecodeEnvironments decodes every rendered built-in object of every environment
// strictly against the Kubernetes API types.
func TestStrictDecodeEnvironments(t *testing.T) {
	forEachEnvRender(t, func(t *testing.T, env chartrender.Env, component string, objs []chartrender.Object) {
		if err := strictCheck(objs); err != nil {
			t.Error(err)
		}
	})
}

// TestStrictDecoderCatches proves the decoder rejects what it must: an unknown field, a wrong
// type and a duplicated field.
func TestStrictDecoderCatches(t *testing.T) {
	cases := []struct {
		name, apiVersion, kind, doc, want string
	}{
		{"unknown field", "v1", "ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {}\n", `unknown field "datta"`},
		{"wrong type", "apps/v1", "Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n", "replicas"},
		{"unknown nested field", "apps/v1", "Deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, imagePullPolicies: Always}]}}}\n", "imagePullPolicies"},
		{"duplicate field", "v1", "ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n", "already set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(tc.apiVersion)
			u.SetKind(tc.kind)
			u.SetName("x")
			err := strictCheck([]chartrender.Object{{Raw: []byte(tc.doc), U: u}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("strictCheck error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// forEachComponent runs fn as a subtest for every component of every environment.
func forEachComponent(t *testing.T, fn func(t *testing.T, env chartrender.Env, component string)) {
	t.Helper()
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
			t.Run(name+"/"+c.Component, func(t *testing.T) { fn(t, env, c.Component) })
		}
	}
}

// forEachEnvRender renders every component of every environment and calls fn with the objects.
func forEachEnvRender(t *testing.T, fn func(t *testing.T, env chartrender.Env, component string, objs []chartrender.Object)) {
	t.Helper()
	forEachComponent(t, func(t *testing.T, env chartrender.Env, component string) {
		fn(t, env, component, mustRender(t, chartrender.ForEnv(repoRoot, env, component)))
	})
}
