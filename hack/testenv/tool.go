// Package testenv starts the real servers Lakeport's tests run against:
// a Kubernetes control plane (etcd and kube-apiserver, optionally
// kube-controller-manager, kube-scheduler and kwok with one simulated Node),
// PostgreSQL, and an S3 API (versitygw), each bound to 127.0.0.1 on free
// ports and stopped by process ID.
//
// The binaries come from hack/ensure.sh (linked into .tools/bin) and from
// Debian packages (hack/apt.sh). A test that needs a missing binary skips
// with the command that installs it, unless LAKEPORT_REQUIRE_TOOLS=1 (set by
// `make test` and CI), in which case it fails: CI must never skip silently.
//
// The servers are slow enough to start (seconds) that a test package should
// start each one once, in TestMain, which has no testing.T; hence the Start
// functions return errors rather than taking a testing.TB:
//
//	var kube *testenv.Kube
//	var kubeErr error
//
//	func TestMain(m *testing.M) {
//		kube, kubeErr = testenv.StartKube(testenv.KubeOptions{})
//		code := m.Run()
//		if kube != nil {
//			kube.Stop()
//		}
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		testenv.NeedServer(t, kubeErr) // skips or fails with the fix to run
//		...
//	}
//
// The package uses only the standard library so that both the CLI tree and
// the jobs tree can import it without pulling in each other's dependencies.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// EnvRequireTools is the environment variable that turns a missing tool from
// a skip into a failure. `make test` and CI set it to 1.
const EnvRequireTools = "LAKEPORT_REQUIRE_TOOLS"

// EnvTools overrides the folder where tools are looked up (default
// <repo root>/.tools/bin, where hack/ensure.sh links them).
const EnvTools = "LAKEPORT_TOOLS"

// MissingToolError reports a binary that is not installed, with the command
// that installs it.
type MissingToolError struct {
	Name string // the binary, e.g. "kube-apiserver"
	Dir  string // where it was looked for
	Fix  string // the command to run from the repo root, e.g. "hack/ensure.sh kube-apiserver"
	Root string // the repo root, when known
}

func (e *MissingToolError) Error() string {
	where := ""
	if e.Root != "" {
		where = " (from " + e.Root + ")"
	}
	return fmt.Sprintf("testenv: %s not found in %s; run: %s%s", e.Name, e.Dir, e.Fix, where)
}

// systemTools are the binaries Debian packages provide (hack/apt.sh); they
// are looked up outside LAKEPORT_TOOLS.
var systemTools = map[string]bool{
	"initdb": true, "pg_ctl": true, "postgres": true, "psql": true,
	"pg_isready": true, "createdb": true, "redis-server": true, "git": true,
}

// Tool returns the absolute path of a tool that hack/ensure.sh installs into
// $LAKEPORT_TOOLS (default <repo root>/.tools/bin), or of a binary from
// hack/apt.sh (PostgreSQL's, redis-server, git). When the tool is missing it
// fails the test if LAKEPORT_REQUIRE_TOOLS=1 and skips it otherwise, naming
// the command that installs it. Under -short (`make test-short`) it always
// skips: short runs use no tools.
//
// This is the only place in the code base that skips a test.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	if testing.Short() {
		// `make test-short` promises no servers and no tools.
		tb.Skipf("testenv: -short runs without real tools and servers (this test needs %s)", name)
		return ""
	}
	p, err := LookupTool(name)
	if err == nil {
		return p
	}
	if os.Getenv(EnvRequireTools) == "1" {
		tb.Fatalf("%v (%s=1, so this is a failure, not a skip)", err, EnvRequireTools)
		return ""
	}
	tb.Skipf("%v (skipping; %s=1 makes this a failure)", err, EnvRequireTools)
	return ""
}

// ErrShort stands for a server a package's TestMain did not start because the tests run with
// -short (make test-short starts no server): NeedServer skips on it.
var ErrShort = errors.New("not started under -short")

// NeedServer ends a test whose server failed to start (err from StartKube,
// StartPostgres, StartS3...): a missing binary skips or fails exactly as
// Tool does, any other error fails. It does nothing when err is nil.
func NeedServer(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrShort) {
		tb.Skip("-short: this test needs a server, and -short starts none")
		return
	}
	var missing *MissingToolError
	if errors.As(err, &missing) && Tool(tb, missing.Name) == "" {
		return // skipped or failed (a real testing.TB never gets here)
	}
	tb.Fatalf("%v", err)
}

// extraFiles are files hack/ensure.sh places next to a tool, by the tool
// whose ensure.sh run provides them.
var extraFiles = map[string]string{
	"kwok-stages.yaml":      "kwok",
	"argocd-crds.yaml":      "argocd",
	"git-verify-wrapper.sh": "argocd",
	"workflow-crds.yaml":    "workflow-controller",
	"promtool":              "prometheus",
}

// LookupTool is Tool for code without a testing.TB (TestMain): it returns
// the tool's absolute path or a *MissingToolError.
func LookupTool(name string) (string, error) {
	if systemTools[name] {
		return lookupSystemTool(name)
	}
	dir, root := ToolsDir()
	p := filepath.Join(dir, name)
	// Stat follows the symlink: a link into a cache that was wiped counts as missing.
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, nil
		}
		return p, nil
	}
	fix := name
	if t, ok := extraFiles[name]; ok {
		fix = t
	}
	return "", &MissingToolError{Name: name, Dir: dir, Fix: "hack/ensure.sh " + fix, Root: root}
}

// ToolsDir returns the folder tools are looked up in and the repo root it
// was derived from ("" when LAKEPORT_TOOLS is set or no root was found).
func ToolsDir() (dir, root string) {
	if d := os.Getenv(EnvTools); d != "" {
		return d, ""
	}
	root, err := RepoRoot()
	if err != nil {
		return filepath.Join(".tools", "bin"), ""
	}
	return filepath.Join(root, ".tools", "bin"), root
}

// RepoRoot finds the Lakeport checkout by walking up from the working
// directory (a test runs in its package folder) to a folder holding go.mod
// and hack/ensure.sh, falling back to the nearest go.mod.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	nearest := ""
	for dir := wd; ; dir = filepath.Dir(dir) {
		if fileExists(filepath.Join(dir, "go.mod")) {
			if fileExists(filepath.Join(dir, "hack", "ensure.sh")) {
				return dir, nil
			}
			if nearest == "" {
				nearest = dir
			}
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if nearest != "" {
		return nearest, nil
	}
	return "", fmt.Errorf("find repo root: no go.mod above %s", wd)
}

// lookupSystemTool finds a binary installed from Debian packages. PostgreSQL
// keeps its server binaries under /usr/lib/postgresql/<major>/bin, off PATH;
// the newest major wins.
func lookupSystemTool(name string) (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return n
	}
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fileExists(p) {
			return p, nil
		}
	}
	if p, err := lookPath(name); err == nil {
		return p, nil
	}
	root, _ := RepoRoot()
	return "", &MissingToolError{Name: name, Dir: "PATH and /usr/lib/postgresql/*/bin", Fix: "hack/apt.sh", Root: root}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
