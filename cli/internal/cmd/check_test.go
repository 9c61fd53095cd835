package cmd

import (
	"encoding/json"
	"encoding/xml"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

// kitPolicies copies the repository's policies/ (Rego files only, not the kit's own exceptions)
// into the fixture's working tree: the fixture kit has no policies of its own.
func kitPolicies(f *testkit.Fixture) {
	src := filepath.Join("..", "..", "..", "policies")
	files := map[string]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".rego" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		files["policies/"+filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		panic(err)
	}
	f.Write(files)
}

// goodWeb makes the fixture's web chart pass every policy in prod: security contexts,
// resources, a pinned image from an allowed registry, a PDB, a NetworkPolicy, topology spread.
// prod's pin moves to HEAD so that both environments render the edited chart.
func goodWeb(f *testkit.Fixture) {
	f.Replace("environments/prod/env.yaml", f.V1, "HEAD")
	f.Replace("charts/web/values.yaml", "registry.example.test/web", "ghcr.io/lakeport/web")
	f.Write(map[string]string{"charts/web/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: web
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 128Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
`,
		"charts/web/templates/migrate-job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    argocd.argoproj.io/hook: PreSync
spec:
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: migrate
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          args: ["migrate"]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 500m, memory: 128Mi}
`,
		"charts/web/templates/policy.yaml": `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .Release.Name }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: web
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .Release.Name }}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: web
  policyTypes: [Ingress]
`})
}

func TestCheckGolden(t *testing.T) {
	runGolden(t, []cmdTestCase{
		// The fixture's charts break most policies: this shows them all, in the table.
		{name: "check-fixture", args: "check", setup: kitPolicies, wantCode: 1},
		{name: "check-prod-web-json", args: "check --env prod --app web -o json", setup: kitPolicies, wantCode: 1},
		{name: "check-web-good", args: "check --app web", wantCode: 0, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			goodWeb(f)
		}},
		{name: "check-no-policies", args: "check --env dev --app web", wantCode: 0},
		// Helm drops what follows the first YAML node of a values file: Argo CD would deploy
		// prod without the second document's replicas.
		{name: "check-values-ignored", args: "check --env prod --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Write(map[string]string{"environments/prod/web.yaml": f.Read("environments/prod/web.yaml") + "---\n# scale up\nreplicas: 5\n"})
		}},
		{name: "check-warnings-fail-on-warn", args: "check --app web --fail-on-warn", wantCode: 1, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			goodWeb(f)
			f.Replace("charts/web/templates/deployment.yaml", "          readinessProbe:\n            httpGet: {path: /healthz, port: 8080}\n", "")
		}},
		{name: "check-schema-errors", args: "check --env dev --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Write(map[string]string{"charts/web/templates/bad.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: Bad_Name
  labels: {version: "1.0+build"}
datta: {a: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: wrong-types}
spec:
  replicas: two
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x, imagePullPolicies: Always}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: web}
spec:
  selector: {matchLabels: {a: b}}
  endpoints: [{port: http, intervall: 30s}]
---
apiVersion: example.test/v1
kind: Widget
metadata: {name: w}
spec: {anything: goes}
---
apiVersion: example.test/v2
kind: Widget
metadata: {name: w2}
---
apiVersion: acme.example/v1
kind: Gadget
metadata: {name: g}
`})
		}},
		{name: "check-deprecated-apis", args: "check --app db", wantCode: 1, setup: func(f *testkit.Fixture) {
			f.Write(map[string]string{"charts/db/templates/old.yaml": `apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: old}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: db}}
---
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: old}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  maxReplicas: 2
---
apiVersion: flowcontrol.apiserver.k8s.io/v1beta3
kind: FlowSchema
metadata: {name: old}
spec:
  priorityLevelConfiguration: {name: global-default}
