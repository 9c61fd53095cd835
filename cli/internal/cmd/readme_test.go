package cmd

import (
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"
)

// readmeRun is a quick-start block of the README: the marker gives the command line, the
// console block shows it and its real output on the bundled kit (stdout, then stderr).
var readmeRun = regexp.MustCompile("(?s)<!-- run: ([^>]+?) -->\n```console\n(.*?)```\n")

// The README's quick start shows what the commands really print on the bundled kit: each block is
// the output of running it (durations aside, which vary). -update rewrites the blocks.
func TestReadmeQuickStartOutput(t *testing.T) {
	root := "../../.."
	page := root + "/README.md"
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var failures []string
	got := readmeRun.ReplaceAllStringFunc(string(raw), func(block string) string {
		m := readmeRun.FindStringSubmatch(block)
		n++
		out, errOut, code := runWith(t, &Factory{Now: time.Now}, root, m[1], nil) // real durations
		if code != 0 {
			failures = append(failures, fmt.Sprintf("lakeport %s: exit %d\n%s", m[1], code, errOut))
			return block
		}
		want := "<!-- run: " + m[1] + " -->\n```console\n$ lakeport " + m[1] + "\n" + out + errOut + "```\n"
		if durationRE.ReplaceAllString(want, "<d>") != durationRE.ReplaceAllString(block, "<d>") {
			failures = append(failures, "lakeport "+m[1]+": the README's output is not what the command prints:\n"+lineDiff(block, want))
		}
		return want
	})
	if n == 0 {
		t.Fatal("README.md has no <!-- run: ... --> quick-start block")
	}
	if *update {
		if err := os.WriteFile(page, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, f := range failures {
		t.Errorf("%s (go test ./cli/internal/cmd -run TestReadme -update)", f)
	}
}
