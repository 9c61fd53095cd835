package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KwokNodeAnnotation marks the Nodes kwok simulates; KwokTaint keeps real
// workloads off them. Pods meant to run on the simulated Node need a
// toleration for the taint (or the namespace default tolerations that the
// PodTolerationRestriction admission plugin applies).
const (
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
	KwokTaintKey       = "kwok.x-k8s.io/node"
	KwokTaintValue     = "fake"
)

// KubeOptions chooses what StartKube runs besides etcd and kube-apiserver.
type KubeOptions struct {
	// ControllerManager starts kube-controller-manager, so Deployments get
	// ReplicaSets and Pods, namespaces are finalised, and so on.
	ControllerManager bool
	// Scheduler starts kube-scheduler, which binds Pods to Nodes.
	Scheduler bool
	// Kwok starts kwok and creates one simulated Node (Kube.NodeName)
	// annotated kwok.x-k8s.io/node=fake and tainted
	// kwok.x-k8s.io/node=fake:NoSchedule. kwok makes bound Pods Running and
	// Ready. Kwok implies Scheduler: without it no Pod is ever bound.
	Kwok bool
	// EnableAdmissionPlugins are added to the apiserver's defaults, e.g.
	// "PodTolerationRestriction" (namespace-level default tolerations).
	EnableAdmissionPlugins []string
	// APIServerArgs are extra kube-apiserver flags, appended last.
	APIServerArgs []string
	// Timeout bounds the whole start; default 2 minutes (a cold start on a
	// loaded 2-core machine is a few seconds).
	Timeout time.Duration
}

// Kube is a running control plane. Stop it when done.
type Kube struct {
	// URL is the apiserver's https URL, e.g. https://127.0.0.1:43121.
	URL string
	// Token is a bearer token in group system:masters.
	Token string
	// KubeconfigPath is a kubeconfig (context "lakeport", namespace
	// "default") for URL, Token and CAData; pass it to kubectl, helm or
	// client-go's clientcmd.
	KubeconfigPath string
	// CAData is the PEM CA that signed the apiserver's serving certificate.
	CAData []byte
	// Dir holds the data, keys and one log per process (<name>.log); it is
	// removed by Stop.
	Dir string
	// NodeName is the simulated Node when KubeOptions.Kwok is set.
	NodeName string
	// DialContext is nil unless the control plane runs in a private network
	// namespace (StartArgoCD). Then URL is only reachable through it: set it
	// as http.Transport.DialContext or client-go's rest.Config.Dial
	// (HTTPClient already does), and run command-line clients with
	// ArgoCD.Command.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	g      *group
	client *http.Client
	ns     *netNS
}

// StartKube starts etcd and kube-apiserver (and, as opts ask,
// kube-controller-manager, kube-scheduler and kwok) on free 127.0.0.1 ports
// and waits until the apiserver is ready. It needs no testing.T, so that a
// package can start one control plane in TestMain. On error everything
// started is stopped; the error includes the tail of the failing process's
// log, and is a *MissingToolError when a binary is not installed.
func StartKube(opts KubeOptions) (*Kube, error) {
	return startKube(opts, nil)
}

