{{- define "edge.labels" -}}
app: {{ .Values.name }}
{{- end -}}
