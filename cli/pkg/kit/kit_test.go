package kit_test

import (
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

func TestLoadFixture(t *testing.T) {
	f := testkit.NewFixture(t)
	repo, err := source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kit.Load(repo.Worktree())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(k.EnvironmentNames(), ","); got != "dev,prod" {
		t.Errorf("environments %s", got)
	}
	prod := k.Environment("prod")
	if c := prod.Component("web"); c == nil || c.Revision != f.V1 {
		t.Errorf("prod web pin %+v, want %s", c, f.V1)
	}
	if got := prod.ValuesFile("web"); got != "environments/prod/web.yaml" {
		t.Errorf("values file %s", got)
	}
	if line := prod.Line("components", "1", "revision"); line != 19 {
		t.Errorf("line of components[1].revision = %d, want 19", line)
	}
	if k.ApplicationSet.Name != "kit" || len(k.Projects) != 2 {
		t.Errorf("appset %q, %d projects", k.ApplicationSet.Name, len(k.Projects))
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(f *testkit.Fixture)
		wants []string
	}{
		{"unknown key", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "project:", "projekt:")
		}, []string{`environments/dev/env.yaml: line 3: unknown key "projekt"`}},
		{"yaml syntax", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "components:", "components: [")
		}, []string{"environments/dev/env.yaml: yaml: line"}},
		{"wrong type", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "automated: true", "automated: [yes]")
		}, []string{"environments/dev/env.yaml: line 11: cannot unmarshal"}},
		{"name mismatch and bad kube version", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "environment: dev", "environment: qa")
			f.Replace("environments/dev/env.yaml", `kubeVersion: "1.31.0"`, `kubeVersion: "one"`)
		}, []string{
			`environments/dev/env.yaml:2: environment: is "qa" but the file is in environments/dev`,
			`environments/dev/env.yaml:7: kubeVersion: "one" is not a Kubernetes version`,
		}},
		{"components", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "component: web", "component: db")
			f.Replace("environments/dev/env.yaml", "revision: HEAD\n    wave: \"0\"", "revision: \"\"\n    wave: \"0\"")
			f.Replace("environments/dev/env.yaml", "chart: charts/web", "chart: ../web")
		}, []string{
			`environments/dev/env.yaml:17: components[0].revision: must pin the chart's git revision`,
			`environments/dev/env.yaml:19: components[1].component: "db" is listed twice`,
			`environments/dev/env.yaml:20: components[1].chart: "../web" must be a chart folder`,
		}},
		{"repository URL moved in the ApplicationSet only", func(f *testkit.Fixture) {
			f.Replace("environments/argocd/applicationset.yaml", "        - repoURL: https://git.example.test/platform/kit.git\n", "        - repoURL: https://git.example.test/platform/lakehouse.git\n")
		}, []string{
			`environments/argocd/projects.yaml: AppProject kit-dev spec.sourceRepos: does not permit https://git.example.test/platform/lakehouse.git, a source of the Applications environments/argocd/applicationset.yaml generates: Argo CD would refuse them`,
		}},
		{"external objects", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "components:", "external:\n  secrets: [db-password, db-password, Bad_Name]\n  configMaps: [ca-bundle]\ncomponents:")
		}, []string{
			`environments/dev/env.yaml:15: external.secrets[1]: Secret "db-password" is listed twice`,
			`environments/dev/env.yaml:15: external.secrets[2]: "Bad_Name" is not a Secret name`,
		}},
		{"external unknown kind", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "components:", "external:\n  secret: [db-password]\ncomponents:")
		}, []string{`environments/dev/env.yaml: line 15: unknown key "secret"`}},
		{"wave that is not an integer", func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", `wave: "0"`, `wave: "first"`)
		}, []string{`components[0].wave: "first" must be an integer in quotes`}},
		{"missing values file", func(f *testkit.Fixture) {
			f.Remove("environments/prod/db.yaml")
		}, []string{"environments/prod/env.yaml:13: components[0].component: values file environments/prod/db.yaml"}},
		{"project fence", func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", "namespace: team-prod", "namespace: kube-system")
		}, []string{`environments/prod/env.yaml:4: destination: AppProject "kit-prod" does not allow server "https://prod.example.test:6443" namespace "kube-system"`}},
		{"promotion order", func(f *testkit.Fixture) {
			f.Replace("environments/lakeport.yaml", "promotion: [dev, prod]", "promotion: [dev, qa, dev]")
		}, []string{
			`environments/lakeport.yaml:6: promotion[1]: environment "qa" has no environments/qa/env.yaml`,
			`environments/lakeport.yaml:6: promotion[2]: environment "dev" is listed twice`,
			`environment "prod" (environments/prod/env.yaml) is missing from the promotion order`,
		}},
		{"image pins", func(f *testkit.Fixture) {
			f.Replace("environments/lakeport.yaml", "db: [image.tag]", "cache: [image.tag.]")
		}, []string{
			`environments/lakeport.yaml:9: imagePins.cache: no environment has a component "cache"`,
			`imagePins.cache[0]: "image.tag." is not a dotted key path`,
		}},
		{"applicationset", func(f *testkit.Fixture) {
			f.Replace("environments/argocd/applicationset.yaml", "goTemplate: true", "goTemplate: true\n  bogus: 1")
		}, []string{`environments/argocd/applicationset.yaml: not a valid ApplicationSet`, `unknown field "bogus"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			tc.edit(f)
			repo, err := source.Open(f.Dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = kit.Load(repo.Worktree())
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestWaveIsOptional: env.yaml files without the deprecated `wave` (the kit's own since Argo CD
// was found to ignore sync-wave on generated Applications) load, and so do older ones with it.
func TestWaveIsOptional(t *testing.T) {
	f := testkit.NewFixture(t)
	f.Replace("environments/dev/env.yaml", "\n    wave: \"0\"", "")
	f.Replace("environments/dev/env.yaml", "\n    wave: \"1\"", "")
	f.Replace("environments/argocd/applicationset.yaml", "\n        argocd.argoproj.io/sync-wave: \"{{ .wave }}\"", "")
	repo, err := source.Open(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kit.Load(repo.Worktree())
	if err != nil {
		t.Fatalf("an env.yaml without wave: %v", err)
	}
	for _, e := range k.Environments {
		for _, c := range e.Components {
			if e.Name == "dev" && c.Wave != "" {
				t.Errorf("dev %s: wave %q after removing it", c.Component, c.Wave)
			}
		}
	}
}
