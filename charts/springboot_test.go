package charts_test

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// Spring Boot conventions, each read in the Spring Boot reference documentation at v4.1.1
// (github.com/spring-projects/spring-boot, documentation/spring-boot-docs/src/docs/antora/modules):
//   - reference/pages/actuator/endpoints.adoc, "Kubernetes Probes": /actuator/health/liveness and
//     /actuator/health/readiness, management.endpoint.health.probes.enabled, and
//     management.endpoint.health.probes.add-additional-paths (/livez, /readyz on the main port,
//     advised when the actuator runs on a separate management port);
//   - reference/pages/actuator/monitoring.adoc: management.server.port;
//   - reference/pages/actuator/metrics.adoc, "Prometheus": /actuator/prometheus;
//   - reference/pages/web/graceful-shutdown.adoc: graceful shutdown and
//     spring.lifecycle.timeout-per-shutdown-phase;
//   - how-to/pages/deployment/cloud.adoc, "Kubernetes Container Lifecycle": the preStop sleep and
//     a terminationGracePeriodSeconds longer than the shutdown.

func springApp(t *testing.T, objs []chartrender.Object) map[string]any {
	t.Helper()
	var app map[string]any
	if err := yaml.Unmarshal([]byte(configData(t, objs, "spring-boot-config", "application.yaml")), &app); err != nil {
		t.Fatal(err)
	}
	return app
}

