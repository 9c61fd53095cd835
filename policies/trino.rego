# Trino.
# Trino's catalogs reach object storage over TLS in production: the S3 endpoint is https and TLS
# is not switched off.
package main

import data.lib.kubernetes as k8s

# METADATA
# title: Trino's S3 connection uses TLS (production)
# custom:
#   severity: failure
deny_trino_s3_tls contains msg if {
	k8s.production
	some file, props in trino_catalogs
	some key in {"s3.endpoint", "hive.s3.endpoint"}
	endpoint := props[key]
	not startswith(lower(endpoint), "https://")
	msg := sprintf("%s: catalog %s sets %s=%s in %s: use an https:// endpoint", [k8s.name(input), file, key, endpoint, k8s.environment.name])
}

deny_trino_s3_tls contains msg if {
	k8s.production
	some file, props in trino_catalogs
	some key in {"hive.s3.ssl.enabled", "s3.tls.enabled"}
	lower(props[key]) == "false"
	msg := sprintf("%s: catalog %s sets %s=false in %s: remove it so that S3 traffic uses TLS", [k8s.name(input), file, key, k8s.environment.name])
}

# trino_catalogs maps each catalog file of a Trino ConfigMap to its properties.
trino_catalogs[file] := props if {
	input.kind == "ConfigMap"
	k8s.labels(input)["app.kubernetes.io/name"] == "trino"
	some file, content in input.data
	endswith(file, ".properties")
	props := properties(content)
	props["connector.name"]
}

properties(content) := {k: v |
	some line in split(content, "\n")
	not regex.match(`^\s*([#!]|$)`, line)
	[k0, v0] := split_property(line)
	k := trim_space(k0)
	v := trim_space(v0)
}

split_property(line) := [substring(line, 0, i), substring(line, i + 1, -1)] if {
	i := indexof(line, "=")
	i > 0
}
