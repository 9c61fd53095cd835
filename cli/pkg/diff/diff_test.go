package diff

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

func TestUnified(t *testing.T) {
	tests := []struct {
		name, a, b string
		context    int
		want       string
	}{
		{"equal", "a\nb\n", "a\nb\n", 3, ""},
		{"add to empty", "", "a\nb\n", 3, "@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"remove all", "a\n", "", 3, "@@ -1 +0,0 @@\n-a\n"},
		{"change middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n", 1,
			"@@ -4,3 +4,3 @@\n 4\n-5\n+X\n 6\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "X\n2\n3\n4\n5\n6\n7\n8\nY\n", 1,
			"@@ -1,2 +1,2 @@\n-1\n+X\n 2\n@@ -8,2 +8,2 @@\n 8\n-9\n+Y\n"},
		{"close changes merge", "1\n2\n3\n4\n5\n", "X\n2\n3\nY\n5\n", 1,
			"@@ -1,5 +1,5 @@\n-1\n+X\n 2\n 3\n-4\n+Y\n 5\n"},
		{"context 0 insertion", "a\nb\n", "a\nx\nb\n", 0, "@@ -1,0 +2 @@\n+x\n"},
		{"no trailing newline", "a", "b", 3, "@@ -1 +1 @@\n-a\n+b\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unified(tc.a, tc.b, tc.context); got != tc.want {
				t.Errorf("Unified:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestUnifiedApplies checks, on many generated pairs, that applying the hunks to a gives b: the
// diff is always correct, minimal or not (past the edit distance bound).
func TestUnifiedApplies(t *testing.T) {
	seed := uint32(7)
	rnd := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>8) % n }
	for i := 0; i < 300; i++ {
		var a, b []string
		for j := rnd(40); j > 0; j-- {
			a = append(a, fmt.Sprint("l", rnd(8)))
		}
		b = append(b, a...)
		for j := rnd(6); j > 0; j-- {
			switch k := rnd(3); {
			case k == 0 && len(b) > 0:
				p := rnd(len(b))
				b = append(b[:p], b[p+1:]...)
			default:
				p := rnd(len(b) + 1)
				b = append(b[:p], append([]string{fmt.Sprint("n", rnd(8))}, b[p:]...)...)
			}
		}
		as, bs := join(a), join(b)
		for _, ctx := range []int{0, 1, 3, 1000} {
			if got := apply(t, as, Unified(as, bs, ctx)); got != bs {
				t.Fatalf("case %d context %d: applying the diff gives\n%q\nwant\n%q\ndiff:\n%s", i, ctx, got, bs, Unified(as, bs, ctx))
			}
		}
	}
}

func join(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// apply is a minimal patch(1) for hunks whose line numbers are trusted.
func apply(t *testing.T, a, hunks string) string {
	t.Helper()
	src := splitLines(a)
	var out []string
	pos := 0
	for _, h := range strings.Split(hunks, "@@ -")[1:] {
		var aStart, aLen int
		hdr, body, _ := strings.Cut(h, "\n")
		r := strings.Fields(hdr)[0]
		if s, l, ok := strings.Cut(r, ","); ok {
			fmt.Sscan(s, &aStart)
			fmt.Sscan(l, &aLen)
		} else {
			fmt.Sscan(r, &aStart)
			aLen = 1
		}
		start := aStart - 1
		if aLen == 0 {
			start = aStart
		}
		out = append(out, src[pos:start]...)
		pos = start
		for _, l := range splitLines(body) {
			switch l[0] {
			case ' ':
				out = append(out, src[pos])
				pos++
			case '-':
				if src[pos] != l[1:] {
					t.Fatalf("hunk removes %q, source has %q", l[1:], src[pos])
				}
				pos++
			case '+':
				out = append(out, l[1:])
			}
		}
	}
	out = append(out, src[pos:]...)
	return join(out)
}

func TestUnifiedLargeRewriteIsBounded(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 6000; i++ {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
	}
	d := Unified(a.String(), b.String(), 3)
	if strings.Count(d, "\n-") != 6000 || strings.Count(d, "\n+") != 6000 {
		t.Errorf("a full rewrite is not 6000 removals and 6000 additions")
	}
}

func TestParseRule(t *testing.T) {
	p := func(segs ...any) Path { return Path(segs) }
	tests := []struct {
		rule       string
		kind, name string
		path       Path
		want       bool
	}{
		{`spec.replicas`, "Deployment", "x", p("spec", "replicas"), true},
		{`$.spec.replicas`, "Deployment", "x", p("spec", "replicas"), true},
		{`spec.replicas`, "Deployment", "x", p("spec"), false},
		{`spec`, "Deployment", "x", p("spec"), true},
		{`..labels["helm.sh/chart"]`, "Service", "x", p("metadata", "labels", "helm.sh/chart"), true},
		{`..labels["helm.sh/chart"]`, "Deployment", "x", p("spec", "template", "metadata", "labels", "helm.sh/chart"), true},
		{`..labels["helm.sh/chart"]`, "Deployment", "x", p("spec", "selector", "matchLabels", "helm.sh/chart"), false},
		{`..annotations["checksum/*"]`, "StatefulSet", "x", p("spec", "template", "metadata", "annotations", "checksum/config"), true},
		{`..annotations['checksum/*']`, "StatefulSet", "x", p("metadata", "annotations", "example.com/other"), false},
		{`spec.template.spec.containers[*].image`, "Deployment", "x", p("spec", "template", "spec", "containers", 2, "image"), true},
		{`spec.template.spec.containers[1].image`, "Deployment", "x", p("spec", "template", "spec", "containers", 2, "image"), false},
		{`spec.*.replicas`, "Deployment", "x", p("spec", "foo", "replicas"), true},
		{`Deployment:spec.replicas`, "Deployment", "x", p("spec", "replicas"), true},
		{`Deployment:spec.replicas`, "StatefulSet", "x", p("spec", "replicas"), false},
		{`Deployment/trino-*:spec.replicas`, "Deployment", "trino-worker", p("spec", "replicas"), true},
		{`Deployment/trino-*:spec.replicas`, "Deployment", "spark", p("spec", "replicas"), false},
		{`/^data\[/`, "ConfigMap", "x", p("data", "a.conf"), true},
		{`/replicas$/`, "Deployment", "x", p("spec", "replicas"), true},
		{`ConfigMap:/password/`, "Secret", "x", p("data", "password"), false},
	}
	for _, tc := range tests {
		t.Run(tc.rule+" "+tc.path.String(), func(t *testing.T) {
			r, err := ParseRule(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			got := r.appliesTo(tc.kind, tc.name) && r.Match(tc.path, tc.path.String())
			if got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "spec[abc]", "spec[", `spec["x`, "/[/", "spec..", "$"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) = nil error", bad)
		}
	}
}

func TestPathString(t *testing.T) {
	got := Path{"spec", "template", "metadata", "labels", "helm.sh/chart"}.String()
	if want := `spec.template.metadata.labels["helm.sh/chart"]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := (Path{"containers", 0, "env", 1, "value"}).String(); got != "containers[0].env[1].value" {
		t.Errorf("got %s", got)
	}
	// Every printed path parses back into a rule that matches it.
	for _, p := range []Path{{"data", "a.conf"}, {"metadata", "annotations", "example.com/x y"}, {"a", 3, "b"}} {
		r, err := ParseRule(p.String())
		if err != nil || !r.Match(p, p.String()) {
			t.Errorf("%s does not round-trip: %v", p, err)
		}
	}
}

func TestRedact(t *testing.T) {
	h, _ := NewHasher("s")
	secret := map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "s", "annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"p":"c2VjcmV0"}}`}},
		"data":       map[string]any{"p": "c2VjcmV0"}, // "secret"
		"stringData": map[string]any{"q": "secret", "r": "other"},
	}
	out := redact("", "Secret", secret, h)
	data := out["data"].(map[string]any)
	sd := out["stringData"].(map[string]any)
	if data["p"] != sd["q"] {
		t.Errorf("the same value in data (base64) and stringData hashes differently: %v %v", data["p"], sd["q"])
	}
	if sd["q"] == sd["r"] || !strings.HasPrefix(sd["q"].(string), "<redacted hmac:") {
		t.Errorf("stringData not redacted: %v", sd)
	}
	if strings.Contains(fmt.Sprint(out), "c2VjcmV0") || strings.Contains(fmt.Sprint(out), "secret\"") {
		t.Errorf("a value survived: %v", out)
	}
	if secret["data"].(map[string]any)["p"] != "c2VjcmV0" {
		t.Error("redact modified its input")
	}

	cm := map[string]any{"data": map[string]any{
		"password":       "hunter2",
		"secretName":     "db-credentials",
		"passwordFile":   "/etc/pw",
		"poolSize":       "10",
		"app.properties": "user=app\ndb.password = hunter2\ns3.secret-key: abc\ntoken_ttl=3600\n",
	}}
	out = redact("", "ConfigMap", cm, h)
	d := out["data"].(map[string]any)
	if d["password"] == "hunter2" || d["secretName"] != "db-credentials" || d["passwordFile"] != "/etc/pw" || d["poolSize"] != "10" {
		t.Errorf("ConfigMap keys: %v", d)
	}
	props := d["app.properties"].(string)
	if strings.Contains(props, "hunter2") || strings.Contains(props, "abc") || !strings.Contains(props, "user=app") || !strings.Contains(props, "token_ttl=3600") {
		t.Errorf("ConfigMap file lines:\n%s", props)
	}

	dep := map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"env": []any{
		map[string]any{"name": "DB_PASSWORD", "value": "hunter2"},
		map[string]any{"name": "LOG_LEVEL", "value": "debug"},
	}}}}}
	out = redact("apps", "Deployment", dep, h)
	if s := fmt.Sprint(out); strings.Contains(s, "hunter2") || !strings.Contains(s, "debug") {
		t.Errorf("env: %s", s)
	}
}

