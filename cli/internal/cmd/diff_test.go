package cmd

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/diff/difftest"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// diffCase runs one command line against a fresh scenario repository (difftest.Build).
type diffCase struct {
	name     string
	args     string
	setup    func(s *difftest.Scenario) // edits the working tree before the run
	wantCode int
}

func runDiffGolden(t *testing.T, tests []diffCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := difftest.Build(t)
			if tc.setup != nil {
				tc.setup(s)
			}
			out, errOut, code := runCmd(t, s.Dir, tc.args, nil)
			got := fmt.Sprintf("$ lakeport %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s", tc.args, code,
				s.Normalize(normalize(out, s.Dir, s.Fixture)), s.Normalize(normalize(errOut, s.Dir, s.Fixture)))
			checkGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\nstderr:\n%s", code, tc.wantCode, errOut)
			}
		})
	}
}

func bumpWebChart(s *difftest.Scenario) {
	s.Replace("charts/web/Chart.yaml", "version: 0.1.0", "version: 0.2.0")
}

func TestDiffGolden(t *testing.T) {
	runDiffGolden(t, []diffCase{
		// Revisions: one kind of change per commit.
		{name: "diff-values", args: "diff --base c3-secret --head c4-values", wantCode: 1},
		{name: "diff-chart", args: "diff --base c4-values --head c5-chart", wantCode: 1},
		{name: "diff-chart-context0", args: "diff --base c4-values --head c5-chart -U 0 --env prod", wantCode: 1},
		{name: "diff-pin", args: "diff --base c5-chart --head c6-pin", wantCode: 1},
		{name: "diff-secret", args: "diff --base c6-pin --head c7-rotate --salt golden", wantCode: 1},
		{name: "diff-secret-json", args: "diff --base c6-pin --head c7-rotate --salt golden -o json", wantCode: 1},
		{name: "diff-secret-yaml", args: "diff --base c6-pin --head c7-rotate --salt golden -o yaml", wantCode: 1},
		{name: "diff-secret-markdown", args: "diff --base c6-pin --head c7-rotate --salt golden -o markdown", wantCode: 1},
		{name: "diff-add-app", args: "diff --base c7-rotate --head c8-add-app --salt golden", wantCode: 1},
		{name: "diff-remove-app", args: "diff --base c8-add-app --head c9-remove-app --salt golden -o json", wantCode: 1},
		{name: "diff-all-apps", args: "diff --base c3-secret --head c4-values --all", wantCode: 1},
		// The pull request preview: every change at once, head = the working tree.
		{name: "diff-pr-text", args: "diff --base c3-secret --salt golden", wantCode: 1},
		{name: "diff-pr-json", args: "diff --base c3-secret --salt golden -o json", wantCode: 1},
		{name: "diff-pr-markdown", args: "diff --base c3-secret --salt golden -o markdown", wantCode: 1},
		{name: "diff-worktree", args: "diff", wantCode: 1, setup: func(s *difftest.Scenario) {
			s.Replace("environments/prod/web.yaml", `tag: "1.1.0"`, `tag: "1.3.0"`)
		}},
		{name: "diff-no-changes", args: "diff --base c9-remove-app", wantCode: 0},
		// Ignores: defaults, --ignore (path and regexp), --show-ignored, --exit-code=false.
		{name: "diff-ignored-only", args: "diff", wantCode: 0, setup: bumpWebChart},
		{name: "diff-ignored-shown", args: "diff --show-ignored --salt golden", wantCode: 0, setup: bumpWebChart},
		{name: "diff-ignored-markdown", args: "diff --show-ignored --salt golden -o markdown", wantCode: 0, setup: bumpWebChart},
		{name: "diff-no-default-ignores", args: "diff --no-default-ignores --salt golden", wantCode: 1, setup: bumpWebChart},
		{name: "diff-ignore-path", args: "diff --base c3-secret --head c4-values --ignore Deployment:spec.replicas --show-ignored", wantCode: 0},
		{name: "diff-ignore-regexp", args: "diff --base c3-secret --head c4-values --ignore /replicas$/ -o json", wantCode: 0},
		{name: "diff-ignore-other-kind", args: "diff --base c3-secret --head c4-values --ignore StatefulSet:spec.replicas", wantCode: 1},
		{name: "diff-exit-code-false", args: "diff --base c3-secret --head c4-values --exit-code=false", wantCode: 0},
		// --fail-on: exit 4 for an impact of a listed kind, whatever --exit-code says; changes
		// without such an impact keep exit 1.
		{name: "diff-fail-on-sync-fails", args: "diff --fail-on sync-fails,data-at-risk --exit-code=false", wantCode: 4, setup: func(s *difftest.Scenario) {
			s.Replace("charts/db/templates/statefulset.yaml", "serviceName: {{ .Release.Name }}", "serviceName: {{ .Release.Name }}-headless")
		}},
		{name: "diff-fail-on-none-found", args: "diff --base c3-secret --head c4-values --fail-on sync-fails,data-at-risk", wantCode: 1},
		{name: "diff-fail-on-unknown", args: "diff --fail-on outage", wantCode: 2},
		// An applied migration (committed at the base) edited in the working tree: a repository
		// file's impact, found without any chart change.
		{name: "diff-fail-on-migration", args: "diff --fail-on data-at-risk -o markdown", wantCode: 4, setup: func(s *difftest.Scenario) {
			s.Write(map[string]string{"jobs/internal/migrate/sql/postgres/0001_init.sql": "CREATE TABLE publication (id bigint);\n"})
			s.Commit("migration 0001")
			s.Write(map[string]string{"jobs/internal/migrate/sql/postgres/0001_init.sql": "CREATE TABLE publication (id bigint, note text);\n"})
		}},
		// Environments: what promotion would change.
		{name: "diff-env", args: "diff --from-env dev --to-env prod --salt golden", wantCode: 1},
		{name: "diff-env-app-json", args: "diff --from-env dev --to-env prod --app web --salt golden -o json", wantCode: 1},
		{name: "diff-env-app-markdown", args: "diff --from-env dev --to-env prod --app web --salt golden -o markdown", wantCode: 1},
		{name: "diff-env-app-yaml", args: "diff --from-env prod --to-env dev --app db --salt golden -o yaml", wantCode: 1},
		{name: "diff-color", args: "diff --base c3-secret --head c4-values --color always", wantCode: 1},
		{name: "diff-env-at-revision", args: "diff --from-env dev --to-env prod --app db --revision c5-chart --salt golden", wantCode: 1},
		// Errors.
		{name: "diff-bad-base", args: "diff --base no-such-branch", wantCode: 2},
		{name: "diff-missing-pin", args: "diff --base c8-add-app", wantCode: 2, setup: func(s *difftest.Scenario) {
			s.Replace("environments/prod/env.yaml", s.SHA["c5-chart"], "0123456789abcdef0123456789abcdef01234567")
		}},
		{name: "diff-flag-conflict", args: "diff --base c3-secret --from-env dev --to-env prod", wantCode: 2},
		{name: "diff-bad-flags", args: "diff --from-env dev -o xml --unified -1 --ignore spec[x] --split-dir out", wantCode: 2},
		{name: "diff-unknown-app", args: "diff --base c3-secret --app spark --env qa", wantCode: 2},
	})
}

