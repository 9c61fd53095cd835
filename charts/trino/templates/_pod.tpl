{{/* Shared pod spec pieces: (dict "root" $ "role" "worker") */}}
{{- define "trino.volumes" -}}
{{- $root := .root -}}
- name: config
  configMap:
    name: {{ include "trino.fullname" $root }}-{{ .role }}
- name: catalog
  configMap:
    name: {{ include "trino.fullname" $root }}-catalog
- name: data
  emptyDir:
    sizeLimit: {{ $root.Values.persistence.dataSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: 2Gi
{{- if eq .role "coordinator" }}
{{- if eq $root.Values.auth.type "password" }}
- name: auth
  secret:
    secretName: {{ $root.Values.auth.password.existingSecret }}
{{- end }}
{{- if $root.Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ $root.Values.tls.existingSecret }}
{{- end }}
{{- if $root.Values.accessControl.enabled }}
- name: access-control
  configMap:
    name: {{ default (printf "%s-access-control" (include "trino.fullname" $root)) $root.Values.accessControl.existingConfigMap }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "trino.volumeMounts" -}}
{{- $root := .root -}}
- name: config
  mountPath: /etc/trino
  readOnly: true
- name: catalog
  mountPath: /etc/trino/catalog
  readOnly: true
- name: data
  mountPath: /data/trino
- name: tmp
  mountPath: /tmp
{{- if eq .role "coordinator" }}
{{- if eq $root.Values.auth.type "password" }}
- name: auth
  mountPath: /etc/trino/auth
  readOnly: true
{{- end }}
{{- if $root.Values.tls.enabled }}
- name: tls
  mountPath: /etc/trino/tls
  readOnly: true
{{- end }}
{{- if $root.Values.accessControl.enabled }}
- name: access-control
  mountPath: /etc/trino/access-control
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "trino.ports" -}}
- name: http
  containerPort: 8080
  protocol: TCP
{{- if and (eq .role "coordinator") .root.Values.tls.enabled }}
- name: https
  containerPort: {{ .root.Values.tls.port }}
  protocol: TCP
{{- end }}
{{- if .root.Values.metrics.jmx.enabled }}
- name: jmx-registry
  containerPort: {{ .root.Values.metrics.jmx.registryPort }}
  protocol: TCP
- name: jmx-server
  containerPort: {{ .root.Values.metrics.jmx.serverPort }}
  protocol: TCP
{{- end }}
{{- end -}}

{{- define "trino.probes" -}}
startupProbe:
  httpGet:
    path: /v1/info
    port: http
  periodSeconds: 5
  failureThreshold: 60
readinessProbe:
  exec:
    command: ["/usr/lib/trino/bin/health-check"]
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
livenessProbe:
  httpGet:
    path: /v1/info
    port: http
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 6
{{- end -}}

{{- define "trino.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}
