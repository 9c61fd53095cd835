package main

import data.lib.fixtures as f

test_network_policy_default_deny_selects_all if {
	count(deny_network_policy) == 0 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as f.objects
}

test_network_policy_missing if {
	deny_network_policy["Deployment web: no NetworkPolicy of namespace risk-prod selects its pods: add one whose podSelector matches the pod labels"] with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [f.deployment]
}

test_network_policy_selectors if {
	match := json.patch(f.network_policy, [{"op": "replace", "path": "/spec/podSelector", "value": {"matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In", "values": ["worker", "coordinator"]}]}}])
	count(deny_network_policy) == 0 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [match]
	miss := json.patch(f.network_policy, [{"op": "replace", "path": "/spec/podSelector", "value": {"matchLabels": {"app.kubernetes.io/component": "coordinator"}}}])
	count(deny_network_policy) == 1 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [miss]
	notin := json.patch(f.network_policy, [{"op": "replace", "path": "/spec/podSelector", "value": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}, {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["spark"]}]}}])
	count(deny_network_policy) == 0 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [notin]
}

test_network_policy_namespace_must_match if {
	other := json.patch(f.network_policy, [{"op": "replace", "path": "/metadata/namespace", "value": "other"}])
	count(deny_network_policy) == 1 with input as f.deployment with data.lakeport.environment as f.prod with data.lakeport.objects as [other]
}

test_network_policy_cronjob_and_non_workloads if {
	count(deny_network_policy) == 1 with input as f.cronjob with data.lakeport.environment as f.prod with data.lakeport.objects as []
	count(deny_network_policy) == 0 with input as f.service with data.lakeport.environment as f.prod with data.lakeport.objects as []
}

# A CronWorkflow that only references a WorkflowTemplate runs the template's pods: the template is
# what a NetworkPolicy must select.
test_cron_workflow_of_a_template_is_not_a_workload if {
	cw := {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "metadata": {"name": "nightly", "namespace": "risk-prod"}, "spec": {"workflowSpec": {"workflowTemplateRef": {"name": "pipeline"}}}}
	count(deny_network_policy) == 0 with input as cw with data.lakeport.environment as f.prod with data.lakeport.objects as [cw]
	own := json.patch(cw, [{"op": "add", "path": "/spec/workflowSpec/templates", "value": [{"name": "main", "container": {"image": "x"}}]}])
	count(deny_network_policy) == 1 with input as own with data.lakeport.environment as f.prod with data.lakeport.objects as [own]
}
