package cmd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"
)

// walkthroughStep is one marked block of docs/adopt.md, in page order: a console block whose
// commands the test runs (and whose output lines it checks), a file the reader writes, or the
// rendered pull-request comment (the last command's stdout, quoted).
var walkthroughStep = regexp.MustCompile("(?s)<!-- walkthrough -->\n```console\n(.*?)```\n|<!-- file: ([^ ]+) -->\n```yaml\n(.*?)```\n|<!-- comment -->\n((?:>[^\n]*\n)*)")

// docs/adopt.md goes from an empty folder to a pull-request preview. This test follows it in a
// fresh folder: it writes the files the page shows, runs every command (lakeport in-process, the
// rest with bash), and fails when an output differs from the page (durations aside). -update
// rewrites the outputs. The workflow the page shows may only pass inputs the action declares.
func TestWalkthroughToPullRequestPreview(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the walkthrough needs git (make test installs it)")
	}
	page := "../../../docs/adopt.md"
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	home := filepath.Join(root, ".home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		// Fixed names and dates: the commits, and so every revision the outputs show, are the page's.
		"GIT_AUTHOR_NAME=You", "GIT_AUTHOR_EMAIL=you@example.com", "GIT_AUTHOR_DATE=2026-12-01T09:00:00Z",
		"GIT_COMMITTER_NAME=You", "GIT_COMMITTER_EMAIL=you@example.com", "GIT_COMMITTER_DATE=2026-12-01T09:00:00Z",
	}
	show := func(s string) string { return strings.ReplaceAll(s, root, "/home/you") }
	cwd := root
	lastStdout := ""
	var failures []string
	steps := 0
	got := walkthroughStep.ReplaceAllStringFunc(string(raw), func(block string) string {
		m := walkthroughStep.FindStringSubmatch(block)
		steps++
		switch {
		case m[2] != "": // a file the reader writes
			file := filepath.Join(cwd, filepath.FromSlash(m[2]))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(m[3]), 0o644); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(m[2], ".github/workflows/") {
				failures = append(failures, checkWorkflowInputs(m[2], m[3])...)
			}
			return block
		case strings.HasPrefix(block, "<!-- comment -->"):
			want := "<!-- comment -->\n" + quote(lastStdout)
			if want != block {
				failures = append(failures, "the quoted pull-request comment is not the last command's output:\n"+lineDiff(block, want))
			}
			return want
		}
		var b strings.Builder
		for _, line := range consoleCommands(m[1]) {
			b.WriteString("$ " + line + "\n")
			var out, errOut string
			var code int
			switch {
			case strings.HasPrefix(line, "cd "):
				cwd = filepath.Join(cwd, strings.TrimPrefix(line, "cd "))
			case strings.HasPrefix(line, "lakeport "):
				argv, err := shellFields(strings.TrimPrefix(line, "lakeport "))
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				redirect := ""
				if n := len(argv); n > 2 && argv[n-2] == ">" {
					redirect, argv = argv[n-1], argv[:n-2]
				}
				out, errOut, code = runArgv(t, &Factory{Now: time.Now}, cwd, argv, nil)
				if code == 1 { // a negative answer (changes, findings) is an answer, not a failure
					code = 0
				}
				if redirect != "" {
					if err := os.WriteFile(filepath.Join(cwd, redirect), []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
					lastStdout, out = show(out), ""
				}
			default:
				c := exec.Command("bash", "-c", line)
				c.Dir, c.Env = cwd, env
				var so, se bytes.Buffer
				c.Stdout, c.Stderr = &so, &se
				if err := c.Run(); err != nil {
					code = -1
					errOut = err.Error() + "\n" + se.String()
				}
				out, errOut = so.String(), errOut+se.String()
			}
			if code != 0 {
				failures = append(failures, fmt.Sprintf("%s: exit %d\n%s", line, code, errOut))
			}
			if out != "" {
				lastStdout = show(out)
			}
			b.WriteString(show(out) + show(errOut))
		}
		want := "<!-- walkthrough -->\n```console\n" + b.String() + "```\n"
		if durationRE.ReplaceAllString(want, "<d>") != durationRE.ReplaceAllString(block, "<d>") {
			failures = append(failures, "the page's output is not what the commands print:\n"+lineDiff(block, want))
		}
		return want
	})
	if steps < 5 {
		t.Fatalf("docs/adopt.md has %d walkthrough steps; the markers are <!-- walkthrough -->, <!-- file: PATH --> and <!-- comment -->", steps)
	}
	if *update {
		if err := os.WriteFile(page, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, f := range failures {
		t.Errorf("docs/adopt.md: %s (go test ./cli/internal/cmd -run TestWalkthrough -update)", f)
	}
}

// consoleCommands are the command lines of a console block: the lines after "$ ".
func consoleCommands(block string) []string {
	var cmds []string
	for _, l := range strings.Split(block, "\n") {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// quote is Markdown as a block quote, as the page shows the comment.
func quote(md string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(md, "\n"), "\n") {
		if l == "" {
			b.WriteString(">\n")
		} else {
			b.WriteString("> " + l + "\n")
		}
	}
	return b.String()
}

// shellFields splits a command line as a POSIX shell does for words without expansions: single
// and double quotes group, a backslash escapes the next character.
func shellFields(s string) ([]string, error) {
	var fields []string
	var cur strings.Builder
	inWord := false
	var q rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case q != 0:
			if r == q {
				q = 0
			} else if r == '\\' && q == '"' {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			q, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				fields = append(fields, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if q != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape")
	}
	if inWord {
		fields = append(fields, cur.String())
	}
	return fields, nil
}

// checkWorkflowInputs: the workflow checks out the whole history and passes the lakeport action
// only inputs its action.yml declares.
func checkWorkflowInputs(name, text string) []string {
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string         `json:"uses"`
				With map[string]any `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := sigsyaml.Unmarshal([]byte(text), &wf); err != nil {
		return []string{name + ": " + err.Error()}
	}
	raw, err := os.ReadFile("../../../action.yml")
	if err != nil {
		return []string{err.Error()}
	}
	var action struct {
		Inputs map[string]any `json:"inputs"`
	}
	if err := sigsyaml.Unmarshal(raw, &action); err != nil {
		return []string{"action.yml: " + err.Error()}
	}
	var failures []string
	usesAction, fullHistory := false, false
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			switch {
			case strings.HasPrefix(s.Uses, "actions/checkout@"):
				fullHistory = fmt.Sprint(s.With["fetch-depth"]) == "0"
			case strings.HasPrefix(s.Uses, "lakeport/lakeport@"):
				usesAction = true
				for k := range s.With {
					if _, ok := action.Inputs[k]; !ok {
						failures = append(failures, fmt.Sprintf("%s: the lakeport action has no input %q (action.yml)", name, k))
					}
				}
			}
		}
	}
	if !usesAction {
		failures = append(failures, name+": no step uses lakeport/lakeport@")
	}
	if !fullHistory {
		failures = append(failures, name+": actions/checkout without fetch-depth: 0 (lakeport reads history)")
	}
	return failures
}

// TestPRCommentScreenshotSource: docs/images/pr-comment.png shows the comment docs/adopt.md
// quotes (the output TestWalkthroughToPullRequestPreview checks). The screenshot cannot be
// compared, so its source can: docs/images/pr-comment.md must be the quoted comment, unquoted.
// When the comment changes, hack/pr-comment-screenshot.sh rewrites both.
func TestPRCommentScreenshotSource(t *testing.T) {
	page, err := os.ReadFile("../../../docs/adopt.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("<!-- comment -->\n((?:>[^\n]*\n)*)").FindSubmatch(page)
	if m == nil {
		t.Fatal("docs/adopt.md quotes no comment (<!-- comment --> then a block quote)")
	}
	src, err := os.ReadFile("../../../docs/images/pr-comment.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := quote(string(src)); got != string(m[1]) {
		t.Fatalf("docs/images/pr-comment.md is not the comment docs/adopt.md quotes: run hack/pr-comment-screenshot.sh\n%s", lineDiff(got, string(m[1])))
	}
	png, err := os.ReadFile("../../../docs/images/pr-comment.png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("docs/images/pr-comment.png is not a PNG")
	}
}
