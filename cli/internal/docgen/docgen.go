// Package docgen generates the reference pages under docs/reference from the code itself: the
// schema of lakeport.yaml and env.yaml from the Go types the validator decodes them into (their
// field comments are the documentation; a field without one is an error), and each command's page
// from its cobra definition. Tests compare the generated pages with the checked-in ones.
package docgen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Field is one key of a YAML file's schema.
type Field struct {
	// Key is the dotted path ("destination.namespace", "components[].chart").
	Key string
	// Type is the YAML type (string, boolean, list of strings, map, object, list of objects).
	Type string
	// Doc is the field's comment, without its Required/Default sentences.
	Doc string
	// Required and Default are read from the comment: a sentence "Required." or "Default: X.".
	Required bool
	Default  string
}

var (
	requiredRE = regexp.MustCompile(`(?m)\s*\bRequired\.\s*`)
	defaultRE  = regexp.MustCompile(`(?m)\s*\bDefault: ([^\n]*?)\.(\s|$)`)
)

// Schema walks the struct type root of the Go package in pkgDir (a folder of fsys) and returns
// its YAML keys, depth first in field order. Fields without a yaml tag name or tagged "-" are
// skipped; a field without a doc comment is an error naming it.
func Schema(fsys fs.FS, pkgDir, root string) ([]Field, error) {
	types, err := parseTypes(fsys, pkgDir)
	if err != nil {
		return nil, err
	}
	var out []Field
	var errs []error
	var walk func(typeName, prefix string)
	walk = func(typeName, prefix string) {
		ts := types[typeName]
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not a struct type", typeName))
			return
		}
		for _, f := range st.Fields.List {
			if f.Tag == nil || len(f.Names) == 0 {
				continue
			}
			tag := reflect.StructTag(strings.Trim(f.Tag.Value, "`")).Get("yaml")
			name, _, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			doc := strings.TrimSpace(f.Doc.Text())
			if doc == "" && f.Comment != nil {
				doc = strings.TrimSpace(f.Comment.Text())
			}
			if doc == "" {
				errs = append(errs, fmt.Errorf("%s.%s (yaml %q) has no doc comment: the reference is generated from it", typeName, f.Names[0].Name, key))
			}
			field := Field{Key: key, Doc: doc}
			if requiredRE.MatchString(field.Doc) {
				field.Required = true
				field.Doc = requiredRE.ReplaceAllString(field.Doc, " ")
			}
			if m := defaultRE.FindStringSubmatch(field.Doc); m != nil {
				field.Default = m[1]
				field.Doc = defaultRE.ReplaceAllString(field.Doc, " ")
			}
			field.Doc = strings.Join(strings.Fields(field.Doc), " ")
			typ, nested, list := yamlType(f.Type, types)
			field.Type = typ
			out = append(out, field)
			if nested != "" {
				sub := key
				if list {
					sub += "[]"
				}
				walk(nested, sub)
			}
		}
	}
	if _, ok := types[root]; !ok {
		return nil, fmt.Errorf("type %s not found in %s", root, pkgDir)
	}
	walk(root, "")
	return out, errors.Join(errs...)
}

func parseTypes(fsys fs.FS, dir string) (map[string]*ast.TypeSpec, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	types := map[string]*ast.TypeSpec{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := fs.ReadFile(fsys, dir+"/"+n)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, n, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				if ts.Doc == nil && len(g.Specs) == 1 {
					ts.Doc = g.Doc
				}
				types[ts.Name.Name] = ts
			}
		}
	}
	return types, nil
}

