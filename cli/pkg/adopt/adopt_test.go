package adopt

import (
	"os"
	"strings"
	"testing"
)

// The bundled kit's URL.
const kitURL = "https://github.com/lakeport/lakeport.git"

// The files init writes are the bundled kit's own, with the URL as the only difference: the kit
// cannot drift from what init gives a new repository.
func TestTemplatesAreTheKits(t *testing.T) {
	raw, err := os.ReadFile("../../../environments/argocd/applicationset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(applicationSetTemplate, RepoURLPlaceholder, kitURL); got != string(raw) {
		t.Errorf("templates/applicationset.yaml is not environments/argocd/applicationset.yaml with %s: regenerate it with\n  sed 's#%s#%s#g' environments/argocd/applicationset.yaml > cli/pkg/adopt/templates/applicationset.yaml", RepoURLPlaceholder, kitURL, RepoURLPlaceholder)
	}
	envs := []Environment{
		{Name: "dev", Server: "https://kubernetes.default.svc", Namespace: "risk-dev"},
		{Name: "staging", Server: "https://kubernetes.default.svc", Namespace: "risk-staging"},
		{Name: "prod", Server: "https://prod.kube.risk.internal:6443", Namespace: "risk-prod"},
	}
	raw, err = os.ReadFile("../../../environments/argocd/projects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(Projects(kitURL, "lakeport", envs)); got != string(raw) {
		t.Errorf("environments/argocd/projects.yaml is not what init writes for the kit's environments:\n%s", got)
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Environment
		err  string
	}{
		{in: "dev=risk-dev@https://kubernetes.default.svc", want: Environment{Name: "dev", Namespace: "risk-dev", Server: "https://kubernetes.default.svc"}},
		{in: "prod=risk-prod@https://10.0.0.1:6443", want: Environment{Name: "prod", Namespace: "risk-prod", Server: "https://10.0.0.1:6443"}},
		{in: "dev", err: "want NAME=NAMESPACE@SERVER"},
		{in: "dev=risk-dev", err: "want NAME=NAMESPACE@SERVER"},
		{in: "=risk-dev@https://x", err: "want NAME=NAMESPACE@SERVER"},
	} {
		got, err := ParseEnvironment(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v", tc.in, got, err)
		}
	}
	if _, err := ParseChart("api"); err == nil {
		t.Error("ParseChart accepted a chart without a path")
	}
}

func TestValidRepoURL(t *testing.T) {
	for s, ok := range map[string]bool{
		"https://git.example.com/a/b.git": true, "ssh://git@git.example.com/a/b.git": true,
		"git@github.com:org/repo.git": true, "": false, "not-a-url": false, "file:///tmp/repo": false,
		"https://": false, "https://x/a b": false,
	} {
		if err := validRepoURL(s); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", s, err, ok)
		}
	}
}
