package main

import data.lib.fixtures as f

configmap(entries) := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": entries}

test_secrets_good_objects_pass if {
	count(deny_plaintext_secret) == 0 with input as f.deployment
	count(deny_plaintext_secret) == 0 with input as configmap({
		"iceberg.properties": "connector.name=iceberg\ns3.aws-secret-key=${ENV:S3_SECRET_KEY}\ns3.aws-access-key=${ENV:S3_ACCESS_KEY}\n",
		"password-authenticator.properties": "password-authenticator.name=file\nfile.password-file=/etc/trino/auth/password.db\n",
		"config.properties": "internal-communication.shared-secret=${ENV:TRINO_SHARED_SECRET}\nhttp-server.https.keystore.path=/etc/tls/server.pem\n",
		"LOG_LEVEL": "info",
	})
}

test_secret_env_value if {
	bad := f.with_container("env", [{"name": "DB_PASSWORD", "value": "hunter2"}])
	deny_plaintext_secret["Deployment web: container \"app\" sets env DB_PASSWORD to a literal value: use valueFrom.secretKeyRef with an existing Secret"] with input as bad
	count(deny_plaintext_secret) == 0 with input as f.with_container("env", [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}])
	count(deny_plaintext_secret) == 0 with input as f.with_container("env", [{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}])
	count(deny_plaintext_secret) == 0 with input as f.with_container("env", [{"name": "AWS_SECRET_ACCESS_KEY", "value": "$(FROM_OTHER_VAR)"}])
}

test_secret_configmap_key if {
	deny_plaintext_secret["ConfigMap cfg: data key \"S3_SECRET_KEY\" holds a literal secret: move it to a Secret and reference it"] with input as configmap({"S3_SECRET_KEY": "abc123"})
}

test_secret_catalog_properties if {
	deny_plaintext_secret["ConfigMap cfg: iceberg.properties sets s3.aws-secret-key to a literal value: use a placeholder such as ${ENV:NAME} fed from a Secret"] with input as configmap({"iceberg.properties": "connector.name=iceberg\ns3.aws-secret-key=abc123\n"})
	count(deny_plaintext_secret) == 1 with input as configmap({"jdbc.properties": "connection-password = hunter2\n# password=commented\n"})
}

test_secret_spark_conf_and_yaml if {
	count(deny_plaintext_secret) == 1 with input as configmap({"spark-defaults.conf": "spark.hadoop.fs.s3a.access.key   AKIAEXAMPLE\nspark.master spark://m:7077\n"})
	count(deny_plaintext_secret) == 1 with input as configmap({"config.yaml": "db:\n  user: risk\n  password: \"hunter2\"\n"})
	count(deny_plaintext_secret) == 0 with input as configmap({"config.yaml": "db:\n  user: risk\n  passwordFrom:\n    env: RISK_DB_PASSWORD\n"})
}

test_secret_object_with_data if {
	secret := {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "x"}}
	deny_plaintext_secret["Secret db: the manifest carries secret stringData: create the Secret outside git (e.g. an external secret store) and reference it by name"] with input as secret
	count(deny_plaintext_secret) == 0 with input as {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}}
}

test_secret_words_pattern_is_the_set if {
	{w | some w in split(replace(secret_words_pattern, `\.`, "."), "|")} == secret_words
}

test_secret_in_a_long_file if {
	long := concat("\n", array.concat([sprintf("\"panel%d\": {\"title\": \"queries\"}", [i]) | some i in numbers.range(1, 300)], ["s3.aws-secret-key=abc123"]))
	count(deny_plaintext_secret) == 1 with input as configmap({"dashboard.properties": long})
	count(deny_plaintext_secret) == 0 with input as configmap({"dashboard.json": replace(long, "abc123", "${ENV:S3_SECRET_KEY}")})
	count(deny_plaintext_secret) == 1 with input as configmap({"upper.properties": "S3.AWS-SECRET-KEY=abc123\n"})
}
