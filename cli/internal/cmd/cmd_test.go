package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/cli/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// cmdTestCase runs one command line through the whole root command against a fresh fixture repo.
type cmdTestCase struct {
	name     string
	args     string
	setup    func(f *testkit.Fixture) // edits the fixture's working tree before the run
	wantCode int
	env      map[string]string
}

func runCmd(t *testing.T, dir, args string, env map[string]string) (string, string, int) {
	t.Helper()
	return runWith(t, &Factory{}, dir, args, env)
}

// runWith runs a command line with a Factory the test prepared (fake gate, fixed clock...).
func runWith(t *testing.T, f *Factory, dir, args string, env map[string]string) (string, string, int) {
	t.Helper()
	return runArgv(t, f, dir, strings.Fields(args), env)
}

// runArgv is runWith for arguments that hold spaces.
func runArgv(t *testing.T, f *Factory, dir string, argv []string, env map[string]string) (string, string, int) {
	t.Helper()
	io, out, errOut := iostreams.Test(func(k string) string { return env[k] })
	f.IO = io
	if f.Now == nil {
		f.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	}
	code := Run(context.Background(), f, append([]string{"--repo", dir}, argv...))
	return out.String(), errOut.String(), code
}

var durationRE = regexp.MustCompile(`\b\d+(\.\d+)?(ms|µs|s)\b`)

func normalize(s, dir string, f *testkit.Fixture) string {
	s = strings.ReplaceAll(s, dir, "$REPO")
	s = durationRE.ReplaceAllString(s, "<duration>")
	if f != nil {
		s = strings.ReplaceAll(s, f.V1, "<V1>")
		s = strings.ReplaceAll(s, f.V1[:12], "<V1:12>")
		s = strings.ReplaceAll(s, f.V2, "<V2>")
		s = strings.ReplaceAll(s, f.V2[:12], "<V2:12>")
	}
	return s
}

func runGolden(t *testing.T, tests []cmdTestCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testkit.NewFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			args := strings.ReplaceAll(strings.ReplaceAll(tc.args, "<V1>", f.V1), "<V2>", f.V2)
			out, errOut, code := runCmd(t, f.Dir, args, tc.env)
			got := fmt.Sprintf("$ lakeport %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s", tc.args, code,
				normalize(out, f.Dir, f), normalize(errOut, f.Dir, f))
			checkGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\nstderr:\n%s", code, tc.wantCode, errOut)
			}
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run go test -update to accept):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the first differing lines, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, wl, gl)
		}
	}
	return ""
}
