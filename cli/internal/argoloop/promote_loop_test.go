package argoloop_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lakeport/lakeport/cli/internal/argoloop"
)

// TestPromoteGateOnTheLoop: `lakeport promote distribution --to staging` is refused while dev's
// distribution is synced at an older commit than the one holding its pins, accepted once dev is
// Synced and Healthy there; after the promotion commit reaches the branch Argo CD follows, Argo CD
// syncs staging and `lakeport health --env staging --wait --revision <commit>` returns 0.
func TestPromoteGateOnTheLoop(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	settle(t)
	prepareStaging(t)
	gitEnv := map[string]string{"GIT_AUTHOR_NAME": "Loop Test", "GIT_AUTHOR_EMAIL": "loop@lakeport.dev"}

	// A new dev commit for distribution: Argo CD has not synced it yet (3-minute resync).
	file := "environments/dev/distribution.yaml"
	values, err := l.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stamp := fmt.Sprintf("gate-%d", time.Now().UnixNano())
	values = regexp.MustCompile(`(?m)^commonLabels:.*\n(  .*\n)*`).ReplaceAllString(values, "")
	values += "commonLabels:\n  lakeport.dev/loop-change: " + stamp + "\n"
	sha, err := l.Commit(map[string]string{file: values}, "dev: relabel distribution ("+stamp+")")
	if err != nil {
		t.Fatal(err)
	}

	followed := gitOut(t, l.Work, "rev-parse", "--abbrev-ref", "HEAD") // the branch Argo CD follows

	// Refused: dev-distribution is Synced/Healthy, but at the previous commit.
	out, errOut, code := lakeport(t, gitEnv, "promote", "distribution", "--to", "staging")
	if code != 1 || !strings.Contains(errOut, "gate") {
		t.Fatalf("promotion with dev behind %s: exit %d, want 1 (refused by the gate)\n%s%s", short(sha), code, out, errOut)
	}
	if head := gitOut(t, l.Work, "rev-parse", "HEAD"); head != sha {
		t.Fatalf("a refused promotion moved HEAD to %s", head)
	}

	// Accepted once dev is Synced and Healthy at the commit.
	if _, _, code := lakeport(t, nil, "health", "--env", "dev", "--app", "distribution", "--wait", "--revision", sha, "--timeout", "5m"); code != 0 {
		dumpCluster(t)
		t.Fatalf("dev-distribution never reached %s", short(sha))
	}
	out, errOut, code = lakeport(t, gitEnv, "promote", "distribution", "--to", "staging", "-o", "json")
	if code != 0 {
		t.Fatalf("promotion with dev healthy at %s: exit %d\n%s%s", short(sha), code, out, errOut)
	}
	if !strings.Contains(out, `"ok": true`) || !strings.Contains(out, sha) {
		t.Errorf("the report does not show a passed gate at %s:\n%s", sha, out)
	}
	branch := gitOut(t, l.Work, "rev-parse", "--abbrev-ref", "HEAD")
	if !strings.HasPrefix(branch, "promote/staging/distribution-") {
		t.Fatalf("promotion committed on %q", branch)
	}
	env := gitOut(t, l.Work, "show", "HEAD:environments/staging/env.yaml")
	if !strings.Contains(env, "revision: "+sha) {
		t.Errorf("staging's distribution pin is not %s:\n%s", sha, env)
	}

	// The reviewed branch is merged into the branch Argo CD follows.
	promoted := gitOut(t, l.Work, "rev-parse", "HEAD")
	gitOut(t, l.Work, "checkout", "--quiet", followed)
	gitOut(t, l.Work, "merge", "--quiet", "--ff-only", branch)
	gitOut(t, l.Work, "push", "--quiet", "origin", "HEAD")
	l.Head = promoted

	if _, _, code := lakeport(t, nil, "health", "--env", "staging", "--app", "distribution", "--wait", "--revision", promoted, "--timeout", "4m"); code != 0 {
		lakeport(t, nil, "health", "--env", "staging", "--app", "distribution", "-o", "yaml")
		t.Logf("--- application controller\n%s", l.Logs("argocd-application-controller", 60))
		dumpCluster(t)
		t.Fatalf("staging-distribution never became Synced and Healthy at %s", short(promoted))
	}
	settle(t)
}

// prepareStaging gives staging a namespace on the simulated nodes and the CronWorkflow CRD its
// distribution Application deploys (the loop creates only dev's namespace).
func prepareStaging(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(loop.Config)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "risk-staging",
		Annotations: map[string]string{"scheduler.alpha.kubernetes.io/defaultTolerations": argoloop.KwokToleration}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The pipeline's CronWorkflow references a WorkflowTemplate: staging deploys both kinds.
	if err := argoloop.InstallKitCRDs(ctx, loop.Config, "argoproj.io_cronworkflows.yaml", "argoproj.io_workflowtemplates.yaml"); err != nil {
		t.Fatal(err)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
