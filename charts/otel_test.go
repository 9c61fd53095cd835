package charts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// tracingCharts take the kit's one OTLP setting. MinIO and Jupyter take none (docs/observability.md, "Traces").
var tracingCharts = []string{"distribution", "spark", "spring-boot", "trino"}

// otelKeys is that setting: the same keys, in values.yaml and in the schema, in every chart.
var otelKeys = []string{"enabled", "endpoint", "headersSecret.header", "headersSecret.key", "headersSecret.name",
	"protocol", "resourceAttributes", "sampler", "samplerArg", "serviceName"}

// schemaLeaves lists the dotted paths of a JSON schema's leaf properties, as leafKeys does for values.
func schemaLeaves(s map[string]any, prefix string) []string {
	var out []string
	props, _ := s["properties"].(map[string]any)
	for k, v := range props {
		if sub, ok := v.(map[string]any); ok && sub["properties"] != nil {
			out = append(out, schemaLeaves(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// TestOneOTLPSetting: a user who learns `otel` in one chart knows it in all of them.
func TestOneOTLPSetting(t *testing.T) {
	for _, chart := range chartDirs {
		t.Run(chart, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(repoRoot, "charts", chart, "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var values map[string]any
			if err := yaml.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
			raw, err = os.ReadFile(filepath.Join(repoRoot, "charts", chart, "values.schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			var schema map[string]any
			if err := json.Unmarshal(raw, &schema); err != nil {
				t.Fatal(err)
			}
			otel, ok := values["otel"].(map[string]any)
			if !slices.Contains(tracingCharts, chart) {
				if ok {
					t.Errorf("%s has an otel setting: add it to tracingCharts and docs/observability.md, \"Traces\"", chart)
				}
				return
			}
			if !ok {
				t.Fatalf("values.yaml has no otel")
			}
			if got := slices.Sorted(slices.Values(leafKeys(otel, ""))); !slices.Equal(got, otelKeys) {
				t.Errorf("values.yaml otel keys %v, want %v", got, otelKeys)
			}
			so, _ := schema["properties"].(map[string]any)["otel"].(map[string]any)
			if got := slices.Sorted(slices.Values(schemaLeaves(so, ""))); !slices.Equal(got, otelKeys) {
				t.Errorf("values.schema.json otel properties %v, want %v", got, otelKeys)
			}
		})
	}
}

// dynatrace is docs/observability.md's Dynatrace preset: its OTLP endpoint, and the Api-Token header's value
// in a Secret.
var dynatrace = map[string]any{"enabled": true, "endpoint": "https://abc12345.live.dynatrace.com/api/v2/otlp", "protocol": "http/protobuf",
	"headersSecret":      map[string]any{"name": "dynatrace-otlp", "key": "token", "header": "Authorization"},
	"resourceAttributes": map[string]any{"team": "risk"}, "sampler": "parentbased_traceidratio", "samplerArg": "0.25"}

// envList returns a container's env as an ordered list of names, and a name → value (or valueFrom) map.
func envList(t *testing.T, c map[string]any) ([]string, map[string]string) {
	t.Helper()
	var names []string
	vals := map[string]string{}
	for _, e := range c["env"].([]any) {
		em := e.(map[string]any)
		n := em["name"].(string)
		names = append(names, n)
		if v, ok := em["value"].(string); ok {
			vals[n] = v
		} else {
			b, _ := json.Marshal(em["valueFrom"])
			vals[n] = string(b)
		}
	}
	return names, vals
}

// TestOTLPPresetReachesEveryExporter renders the Dynatrace preset in each chart that traces and
// checks what each exporter gets: the header from the Secret (defined before the variable that
// expands it, or the kubelet leaves "$(LAKEPORT_OTEL_HEADER)" as it is), the resource attributes
// and the sampling.
func TestOTLPPresetReachesEveryExporter(t *testing.T) {
	const headerRef = `{"secretKeyRef":{"key":"token","name":"dynatrace-otlp"}}`
	checkEnv := func(t *testing.T, where string, c map[string]any) {
		t.Helper()
		names, env := envList(t, c)
		h, v := slices.Index(names, "LAKEPORT_OTEL_HEADER"), slices.Index(names, "OTEL_EXPORTER_OTLP_HEADERS")
		if h < 0 || v < 0 || h > v {
			t.Errorf("%s: LAKEPORT_OTEL_HEADER at %d, OTEL_EXPORTER_OTLP_HEADERS at %d: the Secret's variable must come first", where, h, v)
		}
		if env["LAKEPORT_OTEL_HEADER"] != headerRef || env["OTEL_EXPORTER_OTLP_HEADERS"] != "Authorization=$(LAKEPORT_OTEL_HEADER)" {
			t.Errorf("%s: headers %q from %q", where, env["OTEL_EXPORTER_OTLP_HEADERS"], env["LAKEPORT_OTEL_HEADER"])
		}
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != dynatrace["endpoint"] || env["OTEL_EXPORTER_OTLP_PROTOCOL"] != "http/protobuf" {
			t.Errorf("%s: endpoint %q %q", where, env["OTEL_EXPORTER_OTLP_ENDPOINT"], env["OTEL_EXPORTER_OTLP_PROTOCOL"])
		}
		if !strings.Contains(env["OTEL_RESOURCE_ATTRIBUTES"], "team=risk") || env["OTEL_TRACES_SAMPLER"] != "parentbased_traceidratio" || env["OTEL_TRACES_SAMPLER_ARG"] != "0.25" {
			t.Errorf("%s: resource %q, sampler %q %q", where, env["OTEL_RESOURCE_ATTRIBUTES"], env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"])
		}
	}
	containers := func(t *testing.T, o chartrender.Object) []map[string]any {
		t.Helper()
		path := []string{"spec", "template", "spec", "containers"}
		switch o.Kind() {
		case "CronJob":
			path = []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
		}
		var out []map[string]any
		for _, c := range field(t, o, path...).([]any) {
			out = append(out, c.(map[string]any))
		}
		return out
	}

	t.Run("distribution", func(t *testing.T) {
		objs := mustRender(t, defaultsRequest("distribution", merge(requiredValues("distribution"), map[string]any{"otel": dynatrace})))
		n := 0
		for _, o := range objs {
			if o.Kind() != "CronJob" && o.Kind() != "Job" {
				continue
			}
			for _, c := range containers(t, o) {
				checkEnv(t, o.Kind()+"/"+o.Name()+"/"+c["name"].(string), c)
				n++
			}
		}
		if n == 0 {
			t.Fatal("no job container")
		}
	})
	t.Run("spark", func(t *testing.T) {
		objs := mustRender(t, defaultsRequest("spark", merge(requiredValues("spark"), map[string]any{"otel": dynatrace})))
		for _, c := range containers(t, find(t, objs, "StatefulSet", "spark-worker")) {
			checkEnv(t, "worker/"+c["name"].(string), c)
		}
		// The master launches no application: it gets nothing.
		for _, c := range containers(t, find(t, objs, "StatefulSet", "spark-master")) {
			if _, env := envList(t, c); env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" {
				t.Error("the master has the OTLP variables")
			}
		}
	})
	t.Run("spring-boot", func(t *testing.T) {
		objs := mustRender(t, defaultsRequest("spring-boot", merge(requiredValues("spring-boot"), map[string]any{"otel": dynatrace,
			"podAnnotations": map[string]any{"oneagent.dynatrace.com/inject": "true"}})))
		if got := field(t, find(t, objs, "Deployment", "spring-boot"), "spec", "template", "metadata", "annotations", "oneagent.dynatrace.com/inject"); got != "true" {
			t.Errorf("OneAgent injection annotation %v", got)
		}
		for _, c := range containers(t, find(t, objs, "Deployment", "spring-boot")) {
			checkEnv(t, "deployment", c)
		}
		app := springApp(t, objs)
		if got := mapPath(app, "management", "opentelemetry", "tracing", "export", "otlp", "headers", "[Authorization]"); got != "${LAKEPORT_OTEL_HEADER}" {
			t.Errorf("Spring Boot's exporter header = %v", got)
		}
		if got := mapPath(app, "management", "tracing", "sampling", "probability"); got != 0.25 {
			t.Errorf("sampling probability %v", got)
		}
		if strings.Contains(configData(t, objs, "spring-boot-config", "application.yaml"), "dt0c01") {
			t.Error("a token in the ConfigMap")
		}
	})
	t.Run("trino", func(t *testing.T) {
		// Trino's exporter sends no headers and sets its own resource: the preset is refused
		// with the reason, and works through a Collector (endpoint and sampling only).
		for _, tc := range []struct {
			drop, want string
		}{{"", "otel.headersSecret: Trino's exporter sends no headers"}, {"headersSecret", "otel.resourceAttributes: Trino sets its resource itself"}} {
			v := merge(map[string]any{}, dynatrace)
			delete(v, tc.drop)
			_, err := chartrender.Render(defaultsRequest("trino", merge(requiredValues("trino"), map[string]any{"otel": v})))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("without %q: error %v, want %q", tc.drop, err, tc.want)
			}
		}
		v := map[string]any{"enabled": true, "endpoint": "http://otel-collector.monitoring:4317", "sampler": "parentbased_traceidratio", "samplerArg": "0.25"}
		objs := mustRender(t, defaultsRequest("trino", merge(requiredValues("trino"), map[string]any{"otel": v})))
		for _, cm := range []string{"trino-coordinator", "trino-worker"} {
			props := properties(configData(t, objs, cm, "config.properties"))
			if props["tracing.enabled"] != "true" || props["tracing.exporter.endpoint"] != "http://otel-collector.monitoring:4317" ||
				props["tracing.exporter.protocol"] != "grpc" || props["tracing.sampling-ratio"] != "0.25" {
				t.Errorf("%s: tracing properties %v", cm, props)
			}
		}
		_, err := chartrender.Render(defaultsRequest("trino", merge(requiredValues("trino"), map[string]any{"otel": merge(v, map[string]any{"sampler": "always_on"})})))
		if err == nil || !strings.Contains(err.Error(), "Trino samples parent-based by ratio") {
			t.Errorf("sampler always_on: error %v", err)
		}
	})
}
