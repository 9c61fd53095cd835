package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestSet(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // restore the test binary's limit
	cases := []struct {
		name      string
		files     map[string]string
		env       string
		wantLimit int64
		wantErr   bool
	}{
		{name: "cgroup v2 limit", files: map[string]string{"memory.max": "2147483648\n"}, wantLimit: soft(2147483648)},
		{name: "cgroup v2 unlimited", files: map[string]string{"memory.max": "max\n"}},
		{name: "cgroup v1 limit", files: map[string]string{"memory/memory.limit_in_bytes": "1073741824\n"}, wantLimit: soft(1073741824)},
		{name: "cgroup v1 unlimited", files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}},
		{name: "no cgroup files"},
		{name: "garbage", files: map[string]string{"memory.max": "lots\n"}, wantErr: true},
		{name: "GOMEMLIMIT wins", files: map[string]string{"memory.max": "2147483648\n"}, env: "700MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, data := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := debug.SetMemoryLimit(-1)
			res, err := Set(root, func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.env
				}
				return ""
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			now := debug.SetMemoryLimit(-1)
			switch {
			case tc.env != "":
				if res.Source != "GOMEMLIMIT" || now != before {
					t.Errorf("the user's GOMEMLIMIT must be left alone: %+v, limit %d -> %d", res, before, now)
				}
			case tc.wantLimit > 0:
				if res.Limit != tc.wantLimit || now != tc.wantLimit {
					t.Errorf("limit %d (runtime %d), want %d", res.Limit, now, tc.wantLimit)
				}
			default:
				if res.Limit != 0 || now != before {
					t.Errorf("no container limit, yet %+v (runtime %d -> %d)", res, before, now)
				}
			}
		})
	}
}

func soft(n int64) int64 { return int64(float64(n) * Fraction) }
