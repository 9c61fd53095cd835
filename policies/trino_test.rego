package main

import data.lib.fixtures as f

catalog(props) := {
	"apiVersion": "v1",
	"kind": "ConfigMap",
	"metadata": {"name": "trino-catalog", "labels": {"app.kubernetes.io/name": "trino"}},
	"data": {"iceberg.properties": props},
}

test_trino_s3_https_passes if {
	count(deny_trino_s3_tls) == 0 with input as catalog("connector.name=iceberg\ns3.endpoint=https://s3.bank.internal\n") with data.lakeport.environment as f.prod
}

test_trino_s3_http_in_prod if {
	bad := catalog("connector.name=iceberg\ns3.endpoint = http://minio:9000\n")
	deny_trino_s3_tls["ConfigMap trino-catalog: catalog iceberg.properties sets s3.endpoint=http://minio:9000 in prod: use an https:// endpoint"] with input as bad with data.lakeport.environment as f.prod
	count(deny_trino_s3_tls) == 0 with input as bad with data.lakeport.environment as f.dev
}

test_trino_s3_tls_disabled if {
	count(deny_trino_s3_tls) == 1 with input as catalog("connector.name=hive\nhive.s3.ssl.enabled=false\n") with data.lakeport.environment as f.prod
}

test_trino_s3_tls_only_catalogs if {
	count(deny_trino_s3_tls) == 0 with input as catalog("s3.endpoint=http://minio:9000\n") with data.lakeport.environment as f.prod
}