func TestHasherSalt(t *testing.T) {
	a, _ := NewHasher("")
	b, _ := NewHasher("")
	if a.Hash([]byte("x")) == b.Hash([]byte("x")) || a.Source != "random" {
		t.Error("two runs without --salt give the same hash")
	}
	c, _ := NewHasher("k")
	d, _ := NewHasher("k")
	if c.Hash([]byte("x")) != d.Hash([]byte("x")) || c.Source != "flag" {
		t.Error("the same --salt gives different hashes")
	}
}

func obj(t *testing.T, y string) *render.Object {
	t.Helper()
	objs, err := render.SplitManifest(y)
	if err != nil || len(objs) != 1 {
		t.Fatalf("SplitManifest: %v %d", err, len(objs))
	}
	return objs[0]
}

func rel(app, env, comp, ns string, objs ...*render.Object) *render.Release {
	return &render.Release{App: app, Environment: env, Component: comp, Namespace: ns, Objects: objs}
}

func TestCompareMatching(t *testing.T) {
	h, _ := NewHasher("s")
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: globals.example.test}
spec: {group: example.test, scope: Cluster, names: {kind: Global}}
`
	base := rel("dev-web", "dev", "web", "ns",
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {port: 80}\n"),
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {port: 80}\n"),
		obj(t, "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {maxUnavailable: 1}\n"),
		obj(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: web}\nrules: []\n"),
		obj(t, crd),
		obj(t, "apiVersion: example.test/v1\nkind: Global\nmetadata: {name: g}\nspec: {a: 1}\n"),
		obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n"),
	)
	head := rel("dev-web", "dev", "web", "ns",
		// The same Service twice (once with the namespace defaulted): neither is lost, each pairs
		// with its counterpart in order.
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {port: 80}\n"),
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {port: 80}\n"),
		// apiVersion moves within the group: the same resource, changed.
		obj(t, "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {maxUnavailable: 1}\n"),
		obj(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: web}\nrules: [{verbs: [get]}]\n"),
		obj(t, crd),
		obj(t, "apiVersion: example.test/v1\nkind: Global\nmetadata: {name: g}\nspec: {a: 2}\n"),
		obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new}\n"),
	)
	rep, err := Compare(Side{Label: "a", Releases: []*render.Release{base}}, Side{Label: "b", Releases: []*render.Release{head}},
		Options{Rules: DefaultRules(), Context: 3, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Apps[0].Resources {
		got = append(got, fmt.Sprintf("%s %s", r.Action, r.Key))
	}
	want := []string{
		"changed ClusterRole web",            // cluster-scoped: no namespace defaulted
		"removed ConfigMap ns/gone",          //
		"added ConfigMap ns/new",             //
		"changed Global.example.test g",      // cluster-scoped by its CRD
		"changed PodDisruptionBudget ns/web", // policy/v1beta1 → policy/v1
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("resources:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	pdb := rep.Apps[0].Resources[4]
	if pdb.BaseAPIVersion != "policy/v1beta1" || pdb.APIVersion != "policy/v1" {
		t.Errorf("PDB apiVersions %q → %q", pdb.BaseAPIVersion, pdb.APIVersion)
	}
	if c := rep.Apps[0].Counts; c.Added != 1 || c.Removed != 1 || c.Changed != 3 || c.Unchanged != 3 {
		t.Errorf("counts %+v", c)
	}
}

func TestCompareIgnoresAndPairing(t *testing.T) {
	h, _ := NewHasher("s")
	dep := func(chart string, replicas int, ns string) *render.Object {
		return obj(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {helm.sh/chart: %s, app.kubernetes.io/version: "%s"}
spec:
  replicas: %d
  template:
    metadata:
      annotations: {checksum/config: "%s", keep: x}
      labels: {helm.sh/chart: %s}
    spec:
      containers: [{name: web, env: [{name: NS, value: %s}]}]
status: {ready: %d}
`, chart, chart, replicas, chart, chart, ns, replicas))
	}
	// Only ignored fields differ: unchanged, the ignored paths listed, exit code unaffected.
	rep, _ := Compare(Side{Releases: []*render.Release{rel("a", "dev", "web", "ns", dep("web-1", 1, "x"))}},
		Side{Releases: []*render.Release{rel("a", "dev", "web", "ns", dep("web-2", 1, "x"))}},
		Options{Rules: DefaultRules(), Hasher: h})
	if rep.Changed() {
		t.Errorf("only ignored changes, yet Changed()")
	}
	r := rep.Apps[0].Resources[0]
	wantIgn := `metadata.labels["app.kubernetes.io/version"] metadata.labels["helm.sh/chart"] spec.template.metadata.annotations["checksum/config"] spec.template.metadata.labels["helm.sh/chart"]`
	if r.Action != Unchanged || strings.Join(r.Ignored, " ") != wantIgn {
		t.Errorf("action %s ignored %v", r.Action, r.Ignored)
	}
	// Without rules the same pair is a change.
	rep, _ = Compare(Side{Releases: []*render.Release{rel("a", "dev", "web", "ns", dep("web-1", 1, "x"))}},
		Side{Releases: []*render.Release{rel("a", "dev", "web", "ns", dep("web-2", 1, "x"))}}, Options{Hasher: h})
	if !rep.Changed() || len(rep.Apps[0].Resources[0].Paths) != 4 {
		t.Errorf("without rules: %+v", rep.Apps[0].Resources)
	}

	// Environments: paired by component, objects in each release's namespace pair up.
	rep, _ = Compare(Side{Label: "staging", Releases: []*render.Release{rel("staging-web", "staging", "web", "risk-staging", dep("web-1", 1, "risk-staging"))}},
		Side{Label: "prod", Releases: []*render.Release{rel("prod-web", "prod", "web", "risk-prod", dep("web-1", 3, "risk-prod"))}},
		Options{Mode: Environments, Rules: DefaultRules(), Context: 0, Hasher: h})
	if len(rep.Apps) != 1 || rep.Apps[0].Name != "web" || len(rep.Apps[0].Resources) != 1 {
		t.Fatalf("environments: %+v", rep.Apps)
	}
	r = rep.Apps[0].Resources[0]
	if r.Action != Changed || r.Key.Namespace != "risk-prod" || strings.Join(r.Paths, " ") != "spec.replicas spec.template.spec.containers[0].env[0].value" {
		t.Errorf("environments resource: %+v", r)
	}
	if strings.Join(r.Ignored, " ") != "status" {
		t.Errorf("ignored differences: %v, want [status]", r.Ignored)
	}
}

