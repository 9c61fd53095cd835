package action

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

func TestApplyEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		flags    Connection
		explicit map[string]bool
		want     string
	}{
		{name: "nothing", want: "server= token= grpcweb=false insecure=false plaintext=false"},
		{name: "server and token from the environment", env: map[string]string{"ARGOCD_SERVER": "argocd:443", "ARGOCD_AUTH_TOKEN": "tok"},
			want: "server=argocd:443 token=tok grpcweb=false insecure=false plaintext=false"},
		{name: "flags win over the environment", env: map[string]string{"ARGOCD_SERVER": "env:443"}, flags: Connection{}.withServer("flag:443"),
			want: "server=flag:443 token= grpcweb=false insecure=false plaintext=false"},
		{name: "ARGOCD_OPTS booleans", env: map[string]string{"ARGOCD_OPTS": "--grpc-web --insecure=true --plaintext --other x"},
			want: "server= token= grpcweb=true insecure=true plaintext=true"},
		{name: "an explicit --plaintext=false is kept", env: map[string]string{"ARGOCD_OPTS": "--plaintext"}, explicit: map[string]bool{"plaintext": true},
			want: "server= token= grpcweb=false insecure=false plaintext=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.flags
			c.ApplyEnv(func(k string) string { return tc.env[k] }, func(o string) bool { return tc.explicit[o] })
			got := fmt.Sprintf("server=%s token=%s grpcweb=%v insecure=%v plaintext=%v", c.Argo.Server, c.Argo.AuthToken, c.Argo.GRPCWeb, c.Argo.Insecure, c.Argo.PlainText)
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func (c Connection) withServer(s string) Connection { c.Argo.Server = s; return c }

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{errors.New("boom"), KindError},
		{fmt.Errorf("wrapped: %w", &workspace.UsageError{Msg: "unknown environment"}), KindUsage},
		{&promote.UsageError{Msg: "skips staging"}, KindUsage},
		{&UsageError{Msg: "choose the environments"}, KindUsage},
		{&GateRefusedError{Gate: promote.GateResult{Summary: "dev is Progressing"}}, KindRefused},
		{fmt.Errorf("list: %w", context.DeadlineExceeded), KindTimeout},
		{ErrTimedOut, KindTimeout},
		{ErrChanges, KindNegative},
		{ErrFindings, KindNegative},
		{ErrUnhealthy, KindNegative},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// selector defaults to the kit's ApplicationSet namespace, as health and the gate both need.
func TestSelectorNamespace(t *testing.T) {
	for _, tc := range []struct {
		given     []string
		appsetNS  string
		wantFirst string
	}{
		{nil, "gitops", "gitops"},
		{[]string{"team"}, "gitops", "team"},
		{nil, "", ""},
	} {
		c := Connection{Namespaces: tc.given}
		sel := c.selector([]string{"dev"}, nil, tc.appsetNS)
		got := ""
		if len(sel.Namespaces) > 0 {
			got = sel.Namespaces[0]
		}
		if got != tc.wantFirst {
			t.Errorf("namespaces %v with ApplicationSet in %q: got %q, want %q", tc.given, tc.appsetNS, got, tc.wantFirst)
		}
	}
}
