package charts_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// Jupyter settings, each read in its upstream source:
//   - jupyter_server v2.20.0 (github.com/jupyter-server/jupyter_server):
//     services/kernels/kernelmanager.py (MappingKernelManager.cull_idle_timeout, cull_interval,
//     cull_connected, cull_busy), auth/identity.py (IdentityProvider.token, JUPYTER_TOKEN_FILE),
//     serverapp.py (ServerApp.allow_remote_access, terminals_enabled, shutdown_no_activity_timeout),
//     base/handlers.py (APIVersionHandler: GET /api unauthenticated, _track_activity = False);
//   - jupyter/docker-stacks (commit 8209386): images/docker-stacks-foundation/Dockerfile (jovyan
//     uid 1000, group 100, tini), images/base-notebook/Dockerfile (port 8888);
//   - trinodb/trino-python-client 0.339.0: README ("Basic authentication", "SSL verification"),
//     trino/dbapi.py (connect(host, port, user, catalog, schema, http_scheme, auth, verify, source));
//   - oauth2-proxy v7.15.3: docs/docs/configuration/overview.md (--provider, --oidc-issuer-url,
//     --upstream, --http-address, --allowed-group, --provider-ca-file, --code-challenge-method,
//     OAUTH2_PROXY_* variables, /ping and /ready).

func jupyterServer(t *testing.T, objs []chartrender.Object, team string) chartrender.Object {
	t.Helper()
	return find(t, objs, "Deployment", "jupyter-"+team)
}

func args(t *testing.T, o chartrender.Object, container int) string {
	t.Helper()
	c := field(t, o, "spec", "template", "spec", "containers", fmt.Sprint(container))
	m := c.(map[string]any)
	return fmt.Sprint(m["command"], m["args"])
}

func TestJupyterFlags(t *testing.T) {
	runFlagCases(t, "jupyter", []flagCase{
		{"token login from the team's Secret, idle kernels culled", nil, func(t *testing.T, objs []chartrender.Object) {
			d := jupyterServer(t, objs, "market-risk")
			a := args(t, d, 0)
			for _, want := range []string{"--ServerApp.ip=0.0.0.0", "--MappingKernelManager.cull_idle_timeout=3600", "--MappingKernelManager.cull_interval=300",
				"--MappingKernelManager.cull_connected=True", "--MappingKernelManager.cull_busy=False", "--ServerApp.terminals_enabled=False"} {
				if !strings.Contains(a, want) {
					t.Errorf("command lacks %s: %s", want, a)
				}
			}
			if strings.Contains(a, "IdentityProvider.token") {
				t.Error("token mode must not override the token")
			}
			env := containerEnv(t, d, "containers")
			if env["JUPYTER_TOKEN_FILE"] != "/etc/lakeport/jupyter-token/token" || env["TRINO_HOST"] != "trino.lakeport-test.svc" || env["TRINO_USER"] != "jupyter-market-risk" || env["PYTHONPATH"] != "/etc/lakeport/python" {
				t.Errorf("env %v", env)
			}
			if !strings.Contains(fmt.Sprint(field(t, d, "spec", "template", "spec", "volumes")), "secretName:jupyter-market-risk-token") {
				t.Error("token Secret not mounted")
			}
			if field(t, d, "spec", "template", "spec", "containers", "0", "livenessProbe", "httpGet", "path") != "/api" {
				t.Error("liveness must ask GET /api (unauthenticated, not activity)")
			}
			if !has(objs, "PersistentVolumeClaim", "jupyter-market-risk-notebooks") || field(t, d, "spec", "strategy", "type") != "Recreate" {
				t.Errorf("got %s", keys(objs))
			}
		}},
		{"OIDC through oauth2-proxy", map[string]any{"auth": map[string]any{"type": "oidc", "oidc": map[string]any{"issuerURL": "https://sso.example/realms/risk", "redirectURL": "https://jupyter-{team}.example/oauth2/callback", "allowedGroups": []any{"jupyter-{team}"}}},
			"trustedCA": map[string]any{"configMapName": "risk-ca-bundle"}}, func(t *testing.T, objs []chartrender.Object) {
			d := jupyterServer(t, objs, "market-risk")
			if a := args(t, d, 0); !strings.Contains(a, "--ServerApp.ip=127.0.0.1") || !strings.Contains(a, "--IdentityProvider.token=") {
				t.Errorf("JupyterLab must listen on loopback without its own login behind the proxy: %s", a)
			}
			p := args(t, d, 1)
			for _, want := range []string{"--provider=oidc", "--oidc-issuer-url=https://sso.example/realms/risk", "--redirect-url=https://jupyter-market-risk.example/oauth2/callback",
				"--upstream=http://127.0.0.1:8888/", "--allowed-group=jupyter-market-risk", "--provider-ca-file=/etc/lakeport/ca/ca.crt", "--code-challenge-method=S256"} {
				if !strings.Contains(p, want) {
					t.Errorf("oauth2-proxy lacks %s: %s", want, p)
				}
			}
			env := containerEnv(t, d, "containers")
			if !strings.Contains(env["OAUTH2_PROXY_CLIENT_SECRET"], "name:jupyter-market-risk-oidc") || env["TRINO_CA_BUNDLE"] != "/etc/lakeport/ca/ca.crt" {
				t.Errorf("env %v", env)
			}
			if _, ok := env["JUPYTER_TOKEN_FILE"]; ok {
				t.Error("no token file with OIDC")
			}
		}},
		{"a server per team, per-team overrides", map[string]any{"teams": []any{map[string]any{"name": "market-risk"}, map[string]any{"name": "credit-risk", "persistence": map[string]any{"enabled": false},
			"trino": map[string]any{"existingSecret": "jupyter-{team}-trino"}}}}, func(t *testing.T, objs []chartrender.Object) {
			credit := jupyterServer(t, objs, "credit-risk")
			if has(objs, "PersistentVolumeClaim", "jupyter-credit-risk-notebooks") || !has(objs, "PersistentVolumeClaim", "jupyter-market-risk-notebooks") {
				t.Errorf("got %s", keys(objs))
			}
			env := containerEnv(t, credit, "containers")
			if !strings.Contains(env["TRINO_PASSWORD"], "name:jupyter-credit-risk-trino") {
				t.Errorf("env %v", env)
			}
			if count(objs, "Deployment") != 2 || count(objs, "Service") != 2 {
				t.Errorf("got %s", keys(objs))
			}
		}},
		{"network policy: ingress peers on http, egress to Trino", map[string]any{"networkPolicy": map[string]any{"enabled": true, "clientPeers": []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "ingress-nginx"}}}}, "egress": map[string]any{"enabled": true}}},
			func(t *testing.T, objs []chartrender.Object) {
				np := find(t, objs, "NetworkPolicy", "jupyter")
				if fmt.Sprint(field(t, np, "spec", "ingress", "0", "ports", "0", "port")) != "http" || !strings.Contains(fmt.Sprint(field(t, np, "spec", "egress")), "app.kubernetes.io/component:coordinator") {
					t.Errorf("spec %v", np.U.Object["spec"])
				}
			}},
		{"no teams, nothing rendered", map[string]any{"teams": []any{}}, func(t *testing.T, objs []chartrender.Object) {
			if len(objs) != 0 {
				t.Errorf("got %s", keys(objs))
			}
		}},
	})
}

