# JVM memory.
# A JVM uses more than its heap: the JIT's code cache, class metadata (metaspace), direct buffers,
# thread stacks and GC structures live outside -Xmx, and a Spark worker runs executor JVMs beside
# its own. When their sum passes the container's memory limit the kernel kills the container
# (OOMKilled) in the middle of a query or a Spark stage; nothing in a render shows it, so this
# policy adds up what the charts render and compares it with the limit.
#
# What is counted, per container (sources checked for each line):
#   Trino (the jvm.config of the ConfigMap the container mounts; Trino docs
#   installation/deployment.md "JVM config"):
#     heap            -Xmx, or -XX:MaxRAMPercentage of the limit
#     code cache      -XX:ReservedCodeCacheSize, or the JDK default 240M (tiered compilation)
#     metaspace       -XX:MaxMetaspaceSize when declared
#     direct memory   -XX:MaxDirectMemorySize when declared
#     native          jvm_native_reserve_mib for thread stacks, GC structures and malloc
#   Spark standalone (env, args and the spark-defaults.conf the container mounts; Spark docs
#   spark-standalone.md and configuration.md, Spark 4.0):
#     daemon heap     SPARK_DAEMON_MEMORY (default 1g), plus the daemon JVM's default code cache
#                     and native reserve as above
#     executors       the worker's --memory: the executor heaps it hands out
#     overhead        spark.executor.memoryOverhead, or spark.executor.memoryOverheadFactor
#                     (default 0.10) of the executor memory, at least
#                     spark.executor.minMemoryOverhead (default 384m)
#   Any other JVM that takes its options from the environment (the Spring Boot chart): the
#   options of JAVA_TOOL_OPTIONS and JDK_JAVA_OPTIONS, counted as for Trino; with neither -Xmx nor
#   -XX:MaxRAMPercentage the JVM's default heap is 25% of the limit (MaxRAMPercentage's default,
#   JDK 21 java man page, "-XX:MaxRAMPercentage").
package main

import data.lib.kubernetes as k8s

# The JDK's default -XX:ReservedCodeCacheSize with tiered compilation (JDK 21: 240M).
jdk_default_code_cache_mib := 240

# Native memory every JVM needs beyond its declared pools (thread stacks at 1M each for a few
# hundred threads, G1's remembered sets, malloc arenas): a floor, not an estimate of the peak.
jvm_native_reserve_mib := 256

# METADATA
# title: A JVM's heap and off-heap memory fit its container's memory limit
# custom:
#   severity: failure
deny_jvm_memory contains msg if {
	some c in k8s.input_containers
	limit := memory_mib(c.container.resources.limits.memory)
	some b in jvm_budgets(c)
	b.total > limit
	msg := sprintf("%s: %s needs %dMiB for its %s (%s) but its memory limit is %dMiB: it would be OOMKilled; lower the heap or raise resources.limits.memory", [k8s.name(input), k8s.container_name(c), b.total, b.what, b.parts, limit])
}

# --- Trino -------------------------------------------------------------------------------------------

jvm_budgets(c) := trino if {
	trino := [trino_budget(c, jvm_options(text)) | some text in mounted_files(c, "jvm.config")]
	count(trino) > 0
} else := [spark_budget(c)] if {
	spark_daemon(c.container)
} else := [env_budget(c, text)] if {
	text := env_jvm_options(c.container)
} else := []

# --- JVMs configured through the environment ---------------------------------------------------------

# The JVM reads JAVA_TOOL_OPTIONS (every JVM the container starts) and JDK_JAVA_OPTIONS (the java
# launcher); both are whitespace-separated option lists.
env_jvm_options(container) := concat("\n", texts) if {
	texts := [regex.replace(trim_space(e.value), `\s+`, "\n") |
		some e in object.get(container, "env", [])
		e.name in {"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"}
		is_string(e.value)
	]
	count(texts) > 0
}

env_budget(c, text) := b if {
	b := object.union(trino_budget(c, jvm_options(text)), {"what": "JVM (JAVA_TOOL_OPTIONS)"})
}

trino_budget(c, opts) := {"what": "JVM (jvm.config)", "total": total, "parts": parts} if {
	limit := memory_mib(c.container.resources.limits.memory)
	heap := heap_mib(opts, limit)
	code := object.get(opts, "ReservedCodeCacheSize", jdk_default_code_cache_mib)
	meta := object.get(opts, "MaxMetaspaceSize", 0)
	direct := object.get(opts, "MaxDirectMemorySize", 0)
	total := ((((heap + code) + meta) + direct) + jvm_native_reserve_mib)
	parts := sprintf("heap %d + code cache %d + metaspace %s + direct memory %s + native %d", [heap, code, declared(meta), declared(direct), jvm_native_reserve_mib])
}

heap_mib(opts, _) := opts.Xmx

heap_mib(opts, limit) := floor((limit * opts.MaxRAMPercentage) / 100) if not opts.Xmx

# The JVM's default MaxRAMPercentage is 25.
heap_mib(opts, limit) := floor((limit * 25) / 100) if {
	not opts.Xmx
	not opts.MaxRAMPercentage
}