// startKube is StartKube, inside ns when it is not nil.
func startKube(opts KubeOptions, ns *netNS) (*Kube, error) {
	if opts.Kwok {
		opts.Scheduler = true
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	deadline := time.Now().Add(opts.Timeout)

	need := []string{"etcd", "kube-apiserver"}
	if opts.ControllerManager {
		need = append(need, "kube-controller-manager")
	}
	if opts.Scheduler {
		need = append(need, "kube-scheduler")
	}
	if opts.Kwok {
		need = append(need, "kwok", "kwok-stages.yaml")
	}
	bins := map[string]string{}
	for _, n := range need {
		p, err := LookupTool(n)
		if err != nil {
			return nil, err
		}
		bins[n] = p
	}

	dir, err := mkTempDir("", "lakeport-kube-")
	if err != nil {
		return nil, err
	}
	k := &Kube{Dir: dir, Token: randomHex(24), g: &group{dir: dir}, ns: ns}
	if ns != nil {
		k.DialContext = ns.DialContext
	}
	if err := k.start(opts, bins, deadline); err != nil {
		k.Stop()
		return nil, fmt.Errorf("start kube: %w", err)
	}
	return k, nil
}

// Stop ends every process StartKube started (by process group) and removes
// Dir. It is safe to call more than once.
func (k *Kube) Stop() {
	if k != nil && k.g != nil {
		k.g.stop()
	}
}

func (k *Kube) start(opts KubeOptions, bins map[string]string, deadline time.Time) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	pki := filepath.Join(k.Dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return fmt.Errorf("make pki dir: %w", err)
	}
	serving, err := writeServingPKI(pki)
	if err != nil {
		return err
	}
	k.CAData = serving.caPEM
	if err := writeServiceAccountKeys(pki); err != nil {
		return err
	}
	tokens := filepath.Join(pki, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(k.Token+",lakeport-admin,lakeport-admin,system:masters\n"), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}

	// etcd
	etcdURL := "http://" + hostPort(etcdPort)
	peerURL := "http://" + hostPort(peerPort)
	etcd, err := startProc(procSpec{ns: k.ns,
		name: "etcd", path: bins["etcd"], logPath: filepath.Join(k.Dir, "etcd.log"),
		args: []string{
			"--name=default",
			"--data-dir=" + filepath.Join(k.Dir, "etcd"),
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=default=" + peerURL,
			"--unsafe-no-fsync=true",
			"--log-level=warn",
		},
	})
	if err != nil {
		return err
	}
	k.g.add(etcd)
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: k.DialContext}}
	if err := waitFor(etcd, "etcd /health", time.Until(deadline), func(ctx context.Context) error {
		return getOK(ctx, plain, etcdURL+"/health", "")
	}); err != nil {
		return err
	}

	// kube-apiserver
	enable := slices.Clone(opts.EnableAdmissionPlugins)
	// Without the token controller there is no "default" ServiceAccount, and
	// the ServiceAccount admission plugin would reject every Pod.
	disable := []string{}
	if !slices.Contains(enable, "ServiceAccount") {
		disable = append(disable, "ServiceAccount")
	}
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		// The default reconciler refuses a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + filepath.Join(pki, "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "serving.key"),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--cert-dir=" + filepath.Join(k.Dir, "apiserver-certs"),
	}
	if len(disable) > 0 {
		args = append(args, "--disable-admission-plugins="+strings.Join(disable, ","))
	}
	if len(enable) > 0 {
		args = append(args, "--enable-admission-plugins="+strings.Join(enable, ","))
	}
	args = append(args, opts.APIServerArgs...)
	api, err := startProc(procSpec{ns: k.ns,
		name: "kube-apiserver", path: bins["kube-apiserver"], args: args,
		logPath: filepath.Join(k.Dir, "kube-apiserver.log"),
	})
	if err != nil {
		return err
	}
	k.g.add(api)
	k.URL = "https://" + hostPort(apiPort)
	if k.client, err = newClient(k.CAData, k.Token, k.DialContext); err != nil {
		return err
	}
	if err := waitFor(api, "kube-apiserver /readyz", time.Until(deadline), func(ctx context.Context) error {
		return getOK(ctx, k.client, k.URL+"/readyz", "")
	}); err != nil {
		return err
	}
	k.KubeconfigPath = filepath.Join(k.Dir, "kubeconfig")
	if err := os.WriteFile(k.KubeconfigPath, k.kubeconfig(), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := k.waitDefaultNamespace(api, deadline); err != nil {
		return err
	}

	// Controllers talk to the apiserver with the same system:masters token;
	// their own serving ports are off (--secure-port=0).
	kc := k.KubeconfigPath
	common := []string{"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc, "--leader-elect=false", "--secure-port=0"}
	var later []*proc
	if opts.ControllerManager {
		p, err := startProc(procSpec{ns: k.ns,
			name: "kube-controller-manager", path: bins["kube-controller-manager"],
			logPath: filepath.Join(k.Dir, "kube-controller-manager.log"),
			args: append(slices.Clone(common),
				"--service-account-private-key-file="+filepath.Join(pki, "sa.key"),
				"--root-ca-file="+filepath.Join(pki, "ca.crt"),
				"--use-service-account-credentials=false",
			),
		})
		if err != nil {
			return err
		}
		k.g.add(p)
		later = append(later, p)
	}
	if opts.Scheduler {
		p, err := startProc(procSpec{ns: k.ns,
			name: "kube-scheduler", path: bins["kube-scheduler"], args: slices.Clone(common),
			logPath: filepath.Join(k.Dir, "kube-scheduler.log"),
		})
		if err != nil {
			return err
		}
		k.g.add(p)
		later = append(later, p)
	}
	if opts.Kwok {
		p, err := startProc(procSpec{ns: k.ns,
			name: "kwok", path: bins["kwok"],
			logPath: filepath.Join(k.Dir, "kwok.log"),
			args: []string{
				"--kubeconfig=" + kc,
				"--config=" + bins["kwok-stages.yaml"],
				"--manage-all-nodes=false",
				"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=" + KwokTaintValue,
				"--server-address=",
			},
		})
		if err != nil {
			return err
		}
		k.g.add(p)
		later = append(later, p)
		if err := k.createKwokNode(p, deadline); err != nil {
			return err
		}
	}
	// A controller with a bad flag exits at once; catch that here rather
	// than as a mysterious test timeout.
	time.Sleep(200 * time.Millisecond)
	for _, p := range later {
		if p.exited() {
			return p.failure(errors.New("exited right after start"))
		}
	}
	return nil
}

// waitDefaultNamespace waits for the apiserver's bootstrap controller to
// create the "default" namespace, which tests assume exists.
func (k *Kube) waitDefaultNamespace(api *proc, deadline time.Time) error {
	return waitFor(api, "namespace default", time.Until(deadline), func(ctx context.Context) error {
		return k.do(ctx, http.MethodGet, "/api/v1/namespaces/default", nil, nil)
	})
}

// createKwokNode creates the simulated Node and waits until kwok reports it Ready.
func (k *Kube) createKwokNode(kwok *proc, deadline time.Time) error {
	k.NodeName = "kwok-node-0"
	node := map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata": map[string]any{
			"name": k.NodeName,
			"annotations": map[string]string{
				KwokNodeAnnotation:             KwokTaintValue,
				"node.alpha.kubernetes.io/ttl": "0",
			},
			"labels": map[string]string{
				"kubernetes.io/hostname": k.NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		"spec": map[string]any{
			"taints": []map[string]string{{"key": KwokTaintKey, "value": KwokTaintValue, "effect": "NoSchedule"}},
		},
		"status": map[string]any{
			"allocatable": map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"},
			"capacity":    map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.do(ctx, http.MethodPost, "/api/v1/nodes", node, nil); err != nil {
		return fmt.Errorf("create node %s: %w", k.NodeName, err)
	}
	return waitFor(kwok, "node "+k.NodeName+" Ready", time.Until(deadline), func(ctx context.Context) error {
		var n struct {
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		if err := k.do(ctx, http.MethodGet, "/api/v1/nodes/"+k.NodeName, nil, &n); err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return nil
			}
		}
		return errNotYet
	})
}

func (k *Kube) kubeconfig() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: lakeport
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: lakeport
  user:
    token: %s
contexts:
- name: lakeport
  context:
    cluster: lakeport
    user: lakeport
    namespace: default
current-context: lakeport
`, k.URL, base64.StdEncoding.EncodeToString(k.CAData), k.Token)
	return b.Bytes()
}

// HTTPClient returns a client that trusts the apiserver's CA and sends the
// bearer token, for tests that speak to the API without client-go.
// The client has a 30 s timeout; watches need their own.
func (k *Kube) HTTPClient() *http.Client { return k.client }

func newClient(caPEM []byte, token string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("apiserver CA is not PEM")
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext:     dial, // nil: the default dialer
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: bearer{token: token, next: tr},
	}, nil
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// StatusError is a non-2xx answer from the apiserver.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Code, strings.TrimSpace(e.Body))
}

// do sends a JSON request to the apiserver and decodes a JSON answer into
// out (when not nil).
func (k *Kube) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.URL+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, &StatusError{Code: resp.StatusCode, Body: string(b)})
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// getOK GETs url and expects a 2xx.
func getOK(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}
