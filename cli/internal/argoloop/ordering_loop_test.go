package argoloop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/lakeport/lakeport/cli/internal/argoloop"
)

// orderNS is the namespace of TestOrderingOnTheLoop: an environment of its own, so that
// distribution can be synced there before MinIO and Trino exist.
const orderNS = "risk-order"

// TestOrderingOnTheLoop: distribution is synced into a namespace where neither MinIO nor Trino
// (nor a database) exists, on the real Argo CD loop, as the ApplicationSet would generate it (the
// live dev-distribution Application's spec, pointed at another namespace). Since Argo CD gives
// Applications no order, that must work:
//   - the sync operation succeeds at once: no hook stands in the way (the migration used to be a
//     PreSync hook, which ran on every sync and whose failure failed the sync);
//   - while the migration Job is still running (waiting for its services), the Application is
//     Progressing, not failed, and drift repair goes on: a deleted ConfigMap is put back by
//     self-heal;
//   - MinIO and Trino are then synced; once they are Healthy the migration "finishes" and
//     distribution becomes Synced and Healthy with no manual step (no re-sync, no deleted hook).
//
// What kwok proves and what it does not: kwok runs no container. It marks pods Running and Ready
// and, for Job pods, Succeeded after a delay read from the pod annotation
// pod-complete.stage.kwok.x-k8s.io/delay. The test sets that delay to an hour on distribution's
// pods (through the chart's podAnnotations; hack/ensure.sh gives kwok the stage that reads it), so the migration pod stays Running like one that waits
// for the database, and completes it itself (pod status Succeeded) once MinIO and Trino are
// Healthy, standing in for the wait loop's return. That the real binary waits, retries with a
// bounded backoff and logs what it waits for is tested against real sockets in
// jobs/internal/wait; that MinIO's provisioning hook waits and fails on mc errors is tested by
// running its script in charts/spark_minio_test.go. This test proves the Argo CD side: the order
// of syncs does not matter and nothing needs a hand.
func TestOrderingOnTheLoop(t *testing.T) {
	l := needLoop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(l.Config)
	apps := argoclient.NewForConfigOrDie(l.Config).ArgoprojV1alpha1()

	// The namespace (kwok toleration as for dev) and an AppProject fencing it, copied from dev's.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: orderNS,
		Annotations: map[string]string{"scheduler.alpha.kubernetes.io/defaultTolerations": argoloop.KwokToleration}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	devProject, err := apps.AppProjects(l.Namespace).Get(ctx, "lakeport-dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	project := &argov1.AppProject{ObjectMeta: metav1.ObjectMeta{Name: "lakeport-order", Namespace: l.Namespace}, Spec: *devProject.Spec.DeepCopy()}
	for i := range project.Spec.Destinations {
		project.Spec.Destinations[i].Namespace = orderNS
	}
	if _, err := apps.AppProjects(l.Namespace).Create(ctx, project, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	// app creates order-<component> from the live dev-<component> Application.
	var created []string
	t.Cleanup(func() { cleanupOrdering(t, l.Namespace, created) })
	app := func(component string, podAnnotations map[string]string) {
		t.Helper()
		var dev *argov1.Application
		if err := pollUntil(ctx, 2*time.Minute, func() (bool, error) {
			a, err := apps.Applications(l.Namespace).Get(ctx, "dev-"+component, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil // the applicationset-controller has not generated it yet
			}
			dev = a
			return err == nil, err
		}); err != nil {
			t.Fatalf("dev-%s was never generated: %v", component, err)
		}
		spec := dev.Spec.DeepCopy()
		spec.Project = project.Name
		spec.Destination.Namespace = orderNS
		if podAnnotations != nil {
			raw, err := json.Marshal(map[string]any{"podAnnotations": podAnnotations})
			if err != nil {
				t.Fatal(err)
			}
			spec.Sources[0].Helm.ValuesObject = &runtime.RawExtension{Raw: raw}
		}
		a := &argov1.Application{ObjectMeta: metav1.ObjectMeta{Name: "order-" + component, Namespace: l.Namespace,
			Finalizers: []string{"resources-finalizer.argocd.argoproj.io"}}, Spec: *spec}
		if _, err := apps.Applications(l.Namespace).Create(ctx, a, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		created = append(created, a.Name)
	}
	status := func(name string) (*argov1.Application, error) {
		return apps.Applications(l.Namespace).Get(ctx, name, metav1.GetOptions{})
	}

	// 1. distribution alone.
	start := time.Now()
	app("distribution", map[string]string{
		"pod-complete.stage.kwok.x-k8s.io/delay":        "1h",
		"pod-complete.stage.kwok.x-k8s.io/jitter-delay": "1h", // kwok takes the jitter when it is not longer than the delay
	})
	var migratePod *corev1.Pod
	if err := pollUntil(ctx, 5*time.Minute, func() (bool, error) {
		a, err := status("order-distribution")
		if err != nil {
			return false, err
		}
		op := a.Status.OperationState
		if op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
			return false, fmt.Errorf("the sync of distribution alone failed: %s", op.Message)
		}
		if op == nil || op.Phase != "Succeeded" {
			return false, nil
		}
		pods, err := cs.CoreV1().Pods(orderNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=migrate"})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		migratePod = &pods.Items[0]
		return migratePod.Status.Phase == corev1.PodRunning, nil
	}); err != nil {
		dumpCluster(t)
		t.Fatalf("distribution synced alone: %v\n--- application controller\n%s", err, loop.Logs("argocd-application-controller", 40))
	}
	t.Logf("distribution synced alone in %s; migration pod %s running (waiting for its services)", time.Since(start).Round(time.Second), migratePod.Name)
	for _, other := range []string{"minio", "trino"} {
		if svcs, _ := cs.CoreV1().Services(orderNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + other}); len(svcs.Items) > 0 {
			t.Fatalf("%s already exists in %s: the test does not show what it claims", other, orderNS)
		}
	}
	a, err := status("order-distribution")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status.Health.Status != "Progressing" {
		t.Errorf("distribution with its migration waiting is %s, want Progressing", a.Status.Health.Status)
	}
	for _, r := range a.Status.OperationState.SyncResult.Resources {
		if r.HookType != "" {
			t.Errorf("the sync ran hook %s %s (%s): a hook runs on every sync", r.Kind, r.Name, r.HookType)
		}
	}

	// 2. Drift repair is not blocked by the pending migration: self-heal restores a deleted ConfigMap.
	cm := "distribution-config"
	if err := cs.CoreV1().ConfigMaps(orderNS).Delete(ctx, cm, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pollUntil(ctx, 4*time.Minute, func() (bool, error) {
		_, err := cs.CoreV1().ConfigMaps(orderNS).Get(ctx, cm, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}); err != nil {
		t.Fatalf("self-heal did not restore ConfigMap %s while the migration waited: %v", cm, err)
	}
	if pods, _ := cs.CoreV1().Pods(orderNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=migrate"}); len(pods.Items) != 1 {
		t.Errorf("%d migration pods after a self-heal, want the one still running (a hook would have been recreated)", len(pods.Items))
	}

	// 3. MinIO and Trino arrive; once they are Healthy the migration's wait returns.
	app("minio", nil)
	app("trino", nil)
	for _, name := range []string{"order-minio", "order-trino"} {
		if err := waitHealthy(ctx, apps.Applications(l.Namespace), name, 6*time.Minute); err != nil {
			dumpCluster(t)
			t.Fatalf("%s: %v", name, err)
		}
	}
	pod, err := cs.CoreV1().Pods(orderNS).Get(ctx, migratePod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("the migration pod is %s before the test completed it: kwok ignored the delay annotation, so this run does not model a waiting migration", pod.Status.Phase)
	}
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = false
		pod.Status.ContainerStatuses[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}
	}
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady || pod.Status.Conditions[i].Type == corev1.ContainersReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
			pod.Status.Conditions[i].Reason = "PodCompleted"
		}
	}
	if _, err := cs.CoreV1().Pods(orderNS).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("complete the migration pod: %v", err)
	}
	if err := waitHealthy(ctx, apps.Applications(l.Namespace), "order-distribution", 6*time.Minute); err != nil {
		dumpCluster(t)
		t.Fatalf("distribution after MinIO and Trino: %v", err)
	}
	t.Logf("distribution Healthy %s after its first sync, with no manual step", time.Since(start).Round(time.Second))
}

