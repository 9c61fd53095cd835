package cmd

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

// TestDomainNamesNoFlag: the packages under cli/pkg are a library; their messages name the
// options that settle them as {Field} (sayFlags turns that into the flag here), never as a
// lakeport flag. Every string literal of their non-test sources is searched for "--<flag>" of any
// lakeport command.
func TestDomainNamesNoFlag(t *testing.T) {
	io, _, _ := iostreams.Test(nil)
	flags := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(&Factory{IO: io}))
	delete(flags, "help")
	mention := regexp.MustCompile(`(?:^|[\s("'])--([a-z][a-z-]*)`)
	root := filepath.Join("..", "..", "pkg")
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		n++
		ast.Inspect(file, func(node ast.Node) bool {
			lit, ok := node.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range mention.FindAllStringSubmatch(s, -1) {
				if flags[m[1]] {
					t.Errorf("%s: %q names the lakeport flag --%s: name the option as {Field} (see sayFlags)", fset.Position(lit.Pos()), s, m[1])
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("searched %d files under %s: the walk is broken", n, root)
	}
}

// TestSayFlags: the options a domain message names become the flags that set them; braces that
// name no option stay as they are.
func TestSayFlags(t *testing.T) {
	for in, want := range map[string]string{
		"{To} is required":                         "--to is required",
		"pass {From} or {Pin}":                     "pass --from or --pin",
		"HEAD is a, not b ({ExpectHead})":          "HEAD is a, not b (--expect-head)",
		"{DryRun}: nothing written":                "--dry-run: nothing written",
		`{Ignore} "x": bad`:                        `--ignore "x": bad`,
		"template: {{ .Values.x }} {Unknown} {to}": "template: {{ .Values.x }} {Unknown} {to}",
	} {
		if got := sayFlags(in); got != want {
			t.Errorf("sayFlags(%q) = %q, want %q", in, got, want)
		}
	}
}
