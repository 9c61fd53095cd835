# Scrape targets exist, with their auth.
# Every ServiceMonitor endpoint names a port of each Service it selects, and every PodMonitor
# endpoint a named container port of each workload it selects; where the component serving it is
# known, the path is the one it serves metrics on, and the scrape sends the credentials or uses
# the TLS the target requires. A scrape that names a missing port or path, or omits required
# auth, finds nothing (or 401) and the dashboards and alerts go quiet: this keeps them fixed.
#
# What each component serves and requires, read upstream:
#   trino: /metrics on every node, behind the configured authentication (trinodb/trino
#     docs/src/main/sphinx/admin/openmetrics.md)
#   minio: /minio/v2/metrics/cluster, a bearer token unless MINIO_PROMETHEUS_AUTH_TYPE=public
#     (minio/minio docs/metrics/prometheus/README.md)
#   spark: /metrics/master/prometheus on masters, /metrics/prometheus on workers (Spark
#     docs/monitoring.md, PrometheusServlet; charts/spark/templates/configmap.yaml)
#   spring-boot: /actuator/prometheus (Spring Boot v4.1.1 actuator/metrics.adoc)
package main

import data.lib.kubernetes as k8s

# metrics_paths: the paths a component (app.kubernetes.io/name, and component where it matters)
# serves its metrics on.
metrics_paths := {
	"trino": {"/metrics"},
	"minio": {"/minio/v2/metrics/cluster", "/minio/v2/metrics/node", "/minio/v2/metrics/bucket", "/minio/metrics/v3"},
	"spark/master": {"/metrics/master/prometheus", "/metrics/applications/prometheus"},
	"spark/worker": {"/metrics/prometheus"},
	"spring-boot": {"/actuator/prometheus"},
}

component_key(lbls) := sprintf("%s/%s", [lbls["app.kubernetes.io/name"], lbls["app.kubernetes.io/component"]]) if {
	metrics_paths[sprintf("%s/%s", [lbls["app.kubernetes.io/name"], lbls["app.kubernetes.io/component"]])]
} else := lbls["app.kubernetes.io/name"]

monitor_namespaces(m) := object.get(m.spec, ["namespaceSelector", "matchNames"], [k8s.namespace(m)])

# The Services a ServiceMonitor selects, and the workloads a PodMonitor (or a Service) selects.
selected_services(m) := [s |
	namespaces := monitor_namespaces(m)
	some s in k8s.objects
	s.kind == "Service"
	k8s.namespace(s) in namespaces
	k8s.selects(m.spec.selector, k8s.labels(s))
]

# input_selected_services and input_selected_workloads are the input monitor's, computed once per
# evaluation for the rules below (see k8s.input_pods).
input_selected_services := selected_services(input)

input_selected_workloads := selected_workloads(input.spec.selector, monitor_namespaces(input))

selected_workloads(selector, namespaces) := [w |
	some w in k8s.objects
	w.kind in k8s.pod_template_kinds
	k8s.namespace(w) in namespaces
	k8s.selects(selector, k8s.pod_labels(w))
]

service_workloads(s) := selected_workloads({"matchLabels": s.spec.selector}, [k8s.namespace(s)]) if s.spec.selector
else := []

has_auth(ep) if ep.basicAuth
has_auth(ep) if ep.authorization
has_auth(ep) if ep.bearerTokenSecret
has_auth(ep) if ep.oauth2

public_minio(w) if {
	some c in k8s.pod_spec(w).containers
	some e in object.get(c, "env", [])
	e.name == "MINIO_PROMETHEUS_AUTH_TYPE"
	e.value == "public"
}

requires_auth(w) if k8s.pod_labels(w)["app.kubernetes.io/name"] == "trino"

requires_auth(w) if {
	k8s.pod_labels(w)["app.kubernetes.io/name"] == "minio"
	not public_minio(w)
}