// yamlType names a Go type in YAML terms; nested is the package's struct type to descend into.
func yamlType(e ast.Expr, types map[string]*ast.TypeSpec) (typ, nested string, list bool) {
	switch t := e.(type) {
	case *ast.Ident:
		switch t.Name {
		case "string":
			return "string", "", false
		case "bool":
			return "boolean", "", false
		case "int", "int64", "int32":
			return "integer", "", false
		}
		if ts, ok := types[t.Name]; ok {
			if _, ok := ts.Type.(*ast.StructType); ok {
				return "object", t.Name, false
			}
			// A named non-struct type decodes itself (UnmarshalYAML): its doc says how.
			first, _, _ := strings.Cut(strings.TrimSpace(ts.Doc.Text()), "\n")
			return t.Name + " (" + strings.TrimSuffix(first, ".") + ")", "", false
		}
		return t.Name, "", false
	case *ast.StarExpr:
		return yamlType(t.X, types)
	case *ast.ArrayType:
		inner, nested, _ := yamlType(t.Elt, types)
		if nested != "" {
			return "list of objects", nested, true
		}
		return "list of " + plural(inner), "", false
	case *ast.MapType:
		v, nested, _ := yamlType(t.Value, types)
		if nested != "" {
			return "map of objects", nested, false
		}
		return "map of " + plural(v), "", false
	case *ast.SelectorExpr:
		if fmt.Sprintf("%s.%s", t.X, t.Sel.Name) == "yaml.Node" {
			return "list (forms in the description)", "", false // decoded by hand: stages.go
		}
		return fmt.Sprintf("%s.%s", t.X, t.Sel.Name), "", false
	}
	return fmt.Sprintf("%T", e), "", false
}

func plural(s string) string {
	switch {
	case strings.HasPrefix(s, "list of "):
		return "lists of " + strings.TrimPrefix(s, "list of ")
	case strings.HasSuffix(s, "s"):
		return s
	}
	return s + "s"
}

// SchemaPage is the Markdown reference of one file's schema.
func SchemaPage(title, intro string, fields []Field, example, exampleFile string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- Generated by `go test ./cli/internal/cmd -run TestReferenceDocs -update` from the Go types the validator decodes into (cli/pkg/kit). Do not edit. -->\n# %s\n\n%s\n\n", title, intro)
	b.WriteString("| key | type | required | default | description |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range fields {
		req := "no"
		if f.Required {
			req = "yes"
		}
		def := f.Default
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Key, cell(f.Type), req, cell(def), cell(f.Doc))
	}
	if example != "" {
		fmt.Fprintf(&b, "\n## Example\n\n`%s` of the bundled kit:\n\n```yaml\n%s```\n", exampleFile, example)
	}
	return b.Bytes()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// CommandsPage is the Markdown reference of every command under root: usage, description,
// flags, examples; the global flags once at the end.
func CommandsPage(root *cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated by `go test ./cli/internal/cmd -run TestReferenceDocs -update` from the commands' definitions. Do not edit. -->\n# Command reference\n\n")
	cmds := visible(root)
	for _, c := range cmds {
		anchor := strings.ReplaceAll(c.CommandPath(), " ", "-")
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", c.CommandPath(), anchor, c.Short)
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n```\n%s\n```\n", c.CommandPath(), c.Short, c.UseLine())
		if c.Long != "" {
			fmt.Fprintf(&b, "\n```text\n%s\n```\n", strings.TrimRight(c.Long, "\n"))
		}
		if fl := flagTable(c.NonInheritedFlags()); fl != "" {
			fmt.Fprintf(&b, "\n### Flags\n\n%s", fl)
		}
		if c.Example != "" {
			fmt.Fprintf(&b, "\n### Examples\n\n```sh\n%s\n```\n", strings.TrimRight(c.Example, "\n"))
		}
	}
	if fl := flagTable(root.PersistentFlags()); fl != "" {
		fmt.Fprintf(&b, "\n## Global flags\n\nEvery command takes these.\n\n%s", fl)
	}
	return b.Bytes()
}

func visible(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			if s.Hidden || !s.IsAvailableCommand() || s.Name() == "help" || s.Name() == "completion" {
				continue
			}
			out = append(out, s)
			walk(s)
		}
	}
	walk(root)
	sort.Slice(out, func(i, j int) bool { return out[i].CommandPath() < out[j].CommandPath() })
	return out
}

func flagTable(fs *pflag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		if b.Len() == 0 {
			b.WriteString("| flag | type | default | description |\n| --- | --- | --- | --- |\n")
		}
		name := "`--" + f.Name + "`"
		if f.Shorthand != "" {
			name = "`-" + f.Shorthand + "`, " + name
		}
		def := f.DefValue
		switch {
		case def == "" || def == "[]" || (f.Value.Type() == "bool" && def == "false"):
			def = "—"
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, f.Value.Type(), def, cell(f.Usage))
	})
	return b.String()
}
