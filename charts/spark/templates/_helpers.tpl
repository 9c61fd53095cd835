{{- define "spark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spark.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "spark.masterName" -}}{{ include "spark.fullname" . | trunc 40 | trimSuffix "-" }}-master{{- end -}}
{{- define "spark.masterHeadless" -}}{{ include "spark.fullname" . | trunc 40 | trimSuffix "-" }}-master-headless{{- end -}}
{{- define "spark.workerName" -}}{{ include "spark.fullname" . | trunc 40 | trimSuffix "-" }}-worker{{- end -}}
{{- define "spark.workerHeadless" -}}{{ include "spark.fullname" . | trunc 40 | trimSuffix "-" }}-worker-headless{{- end -}}
{{- define "spark.historyName" -}}{{ include "spark.fullname" . | trunc 40 | trimSuffix "-" }}-history{{- end -}}

{{- define "spark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spark.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "spark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spark.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spark.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spark.selectorLabels" . }}
app.kubernetes.io/version: {{ include "spark.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lakeport
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "spark.componentLabels" -}}
{{ include "spark.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "spark.componentSelector" -}}
{{ include "spark.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "spark.imageTag" -}}
{{- $tag := toString .Values.image.tag -}}
{{- if or (eq $tag "") (eq $tag "latest") -}}
{{- fail "image.tag: pin a Spark image (\"latest\" and empty tags are not allowed)" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "spark.image" -}}
{{- $ref := printf "%s/%s:%s" .Values.image.registry .Values.image.repository (include "spark.imageTag" .) -}}
{{- if .Values.image.digest -}}{{ printf "%s@%s" $ref .Values.image.digest }}{{- else -}}{{ $ref }}{{- end -}}
{{- end -}}

{{/* spark://m-0.headless.ns.svc.cluster.local:7077,m-1...: every master, so workers and drivers follow the leader. */}}
{{- define "spark.masterURL" -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.master.replicas) -}}
{{- $hosts = append $hosts (printf "%s-%d.%s.%s.svc.%s:%v" (include "spark.masterName" $) $i (include "spark.masterHeadless" $) $.Release.Namespace $.Values.clusterDomain $.Values.master.port) -}}
{{- end -}}
spark://{{ join "," $hosts }}
{{- end -}}

{{- define "spark.toMiB" -}}
{{- $q := toString . -}}
{{- if hasSuffix "Gi" $q -}}{{ mul (trimSuffix "Gi" $q | int64) 1024 }}
{{- else if hasSuffix "Mi" $q -}}{{ trimSuffix "Mi" $q | int64 }}
{{- else if hasSuffix "g" $q -}}{{ mul (trimSuffix "g" $q | int64) 1024 }}
{{- else if hasSuffix "m" $q -}}{{ trimSuffix "m" $q | int64 }}
{{- else -}}{{ fail (printf "memory %q: use Gi/Mi (Kubernetes) or g/m (JVM)" $q) }}
{{- end -}}
{{- end -}}

{{/* Memory the worker offers to executors, in MiB. */}}
{{- define "spark.workerMemoryMiB" -}}
{{- $w := .Values.worker -}}
{{- $limit := include "spark.toMiB" $w.resources.limits.memory | int64 -}}
{{- $daemon := include "spark.toMiB" $w.daemonMemory | int64 -}}
{{- $mem := sub (div (mul $limit $w.executorMemoryPercent) 100) $daemon -}}
{{- if lt $mem 512 -}}
{{- fail (printf "worker.resources.limits.memory (%s): after the daemon's %s only %dMiB are left for executors; at least 512MiB are needed" $w.resources.limits.memory $w.daemonMemory $mem) -}}
{{- end -}}
{{- $mem -}}
{{- end -}}

{{- define "spark.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 185
runAsGroup: 185
fsGroup: 185
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "spark.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "spark.commonEnv" -}}
- name: SPARK_CONF_DIR
  value: /opt/spark/conf-lakeport
- name: SPARK_LOCAL_DIRS
  value: /tmp/spark-local
- name: SPARK_NO_DAEMONIZE
  value: "true"
{{- with .Values.extraClasspath }}
- name: SPARK_DAEMON_CLASSPATH
  value: {{ . | quote }}
{{- end }}
{{- if and .Values.eventLog.enabled .Values.eventLog.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.eventLog.s3.existingSecret }}
      key: {{ .Values.eventLog.s3.accessKeyKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.eventLog.s3.existingSecret }}
      key: {{ .Values.eventLog.s3.secretKeyKey }}
- name: AWS_REGION
  value: {{ .Values.eventLog.s3.region | quote }}
{{- end }}
{{- end -}}

{{- define "spark.topologySpread" -}}
{{- if .spec.enabled }}
topologySpreadConstraints:
  {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: {{ $.spec.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.spec.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "spark.componentSelector" (dict "root" $.root "component" $.component) | nindent 8 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Scheduling of a role: (dict "spec" .Values.worker) */}}
{{- define "spark.scheduling" -}}
{{- with .spec.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .spec.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .spec.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "spark.validate" -}}
{{- $r := .Values.recovery -}}
{{- if and (ne $r.mode "ZOOKEEPER") (gt (int .Values.master.replicas) 1) -}}
{{- fail (printf "master.replicas (%v): more than one master needs recovery.mode=ZOOKEEPER for leader election" .Values.master.replicas) -}}
{{- end -}}
{{- if and (eq $r.mode "ZOOKEEPER") (not $r.zookeeper.url) -}}
{{- fail "recovery.zookeeper.url: ZOOKEEPER recovery needs the ZooKeeper connect string" -}}
{{- end -}}
{{- if and .Values.eventLog.enabled .Values.eventLog.s3.requireTLS (not (hasPrefix "https://" .Values.eventLog.s3.endpoint)) -}}
{{- fail (printf "eventLog.s3.endpoint %q: eventLog.s3.requireTLS is on, use an https:// endpoint" .Values.eventLog.s3.endpoint) -}}
{{- end -}}
{{- if and .Values.historyServer.enabled (not .Values.eventLog.enabled) -}}
{{- fail "historyServer.enabled: the history server reads the event logs; enable eventLog too" -}}
{{- end -}}
{{- range $k, $v := .Values.sparkConf -}}
{{- if regexMatch "(?i)(password|secret|token|access\\.key|secret\\.key|credential)" $k -}}
{{- fail (printf "sparkConf.%s: credentials must come from a Secret (environment), not spark-defaults.conf" $k) -}}
{{- end -}}
{{- end -}}
{{- $_ := include "spark.workerMemoryMiB" . -}}
{{- end -}}
