# Probes and filesystems (warnings).
# Long-running containers say when they are ready, so that rollouts and Services wait for them,
# and containers run with a read-only root filesystem, writing only to declared volumes. These
# are warnings: `lakeport check --fail-on-warn` makes them fail.
package main

import data.lib.kubernetes as k8s

# METADATA
# title: Readiness probes on long-running containers
# custom:
#   severity: warning
warn_probes contains msg if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet"}
	some c in input.spec.template.spec.containers
	not c.readinessProbe
	msg := sprintf("%s: container %q has no readinessProbe: add one so that rollouts and Services wait until it is ready", [k8s.name(input), c.name])
}

# METADATA
# title: Read-only root filesystem
# custom:
#   severity: warning
warn_read_only_root_filesystem contains msg if {
	some c in k8s.input_containers
	not c.container.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("%s: %s has a writable root filesystem: set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes", [k8s.name(input), k8s.container_name(c)])
}
