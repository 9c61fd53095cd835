{{/* Names ------------------------------------------------------------------ */}}
{{- define "trino.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trino.fullname" -}}
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

{{- define "trino.coordinatorName" -}}{{ include "trino.fullname" . | trunc 51 | trimSuffix "-" }}-coordinator{{- end -}}
{{- define "trino.workerName" -}}{{ include "trino.fullname" . | trunc 56 | trimSuffix "-" }}-worker{{- end -}}

{{- define "trino.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "trino.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------- */}}
{{- define "trino.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trino.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "trino.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "trino.selectorLabels" . }}
app.kubernetes.io/version: {{ include "trino.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lakeport
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Component labels: (dict "root" $ "component" "worker") */}}
{{- define "trino.componentLabels" -}}
{{ include "trino.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "trino.componentSelector" -}}
{{ include "trino.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image ------------------------------------------------------------------ */}}
{{- define "trino.imageTag" -}}
{{- $tag := toString .Values.image.tag -}}
{{- if or (eq $tag "") (eq $tag "latest") -}}
{{- fail "image.tag: pin a Trino release (\"latest\" and empty tags are not allowed)" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "trino.image" -}}
{{- $ref := printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" $ref (include "trino.imageTag" .) .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (include "trino.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* The Trino release number: server.version, or the leading digits of image.tag. */}}
{{- define "trino.version" -}}
{{- if .Values.server.version -}}
{{- .Values.server.version -}}
{{- else -}}
{{- $v := regexFind "^[0-9]+" (include "trino.imageTag" .) -}}
{{- if not $v -}}
{{- fail (printf "server.version: cannot derive the Trino release from image.tag %q; set server.version" (toString .Values.image.tag)) -}}
{{- end -}}
{{- $v -}}
{{- end -}}
{{- end -}}

{{/* Native S3 switch: renamed from fs.native-s3.enabled to fs.s3.enabled in Trino 481
     (trinodb/trino#29070), the release that also removed the legacy Hadoop S3 support. */}}
{{- define "trino.s3EnabledProperty" -}}
{{- $v := include "trino.version" . | int -}}
{{- if lt $v 458 -}}
{{- fail (printf "server.version: Trino %d is not supported (native S3 file system support needs 458 or later)" $v) -}}
{{- else if ge $v 481 -}}
fs.s3.enabled
{{- else -}}
fs.native-s3.enabled
{{- end -}}
{{- end -}}

{{/* Memory ----------------------------------------------------------------- */}}
{{/* A Kubernetes memory quantity (Gi/Mi, as the schema allows) in MiB. */}}
{{- define "trino.toMiB" -}}
{{- $q := toString . -}}
{{- if hasSuffix "Gi" $q -}}
{{- mul (trimSuffix "Gi" $q | int64) 1024 -}}
{{- else if hasSuffix "Mi" $q -}}
{{- trimSuffix "Mi" $q | int64 -}}
{{- else -}}
{{- fail (printf "resources.limits.memory %q: use a Gi or Mi quantity" $q) -}}
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "role" "worker") -> YAML with the JVM's memory in MiB: heapMiB, codeCacheMiB,
     metaspaceMiB, otherMiB (left for thread stacks, GC structures, direct buffers and malloc),
     perNodeMiB and headroomMiB. The heap is what the container limit leaves once every other JVM
     pool is bounded: limit - ReservedCodeCacheSize - MaxMetaspaceSize - other, where other is
     jvm.otherOffHeapPercent of the limit but at least jvm.otherOffHeapMinMiB. */}}
{{- define "trino.memory" -}}
{{- $spec := index .root.Values .role -}}
{{- $jvm := $spec.jvm -}}
{{- $m := .root.Values.memory -}}
{{- if gt (add $m.queryMaxMemoryPerNodePercent $m.heapHeadroomPercent) 90 -}}
{{- fail (printf "memory: queryMaxMemoryPerNodePercent (%v) + heapHeadroomPercent (%v) must be at most 90" $m.queryMaxMemoryPerNodePercent $m.heapHeadroomPercent) -}}
{{- end -}}
{{- $limit := include "trino.toMiB" $spec.resources.limits.memory | int64 -}}
{{- $code := $jvm.reservedCodeCacheMiB | int64 -}}
{{- $meta := $jvm.maxMetaspaceMiB | int64 -}}
{{- $other := max (div (mul $limit $jvm.otherOffHeapPercent) 100) ($jvm.otherOffHeapMinMiB | int64) -}}
{{- $heap := sub (sub (sub $limit $code) $meta) $other -}}
{{- if lt $heap 512 -}}
{{- fail (printf "%s.resources.limits.memory (%s): after %s.jvm.reservedCodeCacheMiB (%d), %s.jvm.maxMetaspaceMiB (%d) and %dMiB of other off-heap memory only %dMiB are left for the heap; at least 512MiB are needed" .role $spec.resources.limits.memory .role $code .role $meta $other $heap) -}}
{{- end -}}
heapMiB: {{ $heap }}
codeCacheMiB: {{ $code }}
metaspaceMiB: {{ $meta }}
otherMiB: {{ $other }}
perNodeMiB: {{ div (mul $heap $m.queryMaxMemoryPerNodePercent) 100 }}
headroomMiB: {{ div (mul $heap $m.heapHeadroomPercent) 100 }}
{{- end -}}

{{- define "trino.minWorkers" -}}
{{- if .Values.worker.autoscaling.enabled -}}{{ .Values.worker.autoscaling.minReplicas }}{{- else -}}{{ .Values.worker.replicas }}{{- end -}}
{{- end -}}

{{- define "trino.queryMaxMemory" -}}
{{- if .Values.memory.queryMaxMemory -}}
{{- .Values.memory.queryMaxMemory -}}
{{- else -}}
{{- $w := include "trino.memory" (dict "root" . "role" "worker") | fromYaml -}}
{{- $n := include "trino.minWorkers" . | int64 -}}
{{- printf "%dMB" (mul (int64 $w.perNodeMiB) (max $n 1)) -}}
{{- end -}}
{{- end -}}

{{/* Security contexts (PodSecurity restricted) ------------------------------ */}}
{{- define "trino.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "trino.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Environment variables from Secrets, referenced as ${ENV:...} in catalog files. */}}
{{- define "trino.secretEnv" -}}
{{- $c := .Values.catalog -}}
{{- if $c.s3.existingSecret }}
- name: S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $c.s3.existingSecret }}
      key: {{ $c.s3.accessKeyKey }}
