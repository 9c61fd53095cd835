package main

import data.lib.fixtures as f

# The jvm.config lines of dev Trino as rendered before the fix (charts/testdata/golden/dev/trino.yaml
# at b5197db): 75% of a 2Gi limit as heap plus a 512M code cache, metaspace unbounded.
old_dev_trino_jvm := "-server\n-Xmx1536M\n-Xms1536M\n-XX:+UseG1GC\n-XX:G1HeapRegionSize=32M\n-XX:+ExitOnOutOfMemoryError\n-XX:ReservedCodeCacheSize=512M\n-XX:PerMethodRecompilationCutoff=10000\n-Dfile.encoding=UTF-8\n"

# The same file as the fixed chart renders it for dev (3Gi, every pool bounded).
new_dev_trino_jvm := "-server\n-Xmx1843M\n-Xms1843M\n-XX:+UseG1GC\n-XX:ReservedCodeCacheSize=256M\n-XX:MaxMetaspaceSize=512M\n-Dfile.encoding=UTF-8\n"

jvm_configmap(text) := {
	"apiVersion": "v1",
	"kind": "ConfigMap",
	"metadata": {"name": "trino-worker", "namespace": "risk-prod"},
	"data": {"jvm.config": text, "config.properties": "coordinator=false\n"},
}

trino_worker(limit) := json.patch(f.deployment, [
	{"op": "add", "path": "/spec/template/spec/volumes/-", "value": {"name": "config", "configMap": {"name": "trino-worker"}}},
	{"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts", "value": [{"name": "config", "mountPath": "/etc/trino"}]},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": limit},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/memory", "value": limit},
])

test_old_dev_trino_exceeds_its_limit if {
	w := trino_worker("2Gi")
	deny_jvm_memory[`Deployment web: container "app" needs 2304MiB for its JVM (jvm.config) (heap 1536 + code cache 512 + metaspace undeclared + direct memory undeclared + native 256) but its memory limit is 2048MiB: it would be OOMKilled; lower the heap or raise resources.limits.memory`] with input as w with data.lakeport.objects as [w, jvm_configmap(old_dev_trino_jvm)]
}

test_fixed_dev_trino_fits if {
	w := trino_worker("3Gi")
	count(deny_jvm_memory) == 0 with input as w with data.lakeport.objects as [w, jvm_configmap(new_dev_trino_jvm)]
}

test_trino_metaspace_and_direct_memory_count if {
	w := trino_worker("3Gi")
	text := concat("", [new_dev_trino_jvm, "-XX:MaxDirectMemorySize=1g\n"])
	count(deny_jvm_memory) == 1 with input as w with data.lakeport.objects as [w, jvm_configmap(text)]
}

test_trino_ram_percentage_heap if {
	# Trino's own default jvm.config sizes the heap as 80% of the container (MaxRAMPercentage):
	# with a 512M code cache that leaves too little of 2Gi.
	w := trino_worker("2Gi")
	text := "-XX:MaxRAMPercentage=80\n-XX:ReservedCodeCacheSize=512M\n"
	count(deny_jvm_memory) == 1 with input as w with data.lakeport.objects as [w, jvm_configmap(text)]
	count(deny_jvm_memory) == 0 with input as trino_worker("8Gi") with data.lakeport.objects as [trino_worker("8Gi"), jvm_configmap(text)]
}

test_configmap_not_mounted_is_not_counted if {
	count(deny_jvm_memory) == 0 with input as f.deployment with data.lakeport.objects as [f.deployment, jvm_configmap(old_dev_trino_jvm)]
}

spark_conf_map(conf) := {
	"apiVersion": "v1",
	"kind": "ConfigMap",
	"metadata": {"name": "spark-conf", "namespace": "risk-prod"},
	"data": {"spark-defaults.conf": conf},
}

# The staging Spark worker as rendered before the fix (charts/testdata/golden/staging/spark.yaml at
# b5197db): --memory 6348m (90% of 8Gi minus the 1g daemon), SPARK_DAEMON_MEMORY 1g.
spark_worker(limit, memory, daemon) := json.patch(f.deployment, [
	{"op": "add", "path": "/spec/template/spec/volumes/-", "value": {"name": "conf", "configMap": {"name": "spark-conf"}}},
	{"op": "add", "path": "/spec/template/spec/containers/0/volumeMounts", "value": [{"name": "conf", "mountPath": "/opt/spark/conf-lakeport"}]},
	{"op": "add", "path": "/spec/template/spec/containers/0/command", "value": ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.worker.Worker"]},
	{"op": "add", "path": "/spec/template/spec/containers/0/args", "value": ["--cores", "2", "--memory", memory, "spark://m:7077"]},
	{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "SPARK_DAEMON_MEMORY", "value": daemon}]},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": limit},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/memory", "value": limit},
])

default_conf := "spark.master spark://m:7077\nspark.eventLog.enabled true\n"

