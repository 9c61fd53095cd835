# Scheduled jobs.
# A nightly publication must never run twice at once (two runs overwriting the same cob_date
# partition), and a stuck run must end instead of blocking the next night: every CronJob (and
# Argo CronWorkflow) forbids concurrency and sets deadlines.
package main

import data.lib.kubernetes as k8s

# METADATA
# title: concurrencyPolicy Forbid
# custom:
#   severity: failure
deny_cronjob_concurrency contains msg if {
	input.kind in {"CronJob", "CronWorkflow"}
	policy := object.get(input.spec, "concurrencyPolicy", "Allow")
	policy != "Forbid"
	msg := sprintf("%s: concurrencyPolicy is %s: set spec.concurrencyPolicy: Forbid so that runs never overlap", [k8s.name(input), policy])
}

# METADATA
# title: A starting deadline and a run deadline
# custom:
#   severity: failure
deny_cronjob_deadline contains msg if {
	input.kind in {"CronJob", "CronWorkflow"}
	not input.spec.startingDeadlineSeconds
	msg := sprintf("%s: no starting deadline: set spec.startingDeadlineSeconds so that a missed schedule is skipped, not started late", [k8s.name(input)])
}

deny_cronjob_deadline contains msg if {
	input.kind == "CronJob"
	not input.spec.jobTemplate.spec.activeDeadlineSeconds
	msg := sprintf("%s: no run deadline: set spec.jobTemplate.spec.activeDeadlineSeconds so that a stuck run is stopped", [k8s.name(input)])
}

deny_cronjob_deadline contains msg if {
	input.kind == "CronWorkflow"
	not input.spec.workflowSpec.activeDeadlineSeconds
	msg := sprintf("%s: no run deadline: set spec.workflowSpec.activeDeadlineSeconds so that a stuck run is stopped", [k8s.name(input)])
}

# Iceberg table maintenance has one owner: the distribution chart's `distribution maintain`
# CronJob, which runs under each dataset's maintenance lock (no publication runs beside it) and
# keeps the publications' tags for the regulatory retention. A Trino statement that compacts,
# expires snapshots or removes orphan files from any other workload (the Trino chart's own
# maintenance CronJobs, a pipeline step) races the publications: a concurrent optimize fails a
# publish, an expiry can remove the snapshot a publication state points at.
maintenance_statements := ["expire_snapshots", "remove_orphan_files", "execute optimize"]

# METADATA
# title: One owner of Iceberg table maintenance
# custom:
#   severity: failure
deny_table_maintenance_owner contains msg if {
	k8s.is_workload(input)
	some c in k8s.input_containers
	text := lower(concat(" ", array.concat(object.get(c.container, "command", []), object.get(c.container, "args", []))))
	some stmt in maintenance_statements
	contains(text, stmt)
	msg := sprintf("%s: container %q runs Iceberg maintenance (%s) outside `distribution maintain`: it races the publications (no publication lock) and ignores the publications' tags; turn it off and configure maintenance in the distribution chart (maintenance.*)", [k8s.name(input), c.container.name, stmt])
}
