package scope

import (
	"errors"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/diff/difftest"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

func plan(t *testing.T, dir, base, head string) (*Plan, error) {
	t.Helper()
	bw, err := workspace.Open(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	hw, err := workspace.Open(dir, head)
	if err != nil {
		t.Fatal(err)
	}
	return Compute(Input{Base: bw, Head: hw, BaseApps: bw.Apps, HeadApps: hw.Apps, BaseName: "base", HeadName: "head"})
}

func rendered(p *Plan) string {
	var out []string
	for _, a := range p.Scope.Apps {
		if a.Rendered {
			out = append(out, a.Name+": "+strings.Join(a.Reasons, "; "))
		}
	}
	return strings.Join(out, "\n")
}

func TestCompute(t *testing.T) {
	s := difftest.Build(t)
	tests := []struct {
		name, base, head string
		setup            func(s *difftest.Scenario)
		want             string
	}{
		{"values file: one app", "c3-secret", "c4-values", nil,
			"dev-web: values environments/dev/web.yaml changed"},
		{"chart: every env on HEAD", "c4-values", "c5-chart", nil,
			"dev-db: chart charts/db changed (1 file)\nprod-db: chart charts/db changed (1 file)"},
		{"pin: the env that moved it", "c5-chart", "c6-pin", nil,
			"prod-web: pin " + s.SHA["c5-chart"][:0] + s.V1[:12] + " → " + s.SHA["c5-chart"][:12] + ": chart charts/web changed (3 files)"},
		{"add app", "c7-rotate", "c8-add-app", nil, "dev-cache: new application"},
		{"remove app", "c8-add-app", "c9-remove-app", nil, "prod-db: application removed"},
		{"nothing", "c9-remove-app", "", nil, ""},
		{"README and unread files are inert", "c9-remove-app", "", func(s *difftest.Scenario) {
			s.Write(map[string]string{"charts/web/README.md": "# changed\n", "charts/db/docs/notes.txt": "x"})
		}, ""},
		{"a file a template reads is not", "HEAD", "", func(s *difftest.Scenario) {
			s.Write(map[string]string{
				"charts/db/files/extra.conf":     "a=1\n",
				"charts/db/templates/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata:\n  extra.conf: {{ .Files.Get \"files/extra.conf\" | quote }}\n",
			})
			s.Commit("db reads files/extra.conf")
			s.Write(map[string]string{"charts/db/files/extra.conf": "a=2\n"})
		}, "dev-cache: chart charts/db changed (1 file)\ndev-db: chart charts/db changed (1 file)"},
		{"env.yaml re-expands: kubeVersion", "HEAD", "", func(s *difftest.Scenario) {
			s.Replace("environments/prod/env.yaml", `kubeVersion: "1.29.4"`, `kubeVersion: "1.30.0"`)
		}, "prod-web: kubeVersion 1.29.4 → 1.30.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := s
			if tc.setup != nil {
				s = difftest.Build(t)
				tc.setup(s)
			}
			p, err := plan(t, s.Dir, tc.base, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if got := rendered(p); got != tc.want {
				t.Errorf("rendered:\n%s\nwant:\n%s\nchanged paths: %v", got, tc.want, p.Scope.ChangedPaths)
			}
		})
	}
}

func TestComputeMissingPin(t *testing.T) {
	s := difftest.Build(t)
	s.Replace("environments/prod/env.yaml", s.SHA["c5-chart"], "0123456789abcdef0123456789abcdef01234567")
	_, err := plan(t, s.Dir, "HEAD", "")
	var re *source.RevisionError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "head: environments/prod/env.yaml:15: components[0].revision: prod-web") {
		t.Fatalf("err = %v", err)
	}
}
