package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Names StartWorkflows installs Argo Workflows under, as its own manifests
// do (manifests/base/workflow-controller).
const (
	// WorkflowsNamespace holds the controller's ConfigMap; the controller
	// manages Workflows in every namespace (cluster install).
	WorkflowsNamespace = "argo"
	// WorkflowsConfigMap is the controller's configuration
	// (docs/workflow-controller-configmap.yaml).
	WorkflowsConfigMap = "workflow-controller-configmap"
	// workflowsHealthPort is where the controller serves /healthz: a fixed
	// ":6060" in cmd/workflow-controller/main.go, on every interface.
	workflowsHealthPort = 6060
)

// WorkflowsOptions chooses what StartWorkflows runs.
type WorkflowsOptions struct {
	// Kube configures the control plane the controller manages. Workflow
	// pods need a scheduler and kwok to get past Pending (Kwok), and
	// ControllerManager publishes kube-root-ca.crt and the default
	// ServiceAccount of each namespace.
	Kube KubeOptions
	// ExecutorImage is the image of the init and wait containers Argo adds
	// to each pod (never pulled: kwok runs no container). Default
	// quay.io/argoproj/argoexec:<controller version>-nonroot, the non-root
	// image docs/workflow-pod-security-context.md recommends.
	ExecutorImage string
	// Config is extra YAML for the controller's ConfigMap data, one key per
	// setting as in docs/workflow-controller-configmap.yaml (e.g.
	// {"executor": "securityContext: ..."}); it replaces the keys
	// StartWorkflows sets.
	Config map[string]string
	// HostNetwork runs everything on the host's loopback instead of in a
	// private network namespace. Needed when not root; the controller then
	// serves /healthz on 0.0.0.0:6060 (a port its code fixes, so two
	// HostNetwork instances cannot run at once) and metrics on 0.0.0.0 at
	// a free port.
	HostNetwork bool
	// Timeout bounds the whole start; default 3 minutes.
	Timeout time.Duration
}

// Workflows is a running Argo Workflows controller with its own control
// plane, inside one private network namespace (as ArgoCD is). Stop it when
// done.
type Workflows struct {
	// Kube is the control plane the controller manages; the Argo
	// Workflows CRDs are installed.
	Kube *Kube
	// Version is the controller's version, e.g. v3.7.6.
	Version string
	// ExecutorImage is the executor image the controller puts in pods.
	ExecutorImage string
	// Dir holds the controller's log (workflow-controller.log); Stop
	// removes it.
	Dir string
	// NetNSPath is the network namespace's file ("" with HostNetwork).
	NetNSPath string
	// DialContext opens connections inside the namespace (nil with
	// HostNetwork); Kube.DialContext is the same function.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	g  *group
	ns *netNS
}

// StartWorkflows starts a control plane and the Argo Workflows
// workflow-controller (hack/ensure.sh workflow-controller) inside a fresh
// network namespace: it installs the CRDs Argo's own manifests install
// (workflow-crds.yaml, from the module's manifests/base/crds/minimal),
// namespace argo with the controller's ConfigMap, starts the controller
// without leader election against the kubeconfig, and waits for its
// /healthz. Workflows in any namespace are then run by it.
//
// It needs root for the namespace unless opts.HostNetwork is set.
func StartWorkflows(opts WorkflowsOptions) (*Workflows, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	deadline := time.Now().Add(opts.Timeout)
	bins := map[string]string{}
	for _, n := range []string{"workflow-controller", "workflow-crds.yaml"} {
		p, err := LookupTool(n)
		if err != nil {
			return nil, err
		}
		bins[n] = p
	}
	var ns *netNS
	if !opts.HostNetwork {
		var err error
		if ns, err = newNetNS(); err != nil {
			return nil, fmt.Errorf("start workflows: %w: %w (run as root, or set WorkflowsOptions.HostNetwork)", errNoNetNS, err)
		}
	}
	dir, err := mkTempDir("", "lakeport-workflows-")
	if err != nil {
		if ns != nil {
			ns.close()
		}
		return nil, err
	}
	w := &Workflows{Dir: dir, g: &group{dir: dir}, ns: ns, Version: toolVersion(bins["workflow-controller"], "workflow-controller")}
	if ns != nil {
		w.NetNSPath = ns.path
		w.DialContext = ns.DialContext
	}
	w.ExecutorImage = opts.ExecutorImage
	if w.ExecutorImage == "" {
		w.ExecutorImage = "quay.io/argoproj/argoexec:" + w.Version + "-nonroot"
	}
	opts.Kube.Timeout = time.Until(deadline)
	if w.Kube, err = startKube(opts.Kube, ns); err != nil {
		w.Stop()
		return nil, fmt.Errorf("start workflows: %w", err)
	}
	if err := w.start(opts, bins, deadline); err != nil {
		w.Stop()
		return nil, fmt.Errorf("start workflows: %w", err)
	}
	return w, nil
}

