# Availability in production.
# In production environments (lib.kubernetes.production_environments) Trino's coordinator-facing
# workloads and its workers run at least two replicas, every multi-replica workload has a
# PodDisruptionBudget (node drains keep it serving) and spreads over zones and nodes.
package main

import data.lib.kubernetes as k8s

# METADATA
# title: At least two replicas for Trino's served workloads and workers (production)
# custom:
#   severity: failure
deny_trino_replicas contains msg if {
	k8s.production
	trino_serving(input)
	n := k8s.min_replicas(input)
	n < 2
	msg := sprintf("%s: runs %d replica(s) in %s: run at least 2 (spec.replicas, or the HorizontalPodAutoscaler's minReplicas)", [k8s.name(input), n, k8s.environment.name])
}

# trino_serving: a Trino Deployment/StatefulSet that is a worker or sits behind a Service.
trino_serving(obj) if {
	obj.kind in k8s.replicated_kinds
	k8s.labels(obj)["app.kubernetes.io/name"] == "trino"
	k8s.pod_labels(obj)["app.kubernetes.io/component"] == "worker"
}

trino_serving(obj) if {
	obj.kind in k8s.replicated_kinds
	k8s.labels(obj)["app.kubernetes.io/name"] == "trino"
	some svc in k8s.objects
	svc.kind == "Service"
	k8s.same_namespace(svc, obj)
	count(object.get(svc.spec, "selector", {})) > 0
	k8s.selects({"matchLabels": svc.spec.selector}, k8s.pod_labels(obj))
}

# METADATA
# title: A PodDisruptionBudget per multi-replica workload (production)
# custom:
#   severity: failure
deny_pdb contains msg if {
	k8s.production
	k8s.multi_replica(input)
	not pdb_covers(input)
	msg := sprintf("%s: runs up to %d replicas in %s without a PodDisruptionBudget: add one whose selector matches the pod labels", [k8s.name(input), k8s.max_replicas(input), k8s.environment.name])
}

pdb_covers(obj) if {
	some pdb in k8s.objects
	pdb.kind == "PodDisruptionBudget"
	k8s.same_namespace(pdb, obj)
	k8s.selects(pdb.spec.selector, k8s.pod_labels(obj))
}

# METADATA
# title: Topology spread for multi-replica workloads (production)
# custom:
#   severity: failure
deny_topology_spread contains msg if {
	k8s.production
	k8s.multi_replica(input)
	not spread(input)
	msg := sprintf("%s: runs up to %d replicas in %s without spec.template.spec.topologySpreadConstraints whose labelSelector matches its pods: spread them over topology.kubernetes.io/zone", [k8s.name(input), k8s.max_replicas(input), k8s.environment.name])
}

spread(obj) if {
	some tsc in object.get(k8s.pod_spec(obj), "topologySpreadConstraints", [])
	k8s.selects(tsc.labelSelector, k8s.pod_labels(obj))
}