// TestDiffMissingBasePin: the base revision pins a chart commit the clone does not have. The diff
// must fail and say so, never compare against nothing.
func TestDiffMissingBasePin(t *testing.T) {
	s := difftest.Build(t)
	s.Replace("environments/prod/env.yaml", s.SHA["c5-chart"], "89abcdef0123456789abcdef0123456789abcdef")
	s.Commit("pin a commit nobody fetched")
	s.Replace("environments/prod/env.yaml", "89abcdef0123456789abcdef0123456789abcdef", s.SHA["c5-chart"])
	out, errOut, code := runCmd(t, s.Dir, "diff --base HEAD", nil)
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"89abcdef0123456789abcdef0123456789abcdef", "does not resolve", "git fetch"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestDiffShallowClone runs the pull request preview in a depth-1 clone (what CI checkouts give
// by default): the base is missing and the error says how to fetch it.
func TestDiffShallowClone(t *testing.T) {
	gitBin := testenv.Tool(t, "git")
	s := difftest.Build(t)
	clone := filepath.Join(t.TempDir(), "clone")
	cmd := exec.Command(gitBin, "clone", "--quiet", "--depth", "1", "file://"+s.Dir, clone)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone --depth 1: %v\n%s", err, b)
	}
	out, errOut, code := runCmd(t, clone, "diff --base HEAD~1 -o markdown", nil)
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{`--base HEAD~1`, "the clone is shallow", "fetch-depth: 0", "GIT_DEPTH: 0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The base is there now, but prod pins web to an older commit the clone lacks: that pin is
	// named, with where it is pinned, and the same fix.
	_, errOut, code = runCmd(t, clone, "diff --base HEAD", nil)
	for _, want := range []string{"environments/prod/env.yaml:15: components[0].revision", s.SHA["c5-chart"], "the clone is shallow"} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("diff --base HEAD in a shallow clone: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
}

// TestDiffSecretsNeverPrinted runs every output format over ranges that add, change and remove
// the planted Secret and ConfigMap values, and checks that none of them (nor their base64) is
// ever printed.
func TestDiffSecretsNeverPrinted(t *testing.T) {
	s := difftest.Build(t)
	var forbidden []string
	for _, v := range difftest.Planted {
		forbidden = append(forbidden, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	split := t.TempDir()
	splits := 0
	var runs []string
	for _, rng := range []string{"--base c3-secret", "--base c6-pin --head c7-rotate", "--base c3-secret~1 --head c3-secret", "--from-env dev --to-env prod", "--from-env prod --to-env dev --revision c7-rotate"} {
		for _, o := range []string{"-o text", "-o json", "-o yaml", "-o markdown", "-o markdown --split-dir " + split + " --markdown-limit 4096", "--show-ignored --no-default-ignores --unified 100", "--color always"} {
			runs = append(runs, "diff "+rng+" "+o)
		}
	}
	for _, args := range runs {
		out, errOut, code := runCmd(t, s.Dir, args, map[string]string{"CLICOLOR_FORCE": "1"})
		if code != 1 {
			t.Errorf("%s: exit %d\n%s", args, code, errOut)
		}
		texts := []string{out, errOut}
		if strings.Contains(args, "--split-dir") {
			parts, _ := filepath.Glob(filepath.Join(split, "*.md"))
			if len(parts) > 1 {
				splits++
			}
			for _, p := range parts {
				b, _ := os.ReadFile(p)
				texts = append(texts, string(b))
			}
		}
		for _, text := range texts {
			for _, v := range forbidden {
				if strings.Contains(text, v) {
					t.Errorf("%s printed the planted secret %q", args, v)
				}
			}
		}
		if !strings.Contains(out, "redacted hmac:") && !strings.Contains(args, "--split-dir") {
			t.Errorf("%s: no redacted value shown; the test no longer covers secrets", args)
		}
	}
	if splits == 0 {
		t.Error("no run split its Markdown: the split parts are not covered")
	}
}

// TestDiffMarkdownParts: a change too large for one comment is split into parts that each fit
// GitHub's limit, and every resource and every diff line of the JSON report is in exactly one
// part, in order; without --split-dir the one comment fits by truncating, and says so.
func TestDiffMarkdownParts(t *testing.T) {
	s := difftest.Build(t)
	bulk := func(version string) string {
		var b strings.Builder
		b.WriteString("{{- range $i := until 150 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ $.Release.Name }}-bulk-{{ $i }}\ndata:\n  settings.conf: |\n")
		for l := 0; l < 24; l++ {
			fmt.Fprintf(&b, "    setting.%02d = {{ $i }}-%s-%02d-ünïcødé-padding-to-make-lines-longer\n", l, version, l)
		}
		b.WriteString("{{- end }}\n")
		return b.String()
	}
	s.Write(map[string]string{"charts/db/templates/bulk.yaml": bulk("v1")})
	s.Commit("bulk config maps")
	s.Write(map[string]string{"charts/db/templates/bulk.yaml": bulk("v2")})

	jsonOut, errOut, code := runCmd(t, s.Dir, "diff --base HEAD -o json --salt x", nil)
	if code != 1 {
		t.Fatalf("json: exit %d\n%s", code, errOut)
	}
	var doc diff.Document
	if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Resources.Changed != 300 {
		t.Fatalf("changed resources = %d, want 300 (150 per app using the db chart)", doc.Summary.Resources.Changed)
	}

	dir := filepath.Join(t.TempDir(), "parts")
	// A stale part from an earlier, longer run must go.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-99.md"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCmd(t, s.Dir, "diff --base HEAD -o markdown --salt x --split-dir "+dir, nil)
	if code != 1 {
		t.Fatalf("markdown: exit %d\n%s", code, errOut)
	}
	names := strings.Fields(out)
	if len(names) < 3 {
		t.Fatalf("want at least 3 parts for ~1 MB of diff, got %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "part-99.md")); !os.IsNotExist(err) {
		t.Error("stale part-99.md was not removed")
	}
	var all strings.Builder
	for i, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		part := string(b)
		if len(b) > diff.GitHubCommentLimit || utf8.RuneCount(b) > diff.GitHubCommentLimit {
			t.Errorf("%s: %d bytes, %d characters: over the %d limit", name, len(b), utf8.RuneCount(b), diff.GitHubCommentLimit)
		}
		if want := fmt.Sprintf("%s part %d of %d -->", diff.Marker, i+1, len(names)); !strings.HasPrefix(part, want) {
			t.Errorf("%s does not start with %q", name, want)
		}
		if strings.Count(part, "<details>") != strings.Count(part, "</details>") {
			t.Errorf("%s: unbalanced <details>", name)
		}
		if strings.Count(part, "```")%2 != 0 {
			t.Errorf("%s: unbalanced code fences", name)
		}
		if strings.Contains(part, "not shown (comment size limit)") {
			t.Errorf("%s: truncated although every resource fits a part", name)
		}
		all.WriteString(part)
	}
	// Nothing lost: each resource's heading and its whole diff, in order.
	joined := all.String()
	pos := 0
	for _, app := range doc.Apps {
		for _, r := range app.Resources {
			if r.Action == diff.Unchanged {
				continue
			}
			head := fmt.Sprintf("%s %s/%s**", r.Kind, r.Namespace, r.Name)
			i := strings.Index(joined[pos:], head)
			if i < 0 {
				t.Fatalf("%s/%s (%s) is missing from the parts, or out of order", app.Name, r.Name, r.Action)
			}
			pos += i
			block := joined[pos:]
			if end := strings.Index(block, "\n```\n"); end >= 0 {
				block = block[:end+1]
			}
			sc := bufio.NewScanner(strings.NewReader(r.Diff))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if !strings.Contains(block, sc.Text()+"\n") {
					t.Fatalf("%s/%s: diff line %q is missing from its part", app.Name, r.Name, sc.Text())
				}
			}
		}
	}

	// One comment: it fits, and says what it cut.
	one, errOut, code := runCmd(t, s.Dir, "diff --base HEAD -o markdown --salt x", nil)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if len(one) > diff.GitHubCommentLimit {
		t.Errorf("single comment is %d bytes", len(one))
	}
	if !strings.Contains(one, "not shown (comment size limit): run `lakeport diff --base HEAD` locally") {
		t.Errorf("single comment does not say what it cut:\n%s", one[:2000])
	}
	if strings.Count(one, "<details>") != 2 || strings.Count(one, "```")%2 != 0 {
		t.Errorf("single comment: want both applications' sections with balanced fences")
	}
}

// TestDiffDyffParity compares the set of changed resources with the real dyff binary on the same
// pairs of rendered manifests: every scenario step, the whole pull request range, and two
// environments. dyff runs with --detect-renames=false (a rename is a removal and an addition to
// Argo CD, and to lakeport); once without ignores on either side, once with lakeport's default
// ignores and the equivalent dyff --exclude-regexp.
func TestDiffDyffParity(t *testing.T) {
	dyff := testenv.Tool(t, "dyff")
	s := difftest.Build(t)
	ctx := context.Background()
	tmp := t.TempDir()

	type pair struct{ name, base, head, args string }
	var pairs []pair
	prev := "c3-secret~1"
	for _, tag := range difftest.Tags {
		pairs = append(pairs, pair{prev + ".." + tag, prev, tag, "--base " + prev + " --head " + tag + " --all"})
		prev = tag
	}
	pairs = append(pairs, pair{"pr", "c3-secret", "", "--base c3-secret --all"})
	// dyff matches --exclude-regexp against go-patch style paths (/metadata/labels/helm.sh/chart).
	excludes := []string{`/labels/helm\.sh/chart$`, `/labels/app\.kubernetes\.io/version$`, `/annotations/checksum/`, `^/metadata/managedFields`, `^/status`}

	renderAt := func(rev string, envs []string) map[string]string {
		w, err := workspace.Open(s.Dir, rev)
		if err != nil {
			t.Fatal(err)
		}
		apps := workspace.Filter(w.Apps, envs, nil)
		rels, err := w.Render(ctx, apps)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rels {
			key := r.App
			if len(envs) > 0 {
				key = r.Component
			}
			out[key] = r.Manifest
		}
		return out
	}
	dyffChanged := func(a, b string, withIgnores bool) []string {
		fa, fb := filepath.Join(tmp, "from.yaml"), filepath.Join(tmp, "to.yaml")
		if err := os.WriteFile(fa, []byte(a), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fb, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"between", "--omit-header", "--output", "github", "--detect-renames=false", "--color", "off"}
		if withIgnores {
			for _, e := range excludes {
				args = append(args, "--exclude-regexp", e)
			}
		}
		cmd := exec.Command(dyff, append(args, fa, fb)...)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("dyff %v: %v", args, err)
		}
		return parseDyffGitHub(t, string(raw), a, b)
	}
	ours := func(args string, withIgnores bool) map[string][]string {
		if !withIgnores {
			args += " --no-default-ignores"
		}
		out, errOut, code := runCmd(t, s.Dir, "diff "+args+" -o json --exit-code=false", nil)
		if code != 0 {
			t.Fatalf("lakeport diff %s: exit %d\n%s", args, code, errOut)
		}
		var doc diff.Document
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, a := range doc.Apps {
			if a.Action == diff.Added || a.Action == diff.Removed {
				continue // dyff needs a document on both sides
			}
			for _, r := range a.Resources {
				if r.Action != diff.Unchanged {
					got[a.Name] = append(got[a.Name], dyffID(r))
				}
			}
			slices.Sort(got[a.Name])
		}
		return got
	}
	check := func(name string, base, head map[string]string, args string) {
		compared := 0
		for _, withIgnores := range []bool{false, true} {
			want := map[string][]string{}
			for app, bm := range base {
				hm, ok := head[app]
				if !ok {
					continue
				}
				if ids := dyffChanged(bm, hm, withIgnores); len(ids) > 0 {
					want[app] = ids
				}
				compared++
			}
			got := ours(args, withIgnores)
			for app := range want {
				if !slices.Equal(got[app], want[app]) {
					t.Errorf("%s (ignores %v) %s: lakeport changed %v, dyff changed %v", name, withIgnores, app, got[app], want[app])
				}
			}
			for app := range got {
				if _, ok := want[app]; !ok {
					t.Errorf("%s (ignores %v) %s: lakeport changed %v, dyff nothing", name, withIgnores, app, got[app])
				}
			}
		}
		if compared == 0 {
			t.Errorf("%s: no pair of manifests compared", name)
		}
	}
	changedSomewhere := 0
	for _, p := range pairs {
		check(p.name, renderAt(p.base, nil), renderAt(p.head, nil), p.args)
		if len(ours(p.args, false)) > 0 {
			changedSomewhere++
		}
	}
	// Every step changes an application present on both sides, except adding and removing one.
	if changedSomewhere < len(pairs)-2 {
		t.Errorf("only %d of %d pairs had changes: the parity test lost its teeth", changedSomewhere, len(pairs))
	}
	// Two environments: resources pair up by name across namespaces (the fixture's charts do not
	// set metadata.namespace, so dyff's identifiers match lakeport's relative namespaces).
	dev, prod := renderAt("", []string{"dev"}), renderAt("", []string{"prod"})
	check("dev→prod", dev, prod, "--from-env dev --to-env prod")
}

// dyffID is the identifier dyff gives a Kubernetes document: apiVersion/kind[/namespace]/name,
// the namespace only when the document sets it (the fixture charts never do).
func dyffID(r diff.DocResource) string { return r.APIVersion + "/" + r.Kind + "/" + r.Name }

// parseDyffGitHub reads the resources dyff's GitHub output names: each "@@ path @@" block is
// followed by "# apiVersion/kind/name", except when a side holds a single document (dyff then
// compares the documents directly): added or removed documents are then read from the block, and
// path changes belong to that single document.
func parseDyffGitHub(t *testing.T, out, from, to string) []string {
	t.Helper()
	single := func(manifest string) string {
		objs, err := render.SplitManifest(manifest)
		if err != nil || len(objs) != 1 {
			return ""
		}
		return objs[0].APIVersion + "/" + objs[0].Kind + "/" + objs[0].Name
	}
	set := map[string]bool{}
	var blocks [][]string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "@@ ") {
			blocks = append(blocks, nil)
		}
		if len(blocks) > 0 {
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
		}
	}
	for _, b := range blocks {
		if len(b) > 1 && strings.HasPrefix(b[1], "# ") {
			set[strings.TrimPrefix(b[1], "# ")] = true
			continue
		}
		if len(b) > 1 && strings.Contains(b[1], " added:") || strings.Contains(b[1], " removed:") {
			var api, kind string
			inMeta := false
			for _, l := range b[2:] {
				if len(l) < 2 {
					continue
				}
				body := l[2:]
				switch {
				case strings.HasPrefix(body, "apiVersion: "):
					api, kind = strings.TrimPrefix(body, "apiVersion: "), ""
				case strings.HasPrefix(body, "kind: "):
					kind = strings.TrimPrefix(body, "kind: ")
				case body == "metadata:":
					inMeta = true
				case inMeta && strings.HasPrefix(body, "  name: "):
					set[api+"/"+kind+"/"+strings.TrimPrefix(body, "  name: ")] = true
					inMeta = false
				case !strings.HasPrefix(body, " "):
					inMeta = false
				}
			}
			continue
		}
		id := single(from)
		if id == "" {
			id = single(to)
		}
		if id == "" {
			t.Fatalf("dyff block without a resource identifier, and neither side has a single document:\n%s", strings.Join(b, "\n"))
		}
		set[id] = true
	}
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestDiffHelp: the exit codes and the modes are documented where users look.
func TestDiffHelp(t *testing.T) {
	out, _, code := runCmd(t, t.TempDir(), "diff --help", nil)
	for _, want := range []string{"Exit codes: 0 no changes, 1 changes (0 with --exit-code=false), 4 an impact of a kind named by\n--fail-on", "--from-env staging --to-env prod", "--split-dir", "HMAC-SHA256", "--fail-on sync-fails,data-at-risk", "checksum/config annotation is a restart"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("diff --help (exit %d) lacks %q", code, want)
		}
	}
}

// TestDiffOptions checks argv → options without running anything.
func TestDiffOptions(t *testing.T) {
	tests := []struct {
		args string
		want func(o *DiffOptions) string
	}{
		{"diff", func(o *DiffOptions) string {
			return fmt.Sprintf("%s %q %q %v %d", o.Mode, o.Base, o.Head, o.ExitCode, o.Context)
		}},
		{"diff --base origin/main -o markdown --split-dir out -U 7", func(o *DiffOptions) string {
			return fmt.Sprintf("%s %q %s %s %d", o.Mode, o.Base, o.format, o.SplitDir, o.Context)
		}},
		{"diff --from-env staging --to-env prod --app trino --exit-code=false", func(o *DiffOptions) string {
			return fmt.Sprintf("%s %s→%s %v %v", o.Mode, o.FromEnv, o.ToEnv, o.Apps, o.ExitCode)
		}},
		{"diff --ignore spec.replicas --ignore /x/ --no-default-ignores --salt s", func(o *DiffOptions) string {
			var specs []string
			for _, r := range o.Rules {
				specs = append(specs, r.Spec)
			}
			return fmt.Sprintf("%v %s %s", specs, o.Hasher.Source, o.rerun)
		}},
	}
	want := []string{
		`revisions "HEAD" "" true 3`,
		`revisions "origin/main" markdown out 7`,
		`environments staging→prod [trino] false`,
		`[spec.replicas /x/] flag lakeport diff --base HEAD`,
	}
	for i, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			io, _, _ := iostreams.Test(nil)
			f := &Factory{IO: io}
			var got string
			cmd := newDiffCmd(f, func(o *DiffOptions) error { got = tc.want(o); return nil })
			cmd.SetArgs(strings.Fields(tc.args)[1:])
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got != want[i] {
				t.Errorf("got %s, want %s", got, want[i])
			}
		})
	}
}
