package testenv

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ArgoCDNamespace is where StartArgoCD installs Argo CD; Applications go there.
const ArgoCDNamespace = "argocd"

// ArgoCDOptions chooses what StartArgoCD runs.
type ArgoCDOptions struct {
	// Kube configures the control plane Argo CD deploys to, e.g.
	// ControllerManager and Kwok for Deployments that become Healthy.
	Kube KubeOptions
	// ApplicationSet starts argocd-applicationset-controller.
	ApplicationSet bool
	// Server starts argocd-server (the API and UI, plain HTTP) and reads
	// the generated admin password.
	Server bool
	// AppResync is the controller's full refresh period (--app-resync);
	// default 10s, so a new commit is noticed quickly. Tests that cannot wait
	// can annotate an Application argocd.argoproj.io/refresh=normal.
	AppResync time.Duration
	// HostNetwork runs everything on the host's loopback instead of in a
	// private network namespace. Needed when not root; the application
	// controller then serves metrics on 0.0.0.0:<free port>.
	HostNetwork bool
	// Timeout bounds the whole start; default 4 minutes.
	Timeout time.Duration
}

// ArgoCD is a running Argo CD (repo-server, application-controller, and as
// asked applicationset-controller and argocd-server) with Redis and its own
// control plane, all inside one private network namespace. Stop it when
// done.
//
// Addresses are 127.0.0.1 inside that namespace: reach them with
// DialContext (HTTPClient and Kube.HTTPClient already do) and run command
// line tools (kubectl, the lakeport CLI) with Start.
type ArgoCD struct {
	// Kube is the control plane Argo CD manages (its in-cluster
	// destination, https://kubernetes.default.svc) and stores its
	// resources in, namespace ArgoCDNamespace.
	Kube *Kube
	// RepoServer and Redis are host:port addresses.
	RepoServer, Redis string
	// ServerURL is argocd-server's http URL when Options.Server is set;
	// AdminPassword is the "admin" user's generated password.
	ServerURL, AdminPassword string
	// Dir holds the logs (<component>.log), Redis' folder and the
	// repo-server's HOME and TMPDIR; Stop removes it.
	Dir string
	// NetNSPath is the network namespace's file, for `nsenter
	// --net=<NetNSPath>` (root only); "" with HostNetwork.
	NetNSPath string
	// DialContext opens connections inside the namespace (nil with
	// HostNetwork).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	g  *group
	ns *netNS
}

// StartArgoCD starts a control plane and Argo CD v3 inside a fresh network
// namespace, installs the CRDs, namespace argocd, argocd-cm, argocd-secret
// and the default AppProject, and waits for every component's health check.
// Git repositories can be file:// URLs (a bare repository in a temp dir);
// helm, git and git-verify-wrapper.sh come from $LAKEPORT_TOOLS and PATH.
//
// It needs root for the namespace unless opts.HostNetwork is set.
func StartArgoCD(opts ArgoCDOptions) (*ArgoCD, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 4 * time.Minute
	}
	if opts.AppResync == 0 {
		opts.AppResync = 10 * time.Second
	}
	deadline := time.Now().Add(opts.Timeout)
	bins := map[string]string{}
	for _, n := range []string{"argocd", "argocd-crds.yaml", "git-verify-wrapper.sh", "helm", "redis-server", "git"} {
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
			return nil, fmt.Errorf("start argocd: %w: %w (run as root, or set ArgoCDOptions.HostNetwork)", errNoNetNS, err)
		}
	}
	dir, err := mkTempDir("", "lakeport-argocd-")
	if err != nil {
		if ns != nil {
			ns.close()
		}
		return nil, err
	}
	a := &ArgoCD{Dir: dir, g: &group{dir: dir}, ns: ns}
	if ns != nil {
		a.NetNSPath = ns.path
		a.DialContext = ns.DialContext
	}
	opts.Kube.Timeout = time.Until(deadline) // ArgoCDOptions.Timeout bounds everything
	if a.Kube, err = startKube(opts.Kube, ns); err != nil {
		a.Stop()
		return nil, fmt.Errorf("start argocd: %w", err)
	}
	if err := a.start(opts, bins, deadline); err != nil {
		a.Stop()
		return nil, fmt.Errorf("start argocd: %w", err)
	}
	return a, nil
}

// Stop ends Argo CD, Redis and the control plane, closes the namespace and
// removes the temp folders. It is safe to call more than once.
func (a *ArgoCD) Stop() {
	if a == nil {
		return
	}
	if a.g != nil {
		a.g.stop() // Argo CD and Redis, and Dir
	}
	a.Kube.Stop()
	if a.ns != nil {
		a.ns.close()
		a.ns = nil
	}
}

// Start starts cmd inside the network namespace (plainly, with
// HostNetwork); Wait for it as usual. Kube.KubeconfigPath works there.
func (a *ArgoCD) Start(cmd *exec.Cmd) error {
	if a.ns == nil {
		return cmd.Start()
	}
	var err error
	a.ns.do(func() { err = cmd.Start() })
	return err
}

