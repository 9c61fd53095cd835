package charts_test

// Tests for issue 11's Spark and MinIO items: the history server's event-log directory (item 4),
// the MinIO ServiceMonitor (item 5), CA trust in both charts (item 7) and the MinIO provisioning
// hook's error handling and wait (items 9 and 11). The shell scripts the charts render are run
// here with fake mc/keytool commands, so their control flow (split, retry, "already exists") is
// exercised, not only their text.
//
// Upstream sources these settings were checked against:
//   - apache/spark-docker 4.0.1/scala2.13-java21-ubuntu/Dockerfile: FROM eclipse-temurin:21-jammy
//     (a JDK: keytool on PATH, $JAVA_HOME/lib/security/cacerts), and the jars of
//     spark-4.0.1-bin-hadoop3.tgz unchanged: no hadoop-aws, no AWS SDK bundle.
//   - apache/spark docs/cloud-integration.md ("Installation"): s3a:// needs the hadoop-cloud
//     module and its dependencies on the classpath.
//   - apache/spark launcher/.../SparkClassCommandBuilder.java: Master, Worker and HistoryServer
//     take SPARK_DAEMON_JAVA_OPTS.
//   - minio/minio docs/metrics/prometheus/README.md: metrics need a bearer token unless
//     MINIO_PROMETHEUS_AUTH_TYPE=public.
//   - minio/mc cmd/certs.go: mc trusts <config dir>/certs/CAs/.
//   - minio/minio cmd/admin-handlers errors: ErrAdminPolicyChangeAlreadyApplied is "The
//     specified policy change is already in effect."

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// TestSparkRefusesS3AEventLogsWithoutJars: the event-log values every environment had on main
// (b5197db) now fail the render with a message naming the key, instead of rendering a history
// server that crash-loops on the missing S3AFileSystem class.
func TestSparkRefusesS3AEventLogsWithoutJars(t *testing.T) {
	old := map[string]map[string]any{
		"dev":     {"enabled": true, "dir": "s3a://spark-events/logs", "s3": map[string]any{"endpoint": "http://minio.risk-dev.svc:9000", "existingSecret": "spark-s3"}},
		"staging": {"enabled": true, "dir": "s3a://spark-events/logs", "s3": map[string]any{"endpoint": "https://minio.risk-staging.svc:9000", "requireTLS": true, "existingSecret": "spark-s3"}},
		"prod":    {"enabled": true, "dir": "s3a://risk-spark-events/logs", "s3": map[string]any{"endpoint": "https://s3.risk.bank.internal", "requireTLS": true, "existingSecret": "spark-s3"}},
	}
	for env, eventLog := range old {
		t.Run(env, func(t *testing.T) {
			_, err := chartrender.Render(defaultsRequest("spark", map[string]any{"eventLog": eventLog, "historyServer": map[string]any{"enabled": true}}))
			if err == nil || !strings.Contains(err.Error(), "eventLog.dir") || !strings.Contains(err.Error(), "no hadoop-aws") {
				t.Fatalf("the old %s event-log values rendered (err %v); want a failure naming eventLog.dir and the missing jars", env, err)
			}
			// Declaring the jars (an image that has them) is the way to keep s3a://.
			eventLog["s3aJarsOnClasspath"] = true
			objs := mustRender(t, defaultsRequest("spark", map[string]any{"eventLog": eventLog, "historyServer": map[string]any{"enabled": true}}))
			if conf := configData(t, objs, "spark-conf", "spark-defaults.conf"); !strings.Contains(conf, "org.apache.hadoop.fs.s3a.S3AFileSystem") {
				t.Errorf("s3a with the jars declared: no S3A settings in\n%s", conf)
			}
		})
	}
}