monitor_findings(m, ep, lbls, where) := {msg |
	path := object.get(ep, "path", "/metrics")
	paths := metrics_paths[component_key(lbls)]
	not path in paths
	msg := sprintf("%s: %s: path %q is not where %s serves metrics (%s)", [k8s.name(m), where, path, component_key(lbls), concat(", ", sort(paths))])
}

# METADATA
# title: Scrape targets exist, with the auth and TLS they require
# custom:
#   severity: failure
deny_scrape_target contains msg if {
	input.kind == "ServiceMonitor"
	count(input_selected_services) == 0
	msg := sprintf("%s: selects no Service in %v: fix spec.selector or spec.namespaceSelector", [k8s.name(input), monitor_namespaces(input)])
}

deny_scrape_target contains msg if {
	input.kind == "ServiceMonitor"
	some i, ep in input.spec.endpoints
	some s in input_selected_services
	ep.port
	not ep.port in {p.name | some p in s.spec.ports}
	msg := sprintf("%s: endpoints[%d] port %q is not a port of Service %s (it has %v): name one of them", [k8s.name(input), i, ep.port, s.metadata.name, [p.name | some p in s.spec.ports]])
}

deny_scrape_target contains msg if {
	input.kind == "ServiceMonitor"
	some i, ep in input.spec.endpoints
	some s in input_selected_services
	some w in service_workloads(s)
	some msg in monitor_findings(input, ep, k8s.pod_labels(w), sprintf("endpoints[%d] (Service %s)", [i, s.metadata.name]))
}

deny_scrape_target contains msg if {
	input.kind == "ServiceMonitor"
	some i, ep in input.spec.endpoints
	some s in input_selected_services
	some w in service_workloads(s)
	requires_auth(w)
	not has_auth(ep)
	msg := sprintf("%s: endpoints[%d]: %s answers metrics only to authenticated scrapes: set basicAuth or authorization", [k8s.name(input), i, k8s.name(w)])
}

deny_scrape_target contains msg if {
	input.kind in {"ServiceMonitor", "PodMonitor"}
	some i, ep in object.get(input.spec, "endpoints", object.get(input.spec, "podMetricsEndpoints", []))
	ep.port in {"https", "s3-tls"}
	not ep.scheme == "https"
	msg := sprintf("%s: endpoints[%d] scrapes port %q over %s: set scheme: https and tlsConfig", [k8s.name(input), i, ep.port, object.get(ep, "scheme", "http")])
}

deny_scrape_target contains msg if {
	input.kind in {"ServiceMonitor", "PodMonitor"}
	some i, ep in object.get(input.spec, "endpoints", object.get(input.spec, "podMetricsEndpoints", []))
	ep.scheme == "https"
	not ep.tlsConfig
	msg := sprintf("%s: endpoints[%d] scrapes https without tlsConfig: the target's certificate cannot be verified (set tlsConfig.ca and serverName)", [k8s.name(input), i])
}

deny_scrape_target contains msg if {
	input.kind == "PodMonitor"
	ws := input_selected_workloads
	count(ws) == 0
	msg := sprintf("%s: selects no workload's pods in %v: fix spec.selector or spec.namespaceSelector", [k8s.name(input), monitor_namespaces(input)])
}

deny_scrape_target contains msg if {
	input.kind == "PodMonitor"
	some i, ep in input.spec.podMetricsEndpoints
	some w in input_selected_workloads
	ports := {p.name | some c in k8s.pod_spec(w).containers; some p in object.get(c, "ports", []); p.name}
	ep.port
	not ep.port in ports
	msg := sprintf("%s: podMetricsEndpoints[%d] port %q is not a named container port of %s (it has %v)", [k8s.name(input), i, ep.port, k8s.name(w), sort(ports)])
}

deny_scrape_target contains msg if {
	input.kind == "PodMonitor"
	some i, ep in input.spec.podMetricsEndpoints
	some w in input_selected_workloads
	some msg in monitor_findings(input, ep, k8s.pod_labels(w), sprintf("podMetricsEndpoints[%d] (%s)", [i, k8s.name(w)]))
}
