{{/* The Iceberg catalog file. Property names follow the Trino documentation of the release
     in use (object-storage/metastores.md, object-storage/file-system-s3.md). */}}
{{- define "trino.catalogProperties" -}}
{{- $c := .Values.catalog -}}
connector.name=iceberg
iceberg.catalog.type={{ $c.type }}
{{- if eq $c.type "rest" }}
iceberg.rest-catalog.uri={{ $c.rest.uri }}
{{- with $c.rest.warehouse }}
iceberg.rest-catalog.warehouse={{ . }}
{{- end }}
iceberg.rest-catalog.security={{ $c.rest.security }}
{{- if eq $c.rest.security "OAUTH2" }}
iceberg.rest-catalog.oauth2.credential=${ENV:ICEBERG_REST_CREDENTIAL}
{{- with $c.rest.oauth2.serverUri }}
iceberg.rest-catalog.oauth2.server-uri={{ . }}
{{- end }}
{{- with $c.rest.oauth2.scope }}
iceberg.rest-catalog.oauth2.scope={{ . }}
{{- end }}
{{- end }}
{{- if $c.rest.vendedCredentials }}
iceberg.rest-catalog.vended-credentials-enabled=true
{{- end }}
{{- else if eq $c.type "jdbc" }}
iceberg.jdbc-catalog.driver-class={{ $c.jdbc.driverClass }}
iceberg.jdbc-catalog.connection-url={{ $c.jdbc.connectionUrl }}
{{- if $c.jdbc.existingSecret }}
iceberg.jdbc-catalog.connection-user=${ENV:ICEBERG_JDBC_USER}
iceberg.jdbc-catalog.connection-password=${ENV:ICEBERG_JDBC_PASSWORD}
{{- end }}
iceberg.jdbc-catalog.catalog-name={{ $c.jdbc.catalogName }}
iceberg.jdbc-catalog.default-warehouse-dir={{ $c.jdbc.defaultWarehouseDir }}
{{- else if eq $c.type "hive_metastore" }}
hive.metastore.uri={{ $c.hiveMetastore.uri }}
{{- end }}
{{ include "trino.s3EnabledProperty" . }}=true
s3.endpoint={{ $c.s3.endpoint }}
s3.region={{ $c.s3.region }}
s3.path-style-access={{ $c.s3.pathStyleAccess }}
{{- if $c.s3.existingSecret }}
s3.aws-access-key=${ENV:S3_ACCESS_KEY}
s3.aws-secret-key=${ENV:S3_SECRET_KEY}
{{- end }}
{{- range $k, $v := $c.extraProperties }}
{{ $k }}={{ $v }}
{{- end }}
{{- end -}}
