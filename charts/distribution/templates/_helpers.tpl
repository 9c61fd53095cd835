{{- define "distribution.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "distribution.fullname" -}}
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

{{- define "distribution.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "distribution.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "distribution.selectorLabels" -}}
app.kubernetes.io/name: {{ include "distribution.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "distribution.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "distribution.selectorLabels" . }}
app.kubernetes.io/version: {{ include "distribution.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lakeport
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "distribution.componentLabels" -}}
{{ include "distribution.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "distribution.imageTag" -}}
{{- $tag := toString .Values.image.tag -}}
{{- if or (eq $tag "") (eq $tag "latest") -}}
{{- fail "image.tag: pin a release of the distribution image (\"latest\" and empty tags are not allowed)" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "distribution.image" -}}
{{- $ref := printf "%s/%s:%s" .Values.image.registry .Values.image.repository (include "distribution.imageTag" .) -}}
{{- if .Values.image.digest -}}{{ printf "%s@%s" $ref .Values.image.digest }}{{- else -}}{{ $ref }}{{- end -}}
{{- end -}}

{{/* The config file: values.config with the work folder defaulted to the pod's emptyDir. */}}
{{- define "distribution.config" -}}
{{- $cfg := mergeOverwrite (dict "workDir" "/work") (deepCopy .Values.config) -}}
{{- /* Pushed metrics carry the release namespace (the alerts select it): see prometheusrule.yaml. */ -}}
{{- if and $cfg.metrics $cfg.metrics.pushgateway -}}
{{- $_ := set $cfg.metrics "labels" (mergeOverwrite (dict "namespace" .Release.Namespace) (default (dict) $cfg.metrics.labels)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "distribution.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "distribution.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Where the trusted CA bundle is mounted, and the file SSL_CERT_FILE names. */}}
{{- define "distribution.trustedCADir" -}}/etc/lakeport/ca{{- end -}}

{{/* "true" when values.trustedCA names a ConfigMap or a Secret. */}}
{{- define "distribution.trustedCA" -}}
{{- with .Values.trustedCA -}}
{{- if and .configMapName .secretName -}}
{{- fail "trustedCA: set configMapName or secretName, not both" -}}
{{- end -}}
{{- if or .configMapName .secretName -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* SSL_CERT_FILE replaces Go's list of bundle files on Linux; the image's public bundle under
/etc/ssl/certs is still read, as a certificate directory (crypto/x509 root.go, loadOnDiskRoots). */}}
{{- define "distribution.env" -}}
- name: LAKEPORT_ENVIRONMENT
  value: {{ .Release.Namespace | quote }}
{{- if include "distribution.trustedCA" . }}
- name: SSL_CERT_FILE
  value: {{ include "distribution.trustedCADir" . }}/ca.crt
{{- end }}
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- include "distribution.otelEnv" . }}
{{- end -}}

{{- define "distribution.volumeMounts" -}}
- name: config
  mountPath: /etc/distribution
  readOnly: true
- name: work
  mountPath: /work
- name: tmp
  mountPath: /tmp
{{- if include "distribution.trustedCA" . }}
- name: trusted-ca
  mountPath: {{ include "distribution.trustedCADir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "distribution.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: work
  emptyDir:
    sizeLimit: {{ .root.Values.workDirSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- with .root.Values.trustedCA }}
{{- if include "distribution.trustedCA" $.root }}
- name: trusted-ca
  {{- if .configMapName }}
  configMap:
    name: {{ .configMapName }}
  {{- else }}
  secret:
    secretName: {{ .secretName }}
  {{- end }}
    items:
      - key: {{ .key }}
        path: ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{- define "distribution.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "distribution.isEnvRef" -}}
{{- if regexMatch "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$" (toString .) -}}true{{- end -}}
{{- end -}}

{{/* Secrets only by reference: credentials in the config must be ${NAME}. */}}
{{- define "distribution.validate" -}}
{{- if and .Values.cronJobs.enabled .Values.workflow.enabled -}}
{{- fail "cronJobs.enabled and workflow.enabled: choose one scheduler, or every dataset is published twice a night" -}}
{{- end -}}
{{- $c := .Values.config -}}
{{- $s3s := dict "config.input.s3" (dig "input" "s3" dict $c) "config.iceberg.s3" (dig "iceberg" "s3" dict $c) -}}
{{- range $where, $s3 := $s3s -}}
{{- range $k := list "accessKeyId" "secretAccessKey" "sessionToken" -}}
{{- $v := get $s3 $k -}}
{{- if and $v (not (include "distribution.isEnvRef" $v)) -}}
{{- fail (printf "%s.%s: credentials must be an environment reference like ${NAME}, filled from a Secret with secretEnv" $where $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $k, $v := (dig "iceberg" "catalog" "properties" dict $c) -}}
{{- if and (regexMatch "(?i)(credential|token|secret|password|key)" $k) (not (include "distribution.isEnvRef" $v)) -}}
{{- fail (printf "config.iceberg.catalog.properties.%s: credentials must be an environment reference like ${NAME}" $k) -}}
{{- end -}}
{{- end -}}
{{- range $where, $url := dict "config.database.dsn" (dig "database" "dsn" "" $c) "config.iceberg.catalog.uri" (dig "iceberg" "catalog" "uri" "" $c) "config.trino.url" (dig "trino" "url" "" $c) -}}
{{- if regexMatch "^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]+@" (toString $url) -}}
{{- if not (regexMatch "^[a-z][a-z0-9+.-]*://[^/@]*:\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}@" (toString $url)) -}}
{{- fail (printf "%s: the password in the URL must be an environment reference like ${NAME}" $where) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $shards := int .Values.shards -}}
{{- range .Values.datasets -}}
{{- if hasKey . "shards" -}}{{- $shards = max $shards (int .shards) -}}{{- end -}}
{{- end -}}
{{- if .Values.workflow.enabled -}}
{{- include "distribution.validateWorkflow" . -}}
{{- end -}}
{{- if and (gt $shards 1) (ne (toString (dig "database" "driver" "" .Values.config)) "postgres") (ne (toString (dig "database" "driver" "" .Values.config)) "none") -}}
{{- fail "shards > 1: the sharded publication loads the database with parallel COPYs, PostgreSQL only (config.database.driver)" -}}
{{- end -}}
{{- $names := list -}}
{{- range .Values.datasets -}}
{{- if has .name $names -}}
{{- fail (printf "datasets: %s is listed twice" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- end -}}

{{/*
The securityContext of Argo's injected init and wait containers: what PodSecurity `restricted`
asks of every container (runAsNonRoot and seccomp come from the pod). Not readOnlyRootFilesystem:
Argo itself leaves it off for these two (workflow/controller/workflowpod.go, newExecContainer,
"TODO: always set RO FS once #10787 is fixed").
*/}}
{{- define "distribution.executorSecurityContext" -}}
allowPrivilegeEscalation: false
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/*
The CronWorkflow's podSpecPatch (strategic merge, containers matched by name; Argo v3.7.6
workflow/util/util.go ApplyPodSpecPatch). The ServiceAccount keeps automountServiceAccountToken
false, so the distribution container never holds an API token; the executor's containers get the
volume the ServiceAccount admission plugin would mount (k8s plugin/pkg/admission/serviceaccount
TokenVolumeSource: a bound token, the cluster CA, the namespace) at the in-cluster config path.
*/}}
{{- define "distribution.workflowPodSpecPatch" -}}
{{- $mount := list (dict "name" "argo-executor-token" "mountPath" "/var/run/secrets/kubernetes.io/serviceaccount" "readOnly" true) -}}
{{- $sc := include "distribution.executorSecurityContext" . | fromYaml -}}
{{- $patch := dict
  "automountServiceAccountToken" false
  "volumes" (list (dict "name" "argo-executor-token" "projected" (dict
    "defaultMode" 420
    "sources" (list
      (dict "serviceAccountToken" (dict "path" "token" "expirationSeconds" 3607))
      (dict "configMap" (dict "name" "kube-root-ca.crt" "items" (list (dict "key" "ca.crt" "path" "ca.crt"))))
      (dict "downwardAPI" (dict "items" (list (dict "path" "namespace" "fieldRef" (dict "apiVersion" "v1" "fieldPath" "metadata.namespace")))))))))
  "initContainers" (list (dict "name" "init" "securityContext" $sc "volumeMounts" $mount))
  "containers" (list (dict "name" "wait" "securityContext" $sc "volumeMounts" $mount))
-}}
{{- toYaml $patch -}}
{{- end -}}
