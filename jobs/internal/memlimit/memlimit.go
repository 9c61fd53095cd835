// Package memlimit sizes the Go runtime's soft memory limit from the container's memory limit, so
// that a worker collects garbage harder as it nears its pod's limit instead of being OOM-killed
// with most of its heap garbage (the default GOGC=100 lets the heap grow to twice what is live).
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the container's limit given to the Go runtime's soft limit: the rest is headroom for
// what the limit cannot steer (the binary's text, memory freed but not yet returned to the kernel,
// a burst between two collections).
const Fraction = 0.85

// Result says what Set did.
type Result struct {
	// Limit is the soft limit set, in bytes (0: none set).
	Limit int64
	// Container is the container's memory limit in bytes (0: none found).
	Container int64
	// Source names where the limit came from: "GOMEMLIMIT" (the user's, left alone), the cgroup
	// file read, or "" (no limit anywhere).
	Source string
}

// Set applies Fraction of the container's memory limit (cgroup v2 memory.max, else cgroup v1
// memory.limit_in_bytes, under root, "/sys/fs/cgroup" outside tests) as the runtime's soft memory
// limit, unless GOMEMLIMIT is set (the user's choice wins: the runtime already applied it).
func Set(root string, getenv func(string) string) (Result, error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return Result{Limit: debug.SetMemoryLimit(-1), Source: "GOMEMLIMIT"}, nil
	}
	limit, src, err := containerLimit(root)
	if err != nil || limit <= 0 {
		return Result{}, err
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	return Result{Limit: soft, Container: limit, Source: src}, nil
}

// containerLimit reads the memory limit of the cgroup the process runs in (0 when unlimited).
func containerLimit(root string) (int64, string, error) {
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		p := filepath.Join(root, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, p, fmt.Errorf("read %s: %w", p, err)
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0, p, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, p, fmt.Errorf("%s: %q is not a byte count: %w", p, v, err)
		}
		// cgroup v1 says "no limit" with a huge page-aligned number.
		if n <= 0 || n >= math.MaxInt64/2 {
			return 0, p, nil
		}
		return n, p, nil
	}
	return 0, "", nil
}
