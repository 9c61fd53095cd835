// Command prpreview is what a pull-request bot embeds: the rendered diff of a branch against its
// base and the policy findings the branch introduces, as one Markdown comment, through the action
// package alone (no cobra, no lakeport command). It is an example; the lakeport CLI does the same
// with `lakeport diff --base BASE -o markdown` and `lakeport check --base BASE -o markdown`.
//
// Usage: prpreview [-repo DIR] [-base REV]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/check/report"
	"github.com/lakeport/lakeport/cli/pkg/diff"
)

func main() {
	repo := flag.String("repo", ".", "the kit repository")
	base := flag.String("base", "HEAD", "the revision the pull request is compared with")
	flag.Parse()
	code, err := run(context.Background(), os.Stdout, os.Stderr, *repo, *base)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prpreview:", err)
	}
	os.Exit(code)
}

// run writes the comment and returns 0 when the pull request changes nothing and introduces no
// failing finding, 1 when it does, 2 on an error.
func run(ctx context.Context, out, log io.Writer, repo, base string) (int, error) {
	cfg := &action.Config{
		RepoDir: repo,
		Warn:    func(msg string) { fmt.Fprintln(log, "warning:", msg) },
		Note:    func(msg string) { fmt.Fprintln(log, "note:", msg) },
	}
	d, err := (&action.Diff{Config: cfg, Mode: diff.Revisions, Base: base, Rules: diff.DefaultRules(), Context: 3}).Run(ctx)
	if err != nil {
		return 2, fmt.Errorf("diff: %w", err)
	}
	c, err := (&action.Check{Config: cfg, Base: base}).Run(ctx)
	if err != nil {
		return 2, fmt.Errorf("check: %w", err)
	}
	fmt.Fprintf(out, "## Rendered changes\n\n%s\n## Policy findings\n\n", diff.Markdown(d.Report, diff.MarkdownOptions{})[0])
	if err := report.Markdown(out, c.Report, report.Options{}); err != nil {
		return 2, err
	}
	fmt.Fprintf(log, "%s; checked %d applications\n", d.Summary, c.Summary.Applications)
	if err := errors.Join(d.Verdict(), c.Verdict()); err != nil {
		return 1, nil
	}
	return 0, nil
}
