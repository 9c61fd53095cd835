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
{{- include "spark.trustEnv" . }}
{{- if and (include "spark.eventLogOnS3" .) .Values.eventLog.s3.existingSecret }}
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
{{- $e := .Values.eventLog -}}
{{- if and (include "spark.eventLogOnS3" .) (not $e.s3aJarsOnClasspath) -}}
{{- fail (printf "eventLog.dir %q: the apache/spark image has no hadoop-aws or AWS SDK jars, so every JVM writing or reading s3a:// fails (the history server crash-loops on ClassNotFoundException S3AFileSystem). Use a file: dir on the event-log volume (the default, file:%s), or an image that carries the jars and set eventLog.s3aJarsOnClasspath: true" $e.dir $e.volume.mountPath) -}}
{{- end -}}
{{- if and (include "spark.eventLogOnVolume" .) (not (hasPrefix (printf "file:%s" $e.volume.mountPath) $e.dir)) -}}
{{- fail (printf "eventLog.dir %q: a file: event-log directory must lie on the event-log volume, mounted at eventLog.volume.mountPath (file:%s)" $e.dir $e.volume.mountPath) -}}
{{- end -}}
{{- $sharers := add (int .Values.worker.replicas) (ternary (int .Values.historyServer.replicas) 0 .Values.historyServer.enabled) -}}
{{- if and (include "spark.eventLogOnVolume" .) $e.volume.persistence.enabled (not $e.volume.persistence.existingClaim) (gt (int $sharers) 1) (not (has "ReadWriteMany" $e.volume.persistence.accessModes)) -}}
{{- fail (printf "eventLog.volume.persistence.accessModes %v: %d pods (workers and history servers) share the event-log volume; it needs ReadWriteMany" $e.volume.persistence.accessModes (int $sharers)) -}}
{{- end -}}
{{- if and .Values.trustedCA.configMapName .Values.trustedCA.secretName -}}
{{- fail "trustedCA: set configMapName or secretName, not both" -}}
{{- end -}}
{{- if and (include "spark.eventLogOnS3" .) .Values.eventLog.s3.requireTLS (not (hasPrefix "https://" .Values.eventLog.s3.endpoint)) -}}
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

{{/* Event logs on S3 (s3a://) rather than on the event-log volume (file:). */}}
{{- define "spark.eventLogOnS3" -}}
{{- if and .Values.eventLog.enabled (hasPrefix "s3a://" .Values.eventLog.dir) -}}true{{- end -}}
{{- end -}}

{{/* Event logs on the event-log volume: the workers and the history server mount it. */}}
{{- define "spark.eventLogOnVolume" -}}
{{- if and .Values.eventLog.enabled (hasPrefix "file:" .Values.eventLog.dir) -}}true{{- end -}}
{{- end -}}

{{- define "spark.eventLogClaim" -}}
{{- default (printf "%s-events" (include "spark.fullname" .)) .Values.eventLog.volume.persistence.existingClaim -}}
{{- end -}}

{{- define "spark.eventLogVolumeMount" -}}
{{- if include "spark.eventLogOnVolume" . }}
- name: events
  mountPath: {{ .Values.eventLog.volume.mountPath }}
{{- end }}
{{- end -}}

{{- define "spark.eventLogVolume" -}}
{{- if include "spark.eventLogOnVolume" . }}
- name: events
  {{- if .Values.eventLog.volume.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "spark.eventLogClaim" . }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ .Values.eventLog.volume.emptyDirSizeLimit }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
CA trust. The apache/spark image is built FROM eclipse-temurin:<java>-jammy, a JDK: keytool is on
PATH and the JVM's truststore is $JAVA_HOME/lib/security/cacerts (password "changeit"). With a
read-only root filesystem the truststore is a copy in an emptyDir, built by an init container.
Checked against apache/spark-docker 4.0.1/scala2.13-java21-ubuntu/Dockerfile and
adoptium/containers 21/jdk/ubuntu/jammy/{Dockerfile,entrypoint.sh}.
*/}}
{{- define "spark.trustedCA" -}}
{{- if or .Values.trustedCA.configMapName .Values.trustedCA.secretName -}}true{{- end -}}
{{- end -}}

{{- define "spark.truststorePath" -}}/opt/spark/truststore/cacerts{{- end -}}

