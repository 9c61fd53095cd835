{{- define "spring-boot.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release is the service (risk-api): its objects are named after it, not after the chart. */}}
{{- define "spring-boot.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spring-boot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "spring-boot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "spring-boot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spring-boot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "spring-boot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spring-boot.selectorLabels" . }}
app.kubernetes.io/component: api
app.kubernetes.io/version: {{ include "spring-boot.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lakeport
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "spring-boot.imageTag" -}}
{{- $tag := toString .Values.image.tag -}}
{{- if or (eq $tag "") (eq $tag "latest") -}}
{{- fail "image.tag: pin a release of the service's image (\"latest\" and empty tags are not allowed)" -}}
{{- end -}}
{{- $tag -}}
{{- end -}}

{{- define "spring-boot.image" -}}
{{- if not .Values.image.repository -}}
{{- fail "image.repository: name the service's image" -}}
{{- end -}}
{{- $ref := printf "%s/%s:%s" .Values.image.registry .Values.image.repository (include "spring-boot.imageTag" .) -}}
{{- if .Values.image.digest -}}{{ printf "%s@%s" $ref .Values.image.digest }}{{- else -}}{{ $ref }}{{- end -}}
{{- end -}}

{{/* "true" when values.trustedCA names a ConfigMap or a Secret. */}}
{{- define "spring-boot.trustedCA" -}}
{{- with .Values.trustedCA -}}
{{- if and .configMapName .secretName -}}
{{- fail "trustedCA: set configMapName or secretName, not both" -}}
{{- end -}}
{{- if or .configMapName .secretName -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{- define "spring-boot.caDir" -}}/etc/lakeport/ca{{- end -}}
{{- define "spring-boot.truststorePath" -}}/etc/lakeport/truststore/truststore.p12{{- end -}}
{{- define "spring-boot.configDir" -}}/etc/lakeport/spring{{- end -}}

{{/* JAVA_TOOL_OPTIONS: every JVM memory pool bounded relative to the container limit, and the
truststore built from trustedCA. The JVM reads JAVA_TOOL_OPTIONS whatever launches it (java -jar,
a buildpack launcher, a shell script); policies/memory.rego reads the same variable. */}}
{{- define "spring-boot.javaToolOptions" -}}
{{- $j := .Values.jvm -}}
{{- $opts := list
  (printf "-XX:MaxRAMPercentage=%v" $j.maxRAMPercentage)
  (printf "-XX:MaxMetaspaceSize=%dm" (int $j.maxMetaspaceMiB))
  (printf "-XX:ReservedCodeCacheSize=%dm" (int $j.reservedCodeCacheMiB))
  (printf "-XX:MaxDirectMemorySize=%dm" (int $j.maxDirectMemoryMiB))
  "-XX:+ExitOnOutOfMemoryError" -}}
{{- if include "spring-boot.trustedCA" . -}}
{{- $opts = concat $opts (list (printf "-Djavax.net.ssl.trustStore=%s" (include "spring-boot.truststorePath" .)) "-Djavax.net.ssl.trustStoreType=PKCS12") -}}
{{- end -}}
{{- range $j.extraOptions -}}
{{- if regexMatch "^-(Xm[xs]|XX:(MaxRAMPercentage|InitialRAMPercentage|MaxMetaspaceSize|ReservedCodeCacheSize|MaxDirectMemorySize)=)" . -}}
{{- fail (printf "jvm.extraOptions: %s sets a memory pool; use the jvm.* values so the memory policy sees it" .) -}}
{{- end -}}
{{- $opts = append $opts . -}}
{{- end -}}
{{- join " " $opts -}}
{{- end -}}

{{/* The sampling probability of Spring Boot's own tracer (management.tracing.sampling.probability):
1 for the always_on samplers, 0 for always_off, otel.samplerArg for the ratio ones. Before Spring Boot
4.1 the sampler is always parentBased(traceIdRatioBased(probability)); 4.1 reads
management.opentelemetry.tracing.sampler too (OpenTelemetryTracingAutoConfiguration.otelSampler),
whose relaxed enum binding takes the OTEL_TRACES_SAMPLER names. */}}
{{- define "spring-boot.otelProbability" -}}
{{- $o := .Values.otel -}}
{{- if hasSuffix "always_on" $o.sampler -}}1
{{- else if hasSuffix "always_off" $o.sampler -}}0
{{- else -}}{{ $o.samplerArg | default "1" }}
{{- end -}}
{{- end -}}

{{- define "spring-boot.otelServiceName" -}}
{{- .Values.otel.serviceName | default (include "spring-boot.fullname" .) -}}
{{- end -}}

{{/* The chart's part of application.yaml: Spring Boot's Kubernetes conventions (README.md cites
the reference documentation for each key). */}}
{{- define "spring-boot.applicationConfig" -}}
{{- $s := .Values.shutdown -}}
{{- $cfg := dict
  "server" (dict "port" (int .Values.server.port) "shutdown" "graceful")
  "management" (dict
    "server" (dict "port" (int .Values.management.port))
    "endpoints" (dict "web" (dict "exposure" (dict "include" "health,info,prometheus")))
    "endpoint" (dict "health" (dict "probes" (dict "enabled" true "add-additional-paths" true)))
    "tracing" (dict "sampling" (dict "probability" (include "spring-boot.otelProbability" . | float64))))
  "spring" (dict "lifecycle" (dict "timeout-per-shutdown-phase" (printf "%ds" (int $s.timeoutPerShutdownPhaseSeconds)))) -}}
{{- with .Values.otel -}}
{{- if .enabled -}}
{{- if not .endpoint }}{{ fail "otel.endpoint: the OTLP endpoint is required when otel.enabled (http://collector:4318 for http/protobuf, :4317 for grpc)" }}{{ end -}}
{{- if and .headersSecret.name (not .headersSecret.header) -}}
{{- fail "otel.headersSecret.header: name the header whose value the Secret's key holds (e.g. Authorization): Spring Boot's own exporter takes headers one by one (management.opentelemetry.tracing.export.otlp.headers)" -}}
{{- end -}}
{{- /* Spring Boot's own OTLP exporter (micrometer-tracing-bridge-otel) reads its properties, not
OTEL_*: management.opentelemetry.tracing.export.otlp.* since 4.0 (OtlpTracingProperties), and
management.otlp.tracing.* before (4.0 no longer binds those: their deprecation level is "error" in
its additional-spring-configuration-metadata.json), so both are set; a property a version does not
know is ignored. The endpoint is the full traces URL over HTTP (default
http://localhost:4318/v1/traces), transport grpc since 3.4. The header's value is a placeholder
resolved from the pod's environment (the Secret), so no token lands in the ConfigMap. Resource
attributes from management.opentelemetry.resource-attributes (3.2+), each key in brackets so that
Spring's map binding keeps its dots and case ("Binding Maps" in the Spring Boot reference). */ -}}
{{- $grpc := eq .protocol "grpc" -}}
{{- $url := ternary (trimSuffix "/" .endpoint) (printf "%s/v1/traces" (trimSuffix "/" .endpoint)) $grpc -}}
{{- $export := dict "endpoint" $url "transport" (ternary "grpc" "http" $grpc) -}}
{{- with .headersSecret.name -}}
{{- $_ := set $export "headers" (dict (printf "[%s]" $.Values.otel.headersSecret.header) "${LAKEPORT_OTEL_HEADER}") -}}
{{- end -}}
{{- $attrs := dict "[service.name]" (include "spring-boot.otelServiceName" $) "[deployment.environment.name]" $.Release.Namespace -}}
{{- range $k, $v := .resourceAttributes -}}
{{- $_ := set $attrs (printf "[%s]" $k) (toString $v) -}}
{{- end -}}
{{- $_ := set $cfg.management "otlp" (dict "tracing" (deepCopy $export)) -}}
{{- $_ := set $cfg.management "opentelemetry" (dict "resource-attributes" $attrs "tracing" (dict "sampler" .sampler "export" (dict "otlp" $export))) -}}
{{- end -}}
{{- end -}}
{{- if include "spring-boot.trustedCA" . -}}
{{- $_ := set $cfg.spring "ssl" (dict "bundle" (dict "pem" (dict "lakeport-ca" (dict "truststore" (dict "certificate" (printf "file:%s/ca.crt" (include "spring-boot.caDir" .))))))) -}}
{{- end -}}
{{- $user := deepCopy .Values.application -}}
{{- range $k := list "server" "management" -}}
{{- if hasKey $user $k -}}
{{- fail (printf "application.%s: set by the chart from values (server.port, management.port, shutdown, otel); not overridable" $k) -}}
{{- end -}}
{{- end -}}
{{- if hasKey (get $user "spring" | default dict) "lifecycle" -}}
{{- fail "application.spring.lifecycle: set by the chart from shutdown.timeoutPerShutdownPhaseSeconds" -}}
{{- end -}}
{{- toYaml (mergeOverwrite $user $cfg) -}}
{{- end -}}

{{- define "spring-boot.validate" -}}
{{- $s := .Values.shutdown -}}
{{- $need := add $s.preStopSleepSeconds $s.timeoutPerShutdownPhaseSeconds 5 -}}
{{- if lt (int $s.terminationGracePeriodSeconds) (int $need) -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds: %d does not fit preStopSleepSeconds (%d) + timeoutPerShutdownPhaseSeconds (%d) + 5s for the JVM to exit: Kubernetes would SIGKILL requests still in flight; set at least %d" (int $s.terminationGracePeriodSeconds) (int $s.preStopSleepSeconds) (int $s.timeoutPerShutdownPhaseSeconds) (int $need)) -}}
{{- end -}}
{{- if eq (int .Values.server.port) (int .Values.management.port) -}}
{{- fail "management.port: must differ from server.port (the actuator is not exposed on the API port)" -}}
{{- end -}}
{{- end -}}

{{- define "spring-boot.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "spring-boot.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}