// Stop ends the controller and the control plane, closes the namespace and
// removes the temp folders. It is safe to call more than once, and on nil.
func (w *Workflows) Stop() {
	if w == nil {
		return
	}
	if w.g != nil {
		w.g.stop()
	}
	w.Kube.Stop()
	if w.ns != nil {
		w.ns.close()
		w.ns = nil
	}
}

// Start starts cmd inside the network namespace (plainly, with
// HostNetwork), e.g. kubectl with Kube.KubeconfigPath; Wait for it as usual.
func (w *Workflows) Start(cmd *exec.Cmd) error {
	if w.ns == nil {
		return cmd.Start()
	}
	var err error
	w.ns.do(func() { err = cmd.Start() })
	return err
}

func (w *Workflows) start(opts WorkflowsOptions, bins map[string]string, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := w.Kube.InstallCRDs(ctx, bins["workflow-crds.yaml"]); err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	// Argo serves metrics over TLS with a self-signed certificate by
	// default (>= v3.6); a free port keeps HostNetwork runs apart.
	config := map[string]string{
		"executor":      "image: " + w.ExecutorImage + "\nimagePullPolicy: IfNotPresent\n",
		"metricsConfig": "enabled: true\nport: " + strconv.Itoa(ports[0]) + "\n",
	}
	for k, v := range opts.Config {
		config[k] = v
	}
	objects := []struct {
		path string
		obj  map[string]any
	}{
		{"/api/v1/namespaces", map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": WorkflowsNamespace},
		}},
		{"/api/v1/namespaces/" + WorkflowsNamespace + "/configmaps", map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": WorkflowsConfigMap},
			"data":     config,
		}},
	}
	for _, o := range objects {
		if err := w.Kube.do(ctx, http.MethodPost, o.path, o.obj, nil); err != nil {
			return fmt.Errorf("create %s: %w", o.path, err)
		}
	}

	p, err := startProc(procSpec{
		ns: w.ns, name: "workflow-controller", path: bins["workflow-controller"], dir: w.Dir,
		logPath: filepath.Join(w.Dir, "workflow-controller.log"),
		args: []string{
			"--kubeconfig", w.Kube.KubeconfigPath,
			"--namespace", WorkflowsNamespace,
			"--configmap", WorkflowsConfigMap,
			// Fewer workers than a production install: a test runs a few
			// workflows on a small machine.
			"--workflow-workers", "4", "--pod-cleanup-workers", "2", "--cron-workflow-workers", "2",
			"--workflow-ttl-workers", "1", "--workflow-archive-workers", "1",
			"--qps", "50", "--burst", "100",
		},
		env: []string{
			// One controller, no Lease: leader election would delay the
			// start by a lease period.
			"LEADER_ELECTION_DISABLE=true",
			// The workflow queue's re-queue time (10 s by default): how long a step's finish can
			// wait before the controller acts on it. Argo Workflows' own tests run with 1 s
			// ("by keeping this short we speed up tests", its Makefile at v3.7.6), the floor
			// its rate_limiters.go gives; a pipeline run here took 5 to 6 s per step.
			"DEFAULT_REQUEUE_TIME=1s",
			"HOME=" + w.Dir,
		},
	})
	if err != nil {
		return err
	}
	w.g.add(p)
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: w.DialContext}}
	return waitFor(p, "workflow-controller /healthz", time.Until(deadline), func(ctx context.Context) error {
		return getOK(ctx, plain, "http://"+hostPort(workflowsHealthPort)+"/healthz", "")
	})
}

// toolVersion reads a tool's version from the cache folder its link points
// at (hack/ensure.sh: tools/<name>-<version>/<name>); "unknown" otherwise.
func toolVersion(path, name string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if v, ok := strings.CutPrefix(filepath.Base(filepath.Dir(path)), name+"-"); ok && v != "" {
		return v
	}
	return "unknown"
}