func mapPath(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func containerEnv(t *testing.T, o chartrender.Object, container string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cs, _ := field(t, o, "spec", "template", "spec", container).([]any)
	for _, c := range cs {
		for _, e := range c.(map[string]any)["env"].([]any) {
			em := e.(map[string]any)
			if v, ok := em["value"].(string); ok {
				out[em["name"].(string)] = v
			} else {
				out[em["name"].(string)] = fmt.Sprint(em["valueFrom"])
			}
		}
	}
	return out
}

func TestSpringBootFlags(t *testing.T) {
	runFlagCases(t, "spring-boot", []flagCase{
		{"probes on the actuator's groups", nil, func(t *testing.T, objs []chartrender.Object) {
			d := find(t, objs, "Deployment", "spring-boot")
			c := "spec.template.spec.containers.0."
			for probe, want := range map[string]string{"livenessProbe": "/actuator/health/liveness management", "startupProbe": "/actuator/health/liveness management", "readinessProbe": "/readyz http"} {
				got := fmt.Sprint(field(t, d, strings.Split(c+probe+".httpGet.path", ".")...), " ", field(t, d, strings.Split(c+probe+".httpGet.port", ".")...))
				if got != want {
					t.Errorf("%s: %s, want %s", probe, got, want)
				}
			}
			app := springApp(t, objs)
			if mapPath(app, "management", "endpoint", "health", "probes", "enabled") != true || mapPath(app, "management", "endpoint", "health", "probes", "add-additional-paths") != true {
				t.Errorf("probe groups not enabled: %v", app["management"])
			}
			if fmt.Sprint(mapPath(app, "management", "server", "port")) != "8081" || fmt.Sprint(mapPath(app, "server", "port")) != "8080" {
				t.Errorf("ports: %v", app)
			}
			if !strings.Contains(fmt.Sprint(mapPath(app, "management", "endpoints", "web", "exposure", "include")), "prometheus") {
				t.Error("prometheus endpoint not exposed")
			}
		}},
		{"graceful shutdown fits the grace period", map[string]any{"shutdown": map[string]any{"preStopSleepSeconds": 15, "timeoutPerShutdownPhaseSeconds": 45, "terminationGracePeriodSeconds": 65}}, func(t *testing.T, objs []chartrender.Object) {
			d := find(t, objs, "Deployment", "spring-boot")
			app := springApp(t, objs)
			if mapPath(app, "server", "shutdown") != "graceful" || mapPath(app, "spring", "lifecycle", "timeout-per-shutdown-phase") != "45s" {
				t.Errorf("application.yaml: %v", app)
			}
			if fmt.Sprint(field(t, d, "spec", "template", "spec", "containers", "0", "lifecycle", "preStop", "sleep", "seconds")) != "15" ||
				fmt.Sprint(field(t, d, "spec", "template", "spec", "terminationGracePeriodSeconds")) != "65" {
				t.Errorf("preStop/grace: %v", field(t, d, "spec", "template", "spec"))
			}
		}},
		{"JVM memory from the limit, config from the ConfigMap", nil, func(t *testing.T, objs []chartrender.Object) {
			env := containerEnv(t, find(t, objs, "Deployment", "spring-boot"), "containers")
			want := "-XX:MaxRAMPercentage=50 -XX:MaxMetaspaceSize=192m -XX:ReservedCodeCacheSize=128m -XX:MaxDirectMemorySize=64m -XX:+ExitOnOutOfMemoryError"
			if env["JAVA_TOOL_OPTIONS"] != want {
				t.Errorf("JAVA_TOOL_OPTIONS %q, want %q", env["JAVA_TOOL_OPTIONS"], want)
			}
			if env["SPRING_CONFIG_ADDITIONAL_LOCATION"] != "file:/etc/lakeport/spring/application.yaml" || env["OTEL_SDK_DISABLED"] != "true" {
				t.Errorf("env %v", env)
			}
		}},
		{"application values merged under the chart's keys", map[string]any{"application": map[string]any{"spring": map[string]any{"application": map[string]any{"name": "risk-api"}}, "lakeport": map[string]any{"trino": map[string]any{"password": "${TRINO_PASSWORD}"}}}},
			func(t *testing.T, objs []chartrender.Object) {
				app := springApp(t, objs)
				if mapPath(app, "spring", "application", "name") != "risk-api" || mapPath(app, "spring", "lifecycle", "timeout-per-shutdown-phase") != "30s" || mapPath(app, "lakeport", "trino", "password") != "${TRINO_PASSWORD}" {
					t.Errorf("application.yaml: %v", app)
				}
			}},
		{"trusted CA as truststore and SSL bundle", map[string]any{"trustedCA": map[string]any{"configMapName": "risk-ca-bundle"}}, func(t *testing.T, objs []chartrender.Object) {
			d := find(t, objs, "Deployment", "spring-boot")
			if field(t, d, "spec", "template", "spec", "initContainers", "0", "name") != "truststore" {
				t.Fatal("no truststore init container")
			}
			env := containerEnv(t, d, "containers")
			if !strings.Contains(env["JAVA_TOOL_OPTIONS"], "-Djavax.net.ssl.trustStore=/etc/lakeport/truststore/truststore.p12 -Djavax.net.ssl.trustStoreType=PKCS12") {
				t.Errorf("JAVA_TOOL_OPTIONS %q", env["JAVA_TOOL_OPTIONS"])
			}
			if mapPath(springApp(t, objs), "spring", "ssl", "bundle", "pem", "lakeport-ca", "truststore", "certificate") != "file:/etc/lakeport/ca/ca.crt" {
				t.Error("no lakeport-ca SSL bundle")
			}
		}},
		{"OTLP: Spring Boot's own exporter (4.x and 3.x names) and the standard variables", map[string]any{"otel": map[string]any{"enabled": true, "endpoint": "http://otel-collector.observability.svc:4318",
			"headersSecret": map[string]any{"name": "otlp-headers", "key": "token", "header": "Authorization"}, "resourceAttributes": map[string]any{"team": "risk"}}}, func(t *testing.T, objs []chartrender.Object) {
			env := containerEnv(t, find(t, objs, "Deployment", "spring-boot"), "containers")
			if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://otel-collector.observability.svc:4318" || env["OTEL_RESOURCE_ATTRIBUTES"] != "deployment.environment.name=lakeport-test,team=risk" ||
				env["OTEL_EXPORTER_OTLP_HEADERS"] != "Authorization=$(LAKEPORT_OTEL_HEADER)" || !strings.Contains(env["LAKEPORT_OTEL_HEADER"], "name:otlp-headers") ||
				env["OTEL_SERVICE_NAME"] != "spring-boot" || env["OTEL_TRACES_SAMPLER"] != "parentbased_traceidratio" || env["OTEL_TRACES_SAMPLER_ARG"] != "0.1" {
				t.Errorf("env %v", env)
			}
			if _, off := env["OTEL_SDK_DISABLED"]; off {
				t.Error("SDK disabled with tracing on")
			}
			// Spring Boot's own exporter reads its properties, not OTEL_*: 4.x under
			// management.opentelemetry.tracing.export.otlp, 3.x under management.otlp.tracing.
			app := springApp(t, objs)
			for _, prefix := range [][]string{{"management", "opentelemetry", "tracing", "export", "otlp"}, {"management", "otlp", "tracing"}} {
				at := func(k ...string) any { return mapPath(app, append(append([]string{}, prefix...), k...)...) }
				if got := at("endpoint"); got != "http://otel-collector.observability.svc:4318/v1/traces" {
					t.Errorf("%v.endpoint = %v", prefix, got)
				}
				if got := at("transport"); got != "http" {
					t.Errorf("%v.transport = %v", prefix, got)
				}
				// The token stays in the Secret: the ConfigMap holds a placeholder.
				if got := at("headers", "[Authorization]"); got != "${LAKEPORT_OTEL_HEADER}" {
					t.Errorf("%v.headers = %v", prefix, at("headers"))
				}
			}
			if got := mapPath(app, "management", "opentelemetry", "resource-attributes", "[team]"); got != "risk" {
				t.Errorf("management.opentelemetry.resource-attributes.team = %v", got)
			}
			if got := mapPath(app, "management", "tracing", "sampling", "probability"); fmt.Sprint(got) != "0.1" {
				t.Errorf("management.tracing.sampling.probability = %v", got)
			}
			if got := mapPath(app, "management", "opentelemetry", "tracing", "sampler"); got != "parentbased_traceidratio" {
				t.Errorf("management.opentelemetry.tracing.sampler = %v", got)
			}
		}},
		{"OTLP over gRPC, always on", map[string]any{"otel": map[string]any{"enabled": true, "endpoint": "http://otel-collector.observability.svc:4317/", "protocol": "grpc", "sampler": "parentbased_always_on"}}, func(t *testing.T, objs []chartrender.Object) {
			app := springApp(t, objs)
			if mapPath(app, "management", "otlp", "tracing", "endpoint") != "http://otel-collector.observability.svc:4317" || mapPath(app, "management", "otlp", "tracing", "transport") != "grpc" {
				t.Errorf("management.otlp.tracing = %v", mapPath(app, "management", "otlp", "tracing"))
			}
			if got := mapPath(app, "management", "tracing", "sampling", "probability"); fmt.Sprint(got) != "1" {
				t.Errorf("management.tracing.sampling.probability = %v, want 1 for parentbased_always_on", got)
			}
		}},
		{"tracing off: the SDK is disabled and no exporter is configured", nil, func(t *testing.T, objs []chartrender.Object) {
			env := containerEnv(t, find(t, objs, "Deployment", "spring-boot"), "containers")
			if env["OTEL_SDK_DISABLED"] != "true" || env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" {
				t.Errorf("env %v", env)
			}
			if app := springApp(t, objs); mapPath(app, "management", "otlp") != nil || mapPath(app, "management", "opentelemetry") != nil {
				t.Errorf("management %v", mapPath(app, "management"))
			}
		}},
		{"ServiceMonitor scrapes /actuator/prometheus on the management port", map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}}, func(t *testing.T, objs []chartrender.Object) {
			sm := find(t, objs, "ServiceMonitor", "spring-boot")
			if field(t, sm, "spec", "endpoints", "0", "port") != "management" || field(t, sm, "spec", "endpoints", "0", "path") != "/actuator/prometheus" {
				t.Errorf("endpoints %v", field(t, sm, "spec", "endpoints"))
			}
			svc := find(t, objs, "Service", "spring-boot-management")
			if field(t, svc, "spec", "ports", "0", "name") != "management" {
				t.Error("no management Service port")
			}
			if fmt.Sprint(field(t, find(t, objs, "Service", "spring-boot"), "spec", "ports")) == fmt.Sprint(field(t, svc, "spec", "ports")) {
				t.Error("the API Service must not expose the management port")
			}
		}},
		{"network policy: named clients on http, Prometheus on management", map[string]any{"networkPolicy": map[string]any{"enabled": true, "clients": []any{map[string]any{"name": "web", "podSelector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}},
			"monitoring": map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}}}, func(t *testing.T, objs []chartrender.Object) {
			np := find(t, objs, "NetworkPolicy", "spring-boot")
			if fmt.Sprint(field(t, np, "spec", "ingress", "0", "ports", "0", "port")) != "http" || fmt.Sprint(field(t, np, "spec", "ingress", "1", "ports", "0", "port")) != "management" {
				t.Errorf("ingress %v", field(t, np, "spec", "ingress"))
			}
		}},
		{"network policy without peers denies ingress", map[string]any{"networkPolicy": map[string]any{"enabled": true}}, func(t *testing.T, objs []chartrender.Object) {
			if fmt.Sprint(field(t, find(t, objs, "NetworkPolicy", "spring-boot"), "spec", "ingress")) != "[]" {
				t.Error("want ingress: []")
			}
		}},
	})
}