// TestSparkEventLogVolume: by default event logs go to a file: directory on a shared PVC that the
// workers (where cluster-mode drivers write) and the history server mount; no S3 setting or key
// is rendered.
func TestSparkEventLogVolume(t *testing.T) {
	objs := mustRender(t, defaultsRequest("spark", map[string]any{"historyServer": map[string]any{"enabled": true}}))
	if err := strictCheck(objs); err != nil {
		t.Fatal(err)
	}
	pvc := find(t, objs, "PersistentVolumeClaim", "spark-events")
	if modes := fmt.Sprint(field(t, pvc, "spec", "accessModes")); modes != "[ReadWriteMany]" {
		t.Errorf("event-log PVC access modes %s, want [ReadWriteMany]", modes)
	}
	conf := configData(t, objs, "spark-conf", "spark-defaults.conf")
	for _, want := range []string{"spark.eventLog.dir                            file:/opt/spark/spark-events", "spark.history.fs.logDirectory                 file:/opt/spark/spark-events"} {
		if !strings.Contains(conf, want) {
			t.Errorf("spark-defaults.conf lacks %q", want)
		}
	}
	if strings.Contains(conf, "s3a") {
		t.Errorf("S3A settings rendered for a file: directory:\n%s", conf)
	}
	for _, w := range []struct {
		kind, name string
		mounts     bool
	}{{"StatefulSet", "spark-worker", true}, {"Deployment", "spark-history", true}, {"StatefulSet", "spark-master", false}} {
		pod := find(t, objs, w.kind, w.name)
		mount := mountOf(t, pod, 0, "events")
		if w.mounts != (mount == "/opt/spark/spark-events") {
			t.Errorf("%s/%s mounts the event-log volume at %q; want mounted=%v", w.kind, w.name, mount, w.mounts)
		}
		if w.mounts && volumeSource(t, pod, "events") != "persistentVolumeClaim:spark-events" {
			t.Errorf("%s/%s: events volume is %s", w.kind, w.name, volumeSource(t, pod, "events"))
		}
		if env := fmt.Sprint(field(t, pod, "spec", "template", "spec", "containers", "0", "env")); strings.Contains(env, "AWS_ACCESS_KEY_ID") {
			t.Errorf("%s/%s gets S3 keys though nothing uses S3", w.kind, w.name)
		}
	}

	t.Run("emptyDir without persistence", func(t *testing.T) {
		objs := mustRender(t, defaultsRequest("spark", map[string]any{"historyServer": map[string]any{"enabled": true},
			"eventLog": map[string]any{"volume": map[string]any{"persistence": map[string]any{"enabled": false}}}}))
		if has(objs, "PersistentVolumeClaim", "spark-events") {
			t.Error("PVC rendered with persistence off")
		}
		if src := volumeSource(t, find(t, objs, "Deployment", "spark-history"), "events"); src != "emptyDir" {
			t.Errorf("events volume is %s, want emptyDir", src)
		}
	})
	t.Run("existing claim", func(t *testing.T) {
		objs := mustRender(t, defaultsRequest("spark", map[string]any{"historyServer": map[string]any{"enabled": true},
			"eventLog": map[string]any{"volume": map[string]any{"persistence": map[string]any{"existingClaim": "shared-events"}}}}))
		if has(objs, "PersistentVolumeClaim", "spark-events") || volumeSource(t, find(t, objs, "StatefulSet", "spark-worker"), "events") != "persistentVolumeClaim:shared-events" {
			t.Errorf("want the existing claim mounted and no PVC rendered; got %s", keys(objs))
		}
	})
	runFailCases(t, "spark", []failCase{
		{"file dir off the volume", map[string]any{"eventLog": map[string]any{"dir": "file:/tmp/events"}}, "must lie on the event-log volume"},
		{"ReadWriteOnce shared by two workers", map[string]any{"eventLog": map[string]any{"volume": map[string]any{"persistence": map[string]any{"accessModes": []any{"ReadWriteOnce"}}}}}, "it needs ReadWriteMany"},
	})
}

