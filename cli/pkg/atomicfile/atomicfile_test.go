package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failAt  int // -1: no failure
		wantErr bool
	}{
		{"all written", -1, false},
		{"crash before the first rename", 0, true},
		{"crash between two files", 1, true},
		{"crash before the last file", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			orig := map[string]string{"a.yaml": "a: 1\n", "sub/b.yaml": "b: 1\n"}
			for n, c := range orig {
				p := filepath.Join(root, n)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			files := map[string][]byte{"a.yaml": []byte("a: 2\n"), "sub/b.yaml": []byte("b: 2\n"), "sub/new.yaml": []byte("n: 1\n")}
			err := WriteAll(root, files, func(step int, _ string) error {
				if step == tc.failAt {
					return errors.New("injected crash")
				}
				return nil
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			for n := range files {
				b, rerr := os.ReadFile(filepath.Join(root, n))
				switch {
				case !tc.wantErr && string(b) != string(files[n]):
					t.Errorf("%s = %q", n, b)
				case tc.wantErr && orig[n] == "" && !os.IsNotExist(rerr):
					t.Errorf("%s was left behind after a failure", n)
				case tc.wantErr && orig[n] != "" && string(b) != orig[n]:
					t.Errorf("%s = %q after a failure, want the original %q", n, b, orig[n])
				}
			}
			if fi, err := os.Stat(filepath.Join(root, "a.yaml")); err == nil && fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600 kept", fi.Mode().Perm())
			}
			// No temporary or backup files are left.
			var left []string
			filepath.Walk(root, func(p string, fi os.FileInfo, _ error) error {
				if !fi.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			want := 2
			if !tc.wantErr {
				want = 3
			}
			if len(left) != want {
				t.Errorf("files left: %v", left)
			}
		})
	}
}
