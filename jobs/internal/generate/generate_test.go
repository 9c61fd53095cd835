package generate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

func TestDeterministic(t *testing.T) {
	c, err := contract.Load("frtb_sensitivities")
	if err != nil {
		t.Fatal(err)
	}
	cob := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var files [][]byte
	for range 2 {
		dir := t.TempDir()
		res, err := WriteDate(context.Background(), dir, Options{Contract: c, CobDate: cob, Rows: 3001, Files: 3, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 3001 || len(res.Files) != 3 {
			t.Fatalf("result %+v", res)
		}
		if _, err := os.Stat(filepath.Join(res.Dir, SuccessMarker)); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(res.Files[1])
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("same seed and date gave different files")
	}
}

func TestRejectsUnknownFault(t *testing.T) {
	c, _ := contract.Load("drc")
	_, err := WriteDate(context.Background(), t.TempDir(), Options{Contract: c, CobDate: time.Now(), Rows: 1, Faults: []Fault{"typo"}})
	if err == nil {
		t.Fatal("unknown fault accepted")
	}
}