// HTTPClient returns a plain HTTP client that reaches addresses inside the
// namespace (argocd-server's ServerURL).
func (a *ArgoCD) HTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: a.DialContext}}
}

func (a *ArgoCD) start(opts ArgoCDOptions, bins map[string]string, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := a.install(ctx, bins["argocd-crds.yaml"]); err != nil {
		return err
	}

	ports, err := freePorts(9)
	if err != nil {
		return err
	}
	redisPort, repoPort, repoMetrics, ctrlMetrics, appsetMetrics, appsetProbe, appsetWebhook, serverPort, serverMetrics :=
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8]
	a.Redis = hostPort(redisPort)
	a.RepoServer = hostPort(repoPort)
	plain := a.HTTPClient()
	plain.Timeout = 5 * time.Second

	for _, d := range []string{"redis", "home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(a.Dir, d), 0o755); err != nil {
			return fmt.Errorf("make %s dir: %w", d, err)
		}
	}
	redis, err := startProc(procSpec{
		ns: a.ns, name: "redis-server", path: bins["redis-server"], dir: filepath.Join(a.Dir, "redis"),
		logPath: filepath.Join(a.Dir, "redis-server.log"),
		args: []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(redisPort),
			"--save", "", "--appendonly", "no", "--dir", filepath.Join(a.Dir, "redis")},
	})
	if err != nil {
		return err
	}
	a.g.add(redis)
	if err := waitFor(redis, "redis", time.Until(deadline), func(ctx context.Context) error {
		c, err := a.dial(ctx, a.Redis)
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		return err
	}

	// Every component is the one argocd binary, told what to be by
	// ARGOCD_BINARY_NAME. The fake in-cluster config makes the
	// https://kubernetes.default.svc destination mean --kubeconfig's cluster.
	toolsDir := filepath.Dir(bins["git-verify-wrapper.sh"])
	env := []string{
		"PATH=" + toolsDir + string(os.PathListSeparator) + filepath.Dir(bins["helm"]) +
			string(os.PathListSeparator) + filepath.Dir(bins["git"]) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + filepath.Join(a.Dir, "home"),
		"TMPDIR=" + filepath.Join(a.Dir, "tmp"),
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"ARGOCD_GPG_ENABLED=false",
		// The ApplicationSet controller loads its config through
		// controller-runtime, which reads KUBECONFIG, not --kubeconfig.
		"KUBECONFIG=" + a.Kube.KubeconfigPath,
	}
	kc := a.Kube.KubeconfigPath
	type component struct {
		name   string
		args   []string
		health string // URL whose 2xx means ready
	}
	comps := []component{
		{
			name: "argocd-repo-server",
			args: []string{"--address", "127.0.0.1", "--port", strconv.Itoa(repoPort),
				"--disable-tls", "--client-ca-path", "",
				"--redis", a.Redis,
				"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(repoMetrics)},
			health: "http://" + hostPort(repoMetrics) + "/healthz",
		},
		{
			name: "argocd-application-controller",
			args: []string{"--kubeconfig", kc, "--namespace", ArgoCDNamespace,
				"--repo-server", a.RepoServer, "--repo-server-plaintext",
				"--redis", a.Redis,
				"--metrics-port", strconv.Itoa(ctrlMetrics),
				"--app-resync", strconv.Itoa(int(opts.AppResync.Seconds())),
				"--status-processors", "2", "--operation-processors", "2"},
			health: "http://" + hostPort(ctrlMetrics) + "/healthz",
		},
	}
	if opts.ApplicationSet {
		comps = append(comps, component{
			name: "argocd-applicationset-controller",
			args: []string{"--kubeconfig", kc, "--namespace", ArgoCDNamespace,
				"--argocd-repo-server", a.RepoServer, "--repo-server-plaintext",
				"--metrics-addr", hostPort(appsetMetrics), "--probe-addr", hostPort(appsetProbe),
				"--webhook-addr", hostPort(appsetWebhook), "--enable-leader-election=false"},
			// It registers no health checks, so its probe address answers
			// 404; metrics are served once the manager runs.
			health: "http://" + hostPort(appsetMetrics) + "/metrics",
		})
	}
	if opts.Server {
		a.ServerURL = "http://" + hostPort(serverPort)
		comps = append(comps, component{
			name: "argocd-server",
			args: []string{"--kubeconfig", kc, "--namespace", ArgoCDNamespace,
				"--insecure", "--address", "127.0.0.1", "--port", strconv.Itoa(serverPort),
				"--metrics-port", strconv.Itoa(serverMetrics),
				"--repo-server", a.RepoServer, "--repo-server-plaintext",
				"--redis", a.Redis, "--staticassets", filepath.Join(a.Dir, "tmp")},
			health: a.ServerURL + "/healthz",
		})
	}
	started := make([]*proc, len(comps))
	for i, c := range comps {
		p, err := startProc(procSpec{
			ns: a.ns, name: c.name, path: bins["argocd"], args: c.args, dir: a.Dir,
			logPath: filepath.Join(a.Dir, c.name+".log"),
			env:     append([]string{"ARGOCD_BINARY_NAME=" + c.name}, env...),
		})
		if err != nil {
			return err
		}
		a.g.add(p)
		started[i] = p
	}
	for i, c := range comps {
		if err := waitFor(started[i], c.name+" /healthz", time.Until(deadline), func(ctx context.Context) error {
			return getOK(ctx, plain, c.health, "")
		}); err != nil {
			return err
		}
	}
	if opts.Server {
		return a.readAdminPassword(started[len(started)-1], deadline)
	}
	return nil
}

func (a *ArgoCD) dial(ctx context.Context, addr string) (net.Conn, error) {
	if a.DialContext != nil {
		return a.DialContext(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// install creates what the Argo CD manifests would: the CRDs (server-side
// apply: the ApplicationSet CRD is too big for a last-applied annotation),
// the namespace, argocd-cm, argocd-secret and the default AppProject.
func (a *ArgoCD) install(ctx context.Context, crdFile string) error {
	b, err := os.ReadFile(crdFile)
	if err != nil {
		return fmt.Errorf("read CRDs: %w", err)
	}
	var names []string
	for _, doc := range splitYAML(string(b)) {
		name := yamlMetadataName(doc)
		if name == "" {
			continue
		}
		if err := a.Kube.apply(ctx, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, doc); err != nil {
			return fmt.Errorf("apply CRD %s: %w", name, err)
		}
		names = append(names, name)
	}
	for _, name := range names {
		if err := waitFor(nil, "CRD "+name+" Established", 30*time.Second, func(ctx context.Context) error {
			var crd struct {
				Status struct {
					Conditions []struct{ Type, Status string } `json:"conditions"`
				} `json:"status"`
			}
			if err := a.Kube.do(ctx, http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, nil, &crd); err != nil {
				return err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == "Established" && c.Status == "True" {
					return nil
				}
			}
			return errNotYet
		}); err != nil {
			return err
		}
	}

	partOf := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	objects := []struct {
		path string
		obj  map[string]any
	}{
		{"/api/v1/namespaces", map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ArgoCDNamespace},
		}},
		{"/api/v1/namespaces/" + ArgoCDNamespace + "/configmaps", map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "argocd-cm", "labels": partOf},
			"data":     map[string]string{"admin.enabled": "true"},
		}},
		{"/api/v1/namespaces/" + ArgoCDNamespace + "/configmaps", map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "argocd-rbac-cm", "labels": partOf},
		}},
		{"/api/v1/namespaces/" + ArgoCDNamespace + "/secrets", map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": "argocd-secret", "labels": partOf},
			"stringData": map[string]string{"server.secretkey": randomHex(32)},
		}},
		{"/apis/argoproj.io/v1alpha1/namespaces/" + ArgoCDNamespace + "/appprojects", map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
			"metadata": map[string]any{"name": "default"},
			"spec": map[string]any{
				"sourceRepos":              []string{"*"},
				"destinations":             []map[string]string{{"server": "*", "namespace": "*"}},
				"clusterResourceWhitelist": []map[string]string{{"group": "*", "kind": "*"}},
			},
		}},
	}
	for _, o := range objects {
		if err := a.Kube.do(ctx, http.MethodPost, o.path, o.obj, nil); err != nil {
			return fmt.Errorf("create %s: %w", o.path, err)
		}
	}
	return nil
}

