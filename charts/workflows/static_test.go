package workflows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }

// TestCronWorkflowNeeds checks, without a cluster, what the real-controller tests prove: each
// step names its command, the podSpecPatch gives Argo's init and wait containers the restricted
// settings and the token, and a Role bound to the workflow's ServiceAccount lets the executor
// create and patch its task results. Today's staging chart fails each point; every environment
// of the kit that renders a CronWorkflow passes.
func TestCronWorkflowNeeds(t *testing.T) {
	t.Run("today's staging", func(t *testing.T) {
		chartDir, values := today(t)
		got := strings.Join(cronWorkflowProblems(t, renderStaging(t, chartDir, values, "risk-staging", nil)), "\n")
		t.Logf("today's staging CronWorkflow:\n%s", got)
		for _, want := range []string{
			"template migrate: no command",
			"template publish: no command",
			"no podSpecPatch",
			"no Role grants create and patch on workflowtaskresults to ServiceAccount distribution",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("problems do not say %q:\n%s", want, got)
			}
		}
	})
	envs, err := chartrender.Envs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	rendered := 0
	for _, name := range envs {
		env, err := chartrender.LoadEnv(repoRoot, name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, "distribution"))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := chartrender.Split(out)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(objs, func(o chartrender.Object) bool { return o.Kind() == "CronWorkflow" }) {
			continue
		}
		rendered++
		t.Run(name, func(t *testing.T) {
			if p := cronWorkflowProblems(t, objs); len(p) > 0 {
				t.Errorf("%s distribution:\n%s", name, strings.Join(p, "\n"))
			}
		})
	}
	if rendered == 0 {
		t.Error("no environment renders the CronWorkflow")
	}
	t.Run("the Role is off", func(t *testing.T) {
		objs := renderStaging(t, "", "", "risk-staging", map[string]any{"workflow": map[string]any{"rbac": map[string]any{"create": false}}})
		if p := strings.Join(cronWorkflowProblems(t, objs), "\n"); !strings.Contains(p, "no Role grants") {
			t.Errorf("problems: %s", p)
		}
	})
}

// cronWorkflowProblems lists what would stop the rendered CronWorkflow from running under
// Argo Workflows v3.7.6 on a `restricted` namespace.
func cronWorkflowProblems(t *testing.T, objs []chartrender.Object) []string {
	t.Helper()
	var problems []string
	var cron *unstructured.Unstructured
	for _, o := range objs {
		if o.Kind() == "CronWorkflow" {
			cron = o.U
		}
	}
	if cron == nil {
		t.Fatal("no CronWorkflow rendered")
	}
	spec, _, _ := unstructured.NestedMap(cron.Object, "spec", "workflowSpec")
	// The pipeline's CronWorkflow runs a WorkflowTemplate: what runs is the template's spec.
	if ref, _, _ := unstructured.NestedString(spec, "workflowTemplateRef", "name"); ref != "" {
		i := slices.IndexFunc(objs, func(o chartrender.Object) bool { return o.Kind() == "WorkflowTemplate" && o.Name() == ref })
		if i < 0 {
			return []string{"the CronWorkflow runs WorkflowTemplate " + ref + ", which is not rendered"}
		}
		spec, _, _ = unstructured.NestedMap(objs[i].U.Object, "spec")
	}
	tmpls, _, _ := unstructured.NestedSlice(spec, "templates")
	for _, tm := range tmpls {
		m := tm.(map[string]any)
		if ctr, ok := m["container"].(map[string]any); ok {
			if cmd, _ := ctr["command"].([]any); len(cmd) == 0 {
				problems = append(problems, fmt.Sprintf("template %s: no command: the controller looks the image's entrypoint up in its registry as it creates the pod (workflow/controller/workflowpod.go)", m["name"]))
			}
		}
	}

	patch, _ := spec["podSpecPatch"].(string)
	if patch == "" {
		problems = append(problems, "no podSpecPatch: Argo's init and wait containers get no securityContext, and PodSecurity restricted rejects the pod")
	} else {
		var ps corev1.PodSpec
		j, err := yaml.YAMLToJSON([]byte(patch))
		if err == nil {
			d := json.NewDecoder(bytes.NewReader(j))
			d.DisallowUnknownFields()
			err = d.Decode(&ps)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("podSpecPatch is not a PodSpec: %v", err))
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			problems = append(problems, "podSpecPatch: automountServiceAccountToken must be false (the job container holds no API token)")
		}
		for _, want := range []struct {
			list []corev1.Container
			name string
		}{{ps.InitContainers, "init"}, {ps.Containers, "wait"}} {
			i := slices.IndexFunc(want.list, func(c corev1.Container) bool { return c.Name == want.name })
			if i < 0 {
				problems = append(problems, "podSpecPatch does not patch Argo's "+want.name+" container")
				continue
			}
			c := want.list[i]
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				problems = append(problems, "podSpecPatch: container "+want.name+": not restricted (allowPrivilegeEscalation: false, capabilities.drop: [ALL])")
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount"
			}) {
				problems = append(problems, "podSpecPatch: container "+want.name+": no ServiceAccount token for the executor's API client")
			}
		}
	}

	sa, _ := spec["serviceAccountName"].(string)
	if !executorBound(t, objs, sa) {
		problems = append(problems, "no Role grants create and patch on workflowtaskresults to ServiceAccount "+sa)
	}
	return problems
}

// executorBound: a rendered Role allows create and patch on argoproj.io workflowtaskresults and
// a rendered RoleBinding binds it to ServiceAccount sa (Argo Workflows docs/workflow-rbac.md).
func executorBound(t *testing.T, objs []chartrender.Object, sa string) bool {
	t.Helper()
	roles := map[string]bool{}
	for _, o := range objs {
		if o.Kind() != "Role" {
			continue
		}
		var r rbacv1.Role
		if err := json.Unmarshal(mustJSON(t, o), &r); err != nil {
			t.Fatal(err)
		}
		verbs := map[string]bool{}
		for _, rule := range r.Rules {
			if slices.Contains(rule.APIGroups, "argoproj.io") && slices.Contains(rule.Resources, "workflowtaskresults") {
				for _, v := range rule.Verbs {
					verbs[v] = true
				}
			}
		}
		roles[r.Name] = verbs["create"] && verbs["patch"]
	}
	for _, o := range objs {
		if o.Kind() != "RoleBinding" {
			continue
		}
		var b rbacv1.RoleBinding
		if err := json.Unmarshal(mustJSON(t, o), &b); err != nil {
			t.Fatal(err)
		}
		if b.RoleRef.Kind != "Role" || !roles[b.RoleRef.Name] {
			continue
		}
		if slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == sa }) {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, o chartrender.Object) []byte {
	t.Helper()
	b, err := json.Marshal(o.U.Object)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
