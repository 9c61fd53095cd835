package testenv

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// recordingTB captures what Tool does with a missing tool. Skipf and Fatalf
// of a real testing.T stop the goroutine; these only record.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                           {}
func (r *recordingTB) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recordingTB) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestToolMissing(t *testing.T) {
	tests := []struct {
		name        string
		tool        string
		require     string
		wantSkipped bool
		wantFix     string
	}{
		{name: "skips outside make test", tool: "no-such-tool", require: "", wantSkipped: true, wantFix: "hack/ensure.sh no-such-tool"},
		{name: "fails under make test and CI", tool: "no-such-tool", require: "1", wantSkipped: false, wantFix: "hack/ensure.sh no-such-tool"},
		{name: "an extra file names its tool", tool: "kwok-stages.yaml", require: "", wantSkipped: true, wantFix: "hack/ensure.sh kwok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() {
				return // Tool skips before looking anything up
			}
			t.Setenv(EnvTools, t.TempDir())
			t.Setenv(EnvRequireTools, tt.require)
			rec := &recordingTB{TB: t}
			if got := Tool(rec, tt.tool); got != "" {
				t.Fatalf("Tool returned %q for a missing tool", got)
			}
			msg := rec.failed
			if tt.wantSkipped {
				msg = rec.skipped
			}
			if (rec.skipped != "") != tt.wantSkipped || (rec.failed != "") == tt.wantSkipped {
				t.Fatalf("skipped=%q failed=%q, want skipped=%v", rec.skipped, rec.failed, tt.wantSkipped)
			}
			if !strings.Contains(msg, "run: "+tt.wantFix+" ") {
				t.Errorf("message %q does not name the fix", msg)
			}
		})
	}
}

func TestToolFound(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/fake", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvTools, dir)
	if testing.Short() {
		return
	}
	if got := Tool(t, "fake"); got != dir+"/fake" {
		t.Fatalf("Tool = %q, want %q", got, dir+"/fake")
	}
}

func TestNeedServerMissingTool(t *testing.T) {
	if testing.Short() {
		return // Tool, and so NeedServer, skips before looking anything up
	}
	t.Setenv(EnvTools, t.TempDir())
	t.Setenv(EnvRequireTools, "")
	_, err := StartKube(KubeOptions{})
	var missing *MissingToolError
	if !errors.As(err, &missing) || missing.Name != "etcd" {
		t.Fatalf("StartKube with no tools: err = %v, want a MissingToolError for etcd", err)
	}
	rec := &recordingTB{TB: t}
	NeedServer(rec, err)
	if !strings.Contains(rec.skipped, "hack/ensure.sh etcd") {
		t.Fatalf("NeedServer did not skip with the fix: skipped=%q failed=%q", rec.skipped, rec.failed)
	}
}

func TestKube(t *testing.T) {
	Tool(t, "kube-apiserver") // skips under -short
	start := time.Now()
	k, err := StartKube(KubeOptions{})
	NeedServer(t, err)
	t.Cleanup(k.Stop)
	t.Logf("etcd + kube-apiserver ready in %s at %s", time.Since(start).Round(time.Millisecond), k.URL)

	ctx := context.Background()
	var api struct {
		Kind     string   `json:"kind"`
		Versions []string `json:"versions"`
	}
	if err := k.do(ctx, http.MethodGet, "/api", nil, &api); err != nil {
		t.Fatalf("GET /api with the token: %v", err)
	}
	if api.Kind != "APIVersions" || len(api.Versions) == 0 {
		t.Fatalf("GET /api = %+v", api)
	}
	var ver struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := k.do(ctx, http.MethodGet, "/version", nil, &ver); err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	if ver.GitVersion == "" || ver.GitVersion == "v0.0.0" || strings.HasPrefix(ver.GitVersion, "v0.0.0-") {
		t.Errorf("apiserver reports version %q: the build lacks the version ldflags", ver.GitVersion)
	}

	// Without the token the request is system:anonymous, which RBAC refuses:
	// token authentication and RBAC are really on.
	c := k.HTTPClient()
	noAuth := &http.Client{Transport: c.Transport.(bearer).next, Timeout: 10 * time.Second}
	resp, err := noAuth.Get(k.URL + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without token: HTTP %d, want 403 or 401", resp.StatusCode)
	}

	if _, err := os.Stat(k.KubeconfigPath); err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	if kubectl, err := LookupTool("kubectl"); err == nil {
		out, err := exec.Command(kubectl, "--kubeconfig", k.KubeconfigPath, "get", "namespace", "default", "-o", "name").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "namespace/default" {
			t.Errorf("kubectl with the kubeconfig: %v: %s", err, out)
		}
	}

	dir := k.Dir
	k.Stop()
	k.Stop() // idempotent
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir %s still exists after Stop: %v", dir, err)
	}
}

