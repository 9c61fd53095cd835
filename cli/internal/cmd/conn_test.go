package cmd

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/cli/internal/testkit"
)

// firstBytes listens on a loopback port and records the first bytes of every connection: enough
// to tell a TLS ClientHello (0x16 0x03) from HTTP/2 in the clear ("PRI * HTTP/2.0") or HTTP/1.1
// (gRPC-web's "POST "), which is what ARGOCD_OPTS' --plaintext and --grpc-web change.
type firstBytes struct {
	ln   net.Listener
	mu   sync.Mutex
	got  [][]byte
	seen chan struct{} // closed on the first connection
}

func listenFirstBytes(t *testing.T) *firstBytes {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &firstBytes{ln: ln, seen: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 16)
			n, _ := c.Read(buf)
			fb.mu.Lock()
			fb.got = append(fb.got, buf[:n])
			if len(fb.got) == 1 {
				close(fb.seen)
			}
			fb.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return fb
}

func (fb *firstBytes) first() []byte {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.got) == 0 {
		return nil
	}
	return fb.got[0]
}

// The promotion gate reads ARGOCD_OPTS exactly as `lakeport health` does (it used to ignore it and
// talk TLS to a server that ARGOCD_OPTS=--plaintext says speaks plain gRPC).
func TestGateHonoursArgoCDOpts(t *testing.T) {
	for _, tc := range []struct {
		name, args, opts string
		want             []byte
	}{
		{"health plaintext", "health --env dev", "--plaintext", []byte("PRI * HTTP/2.0")},
		{"gate plaintext", "promote web --to prod", "--plaintext", []byte("PRI * HTTP/2.0")},
		{"gate grpc-web plaintext", "promote web --to prod", "--grpc-web --plaintext", []byte("POST ")},
		{"gate TLS by default", "promote web --to prod", "", []byte{0x16, 0x03}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			fb := listenFirstBytes(t)
			env := map[string]string{"ARGOCD_SERVER": fb.ln.Addr().String(), "ARGOCD_AUTH_TOKEN": "t", "ARGOCD_OPTS": tc.opts,
				"GIT_AUTHOR_NAME": "Release Bot", "GIT_AUTHOR_EMAIL": "release@lakeport.dev"}
			// Argo CD's client waits for a server that hangs up until its context ends, and
			// exits the process (log.Fatal in its gRPC-web fallback) when it ends while it
			// connects: the command is left to wait in the background once the first
			// connection told what the client speaks, and the test binary's exit ends it.
			io, _, errBuf := iostreams.Test(func(k string) string { return env[k] })
			done := make(chan int, 1)
			go func() {
				done <- Run(context.Background(), &Factory{IO: io, Now: time.Now}, append([]string{"--repo", f.Dir}, strings.Fields(tc.args)...))
			}()
			select {
			case <-fb.seen:
			case code := <-done:
				t.Fatalf("exit %d before connecting to Argo CD: %s", code, errBuf.String())
			case <-time.After(60 * time.Second):
				t.Fatal("no connection to the Argo CD server in 60s")
			}
			errOut := ""
			if got := fb.first(); !bytes.HasPrefix(got, tc.want) {
				t.Errorf("the Argo CD client opened with %q, want %q (ARGOCD_OPTS=%q)\nstderr: %s", got, tc.want, tc.opts, errOut)
			}
		})
	}
}

// The gate and `lakeport health` read Applications in the same namespace: by default the kit's
// ApplicationSet's (the gate used to default -n to argocd whatever the kit said).
func TestGateNamespaceIsHealths(t *testing.T) {
	f := testkit.NewFixture(t)
	f.Replace("environments/argocd/applicationset.yaml", "  name: kit\n  namespace: argocd", "  name: kit\n  namespace: gitops")
	f.Commit("the ApplicationSet lives in gitops")
	var mu sync.Mutex
	var paths []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationList","metadata":{},"items":[]}`))
	}))
	defer api.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+api.URL+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KUBECONFIG": kc, "GIT_AUTHOR_NAME": "Release Bot", "GIT_AUTHOR_EMAIL": "release@lakeport.dev"}
	listed := func(args string) []string {
		mu.Lock()
		paths = nil
		mu.Unlock()
		_, errOut, code := runWith(t, &Factory{}, f.Dir, args, env)
		if code == CodeOK {
			t.Errorf("%s: exit 0 with no Application in the cluster: %s", args, errOut)
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
	health, gate := listed("health --env dev"), listed("promote web --to prod")
	want := "/apis/argoproj.io/v1alpha1/namespaces/gitops/applications"
	if len(health) == 0 || health[0] != want {
		t.Errorf("health listed %v, want %s", health, want)
	}
	if len(gate) == 0 || gate[0] != want {
		t.Errorf("the gate listed %v, want %s (as health)", gate, want)
	}
}
