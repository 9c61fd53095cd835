package publock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// File takes flock(2) locks on files in a folder (next to the SQLite catalog of the embedded
// default). The kernel drops a flock when its process dies, so a killed publisher leaves no lock.
type File struct {
	dir string
}

// NewFile returns a Locker whose lock files live in dir (created when missing).
func NewFile(dir string) *File { return &File{dir: dir} }

// Close implements Locker.
func (f *File) Close() error { return nil }

type fileLock struct {
	f    *os.File
	ds   *os.File // the dataset's lock file, held shared by a publication (nil for maintenance)
	lost chan struct{}
	once sync.Once
}

// datasetFile is the dataset-wide lock file: flocked shared by publications, exclusively by
// maintenance.
func (f *File) datasetFile(dataset string) string {
	return filepath.Join(f.dir, dataset+".table.lock")
}

// TryAcquire implements Locker: the dataset's file shared, then the date's file exclusive.
func (f *File) TryAcquire(_ context.Context, key Key, owner string) (Lock, error) {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	dsPath := f.datasetFile(key.Dataset)
	ds, err := os.OpenFile(dsPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if err := flockMode(ds, false); err != nil {
		holder, _ := os.ReadFile(dsPath)
		_ = ds.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &BusyError{Key: key, Holder: fmt.Sprintf("file lock %s held by maintenance run %s", dsPath, strings.TrimSpace(string(holder))), Maintenance: true}
		}
		return nil, fmt.Errorf("lock %s: flock %s: %w", key, dsPath, err)
	}
	path := filepath.Join(f.dir, strings.ReplaceAll(key.String(), "/", "_")+".lock")
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		_ = ds.Close()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if err := flock(fh); err != nil {
		holder, _ := os.ReadFile(path)
		_ = fh.Close()
		_ = ds.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &BusyError{Key: key, Holder: fmt.Sprintf("file lock %s held by run %s", path, strings.TrimSpace(string(holder)))}
		}
		return nil, fmt.Errorf("lock %s: flock %s: %w", key, path, err)
	}
	// The owner is written for the loser's error message only; the lock is the flock.
	if err := fh.Truncate(0); err == nil {
		_, _ = fh.WriteAt([]byte(owner+"\n"), 0)
	}
	return &fileLock{f: fh, ds: ds, lost: make(chan struct{})}, nil
}

// TryAcquireMaintenance implements Locker: the dataset's file, exclusively.
func (f *File) TryAcquireMaintenance(_ context.Context, dataset, owner string) (Lock, error) {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, fmt.Errorf("maintenance lock %s: %w", dataset, err)
	}
	path := f.datasetFile(dataset)
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("maintenance lock %s: %w", dataset, err)
	}
	if err := flockMode(fh, true); err != nil {
		_ = fh.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &BusyError{Key: Key{Dataset: dataset}, Holder: "file lock " + path + " held by a publication or maintenance", Maintenance: true}
		}
		return nil, fmt.Errorf("maintenance lock %s: flock %s: %w", dataset, path, err)
	}
	if err := fh.Truncate(0); err == nil {
		_, _ = fh.WriteAt([]byte(owner+"\n"), 0)
	}
	return &fileLock{f: fh, lost: make(chan struct{})}, nil
}

func (l *fileLock) Lost() <-chan struct{} { return l.lost }

func (l *fileLock) Release(context.Context) error {
	var err error
	l.once.Do(func() {
		// Closing the descriptor drops the flock; the file stays (unlinking it would let a
		// waiter lock an unlinked inode while a newcomer locks a new file).
		err = l.f.Close()
		if l.ds != nil {
			if derr := l.ds.Close(); derr != nil && err == nil {
				err = derr
			}
		}
	})
	return err
}