declared(0) := "undeclared"

declared(n) := sprintf("%d", [n]) if n != 0

# jvm_options maps the memory options of a jvm.config to MiB.
jvm_options(text) := {name: mib |
	some line in split(text, "\n")
	some name, mib in jvm_option(trim_space(line))
}

jvm_option(line) := {"Xmx": jvm_size_mib(substring(line, 4, -1))} if startswith(line, "-Xmx")

jvm_option(line) := {name: jvm_size_mib(v)} if {
	startswith(line, "-XX:")
	[name, v] := split(substring(line, 4, -1), "=")
	name in {"ReservedCodeCacheSize", "MaxMetaspaceSize", "MaxDirectMemorySize"}
}

jvm_option(line) := {"MaxRAMPercentage": to_number(v)} if {
	startswith(line, "-XX:MaxRAMPercentage=")
	v := substring(line, count("-XX:MaxRAMPercentage="), -1)
}

# --- Spark -------------------------------------------------------------------------------------------

spark_daemon(container) if {
	some e in object.get(container, "env", [])
	e.name == "SPARK_DAEMON_MEMORY"
}

spark_daemon(container) if {
	some arg in object.get(container, "command", [])
	endswith(arg, "/spark-class")
}

spark_budget(c) := {"what": "Spark daemon and executors", "total": total, "parts": parts} if {
	daemon := spark_daemon_mib(c.container)
	executors := spark_worker_memory_mib(c.container)
	overhead := spark_overhead_mib(c, executors)
	total := ((((daemon + jdk_default_code_cache_mib) + jvm_native_reserve_mib) + executors) + overhead)
	parts := sprintf("daemon heap %d + daemon code cache %d + daemon native %d + executor memory %d + executor overhead %d", [daemon, jdk_default_code_cache_mib, jvm_native_reserve_mib, executors, overhead])
}

spark_daemon_mib(container) := jvm_size_mib(v) if {
	some e in object.get(container, "env", [])
	e.name == "SPARK_DAEMON_MEMORY"
	v := e.value
} else := 1024

# The worker's --memory (Spark's default unit is MiB); 0 for the master and history server.
spark_worker_memory_mib(container) := spark_size_mib(args[i + 1]) if {
	args := array.concat(object.get(container, "command", []), object.get(container, "args", []))
	some i, a in args
	a in {"--memory", "-m"}
} else := 0

spark_overhead_mib(_, 0) := 0

spark_overhead_mib(c, executors) := overhead if {
	executors > 0
	conf := spark_conf(c)
	overhead := spark_size_mib(conf["spark.executor.memoryOverhead"])
} else := max([floor(executors * factor), minimum]) if {
	executors > 0
	conf := spark_conf(c)
	factor := to_number(object.get(conf, "spark.executor.memoryOverheadFactor", "0.10"))
	minimum := spark_size_mib(object.get(conf, "spark.executor.minMemoryOverhead", "384m"))
}

# spark_conf is the spark-defaults.conf the container mounts (whitespace-separated key value).
spark_conf(c) := conf if {
	files := mounted_files(c, "spark-defaults.conf")
	count(files) > 0
	conf := {k: v |
		some line in split(files[0], "\n")
		not regex.match(`^\s*(#|$)`, line)
		kv := regex.split(`\s+`, trim_space(line))
		count(kv) >= 2
		k := kv[0]
		v := kv[1]
	}
} else := {}

# --- files and sizes ----------------------------------------------------------------------------------

# mounted_files lists the content of key `key` of every ConfigMap of the environment that the
# container mounts.
mounted_files(c, key) := [content |
	some m in object.get(c.container, "volumeMounts", [])
	some v in object.get(c.pod, "volumes", [])
	v.name == m.name
	name := v.configMap.name
	some cm in k8s.objects
	cm.kind == "ConfigMap"
	cm.metadata.name == name
	k8s.same_namespace(cm, input)
	content := cm.data[key]
]

# memory_mib converts a Kubernetes memory quantity to MiB.
memory_mib(q) := floor(units.parse_bytes(sprintf("%v", [q])) / 1048576)

# jvm_size_mib converts a JVM size (1536M, 2g, 512k, bytes) to MiB.
jvm_size_mib(v) := size_mib(v, 1 / 1048576)

# spark_size_mib converts a Spark memory string (512m, 2g; no unit means MiB) to MiB.
spark_size_mib(v) := size_mib(v, 1)

size_mib(v, plain) := mib if {
	s := lower(trim_space(sprintf("%v", [v])))
	regex.match(`^[0-9]+[kmgt]?b?$`, s)
	digits := regex.find_n(`^[0-9]+`, s, 1)[0]
	unit := trim_suffix(substring(s, count(digits), -1), "b")
	mib := floor(to_number(digits) * unit_mib(unit, plain))
}

unit_mib("", plain) := plain

unit_mib("k", _) := 1 / 1024

unit_mib("m", _) := 1

unit_mib("g", _) := 1024

unit_mib("t", _) := 1048576
