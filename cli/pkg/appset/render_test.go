package appset

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/argoproj/argo-cd/v3/applicationset/utils"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/hack/testenv"
)

type worktree struct{ s source.Snapshot }

func (w worktree) Snapshot(string, string) (source.Snapshot, error) { return w.s, nil }

// TestTemplateRendererMatchesArgoCD expands ApplicationSets with Argo CD's own utils.Render and
// with lakeport's templateRenderer and requires the same Applications, or the same error: the
// bundled kit, the test fixture kit and a template that exercises every case of the walk
// (templated map keys, a Helm valuesObject, pointers, slices, empty strings, a missing key).
func TestTemplateRendererMatchesArgoCD(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f := testkit.NewFixture(t)
	type input struct {
		name string
		as   *argov1.ApplicationSet
		r    Resolver
	}
	var inputs []input
	for _, dir := range []string{root, f.Dir} {
		repo, err := source.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		k, err := kit.Load(repo.Worktree())
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{filepath.Base(dir), k.ApplicationSet, worktree{repo.Worktree()}})
	}
	for _, tc := range []struct{ name, yaml string }{
		{"every case", `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: cases, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
      - {env: dev, team: risk, replicas: 2, tags: [a, b]}
      - {env: prod, team: "", replicas: 3, tags: []}
  template:
    metadata:
      name: 'web-{{ .env }}'
      labels: {'team-{{ .env }}': '{{ .team | default "none" }}', plain: "yes", empty: ""}
      annotations: {'note': 'replicas {{ .replicas }} tags {{ join "," .tags }}'}
    spec:
      project: '{{ .env }}'
      destination: {server: https://kubernetes.default.svc, namespace: 'web-{{ .env }}'}
      sources:
      - repoURL: https://example.com/kit.git
        path: charts/web
        targetRevision: HEAD
        helm:
          releaseName: web
          valueFiles: ['$values/environments/{{ .env }}/web.yaml']
          valuesObject:
            replicas: '{{ .replicas }}'
            nested: {list: ['{{ .env }}', plain, 3], flag: true}
          parameters:
          - {name: image.tag, value: '{{ .env }}-1', forceString: true}
      - repoURL: https://example.com/kit.git
        targetRevision: HEAD
        ref: values
      syncPolicy:
        automated: {prune: true, selfHeal: true}
        syncOptions: [CreateNamespace=true]
      ignoreDifferences:
      - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}
`},
		{"missing key", `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: missing, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list: {elements: [{env: dev}]}
  template:
    metadata: {name: 'web-{{ .nope }}'}
    spec:
      project: default
      destination: {server: https://kubernetes.default.svc, namespace: web}
      source: {repoURL: https://example.com/kit.git, path: charts/web}
`},
		{"fasttemplate", `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: legacy, namespace: argocd}
spec:
  generators:
  - list: {elements: [{env: dev}, {env: prod}]}
  template:
    metadata: {name: 'web-{{env}}', labels: {env: '{{env}}'}}
    spec:
      project: default
      destination: {server: https://kubernetes.default.svc, namespace: 'web-{{env}}'}
      source: {repoURL: https://example.com/kit.git, path: charts/web}
`},
	} {
		as := &argov1.ApplicationSet{}
		if err := yaml.UnmarshalStrict([]byte(tc.yaml), as); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		inputs = append(inputs, input{tc.name, as, inputs[1].r})
	}
	for _, in := range inputs {
		want, wantErr := expand(in.as, in.r, &utils.Render{})
		got, gotErr := expand(in.as, in.r, &templateRenderer{})
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Errorf("%s: error %v, Argo CD's renderer: %v", in.name, gotErr, wantErr)
			continue
		}
		if wantErr == nil && len(want) == 0 {
			t.Errorf("%s: no Applications generated", in.name)
		}
		if !reflect.DeepEqual(got, want) {
			a, _ := yaml.Marshal(got)
			b, _ := yaml.Marshal(want)
			t.Errorf("%s: Applications differ from Argo CD's renderer:\n%s\n---- Argo CD:\n%s", in.name, a, b)
		}
	}
}
