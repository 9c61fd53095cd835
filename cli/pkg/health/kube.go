package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	gitopshealth "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeSource reads Application resources from the Kubernetes API: one List per namespace.
type KubeSource struct {
	client argoclient.Interface
	host   string
	cfg    *rest.Config

	dynOnce sync.Once
	mapper  meta.RESTMapper
	dyn     dynamic.Interface
	dynErr  error
	// requests counts HTTP requests sent (for benchmarks and tests).
	requests atomic.Int64
}

// LoadKubeConfig reads a kubeconfig the way kubectl does: the explicit path, else $KUBECONFIG,
// else ~/.kube/config; then the named context (or the current one).
func LoadKubeConfig(kubeconfig, context string, getenv func(string) string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	} else if getenv != nil {
		if v := getenv("KUBECONFIG"); v != "" {
			rules.Precedence = splitPathList(v)
		}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		// client-go's own message speaks of KUBERNETES_MASTER, which no one sets any more.
		where := "~/.kube/config"
		if len(rules.Precedence) > 0 && rules.ExplicitPath == "" {
			where = "KUBECONFIG (" + strings.Join(rules.Precedence, string(filepath.ListSeparator)) + ")"
		}
		if rules.ExplicitPath != "" {
			where = rules.ExplicitPath
		}
		return nil, fmt.Errorf("no Kubernetes cluster configured: %s has no cluster; give a kubeconfig ({Kubeconfig} or KUBECONFIG, as kubectl takes it), or read the Applications through the Argo CD API server instead ({ArgoServer} or ARGOCD_SERVER, with ARGOCD_AUTH_TOKEN)", where)
	}
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return cfg, nil
}

// NewKubeSource returns a source over the cluster cfg points at.
func NewKubeSource(cfg *rest.Config) (*KubeSource, error) {
	s := &KubeSource{host: cfg.Host}
	cfg = rest.CopyConfig(cfg)
	// Refreshes of many Applications go out together; the default 5 QPS would pace them.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cfg.UserAgent = "lakeport-health"
	prev := cfg.WrapTransport
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		if prev != nil {
			rt = prev(rt)
		}
		return countingTransport{next: rt, n: &s.requests}
	}
	s.cfg = cfg
	c, err := argoclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	s.client = c
	return s, nil
}

// Requests returns how many HTTP requests the source has sent.
func (s *KubeSource) Requests() int64 { return s.requests.Load() }

func (s *KubeSource) String() string { return "the Kubernetes API at " + s.host }

// List lists each namespace once, filtered server-side by environment label.
func (s *KubeSource) List(ctx context.Context, sel Selector) ([]argov1.Application, error) {
	var out []argov1.Application
	for _, ns := range sel.namespaces() {
		l, err := s.client.ArgoprojV1alpha1().Applications(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.LabelSelector()})
		if err != nil {
			return nil, s.listError(ns, err)
		}
		for i := range l.Items {
			if sel.Match(&l.Items[i]) {
				out = append(out, l.Items[i])
			}
		}
	}
	return out, nil
}

func (s *KubeSource) listError(ns string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("list Applications in namespace %s at %s: the Application CRD (argoproj.io/v1alpha1) is not installed: is this Argo CD's cluster? %w", ns, s.host, err)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return fmt.Errorf("list Applications in namespace %s at %s: %w", ns, s.host, err)
	}
	return fmt.Errorf("list Applications in namespace %s at %s: %w", ns, s.host, err)
}

// Refresh sets Argo CD's refresh annotation; the application controller removes it once done.
func (s *KubeSource) Refresh(ctx context.Context, app *argov1.Application) error {
	patch := []byte(`{"metadata":{"annotations":{"` + argov1.AnnotationKeyRefresh + `":"` + string(argov1.RefreshTypeNormal) + `"}}}`)
	_, err := s.client.ArgoprojV1alpha1().Applications(app.Namespace).Patch(ctx, app.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("refresh Application %s/%s: %w", app.Namespace, app.Name, err)
	}
	return nil
}

// RefreshAppSet sets the applicationset-controller's refresh annotation, so that it reads git
// again and regenerates the Applications now rather than at its next poll.
func (s *KubeSource) RefreshAppSet(ctx context.Context, namespace, name string) error {
	patch := []byte(`{"metadata":{"annotations":{"` + annotationAppSetRefresh + `":"true"}}}`)
	_, err := s.client.ArgoprojV1alpha1().ApplicationSets(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("refresh ApplicationSet %s/%s: %w", namespace, name, err)
	}
	return nil
}

// annotationAppSetRefresh is Argo CD's common.AnnotationApplicationSetRefresh (that package pulls
// in much of Argo CD).
const annotationAppSetRefresh = "argocd.argoproj.io/application-set-refresh"

// IsForbidden says whether err is an authorization refusal (refreshes need patch rights that a
// read-only user lacks; the check still works without them, only slower).
func IsForbidden(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || errors.Is(err, errPermissionDenied)
}

var errPermissionDenied = errors.New("permission denied")

type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func splitPathList(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ':' {
			if i > start {
				out = append(out, v[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// ExplainResources reads the live objects of an Application whose destination is this cluster
// and assesses them with Argo CD's own health checks (gitops-engine; the built-in checks, not
// Lua customisations from argocd-cm). For another destination it cannot tell (nil, nil).
func (s *KubeSource) ExplainResources(ctx context.Context, app *argov1.Application) ([]Resource, error) {
	d := app.Spec.Destination
	if d.Server != "https://kubernetes.default.svc" && d.Name != "in-cluster" {
		return nil, nil
	}
	mapper, dyn, err := s.dynamicClients()
	if err != nil {
		return nil, err
	}
	out := make([]Resource, 0, len(app.Status.Resources))
	for _, r := range app.Status.Resources {
		res := Resource{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Sync: string(r.Status), Hook: r.Hook}
		if r.Health != nil {
			res.Health, res.Message = string(r.Health.Status), firstLine(r.Health.Message)
			out = append(out, res)
			continue
		}
		m, err := mapper.RESTMapping(schema.GroupKind{Group: r.Group, Kind: r.Kind}, r.Version)
		if err != nil {
			out = append(out, res) // a kind this cluster does not serve: nothing to assess
			continue
		}
		ri := dyn.Resource(m.Resource)
		var obj *unstructured.Unstructured
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			obj, err = ri.Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		} else {
			obj, err = ri.Get(ctx, r.Name, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(err):
			res.Health = HealthMissing
		case err != nil:
			return nil, fmt.Errorf("read %s %s/%s of %s: %w", r.Kind, r.Namespace, r.Name, app.Name, err)
		default:
			hs, err := gitopshealth.GetResourceHealth(obj, nil)
			if err != nil {
				res.Health, res.Message = HealthUnknown, err.Error()
			} else if hs != nil {
				res.Health, res.Message = string(hs.Status), firstLine(hs.Message)
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// dynamicClients builds, once, a REST mapper (from discovery) and a dynamic client.
func (s *KubeSource) dynamicClients() (meta.RESTMapper, dynamic.Interface, error) {
	s.dynOnce.Do(func() {
		dc, err := discovery.NewDiscoveryClientForConfig(s.cfg)
		if err != nil {
			s.dynErr = err
			return
		}
		s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
		s.dyn, s.dynErr = dynamic.NewForConfig(s.cfg)
	})
	return s.mapper, s.dyn, s.dynErr
}