// readAdminPassword waits for argocd-server to create
// argocd-initial-admin-secret and reads the admin password from it.
func (a *ArgoCD) readAdminPassword(server *proc, deadline time.Time) error {
	return waitFor(server, "argocd-initial-admin-secret", time.Until(deadline), func(ctx context.Context) error {
		var s struct {
			Data map[string]string `json:"data"`
		}
		if err := a.Kube.do(ctx, http.MethodGet, "/api/v1/namespaces/"+ArgoCDNamespace+"/secrets/argocd-initial-admin-secret", nil, &s); err != nil {
			return err
		}
		pw, err := base64.StdEncoding.DecodeString(s.Data["password"])
		if err != nil || len(pw) == 0 {
			return errors.Join(errNotYet, err)
		}
		a.AdminPassword = string(pw)
		return nil
	})
}

// apply server-side-applies one YAML document at path (the object's URL).
func (k *Kube) apply(ctx context.Context, path, yamlDoc string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch,
		k.URL+path+"?fieldManager=lakeport-testenv&force=true", strings.NewReader(yamlDoc))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/apply-patch+yaml")
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &StatusError{Code: resp.StatusCode, Body: string(b)}
	}
	return nil
}

// splitYAML splits a multi-document YAML stream on "---" lines.
func splitYAML(s string) []string {
	var docs []string
	for _, d := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(s, -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

// yamlMetadataName finds metadata.name in a plainly formatted manifest
// (two-space indentation), which is all the CRD files need.
var metadataName = regexp.MustCompile(`(?m)^metadata:\n(?:(?:  .*|\s*)\n)*?  name: *['"]?([^'"\s]+)`)

func yamlMetadataName(doc string) string {
	m := metadataName.FindStringSubmatch(doc)
	if m == nil {
		return ""
	}
	return m[1]
}