test_old_staging_spark_worker_exceeds_its_limit if {
	w := spark_worker("8Gi", "6348m", "1g")
	deny_jvm_memory[`Deployment web: container "app" needs 8502MiB for its Spark daemon and executors (daemon heap 1024 + daemon code cache 240 + daemon native 256 + executor memory 6348 + executor overhead 634) but its memory limit is 8192MiB: it would be OOMKilled; lower the heap or raise resources.limits.memory`] with input as w with data.lakeport.objects as [w, spark_conf_map(default_conf)]
}

test_fixed_staging_spark_worker_fits if {
	# 80% of 8Gi minus the 1g daemon.
	w := spark_worker("8Gi", "5529m", "1g")
	count(deny_jvm_memory) == 0 with input as w with data.lakeport.objects as [w, spark_conf_map(default_conf)]
}

test_spark_overhead_from_conf if {
	w := spark_worker("8Gi", "5529m", "1g")
	conf := concat("", [default_conf, "spark.executor.memoryOverhead    2g\n"])
	count(deny_jvm_memory) == 1 with input as w with data.lakeport.objects as [w, spark_conf_map(conf)]
	factor := concat("", [default_conf, "spark.executor.memoryOverheadFactor 0.4\n"])
	count(deny_jvm_memory) == 1 with input as w with data.lakeport.objects as [w, spark_conf_map(factor)]
}

test_spark_minimum_overhead if {
	# 614m of executors still get Spark's 384m minimum overhead: 512 + 240 + 256 + 614 + 384 = 2006 <= 2048.
	w := spark_worker("2Gi", "614m", "512m")
	count(deny_jvm_memory) == 0 with input as w with data.lakeport.objects as [w, spark_conf_map(default_conf)]
	big := spark_worker("2Gi", "700m", "512m")
	count(deny_jvm_memory) == 1 with input as big with data.lakeport.objects as [big, spark_conf_map(default_conf)]
}

test_spark_master_daemon_only if {
	m := json.patch(spark_worker("1Gi", "0", "512m"), [{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": ["--host", "m"]}])
	count(deny_jvm_memory) == 0 with input as m with data.lakeport.objects as [m]
	big := json.patch(m, [{"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "SPARK_DAEMON_MEMORY", "value": "1g"}]}])
	count(deny_jvm_memory) == 1 with input as big with data.lakeport.objects as [big]
}

test_sizes if {
	jvm_size_mib("1536M") == 1536
	jvm_size_mib("2g") == 2048
	jvm_size_mib("524288k") == 512
	jvm_size_mib("1073741824") == 1024
	spark_size_mib("6348m") == 6348
	spark_size_mib("2048") == 2048
	memory_mib("3Gi") == 3072
	memory_mib("1536Mi") == 1536
}

# --- JVMs configured through JAVA_TOOL_OPTIONS (charts/spring-boot) ----------------------------------

spring_api(limit, options) := json.patch(f.deployment, [
	{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "JAVA_TOOL_OPTIONS", "value": options}]},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": limit},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/memory", "value": limit},
])

# What charts/spring-boot renders for risk-api in dev.
spring_options := "-XX:MaxRAMPercentage=50 -XX:MaxMetaspaceSize=192m -XX:ReservedCodeCacheSize=128m -XX:MaxDirectMemorySize=64m -XX:+ExitOnOutOfMemoryError"

test_spring_api_fits_its_limit if {
	w := spring_api("1536Mi", spring_options)
	count(deny_jvm_memory) == 0 with input as w with data.lakeport.objects as [w]
}

test_spring_api_heap_share_too_high if {
	# 75% of 1Gi as heap leaves 256MiB for a 128M code cache, 192M metaspace, 64M direct memory and
	# the JVM's native memory.
	w := spring_api("1Gi", replace(spring_options, "MaxRAMPercentage=50", "MaxRAMPercentage=75"))
	deny_jvm_memory[`Deployment web: container "app" needs 1408MiB for its JVM (JAVA_TOOL_OPTIONS) (heap 768 + code cache 128 + metaspace 192 + direct memory 64 + native 256) but its memory limit is 1024MiB: it would be OOMKilled; lower the heap or raise resources.limits.memory`] with input as w with data.lakeport.objects as [w]
}

test_spring_api_default_heap_is_a_quarter if {
	# No heap option: 25% of 1Gi = 256 + the JDK's 240M code cache + 256 native = 752 fits 1Gi,
	# not 512Mi.
	count(deny_jvm_memory) == 0 with input as spring_api("1Gi", "-XX:+ExitOnOutOfMemoryError") with data.lakeport.objects as []
	count(deny_jvm_memory) == 1 with input as spring_api("512Mi", "-XX:+ExitOnOutOfMemoryError") with data.lakeport.objects as []
}

test_jdk_java_options_count_too if {
	w := json.patch(f.deployment, [
		{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": [{"name": "JDK_JAVA_OPTIONS", "value": "-Xmx900m"}]},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/memory", "value": "1Gi"},
	])
	count(deny_jvm_memory) == 1 with input as w with data.lakeport.objects as [w]
}

test_container_without_jvm_options_is_not_counted if {
	count(deny_jvm_memory) == 0 with input as f.deployment with data.lakeport.objects as [f.deployment]
}