// TestSparkTrustedCA: one CA bundle reference lands, in every Spark pod, as an init container
// that builds a truststore with the image's keytool, a read-only mount of it, the daemons'
// SPARK_DAEMON_JAVA_OPTS, and the applications' driver/executor extraJavaOptions (after which a
// user's own extraJavaOptions are kept).
func TestSparkTrustedCA(t *testing.T) {
	const opts = "-Djavax.net.ssl.trustStore=/opt/spark/truststore/cacerts -Djavax.net.ssl.trustStorePassword=changeit"
	for _, tc := range []struct {
		name, source string
		ca           map[string]any
	}{
		{"from a ConfigMap", "configMap:bank-ca", map[string]any{"configMapName": "bank-ca", "key": "bundle.pem"}},
		{"from a Secret", "secret:bank-ca", map[string]any{"secretName": "bank-ca", "key": "bundle.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := mustRender(t, defaultsRequest("spark", map[string]any{"trustedCA": tc.ca, "historyServer": map[string]any{"enabled": true},
				"sparkConf": map[string]any{"spark.executor.extraJavaOptions": "-XX:+UseG1GC"}}))
			if err := strictCheck(objs); err != nil {
				t.Fatal(err)
			}
			for _, w := range []struct{ kind, name string }{{"StatefulSet", "spark-master"}, {"StatefulSet", "spark-worker"}, {"Deployment", "spark-history"}} {
				pod := find(t, objs, w.kind, w.name)
				spec := func(path ...string) any {
					return field(t, pod, append([]string{"spec", "template", "spec"}, path...)...)
				}
				if spec("initContainers", "0", "name") != "truststore" || spec("initContainers", "0", "image") != spec("containers", "0", "image") {
					t.Errorf("%s: no truststore init container running the Spark image", w.name)
				}
				if src := volumeSource(t, pod, "trusted-ca"); src != tc.source {
					t.Errorf("%s: trusted-ca volume is %s, want %s", w.name, src, tc.source)
				}
				if items := fmt.Sprint(spec("volumes")); !strings.Contains(items, "key:bundle.pem path:ca.crt") {
					t.Errorf("%s: the bundle key is not projected as ca.crt: %s", w.name, items)
				}
				if m := mountOf(t, pod, 0, "truststore"); m != "/opt/spark/truststore" {
					t.Errorf("%s: truststore mounted at %q", w.name, m)
				}
				if env := envValue(t, pod, "SPARK_DAEMON_JAVA_OPTS"); env != opts {
					t.Errorf("%s: SPARK_DAEMON_JAVA_OPTS = %q", w.name, env)
				}
			}
			conf := configData(t, objs, "spark-conf", "spark-defaults.conf")
			for _, want := range []string{
				"spark.driver.extraJavaOptions                 " + opts + "\n",
				"spark.executor.extraJavaOptions               " + opts + " -XX:+UseG1GC\n",
			} {
				if !strings.Contains(conf, want) {
					t.Errorf("spark-defaults.conf lacks %q:\n%s", want, conf)
				}
			}
			if strings.Count(conf, "spark.executor.extraJavaOptions") != 1 {
				t.Errorf("the user's extraJavaOptions line is repeated:\n%s", conf)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		objs := mustRender(t, defaultsRequest("spark", nil))
		w := find(t, objs, "StatefulSet", "spark-worker")
		if field(t, w, "spec", "template", "spec", "initContainers") != nil || envValue(t, w, "SPARK_DAEMON_JAVA_OPTS") != "" {
			t.Error("truststore rendered without trustedCA")
		}
	})
	runFailCases(t, "spark", []failCase{
		{"ConfigMap and Secret", map[string]any{"trustedCA": map[string]any{"configMapName": "a", "secretName": "b"}}, "trustedCA: set configMapName or secretName, not both"},
	})
}