- name: S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $c.s3.existingSecret }}
      key: {{ $c.s3.secretKeyKey }}
{{- end }}
{{- if and (eq $c.type "jdbc") $c.jdbc.existingSecret }}
- name: ICEBERG_JDBC_USER
  valueFrom:
    secretKeyRef:
      name: {{ $c.jdbc.existingSecret }}
      key: {{ $c.jdbc.userKey }}
- name: ICEBERG_JDBC_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $c.jdbc.existingSecret }}
      key: {{ $c.jdbc.passwordKey }}
{{- end }}
{{- if and (eq $c.type "rest") (eq $c.rest.security "OAUTH2") }}
- name: ICEBERG_REST_CREDENTIAL
  valueFrom:
    secretKeyRef:
      name: {{ $c.rest.oauth2.existingSecret }}
      key: {{ $c.rest.oauth2.credentialKey }}
{{- end }}
{{- if ne .Values.auth.type "none" }}
- name: TRINO_SHARED_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.sharedSecret.existingSecret }}
      key: {{ .Values.auth.sharedSecret.key }}
{{- end }}
{{- end -}}

{{/* Topology spread for a role: (dict "root" $ "component" "worker" "spec" .Values.worker.topologySpread) */}}
{{- define "trino.topologySpread" -}}
{{- if .spec.enabled }}
topologySpreadConstraints:
  {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: {{ $.spec.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.spec.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "trino.componentSelector" (dict "root" $.root "component" $.component) | nindent 8 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Validation that spans several values; called from every workload template. */}}
{{- define "trino.validate" -}}
{{- $w := .Values.worker -}}
{{- if and $w.gracefulShutdown.enabled (lt (int $w.terminationGracePeriodSeconds) (mul 2 (int $w.gracefulShutdown.gracePeriodSeconds))) -}}
{{- fail (printf "worker.terminationGracePeriodSeconds (%v) must be at least twice worker.gracefulShutdown.gracePeriodSeconds (%v): a draining worker waits the grace period before and after its last task" $w.terminationGracePeriodSeconds $w.gracefulShutdown.gracePeriodSeconds) -}}
{{- end -}}
{{- if and $w.autoscaling.enabled (lt (int $w.autoscaling.maxReplicas) (int $w.autoscaling.minReplicas)) -}}
{{- fail "worker.autoscaling.maxReplicas must be at least worker.autoscaling.minReplicas" -}}
{{- end -}}
{{- $c := .Values.catalog -}}
{{- if and $c.s3.requireTLS (not (hasPrefix "https://" $c.s3.endpoint)) -}}
{{- fail (printf "catalog.s3.endpoint %q: catalog.s3.requireTLS is on, use an https:// endpoint" $c.s3.endpoint) -}}
{{- end -}}
{{- if and (eq $c.type "rest") (eq $c.rest.security "OAUTH2") (not $c.rest.oauth2.existingSecret) -}}
{{- fail "catalog.rest.oauth2.existingSecret: OAUTH2 security needs the Secret holding the client credential" -}}
{{- end -}}
{{- range $k, $v := $c.extraProperties -}}
{{- if and (regexMatch "(?i)(password|secret|credential|token|access-key|secret-key|customer-key|private-key)" $k) (not (regexMatch "^\\$\\{ENV:[A-Za-z_][A-Za-z0-9_]*\\}$" (toString $v))) -}}
{{- fail (printf "catalog.extraProperties.%s: credentials must be referenced as ${ENV:NAME}, not written in the catalog file" $k) -}}
{{- end -}}
{{- end -}}
{{- if ne .Values.auth.type "none" -}}
{{- if not .Values.auth.sharedSecret.existingSecret -}}
{{- fail "auth.sharedSecret.existingSecret: authentication needs internal-communication.shared-secret from an existing Secret" -}}
{{- end -}}
{{- if and (not .Values.tls.enabled) (not .Values.auth.allowInsecureOverHttp) -}}
{{- fail "auth.type: Trino only authenticates over HTTPS; enable tls or set auth.allowInsecureOverHttp when TLS ends in front of Trino" -}}
{{- end -}}
{{- if and (eq .Values.auth.type "password") (not .Values.auth.password.existingSecret) -}}
{{- fail "auth.password.existingSecret: password authentication needs the Secret holding the password file" -}}
{{- end -}}
{{- if and (eq .Values.auth.type "jwt") (not .Values.auth.jwt.keyFile) -}}
{{- fail "auth.jwt.keyFile: JWT authentication needs a key file or JWKS URL" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.existingSecret: TLS needs the Secret holding the server PEM" -}}
{{- end -}}
{{- range $role := list "coordinator" "worker" -}}
{{- range $opt := (index $.Values $role).jvm.extraOptions -}}
{{- if regexMatch "^-(Xmx|Xms|XX:MaxRAMPercentage|XX:InitialRAMPercentage|XX:ReservedCodeCacheSize|XX:MaxMetaspaceSize)" $opt -}}
{{- fail (printf "%s.jvm.extraOptions: %q sizes a memory pool the chart computes from the container limit; set %s.resources.limits.memory, %s.jvm.reservedCodeCacheMiB or %s.jvm.maxMetaspaceMiB instead" $role $opt $role $role $role) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $ca := .Values.trustedCA -}}
{{- if and $ca.configMapName $ca.secretName -}}
{{- fail "trustedCA: set configMapName or secretName, not both" -}}
{{- end -}}
{{- if and (or $ca.configMapName $ca.secretName) (not $ca.key) -}}
{{- fail "trustedCA.key: name the key of the CA bundle (PEM) in the ConfigMap or Secret" -}}
{{- end -}}
{{- $g := .Values.accessControl.groups -}}
{{- if and $g.existingSecret $g.members -}}
{{- fail "accessControl.groups: set existingSecret or members, not both" -}}
{{- end -}}
{{- if and (or $g.existingSecret $g.members) (not .Values.accessControl.enabled) -}}
{{- fail "accessControl.groups: a group provider only matters to file-based access control; set accessControl.enabled" -}}
{{- end -}}
{{- $sm := .Values.metrics.serviceMonitor -}}
{{- if and $sm.enabled (not $sm.basicAuth.existingSecret) -}}
{{- fail "metrics.serviceMonitor.basicAuth.existingSecret: Trino's /metrics endpoint requires an authenticated user (admin/openmetrics.md); name the Secret with the scrape user's username and password" -}}
{{- end -}}
{{- $_ := include "trino.s3EnabledProperty" . -}}
{{- end -}}

{{/* CA trust ----------------------------------------------------------------- */}}
{{- define "trino.trustedCA" -}}
{{- or .Values.trustedCA.configMapName .Values.trustedCA.secretName -}}
{{- end -}}

{{/* Where the truststore built from trustedCA lands (password-less PKCS12: certificates only). */}}
{{- define "trino.truststorePath" -}}/etc/trino-truststore/truststore.p12{{- end -}}
