// Package difftest builds the git history lakeport diff is tested on: the testkit fixture kit,
// then one tagged commit per kind of change a pull request makes (a values file, a chart
// template, a pin, a Secret, an application added and one removed). Commit times are fixed, so
// SHAs, and the golden files that show them, are stable.
package difftest

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

// Planted secret values: they are committed into Secrets and ConfigMaps and must never appear
// in any output.
const (
	TokenA    = "PLANTED-token-7f3a9c1e-alpha"
	TokenB    = "PLANTED-token-0b8d2e4f-bravo"
	PasswordA = "PLANTED-dbpass-5c6d7e8f-alpha"
	PasswordB = "PLANTED-dbpass-1a2b3c4d-bravo"
)

// Planted lists every planted value.
var Planted = []string{TokenA, TokenB, PasswordA, PasswordB}

// Tags name the scenario's commits, in order. Each changes one thing relative to the previous.
var Tags = []string{
	"c3-secret",     // web chart gains a Secret (dev sets a token); db chart a ConfigMap with a password
	"c4-values",     // environments/dev/web.yaml: replicas 1 → 2 (one app)
	"c5-chart",      // charts/db template: terminationGracePeriodSeconds (every env on HEAD)
	"c6-pin",        // prod pins web to c5-chart instead of V1
	"c7-rotate",     // dev rotates the web token and the db password
	"c8-add-app",    // dev gains a "cache" component (the db chart again)
	"c9-remove-app", // prod drops its db component
}

// Scenario is the built repository.
type Scenario struct {
	*testkit.Fixture
	// SHA maps each tag to its commit.
	SHA map[string]string
}

// Build creates the scenario repository; the working tree is clean at c9-remove-app.
func Build(t testing.TB) *Scenario {
	t.Helper()
	f := testkit.NewFixture(t)
	s := &Scenario{Fixture: f, SHA: map[string]string{}}
	commit := func(tag string) {
		t.Helper()
		sha := f.Commit(tag)
		if _, err := f.Git.CreateTag(tag, plumbing.NewHash(sha), nil); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
		s.SHA[tag] = sha
	}

	f.Write(map[string]string{
		"charts/web/templates/secret.yaml": `{{- if .Values.apiToken }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-api
  labels:
    {{- include "web.labels" . | nindent 4 }}
type: Opaque
stringData:
  endpoint: https://api.example.test
  token: {{ .Values.apiToken | quote }}
data:
  legacy: {{ .Values.apiToken | b64enc }}
{{- end }}
`,
		"charts/db/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  poolSize: "{{ .Values.pool | default 10 }}"
  adminPassword: {{ .Values.adminPassword | default "" | quote }}
  pgbouncer.ini: |
    [pgbouncer]
    pool_mode = transaction
    auth_password = {{ .Values.adminPassword | default "" }}
    max_client_conn = 100
`,
	})
	f.Replace("charts/web/values.schema.json", `"replicas": {"type": "integer", "minimum": 1}`,
		`"replicas": {"type": "integer", "minimum": 1},
    "apiToken": {"type": "string"}`)
	f.Replace("environments/dev/web.yaml", "replicas: 1", "replicas: 1\napiToken: "+TokenA)
	f.Replace("environments/dev/db.yaml", "secretName: db-credentials", "secretName: db-credentials\nadminPassword: "+PasswordA)
	f.Replace("environments/prod/db.yaml", "secretName: db-credentials", "secretName: db-credentials\nadminPassword: "+PasswordA)
	commit("c3-secret")

	f.Replace("environments/dev/web.yaml", "replicas: 1", "replicas: 2")
	commit("c4-values")

	f.Replace("charts/db/templates/statefulset.yaml", "    spec:\n      containers:", "    spec:\n      terminationGracePeriodSeconds: 30\n      containers:")
	commit("c5-chart")

	f.Replace("environments/prod/env.yaml", f.V1, s.SHA["c5-chart"])
	commit("c6-pin")

	f.Replace("environments/dev/web.yaml", TokenA, TokenB)
	f.Replace("environments/dev/db.yaml", PasswordA, PasswordB)
	commit("c7-rotate")

	f.Write(map[string]string{"environments/dev/cache.yaml": "image:\n  tag: \"16.1\"\npassword:\n  secretName: cache-credentials\npool: 50\n"})
	f.Replace("environments/dev/env.yaml", "  - component: web\n", "  - component: cache\n    chart: charts/db\n    revision: HEAD\n    wave: \"0\"\n  - component: web\n")
	commit("c8-add-app")

	env := f.Read("environments/prod/env.yaml")
	i := strings.Index(env, "  - component: db\n")
	j := strings.Index(env, "  - component: web\n")
	if i < 0 || j < i {
		t.Fatalf("environments/prod/env.yaml does not list db before web:\n%s", env)
	}
	f.Write(map[string]string{"environments/prod/env.yaml": env[:i] + env[j:]})
	f.Remove("environments/prod/db.yaml")
	commit("c9-remove-app")
	return s
}

// Normalize replaces the scenario's SHAs (full and 12-digit) by their tag names, so golden files
// stay readable.
func (s *Scenario) Normalize(out string) string {
	for _, tag := range Tags {
		sha := s.SHA[tag]
		out = strings.ReplaceAll(out, sha, "<"+tag+">")
		out = strings.ReplaceAll(out, sha[:12], "<"+tag+":12>")
	}
	return out
}
