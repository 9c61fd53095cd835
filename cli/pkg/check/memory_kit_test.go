package check_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/check"
	"github.com/lakeport/lakeport/cli/pkg/crds"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestMemoryPolicyCatchesIssue11 renders the kit as issue 11 found it (main at b5197db: dev Trino
// with -Xmx1536M and a 512M code cache in 2Gi, staging Spark workers offering 6348m to executors
// next to a 1g daemon in 8Gi) and checks it with this revision's policies: jvm_memory fires on
// exactly those containers. TestBundledKitPasses shows the fixed kit passes.
func TestMemoryPolicyCatchesIssue11(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	head, err := workspace.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	old, err := workspace.Open(root, "b5197db0f5e6087fb0eb0ec8a57af7f6a1b67079")
	if err != nil {
		t.Fatal(err)
	}
	rels, err := old.Render(context.Background(), old.Apps)
	if err != nil {
		t.Fatal(err)
	}
	c, err := check.New(head.Head, check.Options{CRDs: crds.FS})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Check(context.Background(), check.Targets(old.Kit.Environments, rels, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		if f.Rule == "jvm_memory" {
			got[f.Environment+" "+f.Object.String()] = f.Message
		}
	}
	want := map[string]string{
		"dev Deployment/trino-coordinator": `container "trino" needs 2304MiB for its JVM (jvm.config) (heap 1536 + code cache 512 + metaspace undeclared + direct memory undeclared + native 256) but its memory limit is 2048MiB`,
		"dev Deployment/trino-worker":      `needs 2304MiB for its JVM (jvm.config)`,
		// Found on the way: dev's Spark worker (2Gi, 1331m of executors next to a 512m daemon).
		"dev StatefulSet/spark-worker":     `executor memory 1331 + executor overhead 384`,
		"staging StatefulSet/spark-worker": `container "worker" needs 8502MiB for its Spark daemon and executors (daemon heap 1024 + daemon code cache 240 + daemon native 256 + executor memory 6348 + executor overhead 634) but its memory limit is 8192MiB`,
	}
	for obj, msg := range want {
		if !strings.Contains(got[obj], msg) {
			t.Errorf("%s: want a jvm_memory finding containing\n  %s\ngot %q", obj, msg, got[obj])
		}
	}
	for obj, msg := range got {
		if _, ok := want[obj]; !ok {
			t.Errorf("unexpected jvm_memory finding on %s: %s", obj, msg)
		}
	}
}
