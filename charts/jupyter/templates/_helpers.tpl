{{- define "jupyter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jupyter.fullname" -}}
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

{{- define "jupyter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jupyter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jupyter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "jupyter.selectorLabels" . }}
app.kubernetes.io/version: {{ include "jupyter.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lakeport
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The labels of one team's server. (dict "root" $ "team" $name) */}}
{{- define "jupyter.teamLabels" -}}
{{ include "jupyter.labels" .root }}
app.kubernetes.io/component: notebook
lakeport.dev/team: {{ .team }}
{{- end -}}

{{- define "jupyter.teamSelector" -}}
{{ include "jupyter.selectorLabels" .root }}
app.kubernetes.io/component: notebook
lakeport.dev/team: {{ .team }}
{{- end -}}

{{- define "jupyter.imageTag" -}}
{{- $tag := toString .Values.image.tag -}}
{{- if or (eq $tag "") (eq $tag "latest") -}}
{{- fail "image.tag: pin a release of the JupyterLab image (\"latest\" and empty tags are not allowed)" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "jupyter.image" -}}
{{- $ref := printf "%s/%s:%s" .Values.image.registry .Values.image.repository (include "jupyter.imageTag" .) -}}
{{- if .Values.image.digest -}}{{ printf "%s@%s" $ref .Values.image.digest }}{{- else -}}{{ $ref }}{{- end -}}
{{- end -}}

{{- define "jupyter.proxyImage" -}}
{{- with .Values.auth.oidc.proxyImage -}}
{{- if or (eq (toString .tag) "") (eq (toString .tag) "latest") -}}
{{- fail "auth.oidc.proxyImage.tag: pin a release of oauth2-proxy" -}}
{{- end -}}
{{- printf "%s/%s:%s" .registry .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{- define "jupyter.trustedCA" -}}
{{- with .Values.trustedCA -}}
{{- if and .configMapName .secretName -}}
{{- fail "trustedCA: set configMapName or secretName, not both" -}}
{{- end -}}
{{- if or .configMapName .secretName -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* One team's settings: the chart defaults overridden by the team's own keys, as JSON.
(dict "root" $ "team" $teamEntry) */}}
{{- define "jupyter.team" -}}
{{- $root := .root -}}
{{- $defaults := dict "auth" $root.Values.auth "trino" $root.Values.trino "resources" $root.Values.resources "persistence" $root.Values.persistence -}}
{{- $t := mergeOverwrite (deepCopy $defaults) (deepCopy .team) -}}
{{- toJson $t -}}
{{- end -}}

{{/* Replaces {team} in a Secret name or URL. */}}
{{- define "jupyter.forTeam" -}}
{{- replace "{team}" .team (toString .value) -}}
{{- end -}}

{{- define "jupyter.validate" -}}
{{- $seen := list -}}
{{- range $i, $t := .Values.teams -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$" (toString $t.name)) -}}
{{- fail (printf "teams[%d].name: %q must be a DNS label of at most 32 characters (it names jupyter-<team> objects)" $i (toString $t.name)) -}}
{{- end -}}
{{- if has $t.name $seen -}}
{{- fail (printf "teams[%d].name: %s is listed twice" $i $t.name) -}}
{{- end -}}
{{- $seen = append $seen $t.name -}}
{{- $team := include "jupyter.team" (dict "root" $ "team" $t) | fromJson -}}
{{- if and (eq $team.auth.type "oidc") (not $team.auth.oidc.issuerURL) -}}
{{- fail (printf "teams[%d] (%s): auth.oidc.issuerURL is required with auth.type oidc" $i $t.name) -}}
{{- end -}}
{{- if and (eq $team.auth.type "oidc") (not $team.auth.oidc.redirectURL) -}}
{{- fail (printf "teams[%d] (%s): auth.oidc.redirectURL is required with auth.type oidc" $i $t.name) -}}
{{- end -}}
{{- if and (eq $team.auth.type "token") (not $team.auth.token.existingSecret) -}}
{{- fail (printf "teams[%d] (%s): auth.token.existingSecret is required with auth.type token (JupyterLab never runs without a login)" $i $t.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "jupyter.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 100
fsGroup: 100
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "jupyter.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}