func TestJupyterFails(t *testing.T) {
	runFailCases(t, "jupyter", []failCase{
		{"team twice", map[string]any{"teams": []any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}}, "teams[1].name: a is listed twice"},
		{"team not a DNS label", map[string]any{"teams": []any{map[string]any{"name": "Market_Risk"}}}, `teams[0].name: "Market_Risk" must be a DNS label`},
		{"OIDC without issuer", map[string]any{"auth": map[string]any{"type": "oidc", "oidc": map[string]any{"redirectURL": "https://x/oauth2/callback"}}}, "auth.oidc.issuerURL is required"},
		{"token login without a Secret", map[string]any{"auth": map[string]any{"token": map[string]any{"existingSecret": ""}}}, "auth.token.existingSecret is required"},
		{"unpinned image", map[string]any{"image": map[string]any{"tag": "latest"}}, "image.tag: pin a release"},
	})
}

// TestJupyterContractsAreTheJobs: the chart's copy of the data contracts is byte for byte the
// jobs' (jobs/contracts), so the notebooks' names cannot drift from what the job publishes.
func TestJupyterContractsAreTheJobs(t *testing.T) {
	jobs, _ := filepath.Glob(filepath.Join(repoRoot, "jobs", "contracts", "*.yaml"))
	chart, _ := filepath.Glob(filepath.Join("jupyter", "files", "contracts", "*.yaml"))
	base := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		sort.Strings(out)
		return out
	}
	if len(jobs) == 0 || !slices.Equal(base(jobs), base(chart)) {
		t.Fatalf("jobs/contracts %v, charts/jupyter/files/contracts %v: run cp jobs/contracts/*.yaml charts/jupyter/files/contracts/", base(jobs), base(chart))
	}
	for _, j := range jobs {
		a, _ := os.ReadFile(j)
		b, _ := os.ReadFile(filepath.Join("jupyter", "files", "contracts", filepath.Base(j)))
		if !bytes.Equal(a, b) {
			t.Errorf("charts/jupyter/files/contracts/%s differs from jobs/contracts: run cp jobs/contracts/*.yaml charts/jupyter/files/contracts/", filepath.Base(j))
		}
	}
	// The rendered contracts.json carries every contract with its columns.
	objs := mustRender(t, defaultsRequest("jupyter", requiredValues("jupyter")))
	var rendered map[string]struct {
		Table   string `json:"table"`
		Columns []struct {
			Name string `json:"name"`
		} `json:"columns"`
	}
	if err := json.Unmarshal([]byte(configData(t, objs, "jupyter-python", "contracts.json")), &rendered); err != nil {
		t.Fatal(err)
	}
	contracts := loadContracts(t)
	for name, cols := range contracts {
		got := rendered[name]
		if got.Table != cols.table || len(got.Columns) != len(cols.columns) {
			t.Errorf("contracts.json %s: table %q, %d columns; contract: %q, %d", name, got.Table, len(got.Columns), cols.table, len(cols.columns))
		}
	}
}

