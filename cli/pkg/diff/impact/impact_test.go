package impact_test

import (
	"io/fs"
	"math"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

func obj(t *testing.T, y string) *render.Object {
	t.Helper()
	if y == "" {
		return nil
	}
	objs, err := render.SplitManifest(y)
	if err != nil || len(objs) != 1 {
		t.Fatalf("SplitManifest: %v (%d objects)", err, len(objs))
	}
	return objs[0]
}

// want is one expected impact: its kind and words its reason must contain.
type want struct {
	kind impact.Kind
	says string
}

const podTemplate = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      securityContext: {runAsNonRoot: true}
      containers:
        - name: web
          image: web:1
          env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: web-token, key: t}}}]
`

// TestAnalyze covers each rule with the smallest change that triggers it, and changes that
// must trigger nothing.
func TestAnalyze(t *testing.T) {
	tests := []struct {
		name       string
		base, head string
		want       []want
	}{
		{name: "identical", base: podTemplate, head: podTemplate},
		{name: "deployment metadata label only", base: podTemplate, head: strings.Replace(podTemplate, "metadata: {name: web}", "metadata: {name: web, labels: {team: risk}}", 1)},
		{name: "secret referenced changes", base: podTemplate, head: strings.Replace(podTemplate, "name: web-token", "name: web-token-v2", 1),
			want: []want{{impact.Security, "+web-token-v2, −web-token"}, {impact.Restart, "env of web"}}},
		{name: "security context", base: podTemplate, head: strings.Replace(podTemplate, "runAsNonRoot: true", "runAsNonRoot: false", 1),
			want: []want{{impact.Security, "security context"}, {impact.Restart, "pod security context"}}},
		{name: "service account", base: podTemplate, head: strings.Replace(podTemplate, "serviceAccountName: web", "serviceAccountName: admin", 1),
			want: []want{{impact.Security, "web → admin"}, {impact.Restart, "service account"}}},
		{name: "statefulset claim template removed", base: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: pg}]}}
  volumeClaimTemplates: [{metadata: {name: data}, spec: {resources: {requests: {storage: 1Gi}}}}]
`, head: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: pg}]}}
  volumeClaimTemplates: [{metadata: {name: pgdata}, spec: {resources: {requests: {storage: 1Gi}}}}]
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete}
`, want: []want{{impact.SyncFails, "spec.volumeClaimTemplates"}, {impact.DataAtRisk, "claim templates removed or renamed (data)"}, {impact.DataAtRisk, "whenScaled becomes Delete"}}},
		{name: "crd removed", base: "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: cronworkflows.argoproj.io}\nspec: {group: argoproj.io, names: {kind: CronWorkflow, plural: cronworkflows}, scope: Namespaced}\n",
			want: []want{{impact.DataAtRisk, "every CronWorkflow object"}}},
		{name: "pvc added", head: "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\nspec: {resources: {requests: {storage: 1Gi}}}\n"},
		{name: "hpa bounds", base: "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: w}\nspec: {minReplicas: 2, maxReplicas: 4}\n",
			head: "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: w}\nspec: {minReplicas: 1, maxReplicas: 8}\n",
			want: []want{{impact.Scale, "2–4 → 1–8"}}},
		{name: "pdb budget", base: "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: w}\nspec: {maxUnavailable: 1}\n",
			head: "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: w}\nspec: {minAvailable: 2}\n",
			want: []want{{impact.Scale, "maxUnavailable 1 → minAvailable 2"}}},
		{name: "replicas defaulted", base: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {}\n", head: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: 3}\n",
			want: []want{{impact.Scale, "replicas 1 → 3"}}},
		{name: "networkpolicy removed", base: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: w}\nspec: {podSelector: {}}\n",
			want: []want{{impact.Security, "NetworkPolicy removed"}}},
		{name: "cluster role binding added", head: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: w}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: []\n",
			want: []want{{impact.Security, "role binding added: cluster-admin"}}},
		{name: "ingress added", head: "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: w}\nspec: {rules: []}\n",
			want: []want{{impact.Security, "exposure added: Ingress"}}},
		{name: "httproute changed", base: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: w}\nspec: {hostnames: [a.example.test]}\n",
			head: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: w}\nspec: {hostnames: [b.example.test]}\n",
			want: []want{{impact.Security, "HTTPRoute routes"}}},
		{name: "hook job changes freely", base: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m, annotations: {helm.sh/hook: pre-install}}\nspec: {template: {spec: {containers: [{name: m, image: a}]}}}\n",
			head: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m, annotations: {helm.sh/hook: pre-install}}\nspec: {template: {spec: {containers: [{name: m, image: b}]}}}\n"},
		{name: "distribution expiry turned on", base: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    iceberg: {warehouse: s3://w/}\n    maintenance: {expireSnapshotsOlderThan: \"off\"}\n",
			head: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    iceberg: {warehouse: s3://w/}\n    maintenance: {expireSnapshotsOlderThan: 7d}\n",
			want: []want{{impact.DataAtRisk, "expireSnapshotsOlderThan shortened (off → 7d)"}}},
		{name: "distribution retention longer", base: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    iceberg: {warehouse: s3://w/}\n    maintenance: {tagRetention: 7d}\n",
			head: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    iceberg: {warehouse: s3://w/}\n    maintenance: {tagRetention: forever}\n"},
		{name: "distribution catalog uri", base: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    iceberg: {catalog: {uri: 'postgres://a/iceberg'}}\n",
			head: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  config.yaml: |\n    iceberg: {catalog: {uri: 'postgres://b/iceberg'}}\n",
			want: []want{{impact.DataAtRisk, "iceberg.catalog.uri"}}},
		{name: "unrelated yaml configmap", base: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  app.yaml: |\n    warehouse: a\n",
			head: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  app.yaml: |\n    warehouse: b\n"},
		{name: "trino jdbc catalog warehouse", base: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  lake.properties: |\n    connector.name=iceberg\n    iceberg.jdbc-catalog.default-warehouse-dir=s3://a/\n    iceberg.metadata-cache.enabled=true\n",
			head: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  lake.properties: |\n    connector.name=iceberg\n    iceberg.jdbc-catalog.default-warehouse-dir=s3://b/\n    iceberg.metadata-cache.enabled=false\n",
			want: []want{{impact.DataAtRisk, "Trino catalog lake points at another Iceberg catalog or warehouse (iceberg.jdbc-catalog.default-warehouse-dir)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := impact.Analyze(obj(t, tc.base), obj(t, tc.head))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d impacts, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if got[i].Kind != w.kind || !strings.Contains(got[i].Reason, w.says) {
					t.Errorf("impact %d = %s %q, want %s containing %q", i, got[i].Kind, got[i].Reason, w.kind, w.says)
				}
				if got[i].Paths == nil {
					t.Errorf("impact %d: nil paths (JSON must say [])", i)
				}
			}
		})
	}
}

type files map[string]string

func (m files) ReadFile(name string) ([]byte, error) {
	if s, ok := m[name]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

func TestFiles(t *testing.T) {
	mig := impact.MigrationsDir + "/oracle/0002_partition_exchange.sql"
	con := impact.ContractsDir + "/drc.yaml"
	contract := "name: drc\npartitionBy: cob_date\nkey: [issuer, cob_date]\ncolumns: [{name: issuer, type: string}, {name: cob_date, type: date}]\n"
	tests := []struct {
		name       string
		base, head files
		changed    []string
		want       []string
	}{
		{name: "applied migration removed", base: files{mig: "x"}, head: files{}, changed: []string{mig}, want: []string{"applied migration 0002_partition_exchange.sql removed"}},
		{name: "new migration", base: files{}, head: files{mig: "x"}, changed: []string{mig}},
		{name: "contract removed", base: files{con: contract}, head: files{}, changed: []string{con}, want: []string{"data contract drc removed"}},
		{name: "contract partitioning", base: files{con: contract}, head: files{con: strings.Replace(contract, "partitionBy: cob_date", "partitionBy: issuer", 1)}, changed: []string{con},
			want: []string{"partitionBy cob_date → issuer"}},
		{name: "contract column removed", base: files{con: contract}, head: files{con: strings.Replace(contract, ", {name: cob_date, type: date}", "", 1)}, changed: []string{con},
			want: []string{"cob_date removed"}},
		{name: "contract description only", base: files{con: contract}, head: files{con: contract + "description: more words\n"}, changed: []string{con}},
		{name: "other files", base: files{"jobs/README.md": "a"}, head: files{"jobs/README.md": "b"}, changed: []string{"jobs/README.md"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := impact.Files(tc.changed, tc.base, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if got[i].Kind != impact.DataAtRisk || !strings.Contains(got[i].Reason, w) {
					t.Errorf("got %s %q, want data-at-risk containing %q", got[i].Kind, got[i].Reason, w)
				}
			}
		})
	}
	if _, err := impact.Files([]string{con}, files{con: "key: ["}, files{con: contract}); err == nil || !strings.Contains(err.Error(), con+" (base)") {
		t.Errorf("a contract that does not parse: error %v, want one naming %s (base)", err, con)
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]impact.Kind{"sync-fails": impact.SyncFails, "Data at risk": impact.DataAtRisk, " restart": impact.Restart} {
		if got, err := impact.ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := impact.ParseKind("outage"); err == nil || !strings.Contains(err.Error(), "sync-fails, data-at-risk, security, restart, scale") {
		t.Errorf("ParseKind(outage): %v", err)
	}
}

// TestRetention reads the durations of Trino and the distribution job.
func TestRetention(t *testing.T) {
	for in, want := range map[string]float64{"7d": 7 * 86400, "168h": 168 * 3600, "30m": 1800, "1.5d": 1.5 * 86400, "500ms": 0.5, "forever": math.Inf(1), "off": math.Inf(1)} {
		got, ok := impact.Retention(in)
		if !ok || got != want {
			t.Errorf("retention(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := impact.Retention("soon"); ok {
		t.Error("retention(soon) parsed")
	}
}
