package diff

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

var update = flag.Bool("update", false, "rewrite the golden files of this package")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s", p, got)
	}
}

// memFiles is an impact.Reader over a map.
type memFiles map[string]string

func (m memFiles) ReadFile(name string) ([]byte, error) {
	if s, ok := m[name]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

const (
	catalogBase = "connector.name=iceberg\niceberg.catalog.type=rest\niceberg.rest-catalog.uri=http://iceberg-rest:8181\niceberg.rest-catalog.warehouse=s3://lakeport-warehouse/\n"
	distConfig  = "input:\n  uri: s3://risk-results/\niceberg:\n  catalog: {type: sql, name: lakeport, uri: 'postgres://iceberg:${ICEBERG_DB_PASSWORD}@postgres:5432/iceberg'}\n  warehouse: s3://lakeport-warehouse/\n  namespace: risk\nmaintenance:\n  tagRetention: 3653d\n  expireSnapshotsOlderThan: 7d\n"
)

// impactScenario is a pull request with one resource (or file) per impact: the Trino and
// distribution releases of dev as the kit renders them, trimmed to the fields that matter.
func impactScenario(t *testing.T, impacts bool) *Report {
	t.Helper()
	worker := func(replicas int, image, checksum string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: trino-worker}
spec:
  replicas: ` + itoa(replicas) + `
  selector: {matchLabels: {app: trino-worker}}
  template:
    metadata:
      labels: {app: trino-worker}
      annotations: {checksum/config: ` + checksum + `}
    spec:
      containers: [{name: trino, image: ` + image + `}]
`
	}
	maintenance := func(retention string) string {
		return `apiVersion: batch/v1
kind: CronJob
metadata: {name: trino-maintenance-var-es}
spec:
  schedule: "0 5 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: maintain
              image: trinodb/trino:476
              command: [trino, --execute, "ALTER TABLE iceberg.risk.var_es EXECUTE expire_snapshots(retention_threshold => '` + retention + `');"]
`
	}
	catalog := func(props string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: trino-catalog}\ndata:\n  iceberg.properties: |\n" + indent(props, "    ")
	}
	dist := func(cfg string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: distribution-config}\ndata:\n  config.yaml: |\n" + indent(cfg, "    ")
	}
	svc := func(typ string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: trino}\nspec:\n  type: " + typ + "\n  selector: {app: trino-coordinator}\n  ports: [{name: http, port: 8080}]\n"
	}
	postgres := func(storage string) string {
		return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: postgres}
spec:
  serviceName: postgres
  selector: {matchLabels: {app: postgres}}
  template:
    metadata: {labels: {app: postgres}}
    spec:
      containers: [{name: postgres, image: postgres:16}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: ` + storage + `}}}
`
	}
	role := func(verbs string) string {
		return "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: distribution-workflow}\nrules: [{apiGroups: [argoproj.io], resources: [workflowtaskresults], verbs: [" + verbs + "]}]\n"
	}
	pvc := "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: scratch}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n"
	pdb := "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: distribution}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: distribution}}}\n"
	netpol := func(port string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: trino}\nspec:\n  podSelector: {matchLabels: {app: trino}}\n  ingress: [{ports: [{port: " + port + "}]}]\n"
	}
	// The coordinator's only change is its config checksum: the default ignores hide it from the
	// text, the impact still says the pods restart.
	coordinator := func(checksum string) string {
		return strings.Replace(worker(1, "trinodb/trino:476", checksum), "trino-worker", "trino-coordinator", -1)
	}

	base := []*render.Release{
		rel("dev-trino", "dev", "trino", "risk-dev",
			obj(t, catalog(catalogBase)), obj(t, coordinator("1111")), obj(t, worker(2, "trinodb/trino:475", "1111")),
			obj(t, maintenance("7d")), obj(t, svc("ClusterIP")), obj(t, netpol("8080"))),
		rel("dev-distribution", "dev", "distribution", "risk-dev",
			obj(t, dist(distConfig)), obj(t, postgres("20Gi")), obj(t, role("get")), obj(t, pvc), obj(t, pdb)),
	}
	head := []*render.Release{
		rel("dev-trino", "dev", "trino", "risk-dev",
			obj(t, catalog(strings.Replace(catalogBase, "s3://lakeport-warehouse/", "s3://lakeport-warehouse-v2/", 1))),
			obj(t, coordinator("2222")), obj(t, worker(4, "trinodb/trino:476", "2222")),
			obj(t, maintenance("1d")), obj(t, svc("LoadBalancer")), obj(t, netpol("8443"))),
		rel("dev-distribution", "dev", "distribution", "risk-dev",
			obj(t, dist(strings.Replace(distConfig, "tagRetention: 3653d", "tagRetention: 365d", 1))),
			obj(t, postgres("10Gi")), obj(t, role("get, create, delete"))),
	}
	contract := "name: var_es\ntable: var_es\npartitionBy: cob_date\nkey: [portfolio, cob_date]\ncolumns:\n  - {name: cob_date, type: date}\n  - {name: portfolio, type: string}\n  - {name: value, type: float64}\n"
	baseFiles := memFiles{
		impact.MigrationsDir + "/postgres/0001_init.sql":   "CREATE TABLE publication (id bigint);\n",
		impact.ContractsDir + "/var_es.yaml":               contract,
		impact.MigrationsDir + "/postgres/0003_new.sql":    "",
		impact.MigrationsDir + "/postgres/0002_states.sql": "CREATE TABLE states (id bigint);\n",
	}
	headFiles := memFiles{
		impact.MigrationsDir + "/postgres/0001_init.sql":   "CREATE TABLE publication (id bigint, note text);\n",
		impact.ContractsDir + "/var_es.yaml":               strings.Replace(strings.Replace(contract, "key: [portfolio, cob_date]", "key: [portfolio, desk, cob_date]", 1), "type: float64", "type: string", 1),
		impact.MigrationsDir + "/postgres/0002_states.sql": "CREATE TABLE states (id bigint);\n",
		impact.MigrationsDir + "/postgres/0003_new.sql":    "CREATE TABLE added (id bigint);\n",
	}
	changed := []string{impact.ContractsDir + "/var_es.yaml", impact.MigrationsDir + "/postgres/0001_init.sql", impact.MigrationsDir + "/postgres/0003_new.sql"}
	delete(baseFiles, impact.MigrationsDir+"/postgres/0003_new.sql")
	files, err := impact.Files(changed, baseFiles, headFiles)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := NewHasher("impacts")
	rep, err := Compare(Side{Label: "origin/main", Revision: "1111111111111111111111111111111111111111", Releases: base},
		Side{Label: "feature", Revision: "2222222222222222222222222222222222222222", Releases: head},
		Options{Rules: DefaultRules(), Context: 1, Hasher: h, Impacts: impacts, FileImpacts: files})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func indent(s, pre string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	return pre + strings.Join(lines, pre) + "\n"
}

