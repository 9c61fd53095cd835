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
