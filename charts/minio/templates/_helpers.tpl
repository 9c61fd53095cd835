{{- define "minio.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "minio.fullname" -}}
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

{{- define "minio.headless" -}}{{ include "minio.fullname" . | trunc 54 | trimSuffix "-" }}-headless{{- end -}}

{{- define "minio.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "minio.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "minio.selectorLabels" -}}
app.kubernetes.io/name: {{ include "minio.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "minio.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "minio.selectorLabels" . }}
app.kubernetes.io/version: {{ include "minio.tag" .Values.image | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lakeport
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "minio.componentLabels" -}}
{{ include "minio.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "minio.componentSelector" -}}
{{ include "minio.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Pinned tag of an image block. */}}
{{- define "minio.tag" -}}
{{- $tag := toString .tag -}}
{{- if or (eq $tag "") (eq $tag "latest") -}}
{{- fail (printf "image tag of %s: pin a release (\"latest\" and empty tags are not allowed)" .repository) -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "minio.imageRef" -}}
{{- $ref := printf "%s/%s:%s" .registry .repository (include "minio.tag" .) -}}
{{- if .digest -}}{{ printf "%s@%s" $ref .digest }}{{- else -}}{{ $ref }}{{- end -}}
{{- end -}}

{{- define "minio.scheme" -}}{{ ternary "https" "http" .Values.tls.enabled }}{{- end -}}

{{- define "minio.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "minio.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "minio.validate" -}}
{{- if not .Values.rootCredentials.existingSecret -}}
{{- fail "rootCredentials.existingSecret: MinIO root credentials come only from an existing Secret" -}}
{{- end -}}
{{- if and (eq .Values.mode "standalone") (ne (int .Values.replicas) 1) -}}
{{- fail (printf "replicas (%v): standalone mode runs exactly one pod; use mode=distributed for more" .Values.replicas) -}}
{{- end -}}
{{- if and (eq .Values.mode "distributed") (lt (int .Values.replicas) 4) -}}
{{- fail (printf "replicas (%v): distributed mode needs at least 4 pods for erasure coding" .Values.replicas) -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.existingSecret: TLS needs an existing kubernetes.io/tls Secret" -}}
{{- end -}}
{{- if and .Values.trustedCA.configMapName .Values.trustedCA.secretName -}}
{{- fail "trustedCA: set configMapName or secretName, not both" -}}
{{- end -}}
{{- $sm := .Values.metrics.serviceMonitor -}}
{{- if and $sm.enabled (not .Values.metrics.public) (not $sm.bearerTokenSecret.name) -}}
{{- fail "metrics.serviceMonitor.bearerTokenSecret.name: MinIO's metrics need a bearer token unless metrics.public (MINIO_PROMETHEUS_AUTH_TYPE=public); give the Secret holding one (mc admin prometheus generate), or set metrics.public: true" -}}
{{- end -}}
{{- $policies := list -}}
{{- range .Values.provisioning.policies -}}{{- $policies = append $policies .name -}}{{- end -}}
{{- range .Values.provisioning.users -}}
{{- $u := . -}}
{{- range .policies -}}
{{- if not (or (has . $policies) (has . (list "readonly" "readwrite" "writeonly" "diagnostics" "consoleAdmin"))) -}}
{{- fail (printf "provisioning.users[%s].policies: unknown policy %q (define it in provisioning.policies)" $u.name .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "minio.topologySpread" -}}
{{- if .Values.topologySpread.enabled }}
topologySpreadConstraints:
  {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: {{ $.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "minio.componentSelector" (dict "root" $ "component" "server") | nindent 8 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The CA bundle to trust, as (dict "configMap" name) / (dict "secret" name) plus "key"; empty when none. */}}
{{- define "minio.caRef" -}}
{{- $ca := .Values.trustedCA -}}
{{- if $ca.configMapName -}}
{{- dict "configMap" $ca.configMapName "key" $ca.key | toJson -}}
{{- else if $ca.secretName -}}
{{- dict "secret" $ca.secretName "key" $ca.key | toJson -}}
{{- else if .Values.tls.enabled -}}
{{- dict "secret" .Values.tls.existingSecret "key" "ca.crt" | toJson -}}
{{- end -}}
{{- end -}}

{{/* DNS name of the S3 Service: the name MinIO's certificate must carry, used as the scrape's serverName. */}}
{{- define "minio.serviceHost" -}}
{{- printf "%s.%s.svc" (include "minio.fullname" .) .Release.Namespace -}}
{{- end -}}