// TestImpactsGolden shows every impact kind in every format: text, Markdown and JSON.
func TestImpactsGolden(t *testing.T) {
	rep := impactScenario(t, true)
	var text bytes.Buffer
	if err := WriteText(&text, rep, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "impacts.txt", text.String())
	golden(t, "impacts.md", Markdown(rep, MarkdownOptions{})[0])
	js, err := json.MarshalIndent(rep.Document(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "impacts.json", string(js)+"\n")

	counts := rep.ImpactCounts()
	for _, k := range impact.Kinds {
		if counts[k] == 0 {
			t.Errorf("the scenario has no %s impact", k)
		}
	}
	for _, k := range impact.Kinds {
		if !strings.Contains(text.String(), "impact: "+k.Words()+": ") {
			t.Errorf("text lacks a %s line", k.Words())
		}
		if !strings.Contains(Markdown(rep, MarkdownOptions{})[0], k.Icon()+" **"+k.Words()+"**") {
			t.Errorf("markdown lacks a %s line", k.Words())
		}
	}
}

// TestPlantedChecksumIsARestart: a change to nothing but the checksum/config annotation of the
// coordinator's pod template shows as a restart under the resource, while the text carries no
// annotation noise (the default ignores hide it from the diff).
func TestPlantedChecksumIsARestart(t *testing.T) {
	write := func(rep *Report) string {
		var text bytes.Buffer
		if err := WriteText(&text, rep, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		return text.String()
	}
	out := write(impactScenario(t, true))
	want := "= Deployment risk-dev/trino-coordinator (only ignored changes)\n    impact: restart: Deployment trino-coordinator: pods are replaced; changed: config checksum (checksum/config)\n"
	if !strings.Contains(out, want) {
		t.Errorf("text lacks the coordinator's restart:\n%s", out)
	}
	noise := regexp.MustCompile(`(?m)^\s+[-+].*checksum/config`)
	if noise.MatchString(out) {
		t.Errorf("the text shows checksum/config annotation lines:\n%s", out)
	}
	// The old output (no impacts): the coordinator is not shown at all, nothing says it restarts.
	old := write(impactScenario(t, false))
	if strings.Contains(old, "Deployment risk-dev/trino-coordinator") || strings.Contains(old, "restart") || noise.MatchString(old) {
		t.Errorf("without impacts the coordinator should be silent (the defect this fixes):\n%s", old)
	}
}
