package health

import (
	"context"
	"fmt"
	"io"
	"sync"

	applicationpkg "github.com/argoproj/argo-cd/v3/pkg/apiclient/application"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ArgoCDOptions locate an Argo CD API server (argocd-server), as Argo CD's own CLI takes them.
type ArgoCDOptions struct {
	Server    string // host:port
	AuthToken string
	GRPCWeb   bool
	Insecure  bool // skip TLS verification
	PlainText bool // no TLS at all
}

// ArgoCDSource reads Applications from the Argo CD API server: one List per namespace (one in all
// when no namespace is given, since the server lists every namespace it manages).
type ArgoCDSource struct {
	opts   ArgoCDOptions
	mu     sync.Mutex
	closer io.Closer
	apps   *argoApps
}

// NewArgoCDSource connects lazily: the first call dials.
func NewArgoCDSource(o ArgoCDOptions) (*ArgoCDSource, error) {
	if o.Server == "" {
		return nil, fmt.Errorf("no Argo CD server address")
	}
	return &ArgoCDSource{opts: o}, nil
}

func (s *ArgoCDSource) String() string { return "the Argo CD API server at " + s.opts.Server }

func (s *ArgoCDSource) client(ctx context.Context) (*argoApps, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps != nil {
		return s.apps, nil
	}
	// With the caller's context: the connection asks the server's version, and without a
	// deadline it would wait forever for a server that hangs up.
	conn, err := dialArgoCD(ctx, s.opts)
	if err != nil {
		return nil, fmt.Errorf("argo cd client for %s: %w", s.opts.Server, err)
	}
	closer, apps := io.Closer(conn), &argoApps{conn}
	s.closer, s.apps = closer, apps
	return apps, nil
}

// Close releases the connection.
func (s *ArgoCDSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer, s.apps = nil, nil
	return err
}

// List lists the Applications, filtered server-side by environment label.
func (s *ArgoCDSource) List(ctx context.Context, sel Selector) ([]argov1.Application, error) {
	apps, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	namespaces := sel.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	selector := sel.LabelSelector()
	var out []argov1.Application
	for _, ns := range namespaces {
		q := &applicationpkg.ApplicationQuery{Selector: &selector}
		if ns != "" {
			q.AppNamespace = &ns
		}
		l, err := apps.List(ctx, q)
		if err != nil {
			where := "all namespaces"
			if ns != "" {
				where = "namespace " + ns
			}
			return nil, fmt.Errorf("list Applications in %s from %s: %w", where, s, grpcError(err))
		}
		for i := range l.Items {
			if sel.Match(&l.Items[i]) {
				out = append(out, l.Items[i])
			}
		}
	}
	return out, nil
}

// Refresh asks the server for a normal refresh (it sets the same annotation and waits for the
// controller to pick it up).
func (s *ArgoCDSource) Refresh(ctx context.Context, app *argov1.Application) error {
	apps, err := s.client(ctx)
	if err != nil {
		return err
	}
	refresh := string(argov1.RefreshTypeNormal)
	name, ns := app.Name, app.Namespace
	q := &applicationpkg.ApplicationQuery{Name: &name, Refresh: &refresh}
	if ns != "" {
		q.AppNamespace = &ns
	}
	if _, err := apps.Get(ctx, q); err != nil {
		return fmt.Errorf("refresh Application %s: %w", name, grpcError(err))
	}
	return nil
}

// grpcError turns gRPC status errors into plain ones (keeping permission refusals recognisable).
func grpcError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.PermissionDenied, codes.Unauthenticated:
		return fmt.Errorf("%w: %s", errPermissionDenied, st.Message())
	case codes.Unavailable:
		return fmt.Errorf("server unavailable: %s", st.Message())
	}
	return fmt.Errorf("%s: %s", st.Code(), st.Message())
}

// ExplainResources reads the Application's resource tree: the health Argo CD computed for each
// managed resource (with its Lua customisations), joined with the sync status of status.resources.
func (s *ArgoCDSource) ExplainResources(ctx context.Context, app *argov1.Application) ([]Resource, error) {
	apps, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	name, ns := app.Name, app.Namespace
	q := &applicationpkg.ResourcesQuery{ApplicationName: &name}
	if ns != "" {
		q.AppNamespace = &ns
	}
	tree, err := apps.ResourceTree(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("resource tree of %s: %w", name, grpcError(err))
	}
	healthOf := map[string]*argov1.HealthStatus{}
	for _, n := range tree.Nodes {
		healthOf[managedKey(n.Group, n.Kind, n.Namespace, n.Name)] = n.Health
	}
	out := make([]Resource, 0, len(app.Status.Resources))
	for _, r := range app.Status.Resources {
		res := Resource{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Sync: string(r.Status), Hook: r.Hook}
		if h := healthOf[managedKey(r.Group, r.Kind, r.Namespace, r.Name)]; h != nil {
			res.Health, res.Message = string(h.Status), firstLine(h.Message)
		} else if r.Health != nil {
			res.Health, res.Message = string(r.Health.Status), firstLine(r.Health.Message)
		}
		out = append(out, res)
	}
	return out, nil
}
