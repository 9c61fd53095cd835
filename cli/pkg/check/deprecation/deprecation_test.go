package deprecation

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	checkschema "github.com/lakeport/lakeport/cli/pkg/check/schema"
)

func TestCheck(t *testing.T) {
	s := checkschema.Scheme()
	cases := []struct {
		gv, kind, kube string
		rule, want     string // rule "" means no finding
	}{
		{"apps/v1", "Deployment", "1.33", "", ""},
		{"policy/v1beta1", "PodDisruptionBudget", "1.24", RuleDeprecated, "policy/v1beta1 PodDisruptionBudget is deprecated since Kubernetes 1.21 (the environment runs 1.24, removal in 1.25): use policy/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.25", RuleRemoved, "policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25 and the environment runs 1.25: use policy/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.20", "", ""},
		{"autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.29", RuleRemoved, "removed in Kubernetes 1.26"},
		{"extensions/v1beta1", "Ingress", "1.22", RuleRemoved, "use networking.k8s.io/v1"},
		{"batch/v1beta1", "CronJob", "1.21", RuleDeprecated, "use batch/v1"},
		{"flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32", RuleRemoved, "removed in Kubernetes 1.32"},
		{"monitoring.coreos.com/v1", "ServiceMonitor", "1.33", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.gv+" "+tc.kind+" "+tc.kube, func(t *testing.T) {
			gv, _ := schema.ParseGroupVersion(tc.gv)
			kube, err := ParseVersion(tc.kube)
			if err != nil {
				t.Fatal(err)
			}
			f := Check(s, gv.WithKind(tc.kind), kube)
			if tc.rule == "" {
				if f != nil {
					t.Fatalf("want nothing, got %+v", f)
				}
				return
			}
			if f == nil || f.Rule != tc.rule || !strings.Contains(f.Message, tc.want) {
				t.Fatalf("got %+v, want %s containing %q", f, tc.rule, tc.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"1.29": {1, 29}, "v1.30.2": {1, 30}, "1.31.0-eks.1": {1, 31}, "1.28+": {1, 28}} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1", "x.y", "latest"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) did not fail", bad)
		}
	}
}
