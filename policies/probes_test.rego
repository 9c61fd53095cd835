package main

import data.lib.fixtures as f

test_warnings_good_deployment_passes if {
	count(warn_probes) == 0 with input as f.deployment
	count(warn_read_only_root_filesystem) == 0 with input as f.deployment
}

test_warn_probes if {
	warn_probes["Deployment web: container \"app\" has no readinessProbe: add one so that rollouts and Services wait until it is ready"] with input as f.without_container("readinessProbe")
	count(warn_probes) == 0 with input as json.remove(f.cronjob, ["spec/jobTemplate/spec/template/spec/containers/0/readinessProbe"])
}

test_warn_read_only_root_filesystem if {
	count(warn_read_only_root_filesystem) == 1 with input as f.without_container("securityContext/readOnlyRootFilesystem")
}
