package argoloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// KwokToleration is the toleration the harness gives every pod of the environments' namespaces
// (PodTolerationRestriction's default tolerations), so that they land on kwok's simulated node
// whatever the charts say.
const KwokToleration = `[{"key":"` + testenv.KwokTaintKey + `","operator":"Exists","effect":"NoSchedule"}]`

// Options choose what the loop runs.
type Options struct {
	// KitDir is the kit's repository (default: the checkout the tests run in). Its working tree,
	// uncommitted changes included, is what Argo CD deploys.
	KitDir string
	// Server also starts argocd-server and logs in as admin (Loop.Token).
	Server bool
	// Namespaces are created for the environments (with the kwok default toleration). Default: the
	// destination namespace of the first environment in promotion order (dev), the one meant to
	// run on simulated nodes; later environments that target this cluster get no namespace, so
	// Argo CD compares them but cannot sync them.
	Namespaces []string
	// AppResync is the application controller's own refresh period (--app-resync). Default 3m, as
	// in production: a new commit is not noticed at once, which is the race `health --wait
	// --revision` must survive.
	AppResync time.Duration
	// Log receives progress lines (default: discarded).
	Log io.Writer
}

// Loop is the running GitOps loop.
type Loop struct {
	Argo *testenv.ArgoCD
	// Config reaches the control plane Argo CD deploys to and keeps its resources in.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file for Config (for the lakeport CLI's --kubeconfig).
	Kubeconfig string
	// Bare is the bare repository Argo CD reads; RepoURL its file:// URL.
	Bare, RepoURL string
	// Work is a clone of Bare holding the kit (Commit writes, commits and pushes there).
	Work string
	// OriginalURL is the repository URL the kit names (rewritten to RepoURL when applied).
	OriginalURL string
	// Head is the commit last pushed.
	Head string
	// Token is an argocd-server session token for admin (Options.Server).
	Token string
	// Namespace is where the Applications live (the ApplicationSet's namespace).
	Namespace string

	dir       string
	log       io.Writer
	stopLease context.CancelFunc
	leaseDone chan struct{}
}

