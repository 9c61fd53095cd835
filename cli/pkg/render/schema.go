package render

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// The Helm SDK compiles a chart's values.schema.json on every render. lakeport renders the same
// chart for several environments, so it validates the coalesced values itself, exactly as
// chartutil.ValidateAgainstSchema does (same recursion into subcharts, same messages), with each
// schema compiled once per process.

const schemaErrPrefix = "values don't meet the specifications of the schema(s) in the following chart(s):\n"

// remoteRef matches schemas that load other documents: those go through Helm's own loaders.
var remoteRef = regexp.MustCompile(`"\$ref"\s*:\s*"(https?|file|urn):`)

type schemaEntry struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

type schemaCache struct {
	mu sync.Mutex
	m  map[string]*schemaEntry
}

func (c *schemaCache) compiled(raw []byte) (*jsonschema.Schema, error) {
	// Keyed by content: environments pinning different revisions of an unchanged schema share it.
	sum := sha256.Sum256(raw)
	key := string(sum[:])
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*schemaEntry{}
	}
	e, ok := c.m[key]
	if !ok {
		e = &schemaEntry{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			e.err = err
			return
		}
		comp := jsonschema.NewCompiler()
		if e.err = comp.AddResource("file:///values.schema.json", doc); e.err != nil {
			return
		}
		e.schema, e.err = comp.Compile("file:///values.schema.json")
	})
	return e.schema, e.err
}

// validateValues is chartutil.ValidateAgainstSchema over coalesced values, with cached schemas.
func (c *schemaCache) validateValues(ch *chart.Chart, vals map[string]any) error {
	var sb strings.Builder
	c.validateChart(ch, vals, &sb)
	if sb.Len() > 0 {
		return fmt.Errorf(schemaErrPrefix+"%s", sb.String())
	}
	return nil
}

func (c *schemaCache) validateChart(ch *chart.Chart, vals map[string]any, sb *strings.Builder) {
	if ch.Schema != nil {
		if err := c.validateSingle(ch.Schema, vals); err != nil {
			fmt.Fprintf(sb, "%s:\n", ch.Name())
			sb.WriteString(err.Error())
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, exists := vals[sub.Name()]
		if !exists || raw == nil {
			continue
		}
		subVals, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		var subSB strings.Builder
		c.validateChart(sub, subVals, &subSB)
		sb.WriteString(subSB.String())
	}
}

func (c *schemaCache) validateSingle(raw []byte, vals map[string]any) (err error) {
	if remoteRef.Match(raw) {
		return chartutil.ValidateAgainstSingleSchema(vals, raw)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %s", r)
		}
	}()
	sch, err := c.compiled(raw)
	if err != nil {
		// Let Helm produce its own message for a schema that does not compile.
		return chartutil.ValidateAgainstSingleSchema(vals, raw)
	}
	if err := sch.Validate(chartutil.Values(vals).AsMap()); err != nil {
		return fmt.Errorf("%s\n", strings.TrimPrefix(err.Error(), "jsonschema validation failed with 'file:///values.schema.json#'\n"))
	}
	return nil
}
