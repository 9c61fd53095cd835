# Resources.
# Every container declares CPU and memory requests (so the scheduler places it) and limits (so a
# runaway JVM or Spark executor cannot starve its neighbours on the shared cluster).
package main

import data.lib.kubernetes as k8s

# METADATA
# title: CPU and memory requests and limits on every container
# custom:
#   severity: failure
deny_resources contains msg if {
	some c in k8s.input_containers
	some kind in ["requests", "limits"]
	missing := [r | some r in ["cpu", "memory"]; not c.container.resources[kind][r]]
	count(missing) > 0
	fields := [sprintf("resources.%s.%s", [kind, r]) | some r in missing]
	msg := sprintf("%s: %s has no %s for %s: set %s", [k8s.name(input), k8s.container_name(c), kind, concat(" and ", missing), concat(" and ", fields)])
}