`})
		}},
		{name: "check-exceptions", args: "check --app web", wantCode: 1, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			goodWeb(f)
			f.Replace("charts/web/templates/deployment.yaml", "          image:", "          env:\n            - {name: API_TOKEN, value: s3cr3t}\n          image:")
			f.Replace("charts/web/templates/policy.yaml", "  maxUnavailable: 1", "  maxUnavailable: 1\n  unhealthyPodEvictionPolicy: AlwaysAllow")
			f.Write(map[string]string{"policies/exceptions/web.yaml": `apiVersion: lakeport.dev/v1alpha1
kind: PolicyExceptions
exceptions:
  # live: waives the token in dev only
  - object: {kind: Deployment, name: web}
    environments: [dev]
    rules: [plaintext_secret]
    reason: a throwaway token for the dev stub
    expires: "2099-12-31"
  # expired: the prod finding stands, and the exception is a finding of its own
  - object: {kind: Deployment, name: web}
    environments: [prod]
    rules: [plaintext_secret]
    reason: waiting for the vault integration
    expires: "2020-01-31"
  # unused: the object is checked but breaks nothing
  - object: {kind: Job, name: web-migrate}
    rules: [resources]
    reason: migrations are short
    expires: "2099-12-31"
`})
		}},
		{name: "check-pr-mode", args: "check --base HEAD", wantCode: 1, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			goodWeb(f)
			f.Commit("policies; a compliant web chart")
			// The PR: a privileged web container (new), the PDB removed (fixed nothing: prod
			// web now lacks one, new), and db untouched (unchanged findings do not fail).
			f.Replace("charts/web/templates/deployment.yaml", "            allowPrivilegeEscalation: false\n", "            allowPrivilegeEscalation: false\n            privileged: true\n")
			f.Replace("charts/db/templates/statefulset.yaml", "        - name: db\n", "        - name: db\n          resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}\n")
		}},
		{name: "check-pr-mode-github", args: "check --env prod --base HEAD -o github", wantCode: 1, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			goodWeb(f)
			f.Commit("policies; a compliant web chart")
			f.Replace("charts/web/templates/deployment.yaml", "            allowPrivilegeEscalation: false\n", "            allowPrivilegeEscalation: false\n            privileged: true\n")
		}},
		{name: "check-pr-mode-markdown", args: "check --base HEAD -o markdown", wantCode: 1, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			goodWeb(f)
			f.Write(map[string]string{"policies/exceptions/db.yaml": "apiVersion: lakeport.dev/v1alpha1\nkind: PolicyExceptions\nexceptions:\n  - object: {kind: StatefulSet, name: db}\n    environments: [dev]\n    rules: [image_registry]\n    reason: the dev database mirrors the vendor's registry\n    expires: \"2099-12-31\"\n"})
			f.Commit("policies; a compliant web chart")
			f.Replace("charts/web/templates/deployment.yaml", "            allowPrivilegeEscalation: false\n", "            allowPrivilegeEscalation: false\n            privileged: true\n")
			f.Replace("charts/db/templates/statefulset.yaml", "        - name: db\n", "        - name: db\n          resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}\n")
		}},
		{name: "check-pr-mode-only-existing", args: "check --app db --base HEAD", wantCode: 0, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			f.Commit("policies")
		}},
		{name: "check-bad-base", args: "check --base no-such-branch", wantCode: 2},
		{name: "check-broken-base", args: "check --base <V1>", wantCode: 1, setup: func(f *testkit.Fixture) {
			// V1's prod pin (the placeholder PIN_V1) does not resolve: the base cannot be
			// rendered, so head's findings all count as new.
			f.Write(map[string]string{"charts/db/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db}\ndatta: {}\n"})
		}},
		{name: "check-github", args: "check --env dev --app web -o github", setup: kitPolicies, wantCode: 1},
		// Bad input: every one is an error (exit 2) naming the file and line.
		{name: "check-rego-syntax-error", args: "check", wantCode: 2, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			f.Write(map[string]string{"policies/broken.rego": "package main\n\ndeny_broken contains msg if {\n\tinput.kind == \"Pod\"\n\tmsg := sprintf(\"%s\", [input.metadata.name]\n}\n"})
		}},
		{name: "check-rego-compile-error", args: "check", wantCode: 2, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			f.Write(map[string]string{"policies/undefined.rego": "package main\n\ndeny_undefined contains msg if {\n\tmsg := no_such_function(input)\n}\n"})
		}},
		{name: "check-not-yaml", args: "check --env dev", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Write(map[string]string{"charts/web/templates/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: [unclosed\n"})
		}},
		{name: "check-exception-errors", args: "check", wantCode: 2, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			f.Write(map[string]string{"policies/exceptions/bad.yaml": `apiVersion: lakeport.dev/v1alpha1
