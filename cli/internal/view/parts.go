package view

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
)

// WriteParts writes DIR/part-N.md, removes parts a previous run left beyond N, and prints the
// paths in order.
func WriteParts(dir string, parts []string, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--split-dir: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "part-*.md"))
	keep := map[string]bool{}
	files := map[string][]byte{}
	var names []string
	for i, p := range parts {
		base := fmt.Sprintf("part-%d.md", i+1)
		files[base] = []byte(p)
		name := filepath.Join(dir, base)
		keep[name] = true
		names = append(names, name)
	}
	if err := atomicfile.WriteAll(dir, files, nil); err != nil {
		return fmt.Errorf("--split-dir: %w", err)
	}
	for _, name := range names {
		if _, err := fmt.Fprintln(out, name); err != nil {
			return err
		}
	}
	for _, p := range old {
		if !keep[p] {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("--split-dir: remove stale %s: %w", p, err)
			}
		}
	}
	return nil
}
