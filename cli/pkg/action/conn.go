package action

import (
	"fmt"
	"strings"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/lakeport/lakeport/cli/pkg/health"
)

// Connection is how health, diff --live and the promotion gate reach Kubernetes and Argo CD: one
// story for all three, built from the conventions users already set (KUBECONFIG, the kubeconfig's
// contexts, ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, ARGOCD_OPTS).
type Connection struct {
	// Kube carries the kubeconfig file and context (k8s.io/cli-runtime's ConfigFlags, so that the
	// flags are kubectl's own). Nil fields mean the defaults: KUBECONFIG, then ~/.kube/config, and
	// its current context.
	Kube *genericclioptions.ConfigFlags
	// Namespaces are where the Application resources live (empty: the kit's ApplicationSet
	// namespace, else argocd). Several namespaces are allowed: Argo CD can keep Applications in
	// any namespace.
	Namespaces []string
	// Argo is the Argo CD API server; when Argo.Server is set, Applications are read from it
	// instead of the Kubernetes API.
	Argo health.ArgoCDOptions
	// RestConfig, when set, replaces the kubeconfig (tests and embedding programs that already
	// hold one).
	RestConfig *rest.Config
}

// NewConnection returns a Connection whose ConfigFlags hold only the kubeconfig and context (the
// cluster, user and namespace flags of kubectl do not apply: Applications live in Argo CD's
// namespaces, chosen by Namespaces).
func NewConnection() Connection {
	kube := &genericclioptions.ConfigFlags{KubeConfig: new(string), Context: new(string)}
	return Connection{Kube: kube}
}

// ApplyEnv fills what the caller did not set explicitly from Argo CD's own environment variables,
// as the argocd CLI reads them: ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, and the boolean options
// --grpc-web, --insecure and --plaintext in ARGOCD_OPTS. explicit says whether an option was set
// by the caller (a flag on the command line); nil means none was.
func (c *Connection) ApplyEnv(getenv func(string) string, explicit func(option string) bool) {
	if explicit == nil {
		explicit = func(string) bool { return false }
	}
	if c.Argo.Server == "" {
		c.Argo.Server = getenv("ARGOCD_SERVER")
	}
	if c.Argo.AuthToken == "" {
		c.Argo.AuthToken = getenv("ARGOCD_AUTH_TOKEN")
	}
	opts := strings.Fields(getenv("ARGOCD_OPTS"))
	set := func(name string) bool {
		for _, a := range opts {
			if a == "--"+name || a == "--"+name+"=true" {
				return true
			}
		}
		return false
	}
	for name, p := range map[string]*bool{"grpc-web": &c.Argo.GRPCWeb, "insecure": &c.Argo.Insecure, "plaintext": &c.Argo.PlainText} {
		if !explicit(name) && set(name) {
			*p = true
		}
	}
}

// UsesArgoCD says whether Applications are read from the Argo CD API server.
func (c *Connection) UsesArgoCD() bool { return c.Argo.Server != "" }

// kubeconfigAndContext returns the explicit kubeconfig path and context ("" = defaults).
func (c *Connection) kubeconfigAndContext() (string, string) {
	var path, ctx string
	if c.Kube != nil {
		if c.Kube.KubeConfig != nil {
			path = *c.Kube.KubeConfig
		}
		if c.Kube.Context != nil {
			ctx = *c.Kube.Context
		}
	}
	return path, ctx
}

// HasKubeOverrides says whether a kubeconfig file or context was given.
func (c *Connection) HasKubeOverrides() bool {
	p, ctx := c.kubeconfigAndContext()
	return p != "" || ctx != ""
}

// Context is the kubeconfig context asked for ("" = the current one).
func (c *Connection) Context() string {
	_, ctx := c.kubeconfigAndContext()
	return ctx
}

// restConfig loads the Kubernetes client configuration the way kubectl does: the explicit file,
// else KUBECONFIG (read through getenv, a path list), else ~/.kube/config; then the context.
func (c *Connection) restConfig(getenv func(string) string) (*rest.Config, error) {
	if c.RestConfig != nil {
		return c.RestConfig, nil
	}
	path, ctx := c.kubeconfigAndContext()
	return health.LoadKubeConfig(path, ctx, getenv)
}

// healthSource picks the Argo CD API server when one is named, the Kubernetes API otherwise.
func (c *Connection) healthSource(getenv func(string) string) (health.Source, error) {
	if c.UsesArgoCD() {
		return health.NewArgoCDSource(c.Argo)
	}
	cfg, err := c.restConfig(getenv)
	if err != nil {
		return nil, err
	}
	return health.NewKubeSource(cfg)
}

// selector is the health selection of envs and apps in the namespaces of the connection, or else
// in defaultNS (the kit's ApplicationSet namespace) when not empty.
func (c *Connection) selector(envs, apps []string, defaultNS string) health.Selector {
	sel := health.Selector{Namespaces: c.Namespaces, Envs: envs, Apps: apps}
	if len(sel.Namespaces) == 0 && defaultNS != "" {
		sel.Namespaces = []string{defaultNS}
	}
	return sel
}

// String names where Applications are read from, for messages.
func (c *Connection) String() string {
	if c.UsesArgoCD() {
		return "the Argo CD API server at " + c.Argo.Server
	}
	return fmt.Sprintf("the Kubernetes API (context %q)", c.Context())
}
