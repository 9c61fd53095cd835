package appset

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/scale/fleet"
	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/hack/testenv"
)

// countingResolver counts the snapshots the git generator asks for (one per listing).
type countingResolver struct {
	worktree
	n int
}

func (c *countingResolver) Snapshot(u, r string) (source.Snapshot, error) {
	c.n++
	return c.worktree.Snapshot(u, r)
}

// TestExpanderMatchesArgoCD expands the bundled kit, the fixture kit and a generated fleet of
// 400 Applications element by element, concurrently, and requires exactly what Argo CD's own
// GenerateApplications with its own renderer (utils.Render: every string cloned and parsed)
// gives for the ApplicationSet as a whole. A second expansion with the same Expander (every
// element reused) gives the same again, and changing what the first returned does not leak
// into the second.
func TestExpanderMatchesArgoCD(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{root, testkit.NewFixture(t).Dir}
	apps := 400
	if testing.Short() {
		apps = 40
	}
	f, err := fleet.Build(context.Background(), fleet.Options{Src: root, Dir: filepath.Join(t.TempDir(), "fleet"), Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, f.Dir)
	for _, dir := range dirs {
		repo, err := source.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kit.Load(repo.Worktree())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := splittable(k.ApplicationSet); !ok {
			t.Fatalf("%s: the kit's ApplicationSet is not expanded element by element", dir)
		}
		r := worktree{repo.Worktree()}
		want, err := expand(k.ApplicationSet, r, &utils.Render{})
		if err != nil {
			t.Fatal(err)
		}
		e := NewExpander()
		got, err := e.Expand(k.ApplicationSet, r)
		if err != nil {
			t.Fatal(err)
		}
		if newFastPlan(k.ApplicationSet) == nil || e.slow.Load() != 0 {
			t.Errorf("%s: %d elements did not take the fast path (plan: %v)", dir, e.slow.Load(), newFastPlan(k.ApplicationSet) != nil)
		}
		if len(got) == 0 || !reflect.DeepEqual(got, want) {
			a, _ := yaml.Marshal(got)
			b, _ := yaml.Marshal(want)
			t.Fatalf("%s: element-wise expansion differs from Argo CD's:\n%.3000s\n---- Argo CD:\n%.3000s", dir, a, b)
		}
		got[0].Labels["changed"] = "by the caller"
		got[0].Spec.GetSources()[0].Helm.ValueFiles[0] = "changed"
		c := &countingResolver{worktree: r}
		again, err := e.Expand(k.ApplicationSet, c)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, want) {
			t.Errorf("%s: the reused expansion differs (or a caller's change leaked into the memory)", dir)
		}
		// Reuse: one listing per git file pattern, no element expanded again.
		if c.n != 1 {
			t.Errorf("%s: %d snapshot reads on a full reuse, want 1 (the listing)", dir, c.n)
		}
	}
}

