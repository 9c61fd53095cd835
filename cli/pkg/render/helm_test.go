package render

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/hack/testenv"
)

// TestHelmTemplateEdgeCases compares helmTemplate with the real `helm template` on a chart made of
// the cases its single-parse sorting must get right: partials and NOTES.txt left out, blank files
// and comment-only documents, odd separators, a literal block ending a document, hooks (test,
// unknown, events with spaces and capitals, null annotations), kinds outside Helm's install order
// sorted after it alphabetically, and multi-document CRD files; with and without --skip-tests.
func TestHelmTemplateEdgeCases(t *testing.T) {
	helm := testenv.Tool(t, "helm")
	const dir = "testdata/edgechart"
	for _, skipTests := range []bool{false, true} {
		ch, err := loader.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := chartutil.ParseKubeVersion("1.31.0")
		if err != nil {
			t.Fatal(err)
		}
		got, objs, err := helmTemplate(ch, map[string]any{}, templateOptions{
			ReleaseName: "edge", Namespace: "ns", KubeVersion: kv, APIVersions: []string{"example.com/v1"},
			IncludeCRDs: true, SkipTests: skipTests,
		})
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"template", "edge", dir, "--namespace", "ns", "--kube-version", "1.31.0", "--api-versions", "example.com/v1", "--include-crds"}
		if skipTests {
			args = append(args, "--skip-tests")
		}
		out, err := exec.CommandContext(context.Background(), helm, args...).Output()
		if err != nil {
			t.Fatalf("helm %v: %v", args, err)
		}
		if got != string(out) {
			t.Errorf("skipTests=%v: output differs from helm template:\n%s\n---- helm:\n%s", skipTests, got, out)
			continue
		}
		want, err := SplitManifest(string(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != len(want) || len(want) < 10 {
			t.Fatalf("skipTests=%v: %d objects, %d from helm's output", skipTests, len(objs), len(want))
		}
		for i := range want {
			// exactJSON is the render's note that its parse gives JSON directly; the object is
			// the same without it, and the note must hold (JSON is YAMLToJSONStrict's bytes).
			got, ref := *objs[i], *want[i]
			got.exactJSON, ref.exactJSON = false, false
			if !reflect.DeepEqual(got, ref) {
				t.Errorf("skipTests=%v: object %d: %+v, from helm's output %+v", skipTests, i, objs[i], want[i])
			}
			if doc, ok := objs[i].JSON(); ok {
				if j, err := sigsyaml.YAMLToJSONStrict([]byte(objs[i].YAML)); err != nil || string(j) != string(doc) {
					t.Errorf("skipTests=%v: object %d: JSON() %s, YAMLToJSONStrict %s (%v)", skipTests, i, doc, j, err)
				}
			}
		}
	}
}

// TestHelmTemplateErrors: what Helm refuses, helmTemplate refuses.
func TestHelmTemplateErrors(t *testing.T) {
	ch, err := loader.Load("testdata/edgechart")
	if err != nil {
		t.Fatal(err)
	}
	old, err := chartutil.ParseKubeVersion("1.27.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    templateOptions
		want string
	}{
		{"kube version", templateOptions{ReleaseName: "edge", Namespace: "ns", KubeVersion: old}, "chart requires kubeVersion: >=1.28.0-0 which is incompatible with Kubernetes v1.27.0"},
		{"release name", templateOptions{ReleaseName: "Not_A_Name", Namespace: "ns"}, `release name "Not_A_Name"`},
	} {
		_, _, err := helmTemplate(ch, map[string]any{}, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"annotation not a string", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    helm.sh/hook-weight: 5\n", "YAML parse error on t.yaml"},
		{"kind not a string", "apiVersion: v1\nkind: [a]\n", "YAML parse error on t.yaml"},
		{"not YAML", "a: [b\n", "YAML parse error on t.yaml"},
	} {
		if _, _, err := sortManifests(map[string]string{"t.yaml": tc.doc}, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestSplitManifestsMatchesHelm: splitManifests returns what releaseutil.SplitManifests does, on
// chosen cases and on random texts made of separators, whitespace and letters.
func TestSplitManifestsMatchesHelm(t *testing.T) {
	cases := []string{
		"", "---", "---\n---\n", "a", "a\n---\nb", "---\na\n---\nb\n---", "a\n---b", "a\n----\nb",
		"a \t\r\n \n---  \n\n b", "a---b", "a\n --- \nb", "\n\n---\r\na\f\n---", "a\n---\n---\n---\nb",
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"-", "--", "---", "\n", " ", "\t", "\r", "\f", "a", "b: c", "\n---\n"}
	for range 20000 {
		var b strings.Builder
		for range rnd.IntN(24) {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		m := releaseutil.SplitManifests(c)
		want := make([]string, len(m))
		for i := range want {
			want[i] = m[fmt.Sprintf("manifest-%d", i)]
		}
		if got := splitManifests(c); !slices.Equal(got, want) {
			t.Fatalf("splitManifests(%q) = %q, Helm: %q", c, got, want)
		}
	}
}
