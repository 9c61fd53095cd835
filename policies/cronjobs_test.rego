package main

import data.lib.fixtures as f

test_cronjob_good_passes if {
	count(deny_cronjob_concurrency) == 0 with input as f.cronjob
	count(deny_cronjob_deadline) == 0 with input as f.cronjob
}

test_cronjob_concurrency_default_allows if {
	deny_cronjob_concurrency["CronJob nightly: concurrencyPolicy is Allow: set spec.concurrencyPolicy: Forbid so that runs never overlap"] with input as json.remove(f.cronjob, ["spec/concurrencyPolicy"])
	count(deny_cronjob_concurrency) == 1 with input as json.patch(f.cronjob, [{"op": "replace", "path": "/spec/concurrencyPolicy", "value": "Replace"}])
}

test_cronjob_deadlines if {
	deny_cronjob_deadline["CronJob nightly: no starting deadline: set spec.startingDeadlineSeconds so that a missed schedule is skipped, not started late"] with input as json.remove(f.cronjob, ["spec/startingDeadlineSeconds"])
	deny_cronjob_deadline["CronJob nightly: no run deadline: set spec.jobTemplate.spec.activeDeadlineSeconds so that a stuck run is stopped"] with input as json.remove(f.cronjob, ["spec/jobTemplate/spec/activeDeadlineSeconds"])
}

test_cron_workflow if {
	good := {"kind": "CronWorkflow", "metadata": {"name": "nightly"}, "spec": {"concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 60, "workflowSpec": {"activeDeadlineSeconds": 3600}}}
	count(deny_cronjob_concurrency) == 0 with input as good
	count(deny_cronjob_deadline) == 0 with input as good
	count(deny_cronjob_deadline) == 1 with input as json.remove(good, ["spec/workflowSpec/activeDeadlineSeconds"])
	count(deny_cronjob_concurrency) == 1 with input as json.remove(good, ["spec/concurrencyPolicy"])
}

test_cronjob_rules_ignore_other_kinds if {
	count(deny_cronjob_concurrency) == 0 with input as f.deployment
}

trino_maintenance_cronjob := json.patch(f.cronjob, [{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/containers/0/command", "value": [
	"trino", "--execute",
	"ALTER TABLE iceberg.risk.var_es EXECUTE optimize(file_size_threshold => '128MB'); ALTER TABLE iceberg.risk.var_es EXECUTE expire_snapshots(retention_threshold => '7d');",
]}])

test_table_maintenance_outside_the_owner_denied if {
	count(deny_table_maintenance_owner) == 2 with input as trino_maintenance_cronjob
	some msg in deny_table_maintenance_owner with input as trino_maintenance_cronjob
	contains(msg, "runs Iceberg maintenance (expire_snapshots) outside `distribution maintain`")
}

test_distribution_maintain_allowed if {
	owner := json.patch(f.cronjob, [{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/containers/0/args", "value": ["maintain", "--config=/etc/distribution/config.yaml", "--dataset=all"]}])
	count(deny_table_maintenance_owner) == 0 with input as owner
	count(deny_table_maintenance_owner) == 0 with input as f.cronjob
}