type contractNames struct {
	table   string
	columns map[string]bool
	allowed map[string]bool // columns with an `allowed` list
}

// loadContracts reads jobs/contracts/*.yaml: dataset name → table and columns.
func loadContracts(t *testing.T) map[string]contractNames {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "jobs", "contracts", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no contracts under jobs/contracts: %v", err)
	}
	out := map[string]contractNames{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Name    string `json:"name"`
			Table   string `json:"table"`
			Columns []struct {
				Name    string `json:"name"`
				Allowed []any  `json:"allowed"`
			} `json:"columns"`
		}
		if err := yaml.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cn := contractNames{table: c.Table, columns: map[string]bool{}, allowed: map[string]bool{}}
		for _, col := range c.Columns {
			cn.columns[col.Name] = true
			if len(col.Allowed) > 0 {
				cn.allowed[col.Name] = true
			}
		}
		out[c.Name] = cn
	}
	return out
}

var (
	// x = contract("dataset")
	contractAssign = regexp.MustCompile(`(?m)^\s*([A-Za-z_]\w*)\s*=\s*contract\(\s*"([^"]*)"\s*\)`)
	// x.c.column
	columnRef = regexp.MustCompile(`\b([A-Za-z_]\w*)\.c\.([A-Za-z_]\w*)`)
	// x.allowed("column")
	allowedRef = regexp.MustCompile(`\b([A-Za-z_]\w*)\.allowed\(\s*"([^"]*)"\s*\)`)
	// x.table
	tableRef = regexp.MustCompile(`\b([A-Za-z_]\w*)\.table\b`)
	// FROM/JOIN followed by a literal name instead of {x.table}
	literalTable = regexp.MustCompile(`(?i)\b(from|join)\s+([A-Za-z_][\w.]*)`)
)

// notebookNames checks the code of a notebook against the contracts and returns every problem:
// a dataset without a contract, a column its contract lacks, a table named literally in SQL.
func notebookNames(code string, contracts map[string]contractNames) []string {
	var problems []string
	vars := map[string]string{}
	for _, m := range contractAssign.FindAllStringSubmatch(code, -1) {
		if _, ok := contracts[m[2]]; !ok {
			problems = append(problems, fmt.Sprintf("contract(%q): no such dataset in jobs/contracts", m[2]))
			continue
		}
		vars[m[1]] = m[2]
	}
	for _, m := range columnRef.FindAllStringSubmatch(code, -1) {
		ds, ok := vars[m[1]]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.c.%s: %s is not bound to contract(...)", m[1], m[2], m[1]))
			continue
		}
		if !contracts[ds].columns[m[2]] {
			problems = append(problems, fmt.Sprintf("%s.c.%s: the %s contract has no column %q", m[1], m[2], ds, m[2]))
		}
	}
	for _, m := range allowedRef.FindAllStringSubmatch(code, -1) {
		ds, ok := vars[m[1]]
		if !ok || !contracts[ds].allowed[m[2]] {
			problems = append(problems, fmt.Sprintf("%s.allowed(%q): not a column with allowed values in %s's contract", m[1], m[2], ds))
		}
	}
	for _, m := range tableRef.FindAllStringSubmatch(code, -1) {
		if _, ok := vars[m[1]]; !ok {
			problems = append(problems, fmt.Sprintf("%s.table: %s is not bound to contract(...)", m[1], m[1]))
		}
	}
	for _, m := range literalTable.FindAllStringSubmatch(code, -1) {
		if m[2] != "lakeport_trino" { // the import line
			problems = append(problems, fmt.Sprintf("%s %s: name tables through contract(...).table, not literally", m[1], m[2]))
		}
	}
	return problems
}