// TestSparkTruststoreScript runs the init container's script with a fake keytool (the image's is
// a JDK's; this one records each import): a two-certificate bundle gives two imports of one
// certificate each (keytool -importcert reads one certificate per file), and a bundle with no
// certificate fails the pod with a message naming the key.
func TestSparkTruststoreScript(t *testing.T) {
	objs := mustRender(t, defaultsRequest("spark", map[string]any{"trustedCA": map[string]any{"configMapName": "bank-ca"}}))
	args := field(t, find(t, objs, "StatefulSet", "spark-worker"), "spec", "template", "spec", "initContainers", "0", "command").([]any)
	if len(args) != 3 || args[0] != "/bin/bash" || args[1] != "-ec" {
		t.Fatalf("init container command %v, want /bin/bash -ec SCRIPT", args)
	}
	cert := func(n int) string {
		return fmt.Sprintf("-----BEGIN CERTIFICATE-----\nCERT%d\n-----END CERTIFICATE-----\n", n)
	}
	for _, tc := range []struct {
		name, bundle string
		imports      []string
		wantErr      string
	}{
		{"two certificates", "# bank CA bundle\n" + cert(1) + "\n" + cert(2), []string{"CERT1", "CERT2"}, ""},
		{"one certificate", cert(7), []string{"CERT7"}, ""},
		{"no certificate", "not a PEM file\n", nil, "trustedCA: no PEM certificate in key ca.crt of bank-ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			javaHome, store, caDir, bin := filepath.Join(dir, "jdk"), filepath.Join(dir, "truststore"), filepath.Join(dir, "ca"), filepath.Join(dir, "bin")
			for _, d := range []string{filepath.Join(javaHome, "lib", "security"), store, caDir, bin} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, filepath.Join(javaHome, "lib", "security", "cacerts"), "system-cas\n", 0o444)
			writeFile(t, filepath.Join(caDir, "ca.crt"), tc.bundle, 0o444)
			// keytool: -importcert appends the alias and the imported file to the store; -list prints
			// one trustedCertEntry per line of the store.
			writeFile(t, filepath.Join(bin, "keytool"), `#!/bin/sh
case "$1" in
-importcert) while [ $# -gt 0 ]; do case "$1" in -alias) a=$2;; -file) f=$2;; -keystore) k=$2;; esac; shift; done
  printf '%s %s\n' "$a" "$(grep -v -- ----- "$f" | tr '\n' ' ')" >> "$k" ;;
-list) sed "s/\$/, trustedCertEntry,/" "$3" ;;
esac
`, 0o755)
			script := strings.NewReplacer("/opt/spark/truststore", store, "/etc/lakeport/ca", caDir).Replace(args[2].(string))
			cmd := exec.Command("bash", "-ec", script)
			cmd.Env = append(os.Environ(), "JAVA_HOME="+javaHome, "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(string(out), tc.wantErr) {
					t.Fatalf("err %v, output %q; want a failure saying %q", err, out, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("script failed: %v\n%s", err, out)
			}
			got, err := os.ReadFile(filepath.Join(store, "cacerts"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(got)), "\n")
			if lines[0] != "system-cas" {
				t.Errorf("the store does not start from the JVM's cacerts: %q", lines)
			}
			var imported []string
			for _, l := range lines[1:] {
				alias, body, _ := strings.Cut(l, " ")
				if !strings.HasPrefix(alias, "lakeport-ca-") {
					t.Errorf("alias %q", alias)
				}
				imported = append(imported, strings.TrimSpace(body))
			}
			if !slices.Equal(imported, tc.imports) {
				t.Errorf("imported %q, want %q (one certificate per import)", imported, tc.imports)
			}
			if left, _ := filepath.Glob(filepath.Join(store, "*.pem")); len(left) > 0 {
				t.Errorf("split files left in the truststore volume: %v", left)
			}
			if want := fmt.Sprintf("truststore: %d trusted certificates", len(tc.imports)+1); !strings.Contains(string(out), want) {
				t.Errorf("output %q lacks %q", out, want)
			}
		})
	}
}