// Start starts the loop: the control plane with kwok, Argo CD (and its server when asked), the
// kit pushed to a bare repository, the environments' namespaces, then the kit's AppProjects and
// ApplicationSet applied with only the repository URL rewritten. It does not wait for the
// Applications: that is what the tests check.
func Start(o Options) (l *Loop, err error) {
	if o.KitDir == "" {
		if o.KitDir, err = testenv.RepoRoot(); err != nil {
			return nil, err
		}
	}
	if o.AppResync == 0 {
		o.AppResync = 3 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if _, err := testenv.LookupTool("git"); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lakeport-argoloop-")
	if err != nil {
		return nil, err
	}
	l = &Loop{dir: dir, log: o.Log, Bare: filepath.Join(dir, "lakeport.git"), Work: filepath.Join(dir, "work")}
	l.RepoURL = "file://" + l.Bare
	defer func() {
		if err != nil {
			l.Stop()
			l = nil
		}
	}()

	start := time.Now()
	if err := l.pushKit(o.KitDir); err != nil {
		return nil, err
	}
	w, err := workspace.Open(l.Work, "")
	if err != nil {
		return nil, fmt.Errorf("open the kit pushed to %s: %w", l.Bare, err)
	}
	l.OriginalURL = w.RepoURL
	l.Namespace = w.Kit.ApplicationSet.Namespace
	if l.Namespace == "" {
		l.Namespace = testenv.ArgoCDNamespace
	}
	var remote []string // destination servers other than this cluster
	for i, e := range w.Kit.Environments {
		if e.Destination.Server == inCluster || e.Destination.Name == "in-cluster" {
			if o.Namespaces == nil && i == 0 {
				o.Namespaces = []string{e.Destination.Namespace}
			}
			continue
		}
		if e.Destination.Server != "" {
			remote = append(remote, e.Destination.Server)
		}
	}
	l.logf("kit %s pushed to %s in %s", source.ShortSHA(l.Head), l.RepoURL, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	l.Argo, err = testenv.StartArgoCD(testenv.ArgoCDOptions{
		Kube: testenv.KubeOptions{
			ControllerManager:      true,
			Kwok:                   true,
			EnableAdmissionPlugins: []string{"PodTolerationRestriction"},
		},
		ApplicationSet: true,
		Server:         o.Server,
		AppResync:      o.AppResync,
		// The test binary already runs in its own network namespace (InOwnNetNS), or cannot.
		HostNetwork: true,
	})
	if err != nil {
		return nil, err
	}
	l.Config = RestConfig(l.Argo.Kube)
	l.Kubeconfig = l.Argo.Kube.KubeconfigPath
	if err := l.keepNodeAlive(); err != nil {
		return nil, err
	}
	l.logf("control plane, kwok and Argo CD up in %s", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := kubernetes.NewForConfig(l.Config)
	if err != nil {
		return nil, err
	}
	if err := InstallKitCRDs(ctx, l.Config, monitoringCRDs); err != nil {
		return nil, err
	}
	for _, ns := range o.Namespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:        ns,
			Annotations: map[string]string{"scheduler.alpha.kubernetes.io/defaultTolerations": KwokToleration},
		}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	// Argo CD only generates and compares Applications whose destination cluster it knows: register
	// the other environments' clusters (unreachable from here) so that their Applications exist.
	for i, server := range remote {
		_, err := cs.CoreV1().Secrets(l.Namespace).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:   fmt.Sprintf("cluster-remote-%d", i),
				Labels: map[string]string{"argocd.argoproj.io/secret-type": "cluster"},
			},
			StringData: map[string]string{
				"name":   strings.TrimSuffix(strings.TrimPrefix(server, "https://"), ":6443"),
				"server": server,
				"config": `{"tlsClientConfig":{"insecure":true}}`,
			},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("register cluster %s: %w", server, err)
		}
	}
	if err := l.applyKit(ctx, w); err != nil {
		return nil, err
	}
	if o.Server {
		if l.Token, err = l.login(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Stop stops Argo CD and the control plane and removes the repositories.
func (l *Loop) Stop() {
	if l == nil {
		return
	}
	if l.stopLease != nil {
		l.stopLease()
		<-l.leaseDone
	}
	l.Argo.Stop()
	if os.Getenv(testenv.EnvKeep) == "1" {
		fmt.Fprintf(os.Stderr, "argoloop: kept %s (%s=1)\n", l.dir, testenv.EnvKeep)
		return
	}
	_ = os.RemoveAll(l.dir)
}

// keepNodeAlive renews the simulated node's Lease every few seconds. kwok, as testenv starts it,
// updates the node's status only about once a minute and keeps no Lease, so the node lifecycle
// controller (node-monitor-grace-period 50 s) sees the node NotReady between two heartbeats and
// marks every pod on it NotReady; kwok never makes them Ready again, and every workload of the
// loop turns Progressing for good about a minute after the start. A fresh Lease is what a real
// kubelet provides and what the node lifecycle controller reads first.
func (l *Loop) keepNodeAlive() error {
	node := l.Argo.Kube.NodeName
	if node == "" {
		return nil
	}
	cs, err := kubernetes.NewForConfig(l.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.stopLease, l.leaseDone = cancel, make(chan struct{})
	renew := func() error {
		leases := cs.CoordinationV1().Leases("kube-node-lease")
		now := metav1.NewMicroTime(time.Now())
		lease, err := leases.Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			dur := int32(40)
			n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: node, OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: n.UID}}},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: &dur, RenewTime: &now},
			}, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		lease.Spec.RenewTime = &now
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		return err
	}
	if err := renew(); err != nil {
		cancel()
		close(l.leaseDone)
		return fmt.Errorf("node lease for %s: %w", node, err)
	}
	go func() {
		defer close(l.leaseDone)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = renew() // a conflict or a slow API: the next tick tries again
			}
		}
	}()
	return nil
}

func (l *Loop) logf(format string, args ...any) {
	fmt.Fprintf(l.log, "argoloop: "+format+"\n", args...)
}