func TestKubeWorkloads(t *testing.T) {
	Tool(t, "kwok")
	start := time.Now()
	k, err := StartKube(KubeOptions{
		ControllerManager:      true,
		Kwok:                   true,
		EnableAdmissionPlugins: []string{"PodTolerationRestriction"},
	})
	NeedServer(t, err)
	t.Cleanup(k.Stop)
	t.Logf("control plane with controller-manager, scheduler, kwok and node %s ready in %s",
		k.NodeName, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	// A namespace whose default tolerations admit Pods to the kwok Node, the
	// way chart tests can run charts unchanged.
	tol := fmt.Sprintf(`[{"key":%q,"operator":"Equal","value":%q,"effect":"NoSchedule"}]`, KwokTaintKey, KwokTaintValue)
	ns := map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{
			"name":        "tolerant",
			"annotations": map[string]string{"scheduler.alpha.kubernetes.io/defaultTolerations": tol},
		},
	}
	if err := k.do(ctx, http.MethodPost, "/api/v1/namespaces", ns, nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, namespace string
		tolerate        bool
	}{
		{name: "toleration in the pod", namespace: "default", tolerate: true},
		{name: "toleration from the namespace", namespace: "tolerant", tolerate: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := time.Now()
			if err := k.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/"+tt.namespace+"/deployments",
				deployment("web", tt.tolerate), nil); err != nil {
				t.Fatal(err)
			}
			err := waitFor(nil, "deployment Available", time.Minute, func(ctx context.Context) error {
				var d struct {
					Status struct {
						AvailableReplicas int                             `json:"availableReplicas"`
						Conditions        []struct{ Type, Status string } `json:"conditions"`
					} `json:"status"`
				}
				if err := k.do(ctx, http.MethodGet, "/apis/apps/v1/namespaces/"+tt.namespace+"/deployments/web", nil, &d); err != nil {
					return err
				}
				for _, c := range d.Status.Conditions {
					if c.Type == "Available" && c.Status == "True" && d.Status.AvailableReplicas == 1 {
						return nil
					}
				}
				return fmt.Errorf("status %+v", d.Status)
			})
			if err != nil {
				t.Fatalf("%v\n--- kwok log ---\n%s", err, tail(k.Dir+"/kwok.log", 20))
			}
			t.Logf("Deployment Available %s after creation", time.Since(created).Round(time.Millisecond))
		})
	}
}

func deployment(name string, tolerate bool) map[string]any {
	spec := map[string]any{
		"containers": []map[string]any{{"name": "app", "image": "example.invalid/app:1"}},
	}
	if tolerate {
		spec["tolerations"] = []map[string]string{{
			"key": KwokTaintKey, "operator": "Equal", "value": KwokTaintValue, "effect": "NoSchedule",
		}}
	}
	labels := map[string]string{"app": name}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": spec},
		},
	}
}