// TestMarkdownSplit: parts fit, nothing is lost, a resource too large for any part is cut with a
// note, and the one-part mode truncates evenly.
func TestMarkdownSplit(t *testing.T) {
	h, _ := NewHasher("s")
	mk := func(n, lines int, v string) *render.Release {
		var objs []*render.Object
		for i := 0; i < n; i++ {
			var b strings.Builder
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%03d}\ndata:\n  f: |\n", i)
			for l := 0; l < lines; l++ {
				fmt.Fprintf(&b, "    line %d of %d: %s é\n", l, i, v)
			}
			objs = append(objs, obj(t, b.String()))
		}
		return rel("dev-x", "dev", "x", "ns", objs...)
	}
	rep, _ := Compare(Side{Releases: []*render.Release{mk(60, 30, "old")}}, Side{Releases: []*render.Release{mk(60, 30, "new")}},
		Options{Rules: DefaultRules(), Context: 1, Hasher: h})
	const limit = 8000
	parts := Markdown(rep, MarkdownOptions{Limit: limit, Split: true, Rerun: "lakeport diff --base x"})
	if len(parts) < 10 {
		t.Fatalf("%d parts", len(parts))
	}
	joined := strings.Join(parts, "")
	for i, p := range parts {
		if len(p) > limit || utf8.RuneCountInString(p) > limit {
			t.Errorf("part %d: %d bytes", i+1, len(p))
		}
		if !strings.HasPrefix(p, fmt.Sprintf("%s part %d of %d -->", Marker, i+1, len(parts))) {
			t.Errorf("part %d header: %.60s", i+1, p)
		}
		if strings.Count(p, "<details>") != strings.Count(p, "</details>") {
			t.Errorf("part %d: unbalanced details", i+1)
		}
	}
	for _, r := range rep.Apps[0].Resources {
		for _, l := range splitLines(r.Diff) {
			if !strings.Contains(joined, l+"\n") {
				t.Fatalf("%s: line %q lost", r.Key, l)
			}
		}
	}
	if strings.Contains(joined, "not shown") {
		t.Error("split mode cut a resource that fits a part")
	}

	// One resource larger than a part: cut, with a note, and the parts still fit.
	rep, _ = Compare(Side{Releases: []*render.Release{mk(1, 900, "old")}}, Side{Releases: []*render.Release{mk(1, 900, "new")}},
		Options{Rules: DefaultRules(), Context: 1, Hasher: h})
	parts = Markdown(rep, MarkdownOptions{Limit: limit, Split: true, Rerun: "lakeport diff --base x"})
	for i, p := range parts {
		if len(p) > limit {
			t.Errorf("part %d: %d bytes", i+1, len(p))
		}
	}
	if !strings.Contains(strings.Join(parts, ""), "more lines not shown (comment size limit): run `lakeport diff --base x` locally") {
		t.Error("an oversized resource was cut without a note")
	}

	// One part: fits, every resource named, each diff cut evenly.
	rep, _ = Compare(Side{Releases: []*render.Release{mk(20, 30, "old")}}, Side{Releases: []*render.Release{mk(20, 30, "new")}},
		Options{Rules: DefaultRules(), Context: 1, Hasher: h})
	one := Markdown(rep, MarkdownOptions{Limit: limit})
	if len(one) != 1 || len(one[0]) > limit {
		t.Fatalf("one part: %d parts, %d bytes", len(one), len(one[0]))
	}
	for i := 0; i < 20; i++ {
		if !strings.Contains(one[0], fmt.Sprintf("ConfigMap ns/cm-%03d**", i)) {
			t.Errorf("cm-%03d missing from the single part", i)
		}
	}
	if strings.Count(one[0], "not shown (comment size limit)") != 20 {
		t.Errorf("want every diff cut evenly with a note")
	}
}

func TestMarkdownExtra(t *testing.T) {
	h, _ := NewHasher("s")
	rep, _ := Compare(Side{Releases: []*render.Release{rel("dev-x", "dev", "x", "ns", obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: '1'}\n"))}},
		Side{Releases: []*render.Release{rel("dev-x", "dev", "x", "ns", obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: '2'}\n"))}},
		Options{Rules: DefaultRules(), Context: 1, Hasher: h})
	md := Markdown(rep, MarkdownOptions{Extra: &SummaryExtra{Column: "New findings", Cells: map[string]string{"dev-x": "2 | high"}, Section: "#### Findings\n- one"}})[0]
	for _, want := range []string{"| Removed | New findings |", "| dev | dev-x | 0 | 1 | 0 | 2 \\| high |", "#### Findings\n- one\n\n<details>"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
