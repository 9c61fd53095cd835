package main

import data.lib.fixtures as f

test_resources_good_deployment_passes if {
	count(deny_resources) == 0 with input as f.deployment
}

test_resources_missing_limits if {
	deny_resources["Deployment web: container \"app\" has no limits for cpu and memory: set resources.limits.cpu and resources.limits.memory"] with input as f.without_container("resources/limits")
}

test_resources_missing_memory_request if {
	deny_resources["Deployment web: container \"app\" has no requests for memory: set resources.requests.memory"] with input as f.without_container("resources/requests/memory")
	count(deny_resources) == 1 with input as f.without_container("resources/requests/memory")
}

test_resources_no_resources_at_all if {
	count(deny_resources) == 2 with input as f.without_container("resources")
}

test_resources_init_containers if {
	init := json.remove(f.container, ["resources"])
	count(deny_resources) == 2 with input as f.with_pod([{"path": "initContainers", "value": [object.union(init, {"name": "init"})]}])
}