// notebookCode joins the source of the code cells of an nbformat v4 notebook.
func notebookCode(t *testing.T, raw []byte) string {
	t.Helper()
	var nb struct {
		Cells []struct {
			CellType string `json:"cell_type"`
			Source   any    `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(raw, &nb); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		switch s := c.Source.(type) {
		case string:
			b.WriteString(s)
		case []any:
			for _, line := range s {
				b.WriteString(fmt.Sprint(line))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestNotebooks: every example notebook is a valid nbformat v4 notebook (the schema of
// jupyter/nbformat, vendored in testdata/schemas) and every dataset, table and column it names
// exists in a data contract of jobs/contracts.
func TestNotebooks(t *testing.T) {
	schemaPath := filepath.Join("testdata", "schemas", "nbformat.v4.5.schema.json")
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != "523e3578ddbfcad52933d2423dc5951114ef73f48df180b6a601498ba5ca071a" {
		t.Fatalf("%s is not the file vendored from jupyter/nbformat v5.11.1 (testdata/schemas/SOURCE.md)", schemaPath)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("nbformat.v4.5.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("nbformat.v4.5.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	contracts := loadContracts(t)
	notebooks, _ := filepath.Glob(filepath.Join("jupyter", "files", "notebooks", "*.ipynb"))
	if len(notebooks) < 3 {
		t.Fatalf("want the three example notebooks (VaR, FRTB sensitivities, default risk), got %v", notebooks)
	}
	used := map[string]bool{}
	for _, p := range notebooks {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: not JSON: %v", p, err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Errorf("%s: not a valid nbformat v4.5 notebook: %v", p, err)
			}
			code := notebookCode(t, raw)
			for _, problem := range notebookNames(code, contracts) {
				t.Errorf("%s: %s", p, problem)
			}
			for _, m := range contractAssign.FindAllStringSubmatch(code, -1) {
				used[m[2]] = true
			}
			if len(columnRef.FindAllString(code, -1)) < 5 {
				t.Errorf("%s: explores too little (fewer than 5 contract columns)", p)
			}
		})
	}
	for name := range contracts {
		if !used[name] {
			t.Errorf("no example notebook explores %s", name)
		}
	}
}

// TestNotebookNamesCatches: the name check fails on what a drifting notebook would contain.
func TestNotebookNamesCatches(t *testing.T) {
	contracts := loadContracts(t)
	cases := []struct{ name, code, want string }{
		{"renamed column", "var = contract(\"var_es\")\nq = f\"SELECT {var.c.var_value} FROM {var.table}\"\n", `the var_es contract has no column "var_value"`},
		{"unknown dataset", "x = contract(\"stressed_var\")\n", `contract("stressed_var"): no such dataset`},
		{"literal table", "q = \"SELECT desk FROM var_es\"\n", "FROM var_es: name tables through contract"},
		{"allowed on a free column", "d = contract(\"drc\")\nd.allowed(\"issuer_name\")\n", `d.allowed("issuer_name")`},
		{"unbound variable", "y.c.desk\n", "y is not bound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(notebookNames(tc.code, contracts), "\n")
			if !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want one containing %q", got, tc.want)
			}
		})
	}
	if p := notebookNames("var = contract(\"var_es\")\nq = f\"SELECT {var.c.desk} FROM {var.table}\"\n", contracts); len(p) != 0 {
		t.Fatalf("a correct notebook reported %v", p)
	}
}

// TestNotebookHelperModule runs the chart's lakeport_trino module with python3 on the rendered
// contracts.json: known columns resolve, an unknown one fails naming those that exist.
func TestNotebookHelperModule(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("LAKEPORT_REQUIRE_TOOLS") == "1" {
			t.Fatal("python3 not found")
		}
		t.Skip("python3 not found")
	}
	objs := mustRender(t, defaultsRequest("jupyter", requiredValues("jupyter")))
	dir := t.TempDir()
	for _, f := range []string{"lakeport_trino.py", "contracts.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(configData(t, objs, "jupyter-python", f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `
import lakeport_trino as lt
v = lt.contract("var_es")
assert (v.table, v.c.desk, v.partition_by) == ("var_es", "desk", "cob_date"), (v.table, v.partition_by)
assert "VAR" in v.allowed("measure")
assert sorted(lt.contracts()) == ["drc", "frtb_sensitivities", "var_es"], sorted(lt.contracts())
try:
    v.c.var_value
    raise SystemExit("unknown column resolved")
except AttributeError as e:
    assert "var_es has no column 'var_value'" in str(e) and "desk" in str(e), e
try:
    lt.contract("nope")
    raise SystemExit("unknown dataset resolved")
except KeyError as e:
    assert "published datasets: drc, frtb_sensitivities, var_es" in str(e), e
print("ok")
`
	cmd := exec.Command(py, "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python3: %v\n%s", err, out)
	}
}