// scrapeProblems lists what makes a chart's ServiceMonitors fail or double-count on a real
// cluster: a selector matching other than exactly one of the release's Services; HTTPS without a
// CA to verify against; MinIO metrics scraped without the bearer token its default (jwt) auth
// type requires.
func scrapeProblems(objs []chartrender.Object) []string {
	var problems []string
	public := false
	for _, o := range objs {
		if o.Kind() == "StatefulSet" && strings.Contains(fmt.Sprint(o.U.Object), "name:MINIO_PROMETHEUS_AUTH_TYPE value:public") {
			public = true
		}
	}
	for _, sm := range objs {
		if sm.Kind() != "ServiceMonitor" {
			continue
		}
		sel, _ := sm.U.Object["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
		var matched []string
		for _, svc := range objs {
			if svc.Kind() != "Service" {
				continue
			}
			labels := svc.U.GetLabels()
			ok := true
			for k, v := range sel {
				ok = ok && labels[k] == v
			}
			if ok {
				matched = append(matched, svc.Name())
			}
		}
		if len(matched) != 1 {
			problems = append(problems, fmt.Sprintf("ServiceMonitor %s selects %d Services %v: each pod is scraped %d times", sm.Name(), len(matched), matched, len(matched)))
		}
		eps, _ := sm.U.Object["spec"].(map[string]any)["endpoints"].([]any)
		for i, e := range eps {
			ep := e.(map[string]any)
			if ep["scheme"] == "https" {
				tls, _ := ep["tlsConfig"].(map[string]any)
				if tls["ca"] == nil {
					problems = append(problems, fmt.Sprintf("ServiceMonitor %s endpoint %d scrapes https with no tlsConfig.ca", sm.Name(), i))
				}
			}
			if strings.HasPrefix(fmt.Sprint(ep["path"]), "/minio/") && !public && ep["authorization"] == nil && ep["bearerTokenSecret"] == nil {
				problems = append(problems, fmt.Sprintf("ServiceMonitor %s endpoint %d sends no bearer token and MinIO's metrics are not public", sm.Name(), i))
			}
		}
	}
	return problems
}

// TestMinioServiceMonitor: the old staging render (main at b5197db, testdata/old) has the two
// defects scrapeProblems looks for; the charts as they are now have none in any environment or
// setting, and the TLS and auth settings land where Prometheus reads them.
func TestMinioServiceMonitor(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "old", "staging-minio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := chartrender.Split(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(scrapeProblems(old), "\n")
	for _, want := range []string{"selects 2 Services [minio minio-headless]", "scrapes https with no tlsConfig.ca"} {
		if !strings.Contains(got, want) {
			t.Errorf("the old render's problems %q should include %q", got, want)
		}
	}

	forEachComponent(t, func(t *testing.T, env chartrender.Env, component string) {
		if component != "minio" {
			return
		}
		objs := mustRender(t, chartrender.ForEnv(repoRoot, env, component))
		if p := scrapeProblems(objs); len(p) > 0 {
			t.Errorf("%s: %s", env.Name, strings.Join(p, "; "))
		}
	})

	tls := map[string]any{"enabled": true, "existingSecret": "minio-tls"}
	monitor := map[string]any{"serviceMonitor": map[string]any{"enabled": true, "bearerTokenSecret": map[string]any{"name": "minio-prometheus"}}}
	runFlagCases(t, "minio", []flagCase{
		{"token auth, TLS with the TLS Secret's CA", map[string]any{"tls": tls, "metrics": monitor}, func(t *testing.T, objs []chartrender.Object) {
			sm := find(t, objs, "ServiceMonitor", "minio")
			if p := scrapeProblems(objs); len(p) > 0 {
				t.Error(p)
			}
			ep := func(path ...string) any { return field(t, sm, append([]string{"spec", "endpoints", "0"}, path...)...) }
			if ep("authorization", "type") != "Bearer" || ep("authorization", "credentials", "name") != "minio-prometheus" || ep("authorization", "credentials", "key") != "token" {
				t.Errorf("authorization %v", ep("authorization"))
			}
			if ep("tlsConfig", "serverName") != "minio.lakeport-test.svc" || ep("tlsConfig", "ca", "secret", "name") != "minio-tls" || ep("tlsConfig", "ca", "secret", "key") != "ca.crt" {
				t.Errorf("tlsConfig %v", ep("tlsConfig"))
			}
		}},
		{"public metrics, TLS with trustedCA", map[string]any{"tls": tls, "trustedCA": map[string]any{"configMapName": "bank-ca", "key": "bundle.pem"},
			"metrics": map[string]any{"public": true, "serviceMonitor": map[string]any{"enabled": true}}}, func(t *testing.T, objs []chartrender.Object) {
			sm := find(t, objs, "ServiceMonitor", "minio")
			if p := scrapeProblems(objs); len(p) > 0 {
				t.Error(p)
			}
			if field(t, sm, "spec", "endpoints", "0", "authorization") != nil {
				t.Error("a token is sent to public metrics")
			}
			if field(t, sm, "spec", "endpoints", "0", "tlsConfig", "ca", "configMap", "name") != "bank-ca" || field(t, sm, "spec", "endpoints", "0", "tlsConfig", "ca", "configMap", "key") != "bundle.pem" {
				t.Errorf("tlsConfig %v", field(t, sm, "spec", "endpoints", "0", "tlsConfig"))
			}
		}},
	})
	runFailCases(t, "minio", []failCase{
		{"token auth without a token", map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}}, "metrics.serviceMonitor.bearerTokenSecret.name"},
		{"trustedCA from both", map[string]any{"trustedCA": map[string]any{"configMapName": "a", "secretName": "b"}}, "not both"},
	})
}

