package charts_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// trinoValues are the smallest values that render the Trino chart with its defaults plus
// credentials from Secrets; overrides are merged on top.
func trinoValues(overrides map[string]any) map[string]any {
	v := map[string]any{
		"catalog": map[string]any{
			"s3":   map[string]any{"existingSecret": "trino-s3"},
			"jdbc": map[string]any{"existingSecret": "catalog-db"},
		},
	}
	return merge(v, overrides)
}

// merge deep-merges b into a copy of a.
func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = merge(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// catalogKeys renders the Trino chart and returns the catalog file's properties.
func catalogKeys(t *testing.T, values map[string]any) map[string]string {
	t.Helper()
	objs := mustRender(t, defaultsRequest("trino", trinoValues(values)))
	return properties(configData(t, objs, "trino-catalog", "iceberg.properties"))
}

// TestTrinoCatalogProperties checks the rendered Iceberg catalog against the property names of
// the Trino documentation, per catalog type and Trino release:
//   - object-storage/metastores.md: iceberg.catalog.type, iceberg.rest-catalog.*,
//     iceberg.jdbc-catalog.*, hive.metastore.uri;
//   - object-storage/file-system-s3.md: s3.endpoint, s3.region, s3.path-style-access,
//     s3.aws-access-key, s3.aws-secret-key, and the switch fs.native-s3.enabled, renamed
//     fs.s3.enabled in Trino 481 (trinodb/trino#29070, merged April 2026), the release that also
//     removed legacy (Hadoop) S3 support (release notes 481, #24878).
func TestTrinoCatalogProperties(t *testing.T) {
	s3Common := []string{"s3.endpoint", "s3.region", "s3.path-style-access", "s3.aws-access-key", "s3.aws-secret-key"}
	byType := map[string][]string{
		"rest": {"iceberg.rest-catalog.uri", "iceberg.rest-catalog.warehouse", "iceberg.rest-catalog.security"},
		"jdbc": {"iceberg.jdbc-catalog.driver-class", "iceberg.jdbc-catalog.connection-url", "iceberg.jdbc-catalog.connection-user",
			"iceberg.jdbc-catalog.connection-password", "iceberg.jdbc-catalog.catalog-name", "iceberg.jdbc-catalog.default-warehouse-dir"},
		"hive_metastore": {"hive.metastore.uri"},
	}
	versions := []struct {
		tag        string
		s3Switch   string
		notSwitch  string
		legacyNote string
	}{
		{"458", "fs.native-s3.enabled", "fs.s3.enabled", "native S3 required since 458"},
		{"470", "fs.native-s3.enabled", "fs.s3.enabled", "legacy S3 deprecated"},
		{"480", "fs.native-s3.enabled", "fs.s3.enabled", "last release before the rename"},
		{"481", "fs.s3.enabled", "fs.native-s3.enabled", "rename, legacy S3 removed"},
		{"483", "fs.s3.enabled", "fs.native-s3.enabled", "current"},
	}
	for _, catalogType := range []string{"rest", "jdbc", "hive_metastore"} {
		for _, v := range versions {
			t.Run(catalogType+"/"+v.tag, func(t *testing.T) {
				props := catalogKeys(t, map[string]any{
					"image":   map[string]any{"tag": v.tag},
					"catalog": map[string]any{"type": catalogType, "rest": map[string]any{"warehouse": "lakeport"}},
				})
				want := append(append([]string{"connector.name", "iceberg.catalog.type", v.s3Switch}, s3Common...), byType[catalogType]...)
				for _, k := range want {
					if _, ok := props[k]; !ok {
						t.Errorf("%s (%s): missing %s in %v", v.tag, v.legacyNote, k, slices.Sorted(maps.Keys(props)))
					}
				}
				if _, ok := props[v.notSwitch]; ok {
					t.Errorf("Trino %s must not get %s", v.tag, v.notSwitch)
				}
				if props["iceberg.catalog.type"] != catalogType || props["connector.name"] != "iceberg" || props[v.s3Switch] != "true" {
					t.Errorf("catalog header wrong: %v", props)
				}
				// Keys of the other catalog types never leak in, nor do legacy hive.s3.* keys.
				for other, keys := range byType {
					if other == catalogType {
						continue
					}
					for _, k := range keys {
						if _, ok := props[k]; ok {
							t.Errorf("%s catalog got %s", catalogType, k)
						}
					}
				}
				for k := range props {
					if strings.HasPrefix(k, "hive.s3.") || k == "fs.hadoop.enabled" {
						t.Errorf("legacy property %s rendered", k)
					}
				}
			})
		}
	}
}

// TestTrinoCatalogSecretsByReference: every credential in the catalog file is ${ENV:...}.
func TestTrinoCatalogSecretsByReference(t *testing.T) {
	for _, typ := range []string{"rest", "jdbc"} {
		props := catalogKeys(t, map[string]any{"catalog": map[string]any{"type": typ, "rest": map[string]any{
			"security": "OAUTH2", "oauth2": map[string]any{"existingSecret": "rest-cred", "serverUri": "https://idp/token"}}}})
		for k, v := range props {
			if strings.Contains(k, "key") || strings.Contains(k, "password") || strings.Contains(k, "credential") || strings.Contains(k, "user") {
				if !strings.HasPrefix(v, "${ENV:") {
					t.Errorf("%s: %s=%s is not an ${ENV:...} reference", typ, k, v)
				}
			}
		}
	}
}

func TestTrinoFlags(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		check  func(t *testing.T, objs []chartrender.Object)
	}{
		{
			name:   "memory derived from the limits",
			values: map[string]any{"worker": map[string]any{"replicas": 3, "resources": map[string]any{"limits": map[string]any{"memory": "16Gi"}}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				// 16384 - 512 code cache - 512 metaspace - 15% other (2457) = 12903.
				jvm := configData(t, objs, "trino-worker", "jvm.config")
				for _, line := range []string{"-Xmx12903M", "-XX:ReservedCodeCacheSize=512M", "-XX:MaxMetaspaceSize=512M"} {
					if !strings.Contains(jvm, line+"\n") {
						t.Errorf("worker jvm.config: want %s, got\n%s", line, jvm)
					}
				}
				cfg := properties(configData(t, objs, "trino-worker", "config.properties"))
				if cfg["query.max-memory-per-node"] != "6451MB" || cfg["memory.heap-headroom-per-node"] != "3870MB" || cfg["query.max-memory"] != "19353MB" {
					t.Errorf("memory settings: %v", cfg)
				}
			},
		},
		{
			name:   "graceful shutdown preStop and grace period",
			values: map[string]any{"worker": map[string]any{"gracefulShutdown": map[string]any{"gracePeriodSeconds": 30}, "terminationGracePeriodSeconds": 60}},
			check: func(t *testing.T, objs []chartrender.Object) {
				d := find(t, objs, "Deployment", "trino-worker")
				cmd := fmt.Sprint(field(t, d, "spec", "template", "spec", "containers", "0", "lifecycle", "preStop", "exec", "command"))
				if !strings.Contains(cmd, "/v1/info/state") || !strings.Contains(cmd, "SHUTTING_DOWN") {
					t.Errorf("preStop: %s", cmd)
				}
				// A refused request must fail the hook, not skip the drain (the old hook was
				// "curl -f ... && sleep": a 403 ended it with the worker still running tasks).
				if !strings.Contains(cmd, "exit 1") || strings.Contains(cmd, "&& sleep") {
					t.Errorf("preStop does not fail loudly: %s", cmd)
				}
				// The worker's own access control lets exactly the shutdown user write system
				// information (security/file-system-access-control.md, System information rules).
				ac := properties(configData(t, objs, "trino-worker", "access-control.properties"))
				if ac["access-control.name"] != "file" || ac["security.config-file"] != "/etc/trino/graceful-shutdown-rules.json" {
					t.Errorf("worker access-control.properties: %v", ac)
				}
				rules := configData(t, objs, "trino-worker", "graceful-shutdown-rules.json")
				if !strings.Contains(rules, `"system_information"`) || !strings.Contains(rules, `"user": "admin"`) || !strings.Contains(rules, `"write"`) {
					t.Errorf("graceful-shutdown-rules.json:\n%s", rules)
				}
				if got := field(t, d, "spec", "template", "spec", "terminationGracePeriodSeconds"); fmt.Sprint(got) != "60" {
					t.Errorf("terminationGracePeriodSeconds %v", got)
				}
				if cfg := properties(configData(t, objs, "trino-worker", "config.properties")); cfg["shutdown.grace-period"] != "30s" {
					t.Errorf("shutdown.grace-period %q", cfg["shutdown.grace-period"])
				}
			},
		},
		{
			name:   "graceful shutdown off",
			values: map[string]any{"worker": map[string]any{"gracefulShutdown": map[string]any{"enabled": false}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				if field(t, find(t, objs, "Deployment", "trino-worker"), "spec", "template", "spec", "containers", "0", "lifecycle") != nil {
					t.Error("lifecycle rendered with graceful shutdown off")
				}
			},
		},
		{
			name:   "path-style off for AWS",
			values: map[string]any{"catalog": map[string]any{"s3": map[string]any{"pathStyleAccess": false, "endpoint": "https://s3.eu-west-1.amazonaws.com", "requireTLS": true}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				p := properties(configData(t, objs, "trino-catalog", "iceberg.properties"))
				if p["s3.path-style-access"] != "false" || p["s3.endpoint"] != "https://s3.eu-west-1.amazonaws.com" {
					t.Errorf("catalog: %v", p)
				}
			},
		},
		{
			name: "password auth with TLS",
			values: map[string]any{
				"auth": map[string]any{"type": "password", "password": map[string]any{"existingSecret": "pw"}, "sharedSecret": map[string]any{"existingSecret": "ss"}},
				"tls":  map[string]any{"enabled": true, "existingSecret": "tls"},
			},
			check: func(t *testing.T, objs []chartrender.Object) {
				cfg := properties(configData(t, objs, "trino-coordinator", "config.properties"))
				for k, v := range map[string]string{
					"http-server.authentication.type":      "PASSWORD",
					"http-server.https.enabled":            "true",
					"internal-communication.shared-secret": "${ENV:TRINO_SHARED_SECRET}",
				} {
					if cfg[k] != v {
						t.Errorf("%s=%q, want %q", k, cfg[k], v)
					}
				}
				if pa := properties(configData(t, objs, "trino-coordinator", "password-authenticator.properties")); pa["password-authenticator.name"] != "file" {
					t.Errorf("password-authenticator: %v", pa)
				}
				svc := find(t, objs, "Service", "trino")
				if fmt.Sprint(field(t, svc, "spec", "ports", "1", "name")) != "https" {
					t.Error("no https port on the Service")
				}
				if w := properties(configData(t, objs, "trino-worker", "config.properties")); w["internal-communication.shared-secret"] == "" {
					t.Error("workers need the shared secret too")
				}
			},
		},
		{
			name:   "jwt auth behind a TLS proxy",
			values: map[string]any{"auth": map[string]any{"type": "jwt", "jwt": map[string]any{"keyFile": "https://idp/jwks"}, "allowInsecureOverHttp": true, "sharedSecret": map[string]any{"existingSecret": "ss"}}, "server": map[string]any{"processForwarded": true}},
			check: func(t *testing.T, objs []chartrender.Object) {
				cfg := properties(configData(t, objs, "trino-coordinator", "config.properties"))
				if cfg["http-server.authentication.type"] != "JWT" || cfg["http-server.authentication.jwt.key-file"] != "https://idp/jwks" ||
					cfg["http-server.authentication.allow-insecure-over-http"] != "true" || cfg["http-server.process-forwarded"] != "true" {
					t.Errorf("coordinator config: %v", cfg)
				}
			},
		},
		{
			name:   "file-based access control",
			values: map[string]any{"accessControl": map[string]any{"enabled": true}},
			check: func(t *testing.T, objs []chartrender.Object) {
				ac := properties(configData(t, objs, "trino-coordinator", "access-control.properties"))
				if ac["access-control.name"] != "file" || ac["security.config-file"] != "/etc/trino/access-control/rules.json" {
					t.Errorf("access-control.properties: %v", ac)
				}
				if !strings.Contains(configData(t, objs, "trino-access-control", "rules.json"), `"allow": "all"`) {
					t.Error("rules.json not rendered")
				}
			},
		},
		{
			name:   "HPA replaces replicas",
			values: map[string]any{"worker": map[string]any{"autoscaling": map[string]any{"enabled": true, "minReplicas": 2, "maxReplicas": 5}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				hpa := find(t, objs, "HorizontalPodAutoscaler", "trino-worker")
				if fmt.Sprint(field(t, hpa, "spec", "maxReplicas")) != "5" {
					t.Errorf("hpa: %v", hpa.U.Object["spec"])
				}
				if field(t, find(t, objs, "Deployment", "trino-worker"), "spec", "replicas") != nil {
					t.Error("Deployment sets replicas while the HPA owns them")
				}
			},
		},
		{
			name: "maintenance CronJob per table",
			values: map[string]any{"maintenance": map[string]any{"enabled": true, "tables": []any{
				map[string]any{"schema": "risk", "table": "var_es"},
				map[string]any{"schema": "risk", "table": "drc", "removeOrphanFiles": map[string]any{"enabled": false}},
			}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				if n := count(objs, "CronJob"); n != 2 {
					t.Fatalf("%d CronJobs, want 2", n)
				}
				cj := find(t, objs, "CronJob", "trino-maint-risk-var-es")
				if field(t, cj, "spec", "concurrencyPolicy") != "Forbid" || field(t, cj, "spec", "startingDeadlineSeconds") == nil ||
					field(t, cj, "spec", "jobTemplate", "spec", "activeDeadlineSeconds") == nil {
					t.Errorf("CronJob policy fields: %v", cj.U.Object["spec"])
				}
				sql := fmt.Sprint(field(t, cj, "spec", "jobTemplate", "spec", "template", "spec", "containers", "0", "command"))
				for _, proc := range []string{"optimize", "expire_snapshots", "remove_orphan_files"} {
					if !strings.Contains(sql, "ALTER TABLE iceberg.risk.var_es EXECUTE "+proc) {
						t.Errorf("missing %s in %s", proc, sql)
					}
				}
				drc := fmt.Sprint(field(t, find(t, objs, "CronJob", "trino-maint-risk-drc"), "spec", "jobTemplate", "spec", "template", "spec", "containers", "0", "command"))
				if strings.Contains(drc, "remove_orphan_files") {
					t.Error("remove_orphan_files rendered although disabled")
				}
			},
		},
		{
			name: "monitoring, dashboard, JMX",
			values: map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true, "basicAuth": map[string]any{"existingSecret": "scrape"}}, "grafanaDashboard": map[string]any{"enabled": true},
				"jmx": map[string]any{"enabled": true}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				if count(objs, "ServiceMonitor") != 2 || !has(objs, "ConfigMap", "trino-dashboard") {
					t.Errorf("got %s", keys(objs))
				}
				cfg := properties(configData(t, objs, "trino-coordinator", "config.properties"))
				if cfg["jmx.rmiregistry.port"] != "9080" || !strings.Contains(cfg["openmetrics.jmx-object-names"], "QueryManager") {
					t.Errorf("config: %v", cfg)
				}
			},
		},
		{
			name:   "prod HA: PDB, spread, network policies",
			values: map[string]any{"worker": map[string]any{"pdb": map[string]any{"enabled": true}, "topologySpread": map[string]any{"enabled": true}}, "networkPolicy": map[string]any{"enabled": true}},
			check: func(t *testing.T, objs []chartrender.Object) {
				if !has(objs, "PodDisruptionBudget", "trino-worker") || count(objs, "NetworkPolicy") != 3 {
					t.Errorf("got %s", keys(objs))
				}
				ts := field(t, find(t, objs, "Deployment", "trino-worker"), "spec", "template", "spec", "topologySpreadConstraints")
				if l, _ := ts.([]any); len(l) != 2 {
					t.Errorf("topology spread: %v", ts)
				}
			},
		},
		{
			name:   "graceful shutdown with a custom user quotes it in the rule",
			values: map[string]any{"worker": map[string]any{"gracefulShutdown": map[string]any{"user": "ops.bot"}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				rules := configData(t, objs, "trino-worker", "graceful-shutdown-rules.json")
				if !strings.Contains(rules, `"user": "ops\\.bot"`) {
					t.Errorf("the user must match literally (a Trino rule is a regex):\n%s", rules)
				}
			},
		},
		{
			name:   "group provider from a Secret",
			values: map[string]any{"accessControl": map[string]any{"enabled": true, "groups": map[string]any{"existingSecret": "trino-groups", "key": "groups"}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				gp := properties(configData(t, objs, "trino-coordinator", "group-provider.properties"))
				if gp["group-provider.name"] != "file" || gp["file.group-file"] != "/etc/trino/groups/groups" {
					t.Errorf("group-provider.properties: %v", gp)
				}
				d := find(t, objs, "Deployment", "trino-coordinator")
				vols := fmt.Sprint(field(t, d, "spec", "template", "spec", "volumes"))
				if !strings.Contains(vols, "secretName:trino-groups") {
					t.Errorf("no groups volume: %s", vols)
				}
				if _, ok := properties(configData(t, objs, "trino-worker", "config.properties"))["group-provider.name"]; ok {
					t.Error("group provider on workers")
				}
			},
		},
		{
			name:   "group provider from values",
			values: map[string]any{"accessControl": map[string]any{"enabled": true, "groups": map[string]any{"members": map[string]any{"risk-readers": []any{"alice", "bob"}}}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				if got := configData(t, objs, "trino-groups", "group.txt"); got != "risk-readers:alice,bob\n" {
					t.Errorf("group.txt %q", got)
				}
				if gp := properties(configData(t, objs, "trino-coordinator", "group-provider.properties")); gp["file.group-file"] != "/etc/trino/groups/group.txt" {
					t.Errorf("group-provider.properties: %v", gp)
				}
			},
		},
		{
			name: "ServiceMonitors authenticate, the coordinator over HTTPS",
			values: map[string]any{
				"metrics":   map[string]any{"serviceMonitor": map[string]any{"enabled": true, "basicAuth": map[string]any{"existingSecret": "scrape"}}},
				"tls":       map[string]any{"enabled": true, "existingSecret": "tls"},
				"trustedCA": map[string]any{"configMapName": "ca-bundle"},
			},
			check: func(t *testing.T, objs []chartrender.Object) {
				c := find(t, objs, "ServiceMonitor", "trino-coordinator")
				ep := fmt.Sprint(field(t, c, "spec", "endpoints", "0"))
				for _, want := range []string{"port:https", "scheme:https", "basicAuth:map[password:map[key:password name:scrape] username:map[key:username name:scrape]]",
					"ca:map[configMap:map[key:ca.crt name:ca-bundle]]", "serverName:trino.lakeport-test.svc"} {
					if !strings.Contains(ep, want) {
						t.Errorf("coordinator endpoint lacks %s: %s", want, ep)
					}
				}
				w := fmt.Sprint(field(t, find(t, objs, "ServiceMonitor", "trino-worker"), "spec", "endpoints", "0"))
				if !strings.Contains(w, "port:http ") || !strings.Contains(w, "basicAuth:") || strings.Contains(w, "tlsConfig") {
					t.Errorf("worker endpoint: %s", w)
				}
			},
		},
		{
			name:   "trusted CA: truststore built by an init container and used by the JVM",
			values: map[string]any{"trustedCA": map[string]any{"secretName": "bank-ca", "key": "bundle.pem"}},
			check: func(t *testing.T, objs []chartrender.Object) {
				for _, role := range []string{"coordinator", "worker"} {
					d := find(t, objs, "Deployment", "trino-"+role)
					spec := fmt.Sprint(field(t, d, "spec", "template", "spec"))
					for _, want := range []string{"initContainers:[map[command:[/bin/sh -c", "keytool", "-importcert",
						"secret:map[items:[map[key:bundle.pem path:ca.crt]] secretName:bank-ca]", "mountPath:/etc/trino-truststore name:truststore readOnly:true"} {
						if !strings.Contains(spec, want) {
							t.Errorf("%s pod lacks %q", role, want)
						}
					}
					jvm := configData(t, objs, "trino-"+role, "jvm.config")
					for _, want := range []string{"-Djavax.net.ssl.trustStore=/etc/trino-truststore/truststore.p12\n", "-Djavax.net.ssl.trustStoreType=PKCS12\n"} {
						if !strings.Contains(jvm, want) {
							t.Errorf("%s jvm.config lacks %s", role, want)
						}
					}
					if strings.Contains(jvm, "trustStorePassword") {
						t.Errorf("%s jvm.config carries a truststore password: the truststore is password-less", role)
					}
				}
			},
		},
		{
			name:   "no trusted CA: no init container, no truststore option",
			values: map[string]any{},
			check: func(t *testing.T, objs []chartrender.Object) {
				if field(t, find(t, objs, "Deployment", "trino-worker"), "spec", "template", "spec", "initContainers") != nil {
					t.Error("init container without trustedCA")
				}
				if strings.Contains(configData(t, objs, "trino-worker", "jvm.config"), "trustStore") {
					t.Error("truststore option without trustedCA")
				}
			},
		},
		{
			name:   "scheduling from values",
			values: map[string]any{"worker": map[string]any{"nodeSelector": map[string]any{"pool": "trino"}, "tolerations": []any{map[string]any{"key": "k", "operator": "Exists"}}, "affinity": map[string]any{"nodeAffinity": map[string]any{}}}},
			check: func(t *testing.T, objs []chartrender.Object) {
				spec := find(t, objs, "Deployment", "trino-worker")
				for _, f := range []string{"nodeSelector", "tolerations", "affinity"} {
					if field(t, spec, "spec", "template", "spec", f) == nil {
						t.Errorf("%s not rendered", f)
					}
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustRender(t, defaultsRequest("trino", trinoValues(tc.values)))
			if err := strictCheck(objs); err != nil {
				t.Fatal(err)
			}
			tc.check(t, objs)
		})
	}
}

func TestTrinoFails(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"termination grace below twice the shutdown grace", map[string]any{"worker": map[string]any{"gracefulShutdown": map[string]any{"gracePeriodSeconds": 60}, "terminationGracePeriodSeconds": 100}}, "worker.terminationGracePeriodSeconds (100) must be at least twice"},
		{"Trino too old for native S3", map[string]any{"image": map[string]any{"tag": "457"}}, "Trino 457 is not supported"},
		{"version not derivable", map[string]any{"image": map[string]any{"tag": "nightly"}}, "cannot derive the Trino release"},
		{"latest tag (schema)", map[string]any{"image": map[string]any{"tag": "latest"}}, "/image/tag"},
		{"plain http S3 where TLS is required", map[string]any{"catalog": map[string]any{"s3": map[string]any{"requireTLS": true}}}, "use an https:// endpoint"},
		{"plaintext secret in extra catalog properties", map[string]any{"catalog": map[string]any{"extraProperties": map[string]any{"s3.sse.customer-key": "abc"}}}, "credentials must be referenced as ${ENV:NAME}"},
		{"auth without shared secret", map[string]any{"auth": map[string]any{"type": "password", "password": map[string]any{"existingSecret": "pw"}}, "tls": map[string]any{"enabled": true, "existingSecret": "t"}}, "auth.sharedSecret.existingSecret"},
		{"auth without TLS", map[string]any{"auth": map[string]any{"type": "password", "password": map[string]any{"existingSecret": "pw"}, "sharedSecret": map[string]any{"existingSecret": "ss"}}}, "only authenticates over HTTPS"},
		{"password auth without file", map[string]any{"auth": map[string]any{"type": "password", "sharedSecret": map[string]any{"existingSecret": "ss"}, "allowInsecureOverHttp": true}}, "auth.password.existingSecret"},
		{"jwt without key", map[string]any{"auth": map[string]any{"type": "jwt", "sharedSecret": map[string]any{"existingSecret": "ss"}, "allowInsecureOverHttp": true}}, "auth.jwt.keyFile"},
		{"tls without secret", map[string]any{"tls": map[string]any{"enabled": true}}, "tls.existingSecret"},
		{"oauth2 without credential", map[string]any{"catalog": map[string]any{"rest": map[string]any{"security": "OAUTH2"}}}, "catalog.rest.oauth2.existingSecret"},
		{"memory percentages above 90", map[string]any{"memory": map[string]any{"queryMaxMemoryPerNodePercent": 70, "heapHeadroomPercent": 30}}, "must be at most 90"},
		{"hpa max below min", map[string]any{"worker": map[string]any{"autoscaling": map[string]any{"enabled": true, "minReplicas": 4, "maxReplicas": 2}}}, "maxReplicas must be at least"},
		{"heap squeezed out by the off-heap pools", map[string]any{"coordinator": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "1536Mi"}}}}, "only 256MiB are left for the heap"},
		{"heap size in extraOptions", map[string]any{"worker": map[string]any{"jvm": map[string]any{"extraOptions": []any{"-Xmx6G"}}}}, `worker.jvm.extraOptions: "-Xmx6G" sizes a memory pool`},
		{"old heapPercent key (schema)", map[string]any{"worker": map[string]any{"jvm": map[string]any{"heapPercent": 75}}}, "heapPercent"},
		{"trusted CA from both a ConfigMap and a Secret", map[string]any{"trustedCA": map[string]any{"configMapName": "a", "secretName": "b"}}, "trustedCA: set configMapName or secretName, not both"},
		{"ServiceMonitor without credentials", map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}}, "metrics.serviceMonitor.basicAuth.existingSecret"},
		{"groups without access control", map[string]any{"accessControl": map[string]any{"groups": map[string]any{"existingSecret": "g"}}}, "set accessControl.enabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chartrender.Render(defaultsRequest("trino", trinoValues(tc.values)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
