package charts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// caPods returns, for every pod the distribution chart runs (the CronJobs', the migration hook's
// and the CronWorkflow's), its volumes and containers as rendered.
func caPods(t *testing.T, objs []chartrender.Object) map[string]struct {
	volumes    []any
	containers []map[string]any
} {
	t.Helper()
	out := map[string]struct {
		volumes    []any
		containers []map[string]any
	}{}
	for _, o := range objs {
		var pod map[string]any
		var containers []map[string]any
		switch o.Kind() {
		case "CronJob":
			pod = dig(o.U.Object, "spec", "jobTemplate", "spec", "template", "spec")
		case "Job":
			pod = dig(o.U.Object, "spec", "template", "spec")
		case "CronWorkflow", "WorkflowTemplate":
			pod = dig(o.U.Object, "spec")
			if o.Kind() == "CronWorkflow" {
				pod = dig(o.U.Object, "spec", "workflowSpec")
			}
			if len(asList(pod["templates"])) == 0 {
				continue // the CronWorkflow that runs the pipeline's WorkflowTemplate
			}
			for _, tpl := range asList(pod["templates"]) {
				if c, ok := tpl.(map[string]any)["container"].(map[string]any); ok {
					containers = append(containers, c)
				}
			}
		default:
			continue
		}
		for _, c := range asList(pod["containers"]) {
			containers = append(containers, c.(map[string]any))
		}
		out[o.Kind()+"/"+o.Name()] = struct {
			volumes    []any
			containers []map[string]any
		}{asList(pod["volumes"]), containers}
	}
	return out
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		m = next
	}
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func named(list []any, name string) map[string]any {
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// TestDistributionTrustedCA shows where values.trustedCA lands: in every pod of the chart (the
// nightly CronJobs or the CronWorkflow, and the migration hook) the one key of the ConfigMap or
// Secret is mounted read-only at /etc/lakeport/ca/ca.crt and SSL_CERT_FILE names it. Go's
// crypto/x509 (go1.27.3 src/crypto/x509/root.go, loadOnDiskRoots) reads SSL_CERT_FILE instead of
// its list of bundle files and still scans /etc/ssl/certs, so the image's public bundle stays
// trusted; the AWS SDK, pgx (sslmode=verify-full without sslrootcert), trino-go-client and the
// OTLP exporter all verify against that system pool. Before this chart took trustedCA, the values
// below failed its schema ("additional properties 'trustedCA' not allowed") and nothing could
// make the job trust a private CA.
func TestDistributionTrustedCA(t *testing.T) {
	for _, tc := range []struct {
		name      string
		values    map[string]any
		volume    map[string]any // the volume's source, nil: no CA
		wantPods  int
		wantError string
	}{
		{name: "default: no CA", values: nil, wantPods: 5}, // 3 publish CronJobs, the maintenance CronJob, the migration Job
		{name: "ConfigMap", values: map[string]any{"trustedCA": map[string]any{"configMapName": "bank-ca"}}, wantPods: 5,
			volume: map[string]any{"configMap": map[string]any{"name": "bank-ca", "items": []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}}}},
		{name: "Secret with its own key", values: map[string]any{"trustedCA": map[string]any{"secretName": "bank-ca", "key": "bundle.pem"}}, wantPods: 5,
			volume: map[string]any{"secret": map[string]any{"secretName": "bank-ca", "items": []any{map[string]any{"key": "bundle.pem", "path": "ca.crt"}}}}},
		{name: "CronWorkflow", values: map[string]any{"trustedCA": map[string]any{"configMapName": "bank-ca"}, "cronJobs": map[string]any{"enabled": false}, "workflow": map[string]any{"enabled": true}}, wantPods: 2, // the pipeline's WorkflowTemplate (maintenance is its last step), the migration Job
			volume: map[string]any{"configMap": map[string]any{"name": "bank-ca", "items": []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}}}},
		{name: "both", values: map[string]any{"trustedCA": map[string]any{"configMapName": "a", "secretName": "b"}}, wantError: "trustedCA: set configMapName or secretName, not both"},
		{name: "bad name", values: map[string]any{"trustedCA": map[string]any{"configMapName": "Bank_CA"}}, wantError: "/trustedCA/configMapName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := chartrender.Render(devRequest(t, "distribution", tc.values))
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			objs, err := chartrender.Split(out)
			if err != nil {
				t.Fatal(err)
			}
			pods := caPods(t, objs)
			if len(pods) != tc.wantPods {
				t.Fatalf("%d pod templates, want %d: %v", len(pods), tc.wantPods, pods)
			}
			for name, p := range pods {
				vol := named(p.volumes, "trusted-ca")
				if tc.volume == nil {
					if vol != nil {
						t.Errorf("%s: trusted-ca volume without trustedCA: %v", name, vol)
					}
				} else {
					delete(vol, "name")
					if !equalJSON(vol, tc.volume) {
						t.Errorf("%s: trusted-ca volume = %v, want %v", name, vol, tc.volume)
					}
				}
				for _, c := range p.containers {
					mount := named(asList(c["volumeMounts"]), "trusted-ca")
					env := named(asList(c["env"]), "SSL_CERT_FILE")
					if tc.volume == nil {
						if mount != nil || env != nil {
							t.Errorf("%s/%s: CA mount or SSL_CERT_FILE without trustedCA", name, c["name"])
						}
						continue
					}
					if mount == nil || mount["mountPath"] != "/etc/lakeport/ca" || mount["readOnly"] != true || mount["subPath"] != nil {
						t.Errorf("%s/%s: trusted-ca mount = %v, want /etc/lakeport/ca read-only, no subPath (so that a rotated CA reaches running pods)", name, c["name"], mount)
					}
					if env == nil || env["value"] != "/etc/lakeport/ca/ca.crt" {
						t.Errorf("%s/%s: SSL_CERT_FILE = %v, want /etc/lakeport/ca/ca.crt", name, c["name"], env)
					}
				}
			}
		})
	}
}

// equalJSON compares two decoded YAML/JSON values.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
