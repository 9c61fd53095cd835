{{- /* OpenTelemetry for the job's containers: the standard OTEL_* variables, which the job's SDK
       reads (jobs/internal/tracing): endpoint, protocol, headers from a Secret (an APM token:
       Dynatrace's "Authorization=Api-Token <token>"), resource attributes, sampler. */ -}}
{{- define "distribution.otelEnv" -}}
{{- $o := .Values.otel -}}
{{- if $o.enabled }}
{{- if not $o.endpoint }}{{ fail "otel.endpoint: the OTLP endpoint is required when otel.enabled (http://collector:4318 for http/protobuf, :4317 for grpc)" }}{{ end }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $o.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $o.protocol | quote }}
{{- with $o.headersSecret.name }}
{{- if $o.headersSecret.header }}
{{- /* The key holds one header's value: the kubelet expands it into the standard variable. */}}
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
- name: OTEL_SERVICE_NAME
  value: {{ $o.serviceName | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "distribution.otelResource" . | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $o.sampler | quote }}
{{- with $o.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "distribution.otelResource" -}}
{{- $attrs := mergeOverwrite (dict "k8s.namespace.name" .Release.Namespace "service.namespace" "lakeport") (deepCopy .Values.otel.resourceAttributes) -}}
{{- $out := list -}}
{{- range $k := keys $attrs | sortAlpha }}{{ $out = append $out (printf "%s=%s" $k (index $attrs $k)) }}{{ end -}}
{{- join "," $out -}}
{{- end -}}
