package check_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// obj is a Kubernetes object under construction.
type obj = map[string]any

// at walks (creating maps) to the map at a dotted path.
func at(o obj, path string) obj {
	cur := o
	for _, k := range strings.Split(path, ".") {
		next, ok := cur[k].(obj)
		if !ok {
			next = obj{}
			cur[k] = next
		}
		cur = next
	}
	return cur
}

func container(o obj) obj {
	spec := podSpec(o)
	return spec["containers"].([]any)[0].(obj)
}

func podSpec(o obj) obj {
	if o["kind"] == "CronJob" {
		return at(o, "spec.jobTemplate.spec.template.spec")
	}
	return at(o, "spec.template.spec")
}

// compliant is a Deployment that every policy accepts in any environment.
func compliant(name string, replicas int) obj {
	labels := obj{"app.kubernetes.io/name": name, "lakeport.test/netpol": "covered"}
	return obj{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   obj{"name": name},
		"spec": obj{
			"replicas": replicas,
			"selector": obj{"matchLabels": obj{"app.kubernetes.io/name": name}},
			"template": obj{
				"metadata": obj{"labels": labels},
				"spec": obj{
					"securityContext": obj{"runAsNonRoot": true, "seccompProfile": obj{"type": "RuntimeDefault"}},
					"topologySpreadConstraints": []any{obj{
						"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
						"labelSelector": obj{"matchLabels": obj{"app.kubernetes.io/name": name}},
					}},
					"volumes": []any{obj{"name": "tmp", "emptyDir": obj{}}},
					"containers": []any{obj{
						"name":  "app",
						"image": "ghcr.io/lakeport/app:1.0.0",
						"securityContext": obj{
							"allowPrivilegeEscalation": false,
							"readOnlyRootFilesystem":   true,
							"capabilities":             obj{"drop": []any{"ALL"}},
						},
						"resources": obj{
							"requests": obj{"cpu": "100m", "memory": "64Mi"},
							"limits":   obj{"cpu": "1", "memory": "64Mi"},
						},
						"readinessProbe": obj{"httpGet": obj{"path": "/", "port": 8080}},
					}},
				},
			},
		},
	}
}

func pdbFor(name string) obj {
	return obj{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": obj{"name": name},
		"spec": obj{"maxUnavailable": 1, "selector": obj{"matchLabels": obj{"app.kubernetes.io/name": name}}}}
}

func cronJob(name string) obj {
	d := compliant(name, 1)
	pod := d["spec"].(obj)["template"].(obj)
	pod["spec"].(obj)["restartPolicy"] = "Never"
	delete(pod["spec"].(obj), "topologySpreadConstraints")
	return obj{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": obj{"name": name},
		"spec": obj{"schedule": "0 1 * * *", "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 600,
			"jobTemplate": obj{"spec": obj{"activeDeadlineSeconds": 3600, "template": pod}}}}
}

func trino(o obj, component string) obj {
	at(o, "metadata.labels")["app.kubernetes.io/name"] = "trino"
	at(o, "spec.template.metadata.labels")["app.kubernetes.io/component"] = component
	return o
}

// jvm is a Deployment whose container mounts a ConfigMap with a jvm.config, under a memory limit,
// and that ConfigMap (the memory policy adds up the JVM's pools against the limit).
func jvm(name, limit, jvmConfig string) []obj {
	d := compliant(name, 1)
	spec := podSpec(d)
	spec["volumes"] = append(spec["volumes"].([]any), obj{"name": "config", "configMap": obj{"name": name + "-config"}})
	c := container(d)
	c["volumeMounts"] = []any{obj{"name": "config", "mountPath": "/etc/trino"}}
	at(c, "resources.limits")["memory"] = limit
	at(c, "resources.requests")["memory"] = limit
	cm := obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": name + "-config"}, "data": obj{"jvm.config": jvmConfig}}
	return []obj{d, cm}
}

func catalog(name, endpoint string) obj {
	return obj{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": obj{"name": name, "labels": obj{"app.kubernetes.io/name": "trino"}},
		"data":     obj{"iceberg.properties": "connector.name=iceberg\ns3.endpoint=" + endpoint + "\n"}}
}