kind: PolicyExceptions
exceptions:
  - object: {kind: Deployment, name: web}
    rules: [resources]
    expires: "2099-12-31"
  - object: {kind: Deployment, name: web}
    rules: [no_such_rule]
    reason: typo
    expires: "31/12/2099"
`})
		}},
		{name: "check-bad-output", args: "check -o xml", wantCode: 2},
		{name: "check-unknown-env", args: "check --env qa", wantCode: 2},
		{name: "check-policies-test", args: "check policies test", setup: kitPolicies},
		{name: "check-policies-test-failing", args: "check policies test --run resources", wantCode: 1, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			f.Replace("policies/resources_test.rego", `count(deny_resources) == 2 with input as f.without_container("resources")`, `count(deny_resources) == 3 with input as f.without_container("resources")`)
		}},
		{name: "check-policies-test-syntax-error", args: "check policies test", wantCode: 2, setup: func(f *testkit.Fixture) {
			kitPolicies(f)
			f.Write(map[string]string{"policies/broken_test.rego": "package main\n\ntest_broken if {\n\t1 ==\n}\n"})
		}},
		{name: "check-policies-list", args: "check policies list", setup: kitPolicies},
	})
}

// TestCheckJUnitAndSARIF checks the machine formats' structure rather than their bytes.
func TestCheckJUnitAndSARIF(t *testing.T) {
	f := testkit.NewFixture(t)
	kitPolicies(f)
	out, stderr, code := runCmd(t, f.Dir, "check -o junit", nil)
	if code != 1 {
		t.Fatalf("junit: exit %d: %s", code, stderr)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				File    string `xml:"file,attr"`
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &suites); err != nil {
		t.Fatalf("junit is not XML: %v\n%s", err, out)
	}
	if len(suites.Suites) != 4 || suites.Tests == 0 || suites.Failures == 0 {
		t.Fatalf("want 4 suites (one per application) with failures, got %d suites, %d tests, %d failures", len(suites.Suites), suites.Tests, suites.Failures)
	}
	found := false
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if s.Name == "prod/prod-db" && c.Name == "StatefulSet/db" {
				found = c.File == "charts/db/templates/statefulset.yaml" && c.Failure != nil && strings.Contains(c.Failure.Text, "[failure resources]")
			}
		}
	}
	if !found {
		t.Errorf("no failing test case for prod-db StatefulSet/db with its template and the resources rule:\n%s", out)
	}

	out, stderr, code = runCmd(t, f.Dir, "check -o sarif", nil)
	if code != 1 {
		t.Fatalf("sarif: exit %d: %s", code, stderr)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("sarif is not JSON: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "lakeport" {
		t.Fatalf("not a lakeport SARIF 2.1.0 log: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %d (%s)", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
		loc := r.Locations[0].PhysicalLocation
		if !strings.HasPrefix(loc.ArtifactLocation.URI, "charts/") || loc.Region.StartLine < 1 || r.PartialFingerprints["lakeportFinding/v1"] == "" {
			t.Errorf("result %s: location %+v, fingerprints %v", r.RuleID, loc, r.PartialFingerprints)
		}
		if r.Level != "error" && r.Level != "warning" {
			t.Errorf("result %s: level %q", r.RuleID, r.Level)
		}
	}
}
