package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

// Failures a user meets that no other golden test produces: each is quoted in
// docs/troubleshooting.md.
func TestTroubleshootingGolden(t *testing.T) {
	runGolden(t, []cmdTestCase{
		{name: "health-no-kubeconfig", args: "health --env dev", wantCode: 2,
			env: map[string]string{"KUBECONFIG": "/nonexistent/kubeconfig", "HOME": "/nonexistent"}},
		{name: "health-argocd-unreachable", args: "health --env dev --server 127.0.0.1:1 --plaintext", wantCode: 2,
			env: map[string]string{"ARGOCD_AUTH_TOKEN": "x"}},
	})
	// Outside a kit.
	t.Run("apps-not-a-kit", func(t *testing.T) {
		r := testkit.New(t)
		r.Write(map[string]string{"README.md": "# not a kit\n"})
		r.Commit("init")
		out, errOut, code := runCmd(t, r.Dir, "apps", nil)
		checkGolden(t, "testdata/apps-not-a-kit.golden", "$ lakeport apps\n--- exit "+strconv.Itoa(code)+"\n--- stdout\n"+normalize(out, r.Dir, nil)+"--- stderr\n"+normalize(errOut, r.Dir, nil))
	})
	// A PR job's default shallow clone cannot read the base revision.
	t.Run("diff-shallow-clone", func(t *testing.T) {
		f := testkit.NewFixture(t)
		shallow := filepath.Join(t.TempDir(), "shallow")
		c := exec.Command("git", "clone", "-q", "--depth", "1", "file://"+f.Dir, shallow)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git clone --depth 1: %v\n%s", err, out)
		}
		out, errOut, code := runCmd(t, shallow, "diff --base HEAD~1", nil)
		checkGolden(t, "testdata/diff-shallow-clone.golden", "$ lakeport diff --base HEAD~1\n--- exit "+strconv.Itoa(code)+"\n--- stdout\n"+normalize(out, shallow, f)+"--- stderr\n"+normalize(errOut, shallow, f))
		if code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

// troubleshootingBlock is a quoted message in docs/troubleshooting.md: the marker names the golden
// file whose stderr the block quotes.
var troubleshootingBlock = regexp.MustCompile("(?s)<!-- golden: ([a-z0-9-]+) -->\n```text\n(.*?)```\n")

// Every message docs/troubleshooting.md quotes is one a test produces: the output (stdout, then
// stderr) of the golden file its marker names, byte for byte. -update rewrites the blocks from the goldens.
func TestTroubleshootingPageQuotesRealMessages(t *testing.T) {
	page := "../../../docs/troubleshooting.md"
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var failures []string
	got := troubleshootingBlock.ReplaceAllStringFunc(string(raw), func(block string) string {
		m := troubleshootingBlock.FindStringSubmatch(block)
		n++
		golden, err := os.ReadFile(filepath.Join("testdata", m[1]+".golden"))
		if err != nil {
			failures = append(failures, m[1]+": "+err.Error())
			return block
		}
		_, outputs, ok := strings.Cut(string(golden), "--- stdout\n")
		stdout, stderr, ok2 := strings.Cut(outputs, "--- stderr\n")
		if !ok || !ok2 || strings.TrimSpace(stderr) == "" {
			failures = append(failures, m[1]+": the golden file has no output to quote")
			return block
		}
		want := "<!-- golden: " + m[1] + " -->\n```text\n" + stdout + stderr + "```\n"
		if want != block {
			failures = append(failures, m[1]+": the quoted message is not the golden file's stderr")
		}
		return want
	})
	if n < 10 {
		t.Errorf("%s quotes %d messages, want the ten most likely failures at least", page, n)
	}
	if *update {
		if err := os.WriteFile(page, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, f := range failures {
		t.Errorf("%s: %s (run go test -run TestTroubleshooting -update)", page, f)
	}
}
