package charts_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// repoRoot is the repository root: the tests run in charts/.
const repoRoot = ".."

// components are the Applications an environment may deploy (env.yaml components).
var components = []string{"distribution", "jupyter", "minio", "risk-api", "spark", "trino"}

// chartDirs are the charts under charts/ (risk-api is an instance of spring-boot).
var chartDirs = []string{"distribution", "jupyter", "minio", "spark", "spring-boot", "trino"}

// devRequest renders a chart the way Argo CD renders it for dev, with extra values on top.
func devRequest(t testing.TB, component string, values map[string]any) chartrender.Request {
	t.Helper()
	env, err := chartrender.LoadEnv(repoRoot, "dev")
	if err != nil {
		t.Fatal(err)
	}
	req := chartrender.ForEnv(repoRoot, env, component)
	req.Values = values
	return req
}

// defaultsRequest renders a chart with its own defaults only (no environment file).
func defaultsRequest(component string, values map[string]any) chartrender.Request {
	return chartrender.Request{
		ChartDir:    filepath.Join(repoRoot, "charts", component),
		ReleaseName: component,
		Namespace:   "lakeport-test",
		KubeVersion: "1.37.2",
		APIVersions: []string{"monitoring.coreos.com/v1", "argoproj.io/v1alpha1"},
		Values:      values,
	}
}

// mustRender renders and splits, failing the test on error.
func mustRender(t testing.TB, req chartrender.Request) []chartrender.Object {
	t.Helper()
	out, err := chartrender.Render(req)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	objs, err := chartrender.Split(out)
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	return objs
}

// find returns the object of that kind and name, failing the test when it is missing.
func find(t testing.TB, objs []chartrender.Object, kind, name string) chartrender.Object {
	t.Helper()
	for _, o := range objs {
		if o.Kind() == kind && o.Name() == name {
			return o
		}
	}
	t.Fatalf("no %s/%s among %s", kind, name, keys(objs))
	return chartrender.Object{}
}

// has says whether an object of that kind and name was rendered.
func has(objs []chartrender.Object, kind, name string) bool {
	for _, o := range objs {
		if o.Kind() == kind && o.Name() == name {
			return true
		}
	}
	return false
}

// count counts the rendered objects of a kind.
func count(objs []chartrender.Object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.Kind() == kind {
			n++
		}
	}
	return n
}

func keys(objs []chartrender.Object) string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.Kind()+"/"+o.Name())
	}
	return strings.Join(ks, ", ")
}

// field reads a nested field of an object by path; lists are indexed by decimal strings.
func field(t testing.TB, o chartrender.Object, path ...string) any {
	t.Helper()
	var cur any = o.U.Object
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil
			}
			cur = v
		case []any:
			idx := 0
			for _, ch := range p {
				if ch < '0' || ch > '9' {
					t.Fatalf("path %v: %q is not a list index", path, p)
				}
				idx = idx*10 + int(ch-'0')
			}
			if idx >= len(c) {
				return nil
			}
			cur = c[idx]
		default:
			return nil
		}
	}
	return cur
}

// configData returns data[key] of a ConfigMap.
func configData(t testing.TB, objs []chartrender.Object, name, key string) string {
	t.Helper()
	cm := find(t, objs, "ConfigMap", name)
	v, _ := field(t, cm, "data", key).(string)
	if v == "" {
		t.Fatalf("ConfigMap %s has no data[%q]", name, key)
	}
	return v
}

// properties parses a Java properties file (key=value lines).
func properties(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[k] = v
	}
	return out
}

func writeOrCompare(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./charts/... -update): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the render; run `go test ./charts/... -update` and review the diff", path)
	}
}
