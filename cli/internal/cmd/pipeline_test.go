package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/pipeline"
	"github.com/lakeport/lakeport/hack/testenv"
)

var workflowCRDs sync.Once

// TestPipelineGolden runs `lakeport pipeline` against Workflows as the real workflow-controller
// v3.7.6 left them: testdata/pipeline/<namespace>.json were captured from the runs of
// charts/workflows/pipeline_test.go (LAKEPORT_CAPTURE_WORKFLOWS=<dir>), one per outcome.
func TestPipelineGolden(t *testing.T) {
	c := clusterForHealth(t)
	crds := testenv.Tool(t, "workflow-crds.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var crdErr error
	workflowCRDs.Do(func() { crdErr = c.Kube.InstallCRDs(ctx, crds) })
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"risk-pipeline", "risk-pipeline-violation", "risk-pipeline-retry", "risk-pipeline-holiday"} {
		loadWorkflow(t, ctx, dyn, ns)
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "risk-pipeline-none"}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, args string
		code       int
	}{
		{"pipeline-succeeded", "pipeline --env staging -n risk-pipeline", CodeOK},
		{"pipeline-violation", "pipeline --env staging -n risk-pipeline-violation", CodeNegative},
		{"pipeline-retry-json", "pipeline --env staging -n risk-pipeline-retry -o json", CodeOK},
		{"pipeline-holiday", "pipeline --env staging -n risk-pipeline-holiday", CodeOK},
		{"pipeline-none", "pipeline --env staging -n risk-pipeline-none", CodeNegative},
		{"pipeline-unknown-env", "pipeline --env qa", CodeError},
		{"pipeline-two-envs-one-namespace", "pipeline --env dev --env prod -n risk-pipeline", CodeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			out, errOut, code := runCmd(t, f.Dir, tc.args, map[string]string{"KUBECONFIG": c.Kube.KubeconfigPath})
			got := "$ lakeport " + tc.args + "\n--- exit " + strconv.Itoa(code) + "\n--- stdout\n" + out + "--- stderr\n" + normalize(errOut, f.Dir, f)
			checkGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\nstderr:\n%s", code, tc.code, errOut)
			}
		})
	}
}

// loadWorkflow creates namespace ns and the Workflow captured in testdata/pipeline/<ns>.json,
// status included (Argo's Workflow CRD has no status subresource).
func loadWorkflow(t *testing.T, ctx context.Context, dyn dynamic.Interface, ns string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "pipeline", ns+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var wf unstructured.Unstructured
	if err := json.Unmarshal(raw, &wf.Object); err != nil {
		t.Fatalf("testdata/pipeline/%s.json: %v", ns, err)
	}
	for _, k := range []string{"resourceVersion", "uid", "managedFields", "creationTimestamp", "ownerReferences", "generation"} {
		unstructured.RemoveNestedField(wf.Object, "metadata", k)
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(pipeline.Workflows).Namespace(ns).Create(ctx, &wf, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create workflow %s/%s: %v", ns, wf.GetName(), err)
	}
	if !strings.HasPrefix(wf.GetLabels()[pipeline.LabelPipeline], "distribution") {
		t.Fatalf("testdata/pipeline/%s.json: no %s label", ns, pipeline.LabelPipeline)
	}
}
