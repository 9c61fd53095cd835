package cmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/pkg/action"
)

// connFlags binds the one set of connection flags that health, diff --live and promote share:
// kubectl's --kubeconfig and --context (through cli-runtime's ConfigFlags), and, with argo, the
// Application namespaces and Argo CD's own options. The values land in conn; completeConn then
// reads ARGOCD_SERVER, ARGOCD_AUTH_TOKEN and ARGOCD_OPTS for what the flags did not set.
func connFlags(cmd *cobra.Command, conn *action.Connection, argo bool) {
	*conn = action.NewConnection()
	fl := cmd.Flags()
	conn.Kube.AddFlags(fl)
	if !argo {
		return
	}
	fl.StringSliceVarP(&conn.Namespaces, "namespace", "n", nil, "namespace of the Applications (repeatable; default: the ApplicationSet's namespace, else argocd)")
	fl.StringVar(&conn.Argo.Server, "server", "", "Argo CD API server host:port (default: ARGOCD_SERVER); reads Applications from it instead of the Kubernetes API")
	fl.StringVar(&conn.Argo.AuthToken, "auth-token", "", "Argo CD auth token (default: ARGOCD_AUTH_TOKEN)")
	fl.BoolVar(&conn.Argo.GRPCWeb, "grpc-web", false, "talk gRPC-web to the Argo CD API server (for proxies without HTTP/2)")
	fl.BoolVar(&conn.Argo.Insecure, "insecure", false, "skip TLS verification of the Argo CD API server")
	fl.BoolVar(&conn.Argo.PlainText, "plaintext", false, "talk to the Argo CD API server without TLS")
}

// completeConn applies Argo CD's environment variables to what the command line left unset, and
// refuses a kubeconfig next to an Argo CD server.
func completeConn(c *cobra.Command, f *Factory, conn *action.Connection) error {
	conn.ApplyEnv(f.IO.Getenv, c.Flags().Changed)
	if conn.UsesArgoCD() && conn.HasKubeOverrides() {
		return errors.New("--server (or ARGOCD_SERVER) reads from the Argo CD API server: --kubeconfig and --context do not apply")
	}
	return nil
}
