package render

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// WriteStream writes releases as one YAML stream: per release a header comment, then its manifest
// exactly as `helm template` prints it.
func WriteStream(w io.Writer, rels []*Release) error {
	for _, r := range rels {
		if _, err := fmt.Fprintf(w, "# lakeport: app=%s env=%s chart=%s@%s (%s)\n", r.App, r.Environment, r.Chart.Path, r.Chart.Revision, short(r.Chart.Resolved)); err != nil {
			return err
		}
		if _, err := io.WriteString(w, withSeparator(r.Manifest)); err != nil {
			return err
		}
	}
	return nil
}

func withSeparator(m string) string {
	if !strings.HasPrefix(m, "---") {
		m = "---\n" + m
	}
	return m
}

// marker identifies a directory written by WriteDir, which WriteDir may replace.
const marker = ".lakeport-render"

// WriteDir writes PATH/<env>/<component>.yaml for every release. The whole directory is built
// beside PATH and swapped in with renames, so PATH is never left half written; an existing PATH is
// replaced only if it is empty or was written by lakeport.
func WriteDir(dir string, rels []*Release) (err error) {
	w, err := NewDirWriter(dir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	for _, r := range rels {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return w.Commit()
}

// DirWriter is WriteDir one release at a time (safe for concurrent use): render -o dir= streams
// each release out as soon as it is rendered. Nothing is visible at PATH until Commit.
type DirWriter struct {
	dir, tmp string
	mu       sync.Mutex
	made     map[string]bool
}

// NewDirWriter checks PATH and creates the directory the releases are written to.
func NewDirWriter(dir string) (*DirWriter, error) {
	dir = filepath.Clean(dir)
	if entries, statErr := os.ReadDir(dir); statErr == nil && len(entries) > 0 {
		if _, mErr := os.Stat(filepath.Join(dir, marker)); mErr != nil {
			return nil, fmt.Errorf("output directory %s exists and was not written by lakeport render: choose another path or remove it", dir)
		}
	} else if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return nil, fmt.Errorf("output directory %s: %w", dir, statErr)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("create temporary directory beside %s: %w", dir, err)
	}
	return &DirWriter{dir: dir, tmp: tmp, made: map[string]bool{}}, nil
}

// Write writes one release's file.
func (w *DirWriter) Write(r *Release) error {
	env, comp := r.Environment, r.Component
	if env == "" || comp == "" {
		env, comp = "_", r.App
	}
	w.mu.Lock()
	if !w.made[env] {
		if err := os.MkdirAll(filepath.Join(w.tmp, env), 0o755); err != nil {
			w.mu.Unlock()
			return err
		}
		w.made[env] = true
	}
	w.mu.Unlock()
	if err := os.WriteFile(filepath.Join(w.tmp, env, comp+".yaml"), []byte(withSeparator(r.Manifest)), 0o644); err != nil {
		return fmt.Errorf("write %s/%s.yaml: %w", env, comp, err)
	}
	return nil
}

// Abort removes what was written.
func (w *DirWriter) Abort() { os.RemoveAll(w.tmp) }

// Commit swaps the written directory in at PATH.
func (w *DirWriter) Commit() (err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	dir, tmp := w.dir, w.tmp
	if err := os.WriteFile(filepath.Join(tmp, marker), []byte("written by lakeport render; safe to delete\n"), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	old := ""
	if _, statErr := os.Stat(dir); statErr == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replace %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}
