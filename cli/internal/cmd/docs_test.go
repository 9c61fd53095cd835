package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/docgen"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

// The reference pages under docs/reference are generated from the code: the YAML schemas from
// the Go types the kit's validator decodes into (a field without a doc comment fails here), the
// command page from the commands themselves. -update rewrites them.
func TestReferenceDocs(t *testing.T) {
	root := "../../.."
	fsys := os.DirFS(root)
	read := func(p string) string {
		raw, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	pages := map[string][]byte{}
	settings, err := docgen.Schema(fsys, "cli/pkg/kit", "Settings")
	if err != nil {
		t.Fatalf("lakeport.yaml schema: %v", err)
	}
	pages["docs/reference/lakeport-yaml.md"] = docgen.SchemaPage("`environments/lakeport.yaml`",
		"The kit's settings: where the ApplicationSet and the AppProjects are, the promotion order and the image pins. Read by the lakeport CLI only (Argo CD does not read it). Unknown keys are refused with the file and line.",
		settings, read("environments/lakeport.yaml"), "environments/lakeport.yaml")
	env, err := docgen.Schema(fsys, "cli/pkg/kit", "Environment")
	if err != nil {
		t.Fatalf("env.yaml schema: %v", err)
	}
	pages["docs/reference/env-yaml.md"] = docgen.SchemaPage("`environments/<env>/env.yaml`",
		"One environment: its cluster and namespace, its Argo CD AppProject, what Helm renders for, its sync policy and its components with their chart release pins. Read by Argo CD (the ApplicationSet's git files generator passes every key to the template) and by the lakeport CLI, which refuses unknown keys with the file and line. Each component's Helm values are in `environments/<env>/<component>.yaml` beside it.",
		env, read("environments/prod/env.yaml"), "environments/prod/env.yaml")
	io, _, _ := iostreams.Test(nil)
	pages["docs/reference/commands.md"] = docgen.CommandsPage(NewRootCmd(&Factory{IO: io}))
	for p, got := range pages {
		checkGolden(t, filepath.Join(root, p), string(got))
	}
}

// maxSentenceWords is the longest sentence the user docs may have (a reader loses longer ones).
const maxSentenceWords = 40

var (
	mdFence       = regexp.MustCompile("(?s)```.*?```")
	mdComment     = regexp.MustCompile(`(?s)<!--.*?-->`)
	mdCode        = regexp.MustCompile("`[^`]*`")
	mdLink        = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	mdListItem    = regexp.MustCompile(`^\s*([-*]|\d+\.)\s`)
	sentenceBreak = regexp.MustCompile(`[.!?:;]\s+[A-Z` + "`" + `(\[*]`)
)

// longSentences are the sentences of a Markdown page over max words: prose only (code blocks,
// HTML comments, tables, headings, block quotes and inline code spans are not prose), split at a
// full stop, colon or semicolon followed by a capital, and per list item.
func longSentences(page string, max int) []string {
	page = mdComment.ReplaceAllString(mdFence.ReplaceAllString(page, ""), "")
	var paras []string
	for _, block := range regexp.MustCompile(`\n\s*\n`).Split(page, -1) {
		var cur []string
		for _, l := range strings.Split(block, "\n") {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "|") || strings.HasPrefix(t, "#") || strings.HasPrefix(t, ">") {
				continue
			}
			if mdListItem.MatchString(l) && len(cur) > 0 {
				paras = append(paras, strings.Join(cur, " "))
				cur = nil
			}
			cur = append(cur, l)
		}
		paras = append(paras, strings.Join(cur, " "))
	}
	var long []string
	for _, p := range paras {
		p = mdLink.ReplaceAllString(mdCode.ReplaceAllString(p, "X"), "$1")
		for len(p) > 0 {
			s := p
			if loc := sentenceBreak.FindStringIndex(p); loc != nil {
				s, p = p[:loc[0]+1], p[loc[1]-1:]
			} else {
				p = ""
			}
			if n := len(strings.Fields(s)); n > max {
				long = append(long, fmt.Sprintf("%d words: %.100s...", n, strings.TrimSpace(s)))
			}
		}
	}
	return long
}

// The pages a user reads have no sentence over maxSentenceWords words.
func TestDocsShortSentences(t *testing.T) {
	root := "../../.."
	pages := []string{"README.md", "CONTRIBUTING.md", "jobs/README.md", "hack/README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		pages = append(pages, filepath.ToSlash(rel))
	}
	for _, p := range pages {
		raw, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range longSentences(string(raw), maxSentenceWords) {
			t.Errorf("%s: a sentence of %s: split it", p, s)
		}
	}
	// The rule itself: a long sentence is found, a long code block or table row is not.
	long := strings.Repeat("word ", maxSentenceWords+1) + "end."
	if got := longSentences("# T\n\n"+long+"\n", maxSentenceWords); len(got) != 1 {
		t.Errorf("a %d-word sentence: found %d, want 1", maxSentenceWords+2, len(got))
	}
	if got := longSentences("```\n"+long+"\n```\n\n| "+long+" |\n", maxSentenceWords); len(got) != 0 {
		t.Errorf("code and tables: found %v, want none", got)
	}
}