func TestPostgres(t *testing.T) {
	Tool(t, "postgres")
	start := time.Now()
	pg, err := StartPostgres()
	NeedServer(t, err)
	t.Cleanup(pg.Stop)
	t.Logf("postgres ready in %s: %s", time.Since(start).Round(time.Millisecond), pg.DSN)

	if out, err := exec.Command(Tool(t, "pg_isready"), "-d", pg.DSN).CombinedOutput(); err != nil {
		t.Fatalf("pg_isready: %v: %s", err, out)
	}
	psql := Tool(t, "psql")
	out, err := exec.Command(psql, pg.DSN, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
		"create table t (x int); insert into t values (42); select x, current_database() from t").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "42|"+PostgresDatabase {
		t.Fatalf("psql output %q, want %q", got, "42|"+PostgresDatabase)
	}

	dir := pg.Dir
	pg.Stop()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dir %s still exists after Stop: %v", dir, err)
	}
}

func TestS3(t *testing.T) {
	Tool(t, "versitygw")
	start := time.Now()
	s, err := StartS3()
	NeedServer(t, err)
	t.Cleanup(s.Stop)
	t.Logf("versitygw ready in %s at %s", time.Since(start).Round(time.Millisecond), s.Endpoint)
	c := &http.Client{Timeout: 10 * time.Second}

	// Unauthenticated: an S3 XML error.
	resp, err := c.Get(s.Endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var s3err struct {
		Code string `xml:"Code"`
	}
	if resp.StatusCode/100 == 2 || xml.Unmarshal(body, &s3err) != nil || s3err.Code == "" {
		t.Fatalf("anonymous GET /: HTTP %d %s, want an S3 XML error", resp.StatusCode, body)
	}
	t.Logf("anonymous request: HTTP %d %s", resp.StatusCode, s3err.Code)

	do := func(method, path string, payload []byte) []byte {
		t.Helper()
		req, err := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		signV4(req, payload, s.AccessKey, s.SecretKey, s.Region, time.Now())
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	do(http.MethodPut, "/warehouse", nil) // CreateBucket
	do(http.MethodPut, "/warehouse/dir/hello.txt", []byte("hello"))
	if got := string(do(http.MethodGet, "/warehouse/dir/hello.txt", nil)); got != "hello" {
		t.Errorf("GetObject = %q", got)
	}
	var list struct {
		Buckets []struct {
			Name string `xml:"Name"`
		} `xml:"Buckets>Bucket"`
	}
	if err := xml.Unmarshal(do(http.MethodGet, "/", nil), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Buckets) != 1 || list.Buckets[0].Name != "warehouse" {
		t.Errorf("ListBuckets = %+v, want [warehouse]", list.Buckets)
	}
	var objs struct {
		Contents []struct {
			Key string `xml:"Key"`
		} `xml:"Contents"`
	}
	if err := xml.Unmarshal(do(http.MethodGet, "/warehouse?list-type=2&prefix=dir%2F", nil), &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) != 1 || objs.Contents[0].Key != "dir/hello.txt" {
		t.Errorf("ListObjectsV2 = %+v", objs.Contents)
	}
}

// signV4 signs req for S3 with AWS Signature Version 4, single-chunk
// payload. Just enough for these tests; clients use their SDK's signer.
func signV4(req *http.Request, payload []byte, accessKey, secretKey, region string, now time.Time) {
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	payloadHash := sha256Hex(payload)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)

	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var query []string
	for _, k := range keys {
		for _, v := range q[k] {
			query = append(query, awsEscape(k)+"="+awsEscape(v))
		}
	}
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	const signed = "host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{
		req.Method, path, strings.Join(query, "&"),
		"host:" + req.URL.Host + "\nx-amz-content-sha256:" + payloadHash + "\nx-amz-date:" + amzDate + "\n",
		signed, payloadHash,
	}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	key := hmacSHA256([]byte("AWS4"+secretKey), day)
	for _, part := range []string{region, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		accessKey, scope, signed, hex.EncodeToString(hmacSHA256(key, toSign))))
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func TestKubeStartErrorShowsLog(t *testing.T) {
	Tool(t, "etcd")
	Tool(t, "kube-apiserver")
	k, err := StartKube(KubeOptions{APIServerArgs: []string{"--no-such-flag"}})
	if err == nil {
		k.Stop()
		t.Fatal("StartKube with a bad apiserver flag succeeded")
	}
	for _, want := range []string{"kube-apiserver (exited", "last lines of", "no-such-flag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

func TestArgoCD(t *testing.T) {
	Tool(t, "argocd")
	git := Tool(t, "git")
	kubectl := Tool(t, "kubectl")

	// A bare repository with a ConfigMap and a Deployment that tolerates
	// the kwok Node, served to the repo-server as a file:// URL.
	repo := t.TempDir() + "/apps.git"
	work := t.TempDir()
	runGit := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(git, append([]string{"-c", "user.name=test", "-c", "user.email=test@example.invalid",
			"-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	runGit(work, "init", "--bare", repo)
	runGit(work, "init")
	manifests := `apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 1
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      tolerations:
      - {key: kwok.x-k8s.io/node, operator: Equal, value: fake, effect: NoSchedule}
      containers:
      - {name: app, image: example.invalid/app:1}
`
	if err := os.WriteFile(work+"/demo.yaml", []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(work, "add", ".")
	runGit(work, "commit", "-m", "demo")
	runGit(work, "push", repo, "HEAD:main")

	start := time.Now()
	a, err := StartArgoCD(ArgoCDOptions{
		Kube:           KubeOptions{ControllerManager: true, Kwok: true},
		ApplicationSet: true,
		Server:         true,
		HostNetwork:    os.Geteuid() != 0,
	})
	NeedServer(t, err)
	t.Cleanup(a.Stop)
	t.Logf("Argo CD ready in %s (netns %q)", time.Since(start).Round(time.Millisecond), a.NetNSPath)

	ctx := context.Background()
	app := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "demo", "namespace": ArgoCDNamespace},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": "file://" + repo, "targetRevision": "main", "path": "."},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "default"},
			"syncPolicy":  map[string]any{"automated": map[string]any{}},
		},
	}
	created := time.Now()
	if err := a.Kube.do(ctx, http.MethodPost, "/apis/argoproj.io/v1alpha1/namespaces/"+ArgoCDNamespace+"/applications", app, nil); err != nil {
		t.Fatal(err)
	}
	err = waitFor(nil, "Application Synced and Healthy", 2*time.Minute, func(ctx context.Context) error {
		var got struct {
			Status struct {
				Sync   struct{ Status string } `json:"sync"`
				Health struct{ Status string } `json:"health"`
			} `json:"status"`
		}
		if err := a.Kube.do(ctx, http.MethodGet, "/apis/argoproj.io/v1alpha1/namespaces/"+ArgoCDNamespace+"/applications/demo", nil, &got); err != nil {
			return err
		}
		if got.Status.Sync.Status == "Synced" && got.Status.Health.Status == "Healthy" {
			return nil
		}
		return fmt.Errorf("sync %q health %q", got.Status.Sync.Status, got.Status.Health.Status)
	})
	if err != nil {
		t.Fatalf("%v\n--- controller log ---\n%s\n--- repo-server log ---\n%s", err,
			tail(a.Dir+"/argocd-application-controller.log", 15), tail(a.Dir+"/argocd-repo-server.log", 15))
	}
	t.Logf("Application Synced and Healthy %s after creation", time.Since(created).Round(time.Millisecond))

	// kubectl inside the namespace sees what Argo CD deployed.
	var out bytes.Buffer
	cmd := exec.Command(kubectl, "--kubeconfig", a.Kube.KubeconfigPath, "get", "configmap", "demo", "-o", "jsonpath={.data.greeting}")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := a.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil || out.String() != "hello" {
		t.Fatalf("kubectl in the namespace: %v: %q", err, out.String())
	}

	// argocd-server: log in as admin and list applications.
	c := a.HTTPClient()
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": a.AdminPassword})
	resp, err := c.Post(a.ServerURL+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var session struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&session)
	resp.Body.Close()
	if err != nil || session.Token == "" {
		t.Fatalf("argocd-server login: HTTP %d, %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodGet, a.ServerURL+"/api/v1/applications", nil)
	req.Header.Set("Authorization", "Bearer "+session.Token)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"name":"demo"`) {
		t.Fatalf("GET /api/v1/applications: HTTP %d: %.300s", resp.StatusCode, b)
	}
}
