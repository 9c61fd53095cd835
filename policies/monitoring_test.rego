package main

import data.lib.fixtures as f

# The fixture deployment's pods are Trino workers; its Service gets a named http port.
monitored_svc := json.patch(f.service, [
	{"op": "replace", "path": "/spec/ports", "value": [{"name": "http", "port": 8080}]},
	{"op": "add", "path": "/metadata/labels", "value": {"app.kubernetes.io/name": "trino"}},
])

monitored_sm := {
	"apiVersion": "monitoring.coreos.com/v1",
	"kind": "ServiceMonitor",
	"metadata": {"name": "trino", "namespace": "risk-prod"},
	"spec": {
		"selector": {"matchLabels": {"app.kubernetes.io/name": "trino"}},
		"endpoints": [{"port": "http", "path": "/metrics", "basicAuth": {"username": {"name": "s", "key": "u"}, "password": {"name": "s", "key": "p"}}}],
	},
}

monitored_objs := [f.deployment, monitored_svc]

scrape_findings(obj, objects) := d if {
	d := deny_scrape_target with input as obj with data.lakeport.environment as f.prod with data.lakeport.objects as objects
}

test_scrape_target_good if {
	count(scrape_findings(monitored_sm, monitored_objs)) == 0
}

test_scrape_target_no_service if {
	scrape_findings(monitored_sm, [f.deployment])["ServiceMonitor trino: selects no Service in [\"risk-prod\"]: fix spec.selector or spec.namespaceSelector"]
	other := json.patch(monitored_sm, [{"op": "add", "path": "/spec/namespaceSelector", "value": {"matchNames": ["elsewhere"]}}])
	count(scrape_findings(other, monitored_objs)) == 1
}

test_scrape_target_missing_port if {
	bad := json.patch(monitored_sm, [{"op": "replace", "path": "/spec/endpoints/0/port", "value": "metrics"}])
	scrape_findings(bad, monitored_objs)["ServiceMonitor trino: endpoints[0] port \"metrics\" is not a port of Service web (it has [\"http\"]): name one of them"]
}

test_scrape_target_wrong_path if {
	bad := json.patch(monitored_sm, [{"op": "replace", "path": "/spec/endpoints/0/path", "value": "/v1/metrics"}])
	scrape_findings(bad, monitored_objs)["ServiceMonitor trino: endpoints[0] (Service web): path \"/v1/metrics\" is not where trino serves metrics (/metrics)"]
}

test_scrape_target_auth_required if {
	bad := json.patch(monitored_sm, [{"op": "remove", "path": "/spec/endpoints/0/basicAuth"}])
	scrape_findings(bad, monitored_objs)["ServiceMonitor trino: endpoints[0]: Deployment web answers metrics only to authenticated scrapes: set basicAuth or authorization"]
}

test_scrape_target_minio_public_needs_no_auth if {
	minio := json.patch(f.deployment, [
		{"op": "replace", "path": "/spec/template/metadata/labels", "value": {"app.kubernetes.io/name": "minio"}},
		{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "MINIO_PROMETHEUS_AUTH_TYPE", "value": "public"}]},
	])
	msvc := json.patch(monitored_svc, [{"op": "replace", "path": "/spec/selector", "value": {"app.kubernetes.io/name": "minio"}}, {"op": "replace", "path": "/metadata/labels", "value": {"app.kubernetes.io/name": "minio"}}])
	msm := json.patch(monitored_sm, [
		{"op": "replace", "path": "/spec/selector/matchLabels", "value": {"app.kubernetes.io/name": "minio"}},
		{"op": "replace", "path": "/spec/endpoints/0", "value": {"port": "http", "path": "/minio/v2/metrics/cluster"}},
	])
	count(scrape_findings(msm, [minio, msvc])) == 0
	private := json.patch(minio, [{"op": "remove", "path": "/spec/template/spec/containers/0/env"}])
	count(scrape_findings(msm, [private, msvc])) == 1
}

test_scrape_target_tls if {
	https := json.patch(monitored_sm, [{"op": "add", "path": "/spec/endpoints/0/scheme", "value": "https"}])
	scrape_findings(https, monitored_objs)["ServiceMonitor trino: endpoints[0] scrapes https without tlsConfig: the target's certificate cannot be verified (set tlsConfig.ca and serverName)"]
	ok := json.patch(https, [{"op": "add", "path": "/spec/endpoints/0/tlsConfig", "value": {"serverName": "trino.risk-prod.monitored_svc"}}])
	count(scrape_findings(ok, monitored_objs)) == 0
	plain := json.patch(monitored_sm, [{"op": "replace", "path": "/spec/endpoints/0/port", "value": "https"}])
	tsvc := json.patch(monitored_svc, [{"op": "replace", "path": "/spec/ports", "value": [{"name": "https", "port": 8443}]}])
	scrape_findings(plain, [f.deployment, tsvc])["ServiceMonitor trino: endpoints[0] scrapes port \"https\" over http: set scheme: https and tlsConfig"]
}

monitored_pm := {
	"apiVersion": "monitoring.coreos.com/v1",
	"kind": "PodMonitor",
	"metadata": {"name": "spark-worker", "namespace": "risk-prod"},
	"spec": {
		"selector": {"matchLabels": {"app.kubernetes.io/name": "spark", "app.kubernetes.io/component": "worker"}},
		"podMetricsEndpoints": [{"port": "webui", "path": "/metrics/prometheus"}],
	},
}

monitored_spark_worker := json.patch(f.deployment, [
	{"op": "replace", "path": "/spec/template/metadata/labels", "value": {"app.kubernetes.io/name": "spark", "app.kubernetes.io/component": "worker"}},
	{"op": "add", "path": "/spec/template/spec/containers/0/ports", "value": [{"name": "webui", "containerPort": 8081}]},
])

test_scrape_target_podmonitor if {
	count(scrape_findings(monitored_pm, [monitored_spark_worker])) == 0
	scrape_findings(monitored_pm, [f.deployment])["PodMonitor spark-worker: selects no workload's pods in [\"risk-prod\"]: fix spec.selector or spec.namespaceSelector"]
	port := json.patch(monitored_pm, [{"op": "replace", "path": "/spec/podMetricsEndpoints/0/port", "value": "metrics"}])
	scrape_findings(port, [monitored_spark_worker])["PodMonitor spark-worker: podMetricsEndpoints[0] port \"metrics\" is not a named container port of Deployment web (it has [\"webui\"])"]
	path := json.patch(monitored_pm, [{"op": "replace", "path": "/spec/podMetricsEndpoints/0/path", "value": "/metrics/master/prometheus"}])
	scrape_findings(path, [monitored_spark_worker])["PodMonitor spark-worker: podMetricsEndpoints[0] (Deployment web): path \"/metrics/master/prometheus\" is not where spark/worker serves metrics (/metrics/prometheus)"]
}
