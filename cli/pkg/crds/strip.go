//go:build ignore

// strip.go copies a CustomResourceDefinition YAML file without its description strings.
// hack/crds.sh runs it: go run ./cli/pkg/crds/strip.go SRC DST ORIGIN (ORIGIN names SRC in the header).
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go run strip.go SRC DST ORIGIN")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "strip:", err)
		os.Exit(1)
	}
}

func run(src, dst, origin string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", src, err)
	}
	if doc["kind"] != "CustomResourceDefinition" {
		return fmt.Errorf("%s: kind %v, want CustomResourceDefinition", src, doc["kind"])
	}
	strip(doc)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	header := fmt.Sprintf("# Copied from %s by hack/crds.sh; descriptions stripped.\n", origin)
	return os.WriteFile(dst, append([]byte(header), out...), 0o644)
}

// strip removes "description" keys whose value is prose (a string); a property that happens to
// be named "description" has a schema object as its value and stays.
func strip(v any) {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["description"].(string); ok {
			delete(t, "description")
		}
		for _, c := range t {
			strip(c)
		}
	case []any:
		for _, c := range t {
			strip(c)
		}
	}
}