// TestMinioProvisioningCA: the CA reaches mc's certs/CAs folder, from trustedCA or (without it)
// the TLS Secret's optional ca.crt.
func TestMinioProvisioningCA(t *testing.T) {
	runFlagCases(t, "minio", []flagCase{
		{"trustedCA Secret", map[string]any{"trustedCA": map[string]any{"secretName": "bank-ca", "key": "bundle.pem"}}, func(t *testing.T, objs []chartrender.Object) {
			job := find(t, objs, "Job", "minio-provisioning")
			if src := volumeSource(t, job, "ca"); src != "secret:bank-ca" || mountOf(t, job, 0, "ca") != "/etc/lakeport/ca" {
				t.Errorf("ca volume %s mounted at %q", src, mountOf(t, job, 0, "ca"))
			}
			if v := fmt.Sprint(field(t, job, "spec", "template", "spec", "volumes")); !strings.Contains(v, "key:bundle.pem path:ca.crt") || strings.Contains(v, "optional") {
				t.Errorf("volumes %s", v)
			}
			if s := configData(t, objs, "minio-provisioning", "provision.sh"); !strings.Contains(s, `cp /etc/lakeport/ca/ca.crt "$MC_CONFIG_DIR/certs/CAs/lakeport-ca.crt"`) {
				t.Errorf("the CA is not copied where mc reads it:\n%s", s)
			}
		}},
		{"TLS Secret's ca.crt", map[string]any{"tls": map[string]any{"enabled": true, "existingSecret": "minio-tls"}}, func(t *testing.T, objs []chartrender.Object) {
			job := find(t, objs, "Job", "minio-provisioning")
			if v := fmt.Sprint(field(t, job, "spec", "template", "spec", "volumes")); !strings.Contains(v, "secretName:minio-tls") || !strings.Contains(v, "optional:true") {
				t.Errorf("volumes %s", v)
			}
		}},
		{"no CA", nil, func(t *testing.T, objs []chartrender.Object) {
			if volumeSource(t, find(t, objs, "Job", "minio-provisioning"), "ca") != "" {
				t.Error("a CA volume without a CA")
			}
		}},
	})
}

