// Package contract parses the data contracts of the published datasets and derives from them
// the Arrow and Iceberg schemas that every other stage of the job uses.
package contract

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/jobs/contracts"
)

// Type is a column type of a contract. The set is the one Spark writes for risk results and that
// Iceberg, Trino, PostgreSQL, Oracle and SQLite all represent without loss.
type Type string

// The column types a contract may use.
const (
	String    Type = "string"
	Int32     Type = "int32"
	Int64     Type = "int64"
	Float64   Type = "float64"
	Bool      Type = "bool"
	Date      Type = "date"
	Timestamp Type = "timestamp" // microseconds, UTC
)

var validTypes = []Type{String, Int32, Int64, Float64, Bool, Date, Timestamp}

// Column describes one column and its quality rules.
type Column struct {
	Name        string   `json:"name"`
	Type        Type     `json:"type"`
	Nullable    bool     `json:"nullable"`
	Description string   `json:"description,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	// Allowed lists the accepted values (strings or numbers, as the column type says).
	Allowed []any  `json:"allowed,omitempty"`
	Pattern string `json:"pattern,omitempty"`

	re         *regexp.Regexp
	allowedStr map[string]struct{}
	allowedNum map[float64]struct{}
}

// RowCount bounds the number of rows of one date, absolutely and against the previous date.
type RowCount struct {
	Min int64 `json:"min"`
	Max int64 `json:"max,omitempty"`
	// MaxChangePercent bounds |rows - previous| / previous, in percent; 0 disables the check.
	MaxChangePercent float64 `json:"maxChangePercent,omitempty"`
}

// Contract is the parsed contract of one dataset.
type Contract struct {
	Name        string   `json:"name"`
	Version     int      `json:"version"`
	Description string   `json:"description,omitempty"`
	Table       string   `json:"table"`
	PartitionBy string   `json:"partitionBy"`
	Key         []string `json:"key"`
	RowCount    RowCount `json:"rowCount"`
	Columns     []Column `json:"columns"`

	index map[string]int
}

// Parse reads a contract from YAML and checks that it is complete and consistent.
func Parse(data []byte) (*Contract, error) {
	var c Contract
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("parse contract: %w", err)
	}
	if err := c.compile(); err != nil {
		return nil, fmt.Errorf("contract %q: %w", c.Name, err)
	}
	return &c, nil
}

func (c *Contract) compile() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if c.Version < 1 {
		errs = append(errs, errors.New("version must be >= 1"))
	}
	if c.Table == "" {
		c.Table = c.Name
	}
	c.index = make(map[string]int, len(c.Columns))
	for i := range c.Columns {
		col := &c.Columns[i]
		if _, dup := c.index[col.Name]; dup {
			errs = append(errs, fmt.Errorf("column %q: declared twice", col.Name))
		}
		c.index[col.Name] = i
		if !slices.Contains(validTypes, col.Type) {
			errs = append(errs, fmt.Errorf("column %q: unknown type %q", col.Name, col.Type))
		}
		if col.Pattern != "" {
			re, err := regexp.Compile(col.Pattern)
			if err != nil {
				errs = append(errs, fmt.Errorf("column %q: pattern: %w", col.Name, err))
			}
			col.re = re
		}
		if len(col.Allowed) > 0 {
			col.allowedStr = map[string]struct{}{}
			col.allowedNum = map[float64]struct{}{}
			for _, v := range col.Allowed {
				switch v := v.(type) {
				case string:
					if col.Type != String {
						errs = append(errs, fmt.Errorf("column %q: allowed value %q is not a %s", col.Name, v, col.Type))
					}
					col.allowedStr[v] = struct{}{}
				case float64:
					if !col.Numeric() {
						errs = append(errs, fmt.Errorf("column %q: allowed value %v is not a %s", col.Name, v, col.Type))
					}
					col.allowedNum[v] = struct{}{}
				default:
					errs = append(errs, fmt.Errorf("column %q: allowed value %v has unsupported type %T", col.Name, v, v))
				}
			}
		}
		if (col.Min != nil || col.Max != nil) && !col.Numeric() {
			errs = append(errs, fmt.Errorf("column %q: min/max on non-numeric type %s", col.Name, col.Type))
		}
	}
	if len(c.Key) == 0 {
		errs = append(errs, errors.New("key is empty"))
	}
	for _, k := range c.Key {
		i, ok := c.index[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("key column %q is not declared", k))
		case c.Columns[i].Nullable:
			errs = append(errs, fmt.Errorf("key column %q must not be nullable", k))
		}
	}
	if i, ok := c.index[c.PartitionBy]; !ok || c.Columns[i].Type != Date || c.Columns[i].Nullable {
		errs = append(errs, fmt.Errorf("partitionBy %q must name a non-nullable date column", c.PartitionBy))
	} else if !slices.Contains(c.Key, c.PartitionBy) {
		errs = append(errs, fmt.Errorf("partition column %q must be part of the key", c.PartitionBy))
	}
	if c.RowCount.Max != 0 && c.RowCount.Max < c.RowCount.Min {
		errs = append(errs, errors.New("rowCount.max is below rowCount.min"))
	}
	return errors.Join(errs...)
}

// Numeric reports whether min/max and numeric allowed values apply to the column.
func (col *Column) Numeric() bool {
	return col.Type == Int32 || col.Type == Int64 || col.Type == Float64
}

// AllowsString reports whether v is in the allowed list (true when there is no list).
func (col *Column) AllowsString(v string) bool {
	if col.allowedStr == nil {
		return true
	}
	_, ok := col.allowedStr[v]
	return ok
}

// AllowsNumber reports whether v is in the allowed list (true when there is no list).
func (col *Column) AllowsNumber(v float64) bool {
	if col.allowedNum == nil {
		return true
	}
	_, ok := col.allowedNum[v]
	return ok
}

// HasAllowed reports whether the column restricts its values to a list.
func (col *Column) HasAllowed() bool { return len(col.Allowed) > 0 }

// MatchesPattern reports whether v matches the column's pattern (true when there is none).
func (col *Column) MatchesPattern(v string) bool { return col.re == nil || col.re.MatchString(v) }

// HasPattern reports whether the column has a pattern rule.
func (col *Column) HasPattern() bool { return col.re != nil }

// InRange reports whether v lies within [min, max]. NaN is never in range.
func (col *Column) InRange(v float64) bool {
	if math.IsNaN(v) {
		return col.Min == nil && col.Max == nil && col.Type != Float64
	}
	if col.Min != nil && v < *col.Min {
		return false
	}
	if col.Max != nil && v > *col.Max {
		return false
	}
	return true
}

// Column returns the column named name.
func (c *Contract) Column(name string) (*Column, bool) {
	i, ok := c.index[name]
	if !ok {
		return nil, false
	}
	return &c.Columns[i], true
}

// ColumnIndex returns the position of the column named name, or -1.
func (c *Contract) ColumnIndex(name string) int {
	if i, ok := c.index[name]; ok {
		return i
	}
	return -1
}

// KeyIndexes returns the positions of the key columns.
func (c *Contract) KeyIndexes() []int {
	out := make([]int, len(c.Key))
	for i, k := range c.Key {
		out[i] = c.index[k]
	}
	return out
}

// ColumnNames returns the column names in contract order.
func (c *Contract) ColumnNames() []string {
	out := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		out[i] = col.Name
	}
	return out
}

// ArrowType maps a contract type to the Arrow type the job reads and writes.
func ArrowType(t Type) arrow.DataType {
	switch t {
	case String:
		return arrow.BinaryTypes.String
	case Int32:
		return arrow.PrimitiveTypes.Int32
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Timestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return nil
}

// IcebergType maps a contract type to its Iceberg type.
func IcebergType(t Type) iceberg.Type {
	switch t {
	case String:
		return iceberg.PrimitiveTypes.String
	case Int32:
		return iceberg.PrimitiveTypes.Int32
	case Int64:
		return iceberg.PrimitiveTypes.Int64
	case Float64:
		return iceberg.PrimitiveTypes.Float64
	case Bool:
		return iceberg.PrimitiveTypes.Bool
	case Date:
		return iceberg.PrimitiveTypes.Date
	case Timestamp:
		return iceberg.PrimitiveTypes.TimestampTz
	}
	return nil
}

// ArrowSchema is the schema of the records the job streams, in contract column order.
func (c *Contract) ArrowSchema() *arrow.Schema {
	fields := make([]arrow.Field, len(c.Columns))
	for i, col := range c.Columns {
		fields[i] = arrow.Field{Name: col.Name, Type: ArrowType(col.Type), Nullable: col.Nullable}
	}
	return arrow.NewSchema(fields, nil)
}

// IcebergSchema is the Iceberg table schema: field ids 1..n in contract order, key columns as
// identifier fields.
func (c *Contract) IcebergSchema() *iceberg.Schema {
	fields := make([]iceberg.NestedField, len(c.Columns))
	for i, col := range c.Columns {
		fields[i] = iceberg.NestedField{
			ID: i + 1, Name: col.Name, Type: IcebergType(col.Type), Required: !col.Nullable, Doc: col.Description,
		}
	}
	ids := make([]int, 0, len(c.Key))
	for _, i := range c.KeyIndexes() {
		ids = append(ids, i+1)
	}
	return iceberg.NewSchemaWithIdentifiers(0, ids, fields...)
}

// PartitionSpec partitions the table by identity on the partition column, so that one date is
// exactly one Iceberg partition.
func (c *Contract) PartitionSpec() iceberg.PartitionSpec {
	return iceberg.NewPartitionSpec(iceberg.PartitionField{
		SourceIDs: []int{c.index[c.PartitionBy] + 1}, FieldID: 1000, Name: c.PartitionBy, Transform: iceberg.IdentityTransform{},
	})
}

// Load returns the embedded contract of a dataset.
func Load(dataset string) (*Contract, error) {
	return LoadFS(contracts.FS, dataset)
}

// LoadFS returns the contract of a dataset from fsys (<dataset>.yaml).
func LoadFS(fsys fs.FS, dataset string) (*Contract, error) {
	data, err := fs.ReadFile(fsys, dataset+".yaml")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			names, _ := NamesFS(fsys)
			return nil, fmt.Errorf("unknown dataset %q (known: %s)", dataset, strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("read contract %s: %w", dataset, err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if c.Name != dataset {
		return nil, fmt.Errorf("contract file %s.yaml names dataset %q", dataset, c.Name)
	}
	return c, nil
}

// Names lists the embedded datasets, sorted.
func Names() []string {
	names, _ := NamesFS(contracts.FS)
	return names
}

// NamesFS lists the datasets in fsys, sorted.
func NamesFS(fsys fs.FS) ([]string, error) {
	entries, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(path.Base(e), ".yaml"))
	}
	sort.Strings(out)
	return out, nil
}
