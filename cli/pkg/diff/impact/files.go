package impact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	pathpkg "path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Where the distribution jobs keep the definitions of the data they publish. The CLI reads them
// as files of the repository (it never imports jobs/: the two binaries share no code).
const (
	// MigrationsDir holds the relational migrations, sql/<dialect>/NNNN_name.sql, embedded in the
	// job binary and applied once each by `distribution migrate`, which records their SHA-256
	// checksum and refuses to run when an applied migration's file no longer matches it
	// (jobs/internal/migrate/migrate.go, pendingOf).
	MigrationsDir = "jobs/internal/migrate/sql"
	// ContractsDir holds the data contracts, one <dataset>.yaml each (jobs/contracts, parsed by
	// jobs/internal/contract): the table's key, partitioning and column types.
	ContractsDir = "jobs/contracts"
)

// FilesDirs are the folders Files reads: pass the changed files below them.
var FilesDirs = []string{MigrationsDir, ContractsDir}

var migrationFile = regexp.MustCompile(`^` + regexp.QuoteMeta(MigrationsDir) + `/[a-z0-9_]+/(\d+)_[^/]+\.sql$`)

// Reader reads one file of one side; a missing file is an error satisfying
// errors.Is(err, fs.ErrNotExist).
type Reader interface {
	ReadFile(name string) ([]byte, error)
}

// FileImpact is an impact of a changed repository file.
type FileImpact struct {
	File string `json:"file"`
	Impact
}

// Files returns the data-at-risk impacts of changed repository files: a migration that exists
// in base (it has been merged, so it has run wherever the job was deployed since) edited or
// removed in head, and a data contract whose key, partitioning, table or column types change
// (the published table no longer matches what consumers and earlier dates have). changed lists
// the files that differ between the two sides; files outside FilesDirs are skipped.
func Files(changed []string, base, head Reader) ([]FileImpact, error) {
	var out []FileImpact
	for _, f := range changed {
		switch {
		case migrationFile.MatchString(f):
			b, bok, err := read(base, f)
			if err != nil {
				return nil, err
			}
			if !bok {
				continue // a new migration: it runs once, in order
			}
			h, hok, err := read(head, f)
			if err != nil {
				return nil, err
			}
			bsum := checksum(b)
			if !hok {
				out = append(out, FileImpact{File: f, Impact: Impact{Kind: DataAtRisk, Paths: []string{f},
					Reason: fmt.Sprintf("applied migration %s removed (checksum %s): databases keep its schema, new ones no longer get it; add a new migration instead", pathpkg.Base(f), bsum)}})
				continue
			}
			if hsum := checksum(h); hsum != bsum {
				out = append(out, FileImpact{File: f, Impact: Impact{Kind: DataAtRisk, Paths: []string{f},
					Reason: fmt.Sprintf("applied migration %s edited (checksum %s → %s): `distribution migrate` refuses to run where it was applied, and the schema it built differs from the file; add a new migration instead", pathpkg.Base(f), bsum, hsum)}})
			}
		case strings.HasPrefix(f, ContractsDir+"/") && (strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")):
			im, err := contractImpacts(f, base, head)
			if err != nil {
				return nil, err
			}
			out = append(out, im...)
		}
	}
	return out, nil
}

func read(r Reader, name string) ([]byte, bool, error) {
	b, err := r.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("impact: read %s: %w", name, err)
	}
	return b, true, nil
}

func checksum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:12]
}

// contract is the part of a data contract (jobs/internal/contract.Contract) that decides the
// shape of the published table.
type contract struct {
	Name        string   `yaml:"name"`
	Table       string   `yaml:"table"`
	PartitionBy string   `yaml:"partitionBy"`
	Key         []string `yaml:"key"`
	Columns     []struct {
		Name string `yaml:"name"`
		Type string `yaml:"type"`
	} `yaml:"columns"`
}

func contractImpacts(f string, base, head Reader) ([]FileImpact, error) {
	b, bok, err := read(base, f)
	if err != nil || !bok {
		return nil, err // a new contract: a new dataset
	}
	h, hok, err := read(head, f)
	if err != nil {
		return nil, err
	}
	var bc contract
	if err := yaml.Unmarshal(b, &bc); err != nil {
		return nil, fmt.Errorf("impact: %s (base): %w", f, err)
	}
	name := bc.Name
	if !hok {
		return []FileImpact{{File: f, Impact: Impact{Kind: DataAtRisk, Paths: []string{f},
			Reason: fmt.Sprintf("data contract %s removed: the dataset is no longer published and its table stops at the last date", name)}}}, nil
	}
	var hc contract
	if err := yaml.Unmarshal(h, &hc); err != nil {
		return nil, fmt.Errorf("impact: %s (head): %w", f, err)
	}
	var why []string
	if bc.Table != hc.Table && !(bc.Table == "" && hc.Table == bc.Name) && !(hc.Table == "" && bc.Table == hc.Name) {
		why = append(why, fmt.Sprintf("table %s → %s (published dates stay in the old table)", orNone(bc.Table), orNone(hc.Table)))
	}
	if !same(bc.Key, hc.Key) {
		why = append(why, fmt.Sprintf("key [%s] → [%s] (rows of earlier dates no longer match on the key)", strings.Join(bc.Key, ", "), strings.Join(hc.Key, ", ")))
	}
	if bc.PartitionBy != hc.PartitionBy {
		why = append(why, fmt.Sprintf("partitionBy %s → %s (the per-date overwrite replaces other partitions than before)", orNone(bc.PartitionBy), orNone(hc.PartitionBy)))
	}
	bt := map[string]string{}
	for _, c := range bc.Columns {
		bt[c.Name] = c.Type
	}
	ht := map[string]string{}
	for _, c := range hc.Columns {
		ht[c.Name] = c.Type
	}
	var cols []string
	for n, t := range bt {
		switch ht2, ok := ht[n]; {
		case !ok:
			cols = append(cols, n+" removed")
		case ht2 != t:
			cols = append(cols, fmt.Sprintf("%s %s → %s", n, t, ht2))
		}
	}
	sort.Strings(cols)
	if len(cols) > 0 {
		why = append(why, "columns: "+strings.Join(cols, ", ")+" (published data of earlier dates no longer matches)")
	}
	if len(why) == 0 {
		return nil, nil
	}
	return []FileImpact{{File: f, Impact: Impact{Kind: DataAtRisk, Paths: []string{f},
		Reason: fmt.Sprintf("data contract %s changes the published table: %s", name, strings.Join(why, "; "))}}}, nil
}
