{{/*
Helpers of the nightly pipeline (workflowtemplate.yaml, cronworkflow.yaml).
*/}}

{{- define "distribution.workflowTemplateName" -}}
{{- printf "%s-pipeline" (include "distribution.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The shards of one dataset: its own `shards`, else the chart's. */}}
{{- define "distribution.datasetShards" -}}
{{- $ds := .ds -}}
{{- int (ternary $ds.shards .root.Values.shards (hasKey $ds "shards")) -}}
{{- end -}}

{{/* The DAG task name of a dataset's step: <prefix>-<dataset with dashes>. */}}
{{- define "distribution.taskName" -}}
{{- printf "%s-%s" .prefix (.ds.name | replace "_" "-") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
retryStrategy of a step. Argo Workflows v3.7.6 docs/retries.md: with an expression and no
retryPolicy the expression alone decides (v3.5+); lastRetry.exitCode is the main container's exit
code as a string ("-1" when there is none), lastRetry.status "Error" when the pod itself failed
(deleted, evicted). The distribution job's exit codes (jobs/internal/app/app.go): 1 transient
(retried, with backoff), 2 usage and 3 contract violation (never retried: a retry cannot fix
them), 4 input not ready (the wait step has waited already), 5 verification failed, 6 conflict
(another run's publication: never retried blindly). `codes` adds the exit codes of another image
(spark-submit exits -1, 255 to the kernel, when no master answers: Spark's deploy/Client.scala).
*/}}
{{- define "distribution.retryStrategy" -}}
{{- $w := .root.Values.workflow -}}
{{- $codes := concat (list 1) (default (list) .codes) -}}
limit: {{ default $w.retryLimit .limit | quote }}
retryPolicy: Always
expression: {{ printf "lastRetry.status == \"Error\" || asInt(lastRetry.exitCode) in [%s]" (join ", " $codes) | quote }}
backoff:
  duration: {{ $w.backoff.duration | quote }}
  factor: {{ $w.backoff.factor | toString | quote }}
  maxDuration: {{ $w.backoff.maxDuration | quote }}
{{- end -}}

{{/*
A container step of the distribution image: `args` are the command's arguments, `env` extra
environment entries.
*/}}
{{- define "distribution.workflowContainer" -}}
{{- $root := .root -}}
image: {{ include "distribution.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
command: {{ toJson $root.Values.workflow.command }}
args:
  {{- range .args }}
  - {{ . | quote }}
  {{- end }}
env:
  {{- include "distribution.env" $root | nindent 2 }}
  {{- with .env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
securityContext:
  {{- include "distribution.containerSecurityContext" $root | nindent 2 }}
resources:
  {{- toYaml (default $root.Values.resources .resources) | nindent 2 }}
volumeMounts:
  {{- include "distribution.volumeMounts" $root | nindent 2 }}
{{- end -}}

{{/* The calendar's arguments, shared by the calendar step and the exit handler. */}}
{{- define "distribution.calendarArgs" -}}
{{- $w := .Values.workflow -}}
{{- toJson (list "--at={{workflow.scheduledTime}}" (printf "--time-zone=%s" .Values.schedule.timeZone) (printf "--days-before=%d" (int $w.cobDaysBefore)) "--cob-date={{workflow.parameters.cob-date}}") -}}
{{- end -}}

{{/* Pipeline values the schema cannot express. */}}
{{- define "distribution.validateWorkflow" -}}
{{- $w := .Values.workflow -}}
{{- /*
The K pods of a sharded publication wait for each other (the workers for the coordinator's
staging table, the coordinator for every worker: jobs/internal/publish/shard.go), so a dataset
holds its slots until all K run. With every sharded dataset one pod short, Σ(K-1) slots are
held and none frees: workflow.parallelism must be at least Σ(K-1)+1 for one publication to
complete (checking only the largest K let three datasets of 2 shards deadlock at 3).
*/ -}}
{{- $need := 1 -}}
{{- $sharded := list -}}
{{- range .Values.datasets -}}
{{- $k := int (include "distribution.datasetShards" (dict "root" $ "ds" .)) -}}
{{- if gt $k 1 -}}
{{- $need = add $need (sub $k 1) -}}
{{- $sharded = append $sharded (printf "%s:%d" .name $k) -}}
{{- end -}}
{{- end -}}
{{- if lt (int $w.parallelism) (int $need) -}}
{{- fail (printf "workflow.parallelism %d < %d: the sharded publications (%s) wait until all their pods run, so the pipeline needs 1 + the sum of (shards - 1) slots, or it can hold every slot with pods that wait for pods that cannot start" (int $w.parallelism) (int $need) (join ", " $sharded)) -}}
{{- end -}}
{{- if $w.spark.enabled -}}
{{- range $k := list "master" "mainClass" "application" -}}
{{- if not (get $w.spark $k) -}}
{{- fail (printf "workflow.spark.%s: required when workflow.spark.enabled" $k) -}}
{{- end -}}
{{- end -}}
{{- if not (hasPrefix "spark://" $w.spark.master) -}}
{{- fail (printf "workflow.spark.master %q: the standalone master URL, spark://host:port" $w.spark.master) -}}
{{- end -}}
{{- if hasKey $w.spark.conf "spark.standalone.submit.waitAppCompletion" -}}
{{- fail "workflow.spark.conf.spark.standalone.submit.waitAppCompletion: set by the chart (true): the step must wait for the application" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The spark step's script: spark-submit "$@", then exit 7 unless the driver ended FINISHED.

Read in apache/spark (core/src/main/scala/org/apache/spark/deploy/, Spark 4.0): in standalone
cluster mode spark-submit runs ClientApp (SparkSubmit.STANDALONE_CLUSTER_SUBMIT_CLASS). With
spark.standalone.submit.waitAppCompletion its ClientEndpoint polls the master until the driver is
FINISHED, FAILED, ERROR or KILLED, logs "State of driver <id> is <state>, exiting spark-submit
JVM." at INFO and exits 0 in all four cases (reportDriverStatus); it exits -1 (255) when no master
answers or the master does not know the driver. ClientApp sets the root logger to WARN
(ClientArguments.logLevel: INFO only with its --verbose, which spark-submit does not pass on),
so the state is logged only through a logger of its own: a log4j2 configuration read through
SPARK_SUBMIT_OPTS (the launcher adds it to the client JVM's options) keeps
org.apache.spark.deploy.ClientEndpoint at INFO. Exit 7 is not retried: the driver has run and
failed (spark-submit --supervise is Spark's own restart). charts/spark_submit_test.go runs this
script against a stand-in spark-submit that prints what Client.scala prints.
*/}}
{{- define "distribution.sparkSubmit" -}}
set -u
conf="${TMPDIR:-/tmp}/lakeport-spark-submit-log4j2.properties"
cat > "$conf" <<'EOF'
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.client.name = org.apache.spark.deploy.ClientEndpoint
logger.client.level = info
EOF
export SPARK_SUBMIT_OPTS="${SPARK_SUBMIT_OPTS:+$SPARK_SUBMIT_OPTS }-Dlog4j2.configurationFile=file:$conf"
log="${TMPDIR:-/tmp}/lakeport-spark-submit.log"
"${SPARK_HOME:-/opt/spark}/bin/spark-submit" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then exit "$rc"; fi
state=$(sed -n 's/.*State of driver [^ ]* is \([A-Z]*\), exiting spark-submit JVM.*/\1/p' "$log" | tail -n 1)
if [ "$state" = FINISHED ]; then exit 0; fi
echo "lakeport: the Spark driver ended ${state:-in a state spark-submit did not log}: failing the step (exit 7)" >&2
exit 7
{{- end -}}
