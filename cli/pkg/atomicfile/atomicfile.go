// Package atomicfile writes a set of files all or nothing: every new content is first written and
// synced to a temporary file beside its target, then the temporaries are renamed over the targets;
// if anything fails on the way, the targets already replaced are restored from backups, so the
// working tree is as it was.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Hook is called before each rename (step 0, 1, ...); tests use it to inject a crash.
type Hook func(step int, path string) error

// WriteAll writes files (paths relative to root) atomically as a set.
func WriteAll(root string, files map[string][]byte, before Hook) (err error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)

	type entry struct {
		target, tmp, backup string
		existed             bool
		mode                os.FileMode
	}
	var entries []*entry
	cleanup := func() {
		for _, e := range entries {
			if e.tmp != "" {
				os.Remove(e.tmp)
			}
			if e.backup != "" {
				os.Remove(e.backup)
			}
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	for _, n := range names {
		e := &entry{target: filepath.Join(root, filepath.FromSlash(n)), mode: 0o644}
		entries = append(entries, e)
		if fi, statErr := os.Stat(e.target); statErr == nil {
			e.existed, e.mode = true, fi.Mode().Perm()
		}
		if e.tmp, err = writeTemp(e.target, files[n], e.mode); err != nil {
			return fmt.Errorf("write %s: %w", n, err)
		}
		if e.existed {
			// A hard link keeps the original content reachable for a rollback at no copy cost.
			e.backup = e.tmp + ".orig"
			if err = os.Link(e.target, e.backup); err != nil {
				return fmt.Errorf("back up %s: %w", n, err)
			}
		}
	}
	var done []*entry
	for i, e := range entries {
		if before != nil {
			if err = before(i, names[i]); err != nil {
				break
			}
		}
		if err = os.Rename(e.tmp, e.target); err != nil {
			err = fmt.Errorf("replace %s: %w", names[i], err)
			break
		}
		e.tmp = ""
		done = append(done, e)
	}
	if err != nil {
		var rollback []error
		for _, e := range done {
			if e.existed {
				rollback = append(rollback, os.Rename(e.backup, e.target))
				e.backup = ""
			} else {
				rollback = append(rollback, os.Remove(e.target))
			}
		}
		if rb := errors.Join(rollback...); rb != nil {
			return fmt.Errorf("%w; restoring the files already written also failed: %v", err, rb)
		}
		return err
	}
	for _, e := range entries {
		if e.backup != "" {
			os.Remove(e.backup)
		}
	}
	syncDirs(root, names)
	return nil
}

func writeTemp(target string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, mode)
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDirs makes the renames durable.
func syncDirs(root string, names []string) {
	seen := map[string]bool{}
	for _, n := range names {
		d := filepath.Dir(filepath.Join(root, filepath.FromSlash(n)))
		if seen[d] {
			continue
		}
		seen[d] = true
		if f, err := os.Open(d); err == nil {
			_ = f.Sync()
			f.Close()
		}
	}
}