// waitHealthy waits until an Application is Synced and Healthy and its last operation succeeded.
func waitHealthy(ctx context.Context, apps interface {
	Get(context.Context, string, metav1.GetOptions) (*argov1.Application, error)
}, name string, timeout time.Duration) error {
	var last string
	err := pollUntil(ctx, timeout, func() (bool, error) {
		a, err := apps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		op := ""
		if a.Status.OperationState != nil {
			op = string(a.Status.OperationState.Phase) + " " + a.Status.OperationState.Message
		}
		last = fmt.Sprintf("sync %s, health %s %s, operation %s", a.Status.Sync.Status, a.Status.Health.Status, a.Status.Health.Message, op)
		for _, r := range a.Status.Resources {
			if r.Health != nil && r.Health.Status != "Healthy" {
				last += fmt.Sprintf("; %s/%s %s %s", r.Kind, r.Name, r.Health.Status, r.Health.Message)
			}
		}
		return a.Status.Sync.Status == argov1.SyncStatusCodeSynced && a.Status.Health.Status == "Healthy" &&
			a.Status.OperationState != nil && a.Status.OperationState.Phase == "Succeeded", nil
	})
	if err != nil {
		return fmt.Errorf("%w (last: %s)", err, last)
	}
	return nil
}

// cleanupOrdering deletes the test's Applications (their finalizer removes what they deployed),
// waits until they are gone, so that the other tests see only the ApplicationSet's, and deletes
// the namespace and the AppProject.
func cleanupOrdering(t *testing.T, argoNS string, names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	apps := argoclient.NewForConfigOrDie(loop.Config).ArgoprojV1alpha1()
	for _, n := range names {
		if err := apps.Applications(argoNS).Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s: %v", n, err)
		}
	}
	err := pollUntil(ctx, 3*time.Minute, func() (bool, error) {
		list, err := apps.Applications(argoNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, a := range list.Items {
			if strings.HasPrefix(a.Name, "order-") {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("the ordering test's Applications were not deleted: %v", err)
	}
	_ = apps.AppProjects(argoNS).Delete(ctx, "lakeport-order", metav1.DeleteOptions{})
	_ = kubernetes.NewForConfigOrDie(loop.Config).CoreV1().Namespaces().Delete(ctx, orderNS, metav1.DeleteOptions{})
}

// pollUntil calls f every second until it returns true, an error, or timeout passes.
func pollUntil(ctx context.Context, timeout time.Duration, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s", timeout)
		case <-time.After(time.Second):
		}
	}
}