// scrapeService is a Service of the compliant Deployment "scrape-target", port "http".
func scrapeService() obj {
	return obj{"apiVersion": "v1", "kind": "Service", "metadata": obj{"name": "scrape-target", "labels": obj{"app.kubernetes.io/name": "scrape-target"}},
		"spec": obj{"selector": obj{"app.kubernetes.io/name": "scrape-target"}, "ports": []any{obj{"name": "http", "port": 8080}}}}
}

// serviceMonitor scrapes port of the Service "scrape-target".
func serviceMonitor(name, port string) obj {
	return obj{"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": obj{"name": name},
		"spec": obj{"selector": obj{"matchLabels": obj{"app.kubernetes.io/name": "scrape-target"}}, "endpoints": []any{obj{"port": port, "path": "/metrics"}}}}
}

// ruleCase is one policy rule's Go test: a bad object it must fire on and a good one it must
// not, rendered through the fixture's web chart in the given environment.
type ruleCase struct {
	rule      string
	env       string
	bad, good []obj // the first object of each is the one asserted on
}

func ruleCases() []ruleCase {
	with := func(name string, replicas int, edit func(o obj)) obj {
		o := compliant(name, replicas)
		edit(o)
		return o
	}
	return []ruleCase{
		{rule: "psa_privileged", bad: []obj{with("bad-privileged", 1, func(o obj) { at(container(o), "securityContext")["privileged"] = true })}, good: []obj{compliant("good-privileged", 1)}},
		{rule: "psa_host_namespaces", bad: []obj{with("bad-host-ns", 1, func(o obj) { podSpec(o)["hostNetwork"] = true })}, good: []obj{compliant("good-host-ns", 1)}},
		{rule: "psa_host_path", bad: []obj{with("bad-host-path", 1, func(o obj) {
			podSpec(o)["volumes"] = []any{obj{"name": "logs", "hostPath": obj{"path": "/var/log"}}}
		})}, good: []obj{compliant("good-host-path", 1)}},
		{rule: "psa_volume_types", bad: []obj{with("bad-volume", 1, func(o obj) {
			podSpec(o)["volumes"] = []any{obj{"name": "nfs", "nfs": obj{"server": "nfs.example.test", "path": "/"}}}
		})}, good: []obj{compliant("good-volume", 1)}},
		{rule: "psa_host_ports", bad: []obj{with("bad-host-port", 1, func(o obj) {
			container(o)["ports"] = []any{obj{"containerPort": 8080, "hostPort": 8080}}
		})}, good: []obj{with("good-host-port", 1, func(o obj) { container(o)["ports"] = []any{obj{"containerPort": 8080}} })}},
		{rule: "psa_run_as_non_root", bad: []obj{with("bad-root", 1, func(o obj) { delete(at(podSpec(o), "securityContext"), "runAsNonRoot") })}, good: []obj{compliant("good-root", 1)}},
		{rule: "psa_seccomp", bad: []obj{with("bad-seccomp", 1, func(o obj) { delete(at(podSpec(o), "securityContext"), "seccompProfile") })}, good: []obj{compliant("good-seccomp", 1)}},
		{rule: "psa_capabilities", bad: []obj{with("bad-caps", 1, func(o obj) {
			at(container(o), "securityContext.capabilities")["add"] = []any{"SYS_ADMIN"}
		})}, good: []obj{with("good-caps", 1, func(o obj) { at(container(o), "securityContext.capabilities")["add"] = []any{"NET_BIND_SERVICE"} })}},
		{rule: "psa_privilege_escalation", bad: []obj{with("bad-escalation", 1, func(o obj) { at(container(o), "securityContext")["allowPrivilegeEscalation"] = true })}, good: []obj{compliant("good-escalation", 1)}},
		{rule: "psa_host_settings", bad: []obj{with("bad-sysctl", 1, func(o obj) {
			at(podSpec(o), "securityContext")["sysctls"] = []any{obj{"name": "kernel.msgmax", "value": "65536"}}
		})}, good: []obj{with("good-sysctl", 1, func(o obj) {
			at(podSpec(o), "securityContext")["sysctls"] = []any{obj{"name": "net.ipv4.tcp_syncookies", "value": "1"}}
		})}},
		{rule: "resources", bad: []obj{with("bad-resources", 1, func(o obj) { delete(at(container(o), "resources"), "limits") })}, good: []obj{compliant("good-resources", 1)}},
		{rule: "image_tag", bad: []obj{with("bad-tag", 1, func(o obj) { container(o)["image"] = "ghcr.io/lakeport/app:latest" })}, good: []obj{with("good-tag", 1, func(o obj) {
			container(o)["image"] = "ghcr.io/lakeport/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		})}},
		{rule: "image_registry", bad: []obj{with("bad-registry", 1, func(o obj) { container(o)["image"] = "evil.example.com/app:1.0.0" })}, good: []obj{with("good-registry", 1, func(o obj) { container(o)["image"] = "trinodb/trino:482" })}},
		{rule: "plaintext_secret", bad: []obj{with("bad-secret", 1, func(o obj) {
			container(o)["env"] = []any{obj{"name": "DB_PASSWORD", "value": "hunter2"}}
		})}, good: []obj{with("good-secret", 1, func(o obj) {
			container(o)["env"] = []any{obj{"name": "DB_PASSWORD", "valueFrom": obj{"secretKeyRef": obj{"name": "db", "key": "password"}}}}
		})}},
		{rule: "trino_replicas", env: "prod", bad: []obj{trino(compliant("bad-trino-workers", 1), "worker")}, good: []obj{trino(compliant("good-trino-workers", 2), "worker"), pdbFor("good-trino-workers")}},
		{rule: "pdb", env: "prod", bad: []obj{compliant("bad-pdb", 3)}, good: []obj{compliant("good-pdb", 3), pdbFor("good-pdb")}},
		{rule: "topology_spread", env: "prod", bad: []obj{with("bad-spread", 3, func(o obj) { delete(podSpec(o), "topologySpreadConstraints") }), pdbFor("bad-spread")}, good: []obj{compliant("good-spread", 3), pdbFor("good-spread")}},
		{rule: "network_policy", bad: []obj{with("bad-netpol", 1, func(o obj) { delete(at(o, "spec.template.metadata.labels"), "lakeport.test/netpol") })}, good: []obj{compliant("good-netpol", 1)}},
		{rule: "jvm_memory", bad: jvm("bad-jvm", "2Gi", "-Xmx1536M\n-XX:ReservedCodeCacheSize=512M\n"), good: jvm("good-jvm", "3Gi", "-Xmx1843M\n-XX:ReservedCodeCacheSize=256M\n-XX:MaxMetaspaceSize=512M\n")},
		{rule: "trino_s3_tls", env: "prod", bad: []obj{catalog("bad-s3-tls", "http://minio:9000")}, good: []obj{catalog("good-s3-tls", "https://s3.bank.test")}},
		{rule: "cronjob_concurrency", bad: []obj{func() obj { c := cronJob("bad-concurrency"); delete(c["spec"].(obj), "concurrencyPolicy"); return c }()}, good: []obj{cronJob("good-concurrency")}},
		{rule: "cronjob_deadline", bad: []obj{func() obj { c := cronJob("bad-deadline"); delete(c["spec"].(obj), "startingDeadlineSeconds"); return c }()}, good: []obj{cronJob("good-deadline")}},
		{rule: "table_maintenance_owner", bad: []obj{func() obj {
			c := cronJob("bad-maintenance")
			container(c)["command"] = []any{"trino", "--execute", "ALTER TABLE iceberg.risk.var_es EXECUTE expire_snapshots(retention_threshold => '7d')"}
			return c
		}()}, good: []obj{func() obj {
			c := cronJob("good-maintenance")
			container(c)["args"] = []any{"maintain", "--dataset=all"}
			return c
		}()}},
		{rule: "scrape_target", bad: []obj{serviceMonitor("bad-scrape", "metrics"), compliant("scrape-target", 1), scrapeService()},
			good: []obj{serviceMonitor("good-scrape", "http")}},
		{rule: "probes", bad: []obj{with("bad-probes", 1, func(o obj) { delete(container(o), "readinessProbe") })}, good: []obj{compliant("good-probes", 1)}},
		{rule: "read_only_root_filesystem", bad: []obj{with("bad-rofs", 1, func(o obj) { delete(at(container(o), "securityContext"), "readOnlyRootFilesystem") })}, good: []obj{compliant("good-rofs", 1)}},
	}
}

// repoPolicies copies the repository's Rego policies into the fixture.
func repoPolicies(t testing.TB, f *testkit.Fixture) {
	t.Helper()
	src := filepath.Join("..", "..", "..", "policies")
	files := map[string]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".rego" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		files["policies/"+filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Write(files)
}

// ruleFixture is the fixture kit with the repository's policies, prod's web chart following the
// working tree, and every rule case's objects in the web chart (plus a NetworkPolicy that
// selects the pods labelled lakeport.test/netpol=covered).
func ruleFixture(t testing.TB) *testkit.Fixture {
	t.Helper()
	f := testkit.NewFixture(t)
	repoPolicies(t, f)
	f.Replace("environments/prod/env.yaml", f.V1, "HEAD")
	var docs []string
	add := func(o obj) {
		b, err := sigsyaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	add(obj{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": obj{"name": "covered"},
		"spec": obj{"podSelector": obj{"matchLabels": obj{"lakeport.test/netpol": "covered"}}, "policyTypes": []any{"Ingress"}}})
	for _, rc := range ruleCases() {
		for _, o := range append(append([]obj{}, rc.bad...), rc.good...) {
			add(o)
		}
	}
	// Helm would read "{{" as a template: the objects have none.
	f.Write(map[string]string{"charts/web/templates/rules.yaml": strings.Join(docs, "---\n")})
	return f
}

func checkFixture(t testing.TB, f *testkit.Fixture) (*check.Checker, *check.Report, []*render.Release, *workspace.Workspace) {
	t.Helper()
	w, err := workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := w.Render(context.Background(), w.Apps)
	if err != nil {
		t.Fatal(err)
	}
	c, err := check.New(w.Head, check.Options{Now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), CRDs: crds.FS})
	if err != nil {
		t.Fatal(err)
	}
	targets := check.Targets(w.Kit.Environments, rels, nil)
	rep, err := c.Check(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	return c, rep, rels, w
}

// TestRules runs each policy rule over the rendered fixture: it fires on its bad object and stays
// silent on its good one, in the environment the rule is about. Every rule of policies/ must
// have a case.
func TestRules(t *testing.T) {
	f := ruleFixture(t)
	c, rep, _, _ := checkFixture(t, f)
	find := func(env, rule, name string) []string {
		var out []string
		for _, fd := range rep.Findings {
			if fd.Environment == env && fd.Rule == rule && fd.Object != nil && fd.Object.Name == name {
				out = append(out, fd.Message)
			}
		}
		return out
	}
	covered := map[string]bool{}
	for _, rc := range ruleCases() {
		covered[rc.rule] = true
		t.Run(rc.rule, func(t *testing.T) {
			env := rc.env
			if env == "" {
				env = "dev"
			}
			if c.Engine.Rule(rc.rule) == nil {
				t.Fatalf("no rule %s in policies/", rc.rule)
			}
			bad := rc.bad[0]["metadata"].(obj)["name"].(string)
			good := rc.good[0]["metadata"].(obj)["name"].(string)
			msgs := find(env, rc.rule, bad)
			if len(msgs) == 0 {
				t.Errorf("%s does not fire on %s in %s", rc.rule, bad, env)
			}
			for _, m := range msgs {
				if !strings.Contains(m, bad) {
					t.Errorf("message does not name the object %s: %s", bad, m)
				}
			}
			if got := find(env, rc.rule, good); len(got) > 0 {
				t.Errorf("%s fires on the good object %s: %v", rc.rule, good, got)
			}
			if rc.env == "prod" {
				if got := find("dev", rc.rule, bad); len(got) > 0 {
					t.Errorf("%s is a production rule but fires in dev: %v", rc.rule, got)
				}
			}
		})
	}
	for _, r := range c.Engine.Rules {
		if !covered[r.ID] {
			t.Errorf("rule %s (%s:%d) has no case in ruleCases", r.ID, r.File, r.Line)
		}
	}
	// The per-rule objects are valid Kubernetes objects: no schema finding on them.
	for _, fd := range rep.Findings {
		if fd.Check == check.CheckSchema && fd.Object != nil && (strings.HasPrefix(fd.Object.Name, "bad-") || strings.HasPrefix(fd.Object.Name, "good-")) {
			t.Errorf("schema finding on a rule fixture: %s %s", fd.Object, fd.Message)
		}
	}
}
