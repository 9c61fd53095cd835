package main

import data.lib.fixtures as f

test_availability_good_prod_passes if {
	count(deny_trino_replicas) == 0 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as f.objects
	count(deny_pdb) == 0 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as f.objects
	count(deny_topology_spread) == 0 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as f.objects
}

test_trino_replicas_prod_only if {
	one := json.patch(f.deployment, [{"op": "replace", "path": "/spec/replicas", "value": 1}])
	deny_trino_replicas["Deployment web: runs 1 replica(s) in prod: run at least 2 (spec.replicas, or the HorizontalPodAutoscaler's minReplicas)"] with input as one with data.lakeport.environment as f.prod with data.lakeport.objects as [one]
	count(deny_trino_replicas) == 0 with input as one with data.lakeport.environment as f.dev with data.lakeport.objects as [one]
}

test_trino_replicas_counts_the_hpa if {
	auto := json.remove(f.deployment, ["spec/replicas"])
	hpa := {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "risk-prod"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5}}
	count(deny_trino_replicas) == 1 with input as auto with data.lakeport.environment as f.prod with data.lakeport.objects as [auto, hpa]
	hpa2 := json.patch(hpa, [{"op": "replace", "path": "/spec/minReplicas", "value": 2}])
	count(deny_trino_replicas) == 0 with input as auto with data.lakeport.environment as f.prod with data.lakeport.objects as [auto, hpa2]
}

test_trino_replicas_service_backed if {
	coord := json.patch(f.deployment, [
		{"op": "replace", "path": "/spec/replicas", "value": 1},
		{"op": "replace", "path": "/spec/template/metadata/labels", "value": {"app.kubernetes.io/name": "trino", "app.kubernetes.io/component": "coordinator"}},
	])
	svc := json.patch(f.service, [{"op": "replace", "path": "/spec/selector", "value": {"app.kubernetes.io/component": "coordinator"}}])
	count(deny_trino_replicas) == 1 with input as coord with data.lakeport.environment as f.prod with data.lakeport.objects as [coord, svc]
	count(deny_trino_replicas) == 0 with input as coord with data.lakeport.environment as f.prod with data.lakeport.objects as [coord]
}

test_trino_replicas_ignores_other_components if {
	spark := json.patch(f.deployment, [
		{"op": "replace", "path": "/spec/replicas", "value": 1},
		{"op": "replace", "path": "/metadata/labels", "value": {"app.kubernetes.io/name": "spark"}},
	])
	count(deny_trino_replicas) == 0 with input as spark with data.lakeport.environment as f.prod with data.lakeport.objects as [spark, f.service]
}

test_pdb_missing if {
	deny_pdb["Deployment web: runs up to 3 replicas in prod without a PodDisruptionBudget: add one whose selector matches the pod labels"] with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [f.deployment]
	count(deny_pdb) == 0 with input as f.deployment with data.lakeport.environment as f.dev with data.lakeport.objects as [f.deployment]
}

test_pdb_other_namespace_does_not_count if {
	pdb := json.patch(f.pdb, [{"op": "replace", "path": "/metadata/namespace", "value": "other"}])
	count(deny_pdb) == 1 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [f.deployment, pdb]
}

test_pdb_single_replica_needs_none if {
	one := json.patch(f.deployment, [{"op": "replace", "path": "/spec/replicas", "value": 1}])
	count(deny_pdb) == 0 with input as one with data.lakeport.environment as f.prod with data.lakeport.objects as [one]
}

test_topology_spread if {
	none := json.remove(f.deployment, ["spec/template/spec/topologySpreadConstraints"])
	deny_topology_spread["Deployment web: runs up to 3 replicas in prod without spec.template.spec.topologySpreadConstraints whose labelSelector matches its pods: spread them over topology.kubernetes.io/zone"] with input as none with data.lakeport.environment as f.prod with data.lakeport.objects as [none]
	wrong := json.patch(f.deployment, [{"op": "replace", "path": "/spec/template/spec/topologySpreadConstraints/0/labelSelector", "value": {"matchLabels": {"app": "other"}}}])
	count(deny_topology_spread) == 1 with input as wrong with data.lakeport.environment as f.prod with data.lakeport.objects as [wrong]
	count(deny_topology_spread) == 0 with input as none with data.lakeport.environment as f.dev with data.lakeport.objects as [none]
}