// TestExpanderReusesUnchangedElements changes one env.yaml and requires the other environments'
// elements to be reused and the result to equal Argo CD's whole expansion of the changed kit.
func TestExpanderReusesUnchangedElements(t *testing.T) {
	f := testkit.NewFixture(t)
	repo, err := source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kit.Load(repo.Worktree())
	if err != nil {
		t.Fatal(err)
	}
	e := NewExpander()
	if _, err := e.Expand(k.ApplicationSet, worktree{repo.Worktree()}); err != nil {
		t.Fatal(err)
	}
	before := len(e.elems)
	envFile := filepath.Join(f.Dir, filepath.FromSlash(k.Environments[0].File))
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envFile, append(b, []byte("# a comment changes the blob\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := e.Expand(k.ApplicationSet, worktree{repo.Worktree()})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.elems) != before+1 {
		t.Errorf("%d elements remembered after one env.yaml changed, want %d (one new, the others reused)", len(e.elems), before+1)
	}
	want, err := expand(k.ApplicationSet, worktree{repo.Worktree()}, &utils.Render{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("expansion after the change differs from Argo CD's")
	}
}

// TestExpanderErrorsAndShapes: an element whose template fails gives Argo CD's error (the first
// failing file in path order); generator shapes that cannot be split are expanded whole, with
// the same result as Argo CD's.
func TestExpanderErrorsAndShapes(t *testing.T) {
	snap := memSnapshot{
		"envs/a/env.yaml": "name: a\ncomponents: [{c: x}, {c: y}]\n",
		"envs/b/env.yaml": "name: b\ncomponents: [{c: x}]\n",
		"envs/c/env.yaml": "name: c\ncomponents: [{c: z}]\nskip: true\n",
		"envs/d/env.yaml": "nameless: d\ncomponents: [{c: x}]\n",
	}
	r := worktree{snap}
	for _, tc := range []struct {
		name, generators string
		split, fails     bool
		patch            string
	}{
		{"matrix with an exclude and a missing key", `
  - matrix:
      generators:
      - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/*/env.yaml"}, {path: "envs/c/*", exclude: true}]}
      - list: {elementsYaml: "{{ .components | toJson }}"}`, true, true, ""},
		{"matrix, files without d", `
  - matrix:
      generators:
      - list: {elements: [{c: x}, {c: "y"}]}
      - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/[abc]/env.yaml"}]}`, true, false, ""},
		{"git alone", `
  - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/[ab]/env.yaml"}]}`, true, false, ""},
		{"matrix with a templated list and a templatePatch", `
  - matrix:
      generators:
      - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/[ab]/env.yaml"}]}
      - list: {elementsYaml: "{{ .components | toJson }}", template: {metadata: {labels: {from: '{{ .name }}'}}, spec: {project: ""}}}`, true, false, `
  templatePatch: |
    metadata:
      annotations:
        file: {{ .path.filename | quote }}
    spec:
      sources:
        - repoURL: https://example.com/kit.git
          path: {{ printf "charts/%s" .c | quote }}
          helm: {valueFiles: [{{ printf "$v/envs/%s/%s.yaml" .name .c | quote }}]}
        - {repoURL: https://example.com/kit.git/, ref: v}
      {{- if eq .name "a" }}
      syncPolicy: {automated: {prune: true}}
      {{- end }}
`},
		{"git alone with a patch that fails for one file", `
  - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/[abd]/env.yaml"}]}`, true, true, `
  templatePatch: |
    metadata: {annotations: {n: {{ .name | quote }}}}
`},
		{"merge: whole", `
  - merge:
      mergeKeys: [name]
      generators:
      - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/[ab]/env.yaml"}]}
      - list: {elements: [{name: a, extra: "1"}]}`, false, false, ""},
		{"two generators: whole", `
  - git: {repoURL: https://example.com/kit.git, revision: HEAD, files: [{path: "envs/a/env.yaml"}]}
  - list: {elements: [{name: l, c: w}]}`, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := &argov1.ApplicationSet{}
			doc := `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: shapes, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:` + tc.generators + `
  template:
    metadata: {name: '{{ .name }}-{{ dig "c" "all" . }}', labels: {n: '{{ normalize .name }}'}}
    spec:
      project: 'p-{{ .name }}'
      destination: {server: https://kubernetes.default.svc, namespace: '{{ .name }}'}
      source: {repoURL: https://example.com/kit.git, path: charts/web}
` + tc.patch
			if err := yaml.UnmarshalStrict([]byte(doc), as); err != nil {
				t.Fatal(err)
			}
			if _, ok := splittable(as); ok != tc.split {
				t.Fatalf("splittable = %v, want %v", ok, tc.split)
			}
			want, wantErr := expand(as, r, &utils.Render{})
			got, gotErr := NewExpander().Expand(as, r)
			if (wantErr != nil) != tc.fails {
				t.Fatalf("Argo CD's error: %v, want failure %v", wantErr, tc.fails)
			}
			if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
				t.Fatalf("error %v, Argo CD's: %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Applications differ from Argo CD's:\n%v\n----\n%v", names(got), names(want))
			}
		})
	}
}

func names(apps []argov1.Application) string {
	var out []string
	for _, a := range apps {
		out = append(out, a.Name)
	}
	return strings.Join(out, " ")
}

// memSnapshot is a snapshot held in memory.
type memSnapshot map[string]string

func (m memSnapshot) Revision() string { return source.Worktree }

func (m memSnapshot) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(s), nil
}

func (m memSnapshot) Files(dir string) ([]string, error) {
	var out []string
	for k := range m {
		if dir == "." || dir == "" || strings.HasPrefix(k, dir+"/") {
			out = append(out, k)
		}
	}
	sortStrings(out)
	return out, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
