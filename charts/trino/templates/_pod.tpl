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
{{- $g := $root.Values.accessControl.groups }}
{{- if $g.existingSecret }}
- name: groups
  secret:
    secretName: {{ $g.existingSecret }}
{{- else if $g.members }}
- name: groups
  configMap:
    name: {{ include "trino.fullname" $root }}-groups
{{- end }}
{{- end }}
{{- end }}
{{- if include "trino.trustedCA" $root }}
{{- $ca := $root.Values.trustedCA }}
- name: trusted-ca
  {{- if $ca.configMapName }}
  configMap:
    name: {{ $ca.configMapName }}
  {{- else }}
  secret:
    secretName: {{ $ca.secretName }}
  {{- end }}
    items:
      - key: {{ $ca.key }}
        path: ca.crt
- name: truststore
  emptyDir:
    sizeLimit: 16Mi
{{- end }}
{{- end -}}

{{/* The init container that turns trustedCA into the JVM truststore: the image's own JDK
     cacerts (public CAs keep working) plus every certificate of the PEM bundle, imported with the
     keytool of the Trino image's JDK. The truststore is written as a password-less PKCS12
     (keystore.pkcs12.certProtectionAlgorithm and macAlgorithm NONE, the format of the JDK's own
     cacerts since JDK 18, JDK-8275252), so the JVM reads it without a trustStorePassword and no
     password-looking property lands in jvm.config. (dict "root" $) */}}
{{- define "trino.initContainers" -}}
{{- $root := .root -}}
{{- if include "trino.trustedCA" $root }}
initContainers:
  - name: truststore
    image: {{ include "trino.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    securityContext:
      {{- include "trino.containerSecurityContext" $root | nindent 6 }}
    command:
      - /bin/sh
      - -c
      - |
        set -eu
        keytool=$(command -v keytool || true)
        if [ -z "$keytool" ] && [ -n "${JAVA_HOME:-}" ]; then keytool="$JAVA_HOME/bin/keytool"; fi
        [ -x "$keytool" ] || { echo "truststore: no keytool in the Trino image (PATH, JAVA_HOME)" >&2; exit 1; }
        jdk=$(dirname "$(dirname "$(readlink -f "$keytool")")")
        out={{ include "trino.truststorePath" $root }}
        cp "$jdk/lib/security/cacerts" "$out"
        chmod u+w "$out"
        n=0; cur=""
        while IFS= read -r line || [ -n "$line" ]; do
          case "$line" in *"-----BEGIN CERTIFICATE-----"*) n=$((n+1)); cur=/etc/trino-truststore/ca-$n.pem; : > "$cur";; esac
          if [ -n "$cur" ]; then printf '%s\n' "$line" >> "$cur"; fi
          case "$line" in *"-----END CERTIFICATE-----"*) cur="";; esac
        done < /etc/trino-ca/ca.crt
        [ "$n" -gt 0 ] || { echo "truststore: no PEM certificate in trustedCA key {{ $root.Values.trustedCA.key }}" >&2; exit 1; }
        i=1
        while [ "$i" -le "$n" ]; do
          "$keytool" -J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE -J-Dkeystore.pkcs12.macAlgorithm=NONE \
            -importcert -noprompt -trustcacerts -storetype PKCS12 -keystore "$out" \
            -storepass changeit -alias "lakeport-trusted-ca-$i" -file "/etc/trino-truststore/ca-$i.pem"
          rm -f "/etc/trino-truststore/ca-$i.pem"
          i=$((i+1))
        done
        echo "truststore: $n CA certificate(s) added to the JDK's cacerts in $out"
    resources:
      requests:
        cpu: 100m
        memory: 256Mi
      limits:
        cpu: 500m
        memory: 256Mi
    volumeMounts:
      - name: trusted-ca
        mountPath: /etc/trino-ca
        readOnly: true
      - name: truststore
        mountPath: /etc/trino-truststore
      - name: tmp
        mountPath: /tmp
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
{{- if or $root.Values.accessControl.groups.existingSecret $root.Values.accessControl.groups.members }}
- name: groups
  mountPath: /etc/trino/groups
  readOnly: true
{{- end }}
{{- end }}
{{- end }}
{{- if include "trino.trustedCA" $root }}
- name: trusted-ca
  mountPath: /etc/trino-ca
  readOnly: true
- name: truststore
  mountPath: /etc/trino-truststore
  readOnly: true
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