{{/* JVM options that make a JVM trust the truststore (daemons and applications alike). */}}
{{- define "spark.trustJavaOpts" -}}
{{- if include "spark.trustedCA" . -}}
-Djavax.net.ssl.trustStore={{ include "spark.truststorePath" . }} -Djavax.net.ssl.trustStorePassword=changeit
{{- end -}}
{{- end -}}

{{- define "spark.trustEnv" -}}
{{- if include "spark.trustedCA" . }}
- name: SPARK_DAEMON_JAVA_OPTS
  value: {{ include "spark.trustJavaOpts" . | quote }}
{{- end }}
{{- end -}}

{{- define "spark.trustInitContainer" -}}
{{- if include "spark.trustedCA" . }}
# Imports the CA bundle into a copy of the JVM's cacerts. keytool -importcert takes one
# certificate per call, so the bundle is split first; an empty or unreadable bundle fails the pod.
- name: truststore
  image: {{ include "spark.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  securityContext:
    {{- include "spark.containerSecurityContext" . | nindent 4 }}
  command:
    - /bin/bash
    - -ec
    - |
      store={{ include "spark.truststorePath" . }}
      cp "$JAVA_HOME/lib/security/cacerts" "$store"
      chmod u+w "$store"
      awk -v dir=/opt/spark/truststore 'BEGIN{n=0} /-----BEGIN CERTIFICATE-----/{n++; f=sprintf("%s/ca-%d.pem", dir, n)} f!=""{print > f} /-----END CERTIFICATE-----/{close(f); f=""} END{if (n==0) exit 1}' /etc/lakeport/ca/ca.crt \
        || { echo "trustedCA: no PEM certificate in key {{ .Values.trustedCA.key }} of {{ default .Values.trustedCA.secretName .Values.trustedCA.configMapName }}" >&2; exit 1; }
      for pem in /opt/spark/truststore/ca-*.pem; do
        keytool -importcert -noprompt -alias "lakeport-$(basename "$pem" .pem)" -file "$pem" -keystore "$store" -storepass changeit
        rm -f "$pem"
      done
      echo "truststore: $(keytool -list -keystore "$store" -storepass changeit | grep -c trustedCertEntry) trusted certificates"
  resources:
    requests: {cpu: 50m, memory: 128Mi}
    limits: {cpu: 500m, memory: 256Mi}
  volumeMounts:
    - name: trusted-ca
      mountPath: /etc/lakeport/ca
      readOnly: true
    - name: truststore
      mountPath: /opt/spark/truststore
{{- end }}
{{- end -}}

{{- define "spark.trustVolumeMount" -}}
{{- if include "spark.trustedCA" . }}
- name: truststore
  mountPath: /opt/spark/truststore
  readOnly: true
{{- end }}
{{- end -}}

{{- define "spark.trustVolumes" -}}
{{- if include "spark.trustedCA" . }}
- name: trusted-ca
  {{- if .Values.trustedCA.configMapName }}
  configMap:
    name: {{ .Values.trustedCA.configMapName }}
  {{- else }}
  secret:
    secretName: {{ .Values.trustedCA.secretName }}
  {{- end }}
    items:
      - key: {{ .Values.trustedCA.key }}
        path: ca.crt
- name: truststore
  emptyDir:
    sizeLimit: 16Mi
{{- end }}
{{- end -}}

{{/* The standard OTEL_* variables for the applications a worker launches (values otel). */}}
{{- define "spark.otelEnv" -}}
{{- $o := .Values.otel -}}
{{- if $o.enabled }}
{{- if not $o.endpoint }}{{ fail "otel.endpoint: the OTLP endpoint is required when otel.enabled (http://collector:4318 for http/protobuf, :4317 for grpc)" }}{{ end }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $o.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $o.protocol | quote }}
{{- with $o.headersSecret.name }}
{{- if $o.headersSecret.header }}
- name: LAKEPORT_OTEL_HEADER
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $o.headersSecret.key }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  value: "{{ $o.headersSecret.header }}=$(LAKEPORT_OTEL_HEADER)"
{{- else }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $o.headersSecret.key }}
{{- end }}
{{- end }}
{{- with $o.serviceName }}
- name: OTEL_SERVICE_NAME
  value: {{ . | quote }}
{{- end }}
{{- $attrs := mergeOverwrite (dict "deployment.environment.name" .Release.Namespace) (deepCopy $o.resourceAttributes) }}
{{- $out := list }}
{{- range $k := keys $attrs | sortAlpha }}{{ $out = append $out (printf "%s=%s" $k (index $attrs $k)) }}{{ end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $out | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $o.sampler | quote }}
{{- with $o.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}