// pushKit clones the kit's history into a bare repository and commits the working tree on top
// (uncommitted and untracked files that git does not ignore included), so that Argo CD deploys
// what is on disk and commit pins in the environments still resolve.
func (l *Loop) pushKit(kitDir string) error {
	if _, err := l.git(l.dir, "clone", "--quiet", "--bare", "--no-hardlinks", kitDir, l.Bare); err != nil {
		return err
	}
	if _, err := l.git(l.dir, "clone", "--quiet", l.Bare, l.Work); err != nil {
		return err
	}
	// Make the work tree's files exactly the kit's working tree.
	files, err := l.git(kitDir, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	tracked, err := l.git(l.Work, "ls-files", "-z")
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if f == "" {
			continue
		}
		src := filepath.Join(kitDir, f)
		fi, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the working tree
		}
		keep[f] = true
		dst := filepath.Join(l.Work, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			_ = os.Remove(dst)
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	for _, f := range strings.Split(strings.TrimRight(tracked, "\x00"), "\x00") {
		if f != "" && !keep[f] {
			_ = os.Remove(filepath.Join(l.Work, f))
		}
	}
	sha, err := l.commitAll("argoloop: the kit's working tree")
	if err != nil {
		return err
	}
	l.Head = sha
	return nil
}

// Commit writes files (slash paths relative to the kit root) into the work clone, commits them
// and pushes to the bare repository Argo CD reads. It returns the new commit.
func (l *Loop) Commit(files map[string]string, msg string) (string, error) {
	for name, content := range files {
		p := filepath.Join(l.Work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	sha, err := l.commitAll(msg)
	if err != nil {
		return "", err
	}
	l.Head = sha
	return sha, nil
}

// ReadFile reads a file of the work clone.
func (l *Loop) ReadFile(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(l.Work, filepath.FromSlash(name)))
	return string(b), err
}

func (l *Loop) commitAll(msg string) (string, error) {
	if _, err := l.git(l.Work, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := l.git(l.Work, "commit", "--quiet", "--allow-empty", "--no-verify", "-m", msg); err != nil {
		return "", err
	}
	if _, err := l.git(l.Work, "push", "--quiet", "origin", "HEAD"); err != nil {
		return "", err
	}
	sha, err := l.git(l.Work, "rev-parse", "HEAD")
	return strings.TrimSpace(sha), err
}

func (l *Loop) git(dir string, args ...string) (string, error) {
	git, err := testenv.LookupTool("git")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(git, append([]string{"-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Lakeport Loop", "GIT_AUTHOR_EMAIL=loop@lakeport.dev",
		"GIT_COMMITTER_NAME=Lakeport Loop", "GIT_COMMITTER_EMAIL=loop@lakeport.dev",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s (in %s): %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// inCluster is Argo CD's name for the cluster it runs in.
const inCluster = "https://kubernetes.default.svc"

var (
	appProjectGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
	appSetGVR     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applicationsets"}
	// ApplicationGVR is the Application resource.
	ApplicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
)

// applyKit applies the kit's own AppProjects and ApplicationSet files, byte for byte but for the
// repository URL, which becomes the bare repository's.
func (l *Loop) applyKit(ctx context.Context, w *workspace.Workspace) error {
	dyn, err := dynamic.NewForConfig(l.Config)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		file string
		gvr  schema.GroupVersionResource
	}{{w.Kit.ProjectsFile, appProjectGVR}, {w.Kit.ApplicationSetFile, appSetGVR}} {
		raw, err := os.ReadFile(filepath.Join(l.Work, filepath.FromSlash(f.file)))
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(raw), l.OriginalURL, l.RepoURL)
		for _, doc := range kit.SplitYAML([]byte(text)) {
			obj := &unstructured.Unstructured{}
			if err := sigsyaml.Unmarshal(doc, &obj.Object); err != nil {
				return fmt.Errorf("%s: %w", f.file, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			ns := obj.GetNamespace()
			if ns == "" {
				ns = l.Namespace
				obj.SetNamespace(ns)
			}
			if err := apply(ctx, dyn.Resource(f.gvr).Namespace(ns), obj); err != nil {
				return fmt.Errorf("apply %s %s from %s: %w", obj.GetKind(), obj.GetName(), f.file, err)
			}
			l.logf("applied %s %s/%s from %s", obj.GetKind(), ns, obj.GetName(), f.file)
		}
	}
	return nil
}

// login opens an argocd-server session as admin and returns its token (usable as
// ARGOCD_AUTH_TOKEN).
func (l *Loop) login(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": l.Argo.AdminPassword})
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.Argo.ServerURL+"/api/v1/session", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := l.Argo.HTTPClient().Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out struct {
				Token string `json:"token"`
			}
			if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &out) == nil && out.Token != "" {
				return out.Token, nil
			}
			err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return "", errors.Join(ctx.Err(), lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("log in to argocd-server as admin: %w", lastErr)
}

// ServerAddr is argocd-server's host:port (plain text).
func (l *Loop) ServerAddr() string { return strings.TrimPrefix(l.Argo.ServerURL, "http://") }

// Logs returns the tail of an Argo CD component's log (for failure messages).
func (l *Loop) Logs(component string, lines int) string {
	b, err := os.ReadFile(filepath.Join(l.Argo.Dir, component+".log"))
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