func TestSpringBootFails(t *testing.T) {
	runFailCases(t, "spring-boot", []failCase{
		// Kubernetes' default 30s grace with Spring's default 30s phase and a 10s preStop: the
		// kubelet would SIGKILL requests still in flight.
		{"grace period shorter than preStop + shutdown phase", map[string]any{"shutdown": map[string]any{"preStopSleepSeconds": 10, "timeoutPerShutdownPhaseSeconds": 30, "terminationGracePeriodSeconds": 30}}, "shutdown.terminationGracePeriodSeconds: 30 does not fit"},
		{"management on the API port", map[string]any{"management": map[string]any{"port": 8080}}, "management.port: must differ from server.port"},
		{"heap size hidden in extra options", map[string]any{"jvm": map[string]any{"extraOptions": []any{"-Xmx2g"}}}, "jvm.extraOptions: -Xmx2g sets a memory pool"},
		{"application overrides the server settings", map[string]any{"application": map[string]any{"server": map[string]any{"port": 9000}}}, "application.server: set by the chart"},
		{"application overrides the shutdown phase", map[string]any{"application": map[string]any{"spring": map[string]any{"lifecycle": map[string]any{"timeout-per-shutdown-phase": "5m"}}}}, "application.spring.lifecycle"},
		{"no image repository", map[string]any{"image": map[string]any{"repository": ""}}, "image.repository"},
		{"latest tag", map[string]any{"image": map[string]any{"tag": "latest"}}, "image.tag: pin a release"},
		{"OTLP without an endpoint", map[string]any{"otel": map[string]any{"enabled": true}}, "otel.endpoint: the OTLP endpoint is required"},
		{"OTLP headers without the header's name", map[string]any{"otel": map[string]any{"enabled": true, "endpoint": "http://c:4318", "headersSecret": map[string]any{"name": "otlp"}}}, "otel.headersSecret.header: name the header"},
	})
}