// TestMinioProvisioningScript runs the hook's script with a fake mc. The old script hid every
// policy-attach error behind `2>/dev/null || echo` (shown failing below on the old render); the new
// one fails on any mc error except the "already in effect" MinIO answers to a repeated attach, and
// waits for MinIO with a bounded backoff.
func TestMinioProvisioningScript(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "old", "staging-minio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := chartrender.Split(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"provisioning": map[string]any{"waitAttempts": 3,
		"buckets":  []any{map[string]any{"name": "lake", "versioning": true}},
		"policies": []any{map[string]any{"name": "rw", "statements": []any{map[string]any{"Effect": "Allow", "Action": []any{"s3:*"}, "Resource": []any{"arn:aws:s3:::lake/*"}}}}},
		"users":    []any{map[string]any{"name": "trino", "existingSecret": "trino-s3", "policies": []any{"rw", "readonly"}}},
	}}
	current := configData(t, mustRender(t, defaultsRequest("minio", merge(requiredValues("minio"), values))), "minio-provisioning", "provision.sh")
	oldScript := configData(t, old, "minio-provisioning", "provision.sh")

	for _, tc := range []struct {
		name string
		// fake is the body of a case statement over "$*" (the mc arguments).
		fake    string
		wantErr bool
		wantOut []string
	}{
		{"all new", `*) ;;`, false, []string{"attached policy rw to user trino", "attached policy readonly to user trino", "provisioned 1 bucket(s)"}},
		{"policies already attached", `"admin policy attach"*) echo "mc: <ERROR> Unable to attach policy. The specified policy change is already in effect." >&2; exit 1 ;;`, false, []string{"policy rw already attached to user trino"}},
		{"attach refused", `"admin policy attach"*) echo "mc: <ERROR> Unable to attach policy. Access Denied." >&2; exit 1 ;;`, true, []string{"attach policy rw to user trino: mc: <ERROR> Unable to attach policy. Access Denied."}},
		{"bucket creation fails", `mb*) echo "mc: <ERROR> Unable to make bucket. Disk full." >&2; exit 1 ;;`, true, []string{"Disk full"}},
		{"MinIO comes up on the third try", `"alias set"*) n=$(cat "$STATE" 2>/dev/null || echo 0); echo $((n+1)) > "$STATE"; [ "$n" -ge 2 ] || { echo "dial tcp: connection refused" >&2; exit 1; } ;;`, false,
			[]string{"waiting for MinIO at https://minio.test:9000 (attempt 1 of 3, next in 2s): dial tcp: connection refused", "attempt 2 of 3, next in 4s", "provisioned"}},
		{"MinIO never comes up", `"alias set"*) echo "dial tcp: connection refused" >&2; exit 1 ;;`, true, []string{"MinIO at https://minio.test:9000 still unreachable after 3 attempts, giving up: dial tcp: connection refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runProvisioning(t, current, tc.fake)
			if (err != nil) != tc.wantErr {
				t.Errorf("exit error %v, want failure=%v\n%s", err, tc.wantErr, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	// The old script, run the same way: an attach refused by MinIO was reported as "already
	// attached" and the hook succeeded.
	out, err := runProvisioning(t, strings.ReplaceAll(oldScript, "/etc/minio-ca", "/nonexistent"), `"admin policy attach"*) echo "Access Denied." >&2; exit 1 ;;`)
	if err != nil || !strings.Contains(out, "policies of user trino already attached") {
		t.Errorf("expected the old script to hide the refused attach (the defect); err %v\n%s", err, out)
	}
}

// runProvisioning runs a provisioning script with fake mc and sleep commands in a temp folder.
func runProvisioning(t *testing.T, script, fake string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bin, "mc"), "#!/bin/sh\ncase \"$*\" in\n"+fake+"\nesac\necho \"mc $1 $2 ok\"\n", 0o755)
	writeFile(t, filepath.Join(bin, "sleep"), "#!/bin/sh\nexit 0\n", 0o755)
	script = strings.NewReplacer("/tmp/.mc", filepath.Join(dir, "mc-config"), "/etc/lakeport/ca", filepath.Join(dir, "ca")).Replace(script)
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STATE="+filepath.Join(dir, "attempts"),
		"MINIO_URL=https://minio.test:9000", "MINIO_ROOT_USER=root", "MINIO_ROOT_PASSWORD=hunter2hunter2",
		"USER_0_ACCESS_KEY=trino", "USER_0_SECRET_KEY=s", "USER_1_ACCESS_KEY=spark", "USER_1_SECRET_KEY=s", "USER_2_ACCESS_KEY=distribution", "USER_2_SECRET_KEY=s")
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "hunter2hunter2") {
		t.Errorf("the script printed the root password:\n%s", out)
	}
	return string(out), err
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// mountOf is the mount path of a volume in container i of a workload's (or Job's) pod template.
func mountOf(t *testing.T, o chartrender.Object, i int, volume string) string {
	t.Helper()
	mounts, _ := field(t, o, "spec", "template", "spec", "containers", fmt.Sprint(i), "volumeMounts").([]any)
	for _, m := range mounts {
		if mm := m.(map[string]any); mm["name"] == volume {
			return fmt.Sprint(mm["mountPath"])
		}
	}
	return ""
}

// volumeSource describes a pod-template volume as "configMap:<name>", "secret:<name>",
// "persistentVolumeClaim:<claim>" or "emptyDir"; "" when there is no such volume.
func volumeSource(t *testing.T, o chartrender.Object, volume string) string {
	t.Helper()
	vols, _ := field(t, o, "spec", "template", "spec", "volumes").([]any)
	for _, v := range vols {
		vm := v.(map[string]any)
		if vm["name"] != volume {
			continue
		}
		switch {
		case vm["configMap"] != nil:
			return "configMap:" + fmt.Sprint(vm["configMap"].(map[string]any)["name"])
		case vm["secret"] != nil:
			return "secret:" + fmt.Sprint(vm["secret"].(map[string]any)["secretName"])
		case vm["persistentVolumeClaim"] != nil:
			return "persistentVolumeClaim:" + fmt.Sprint(vm["persistentVolumeClaim"].(map[string]any)["claimName"])
		case vm["emptyDir"] != nil:
			return "emptyDir"
		}
		return "other"
	}
	return ""
}

// envValue is the literal value of an environment variable of the first container.
func envValue(t *testing.T, o chartrender.Object, name string) string {
	t.Helper()
	env, _ := field(t, o, "spec", "template", "spec", "containers", "0", "env").([]any)
	for _, e := range env {
		if em := e.(map[string]any); em["name"] == name {
			return fmt.Sprint(em["value"])
		}
	}
	return ""
}
