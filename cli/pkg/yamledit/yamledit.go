// Package yamledit changes scalar values in a YAML document in place, byte for byte: comments,
// key order, indentation, quoting style and every other line stay exactly as they were. It is how
// promotion rewrites release pins in hand-written values and env files.
package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PathError says that a key path does not lead to a scalar.
type PathError struct {
	Path string
	Line int
	Msg  string
}

func (e *PathError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// ParsePath splits a dotted key path ("image.tag", "components.1.revision") into segments.
func ParsePath(p string) []string { return strings.Split(p, ".") }

// Get returns the scalar value at a key path (map keys, or list indexes as decimal strings).
func Get(doc []byte, path []string) (string, error) {
	n, err := find(doc, path)
	if err != nil {
		return "", err
	}
	return n.Value, nil
}

// Set replaces the scalar at path with value and returns the new document and the old value. The
// value keeps the old scalar's quoting style when that still reads back as the same string, and
// is double-quoted otherwise.
func Set(doc []byte, path []string, value string) ([]byte, string, error) {
	n, err := find(doc, path)
	if err != nil {
		return nil, "", err
	}
	start, end, err := span(doc, n)
	if err != nil {
		return nil, "", &PathError{Path: strings.Join(path, "."), Line: n.Line, Msg: err.Error()}
	}
	text := format(n, value)
	out := make([]byte, 0, len(doc)+len(text))
	out = append(out, doc[:start]...)
	out = append(out, text...)
	out = append(out, doc[end:]...)
	if got, err := Get(out, path); err != nil || got != value {
		return nil, "", &PathError{Path: strings.Join(path, "."), Line: n.Line, Msg: fmt.Sprintf("rewriting the value would not read back as %q", value)}
	}
	return out, n.Value, nil
}

func find(doc []byte, path []string) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || isEmptyRoot(root.Content[0]) {
		return nil, &PathError{Path: path[0], Msg: "key not found"}
	}
	n := root.Content[0]
	line := n.Line // the line of the last key matched, for errors
	for i, seg := range path {
		at := strings.Join(path[:i+1], ".")
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == seg {
					next, line = n.Content[j+1], n.Content[j].Line
				}
			}
			if next == nil {
				return nil, &PathError{Path: at, Line: line, Msg: "key not found"}
			}
			n = next
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || idx >= len(n.Content) {
				return nil, &PathError{Path: at, Line: line, Msg: "no such list item"}
			}
			n = n.Content[idx]
			line = n.Line
		default:
			return nil, &PathError{Path: at, Line: n.Line, Msg: "not a map or list"}
		}
		if n.Kind == yaml.AliasNode {
			return nil, &PathError{Path: at, Line: n.Line, Msg: "is a YAML alias; edit its anchor instead"}
		}
	}
	if n.Kind != yaml.ScalarNode {
		return nil, &PathError{Path: strings.Join(path, "."), Line: n.Line, Msg: "is not a scalar value"}
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, &PathError{Path: strings.Join(path, "."), Line: n.Line, Msg: "is a block scalar; pins must be single-line values"}
	}
	return n, nil
}

// span finds the bytes of a scalar node in the document.
func span(doc []byte, n *yaml.Node) (int, int, error) {
	start := 0
	for line := 1; line < n.Line; line++ {
		i := bytes.IndexByte(doc[start:], '\n')
		if i < 0 {
			return 0, 0, fmt.Errorf("line %d is past the end of the document", n.Line)
		}
		start += i + 1
	}
	// Columns count characters (runes), not bytes.
	lineEnd := bytes.IndexByte(doc[start:], '\n')
	if lineEnd < 0 {
		lineEnd = len(doc) - start
	}
	runes := []rune(string(doc[start : start+lineEnd]))
	if n.Column-1 > len(runes) {
		return 0, 0, fmt.Errorf("column %d is past the end of the line", n.Column)
	}
	start += len(string(runes[:n.Column-1]))
	rest := doc[start : start+len(string(runes[n.Column-1:]))]
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				return start, start + i + 1, nil
			}
		}
		return 0, 0, fmt.Errorf("unterminated double-quoted value")
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return start, start + i + 1, nil
			}
		}
		return 0, 0, fmt.Errorf("unterminated single-quoted value")
	default:
		end := len(rest)
		if i := bytes.Index(rest, []byte(" #")); i >= 0 {
			end = i
		}
		for _, stop := range []string{",", "]", "}"} {
			if i := bytes.Index(rest[:end], []byte(stop)); i >= 0 && n.Style&yaml.FlowStyle == 0 && bytes.HasPrefix(bytes.TrimSpace(rest[i:]), []byte(stop)) && !strings.Contains(n.Value, stop) {
				end = i
			}
		}
		text := strings.TrimRight(string(rest[:end]), " \t\r")
		if text != n.Value && !(n.Tag != "!!str" && text != "") {
			return 0, 0, fmt.Errorf("cannot locate the plain value %q", n.Value)
		}
		return start, start + len(text), nil
	}
}

// format writes value in the scalar's style, falling back to double quotes when the plain or
// single-quoted form would not read back as a string equal to value.
func format(n *yaml.Node, value string) string {
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(value)
	}
	// A plain scalar stays plain if it reads back as the same string with the same kind of tag
	// (a plain 479 stays an int; a SHA that happens to look like a number gets quoted).
	var probe yaml.Node
	if err := yaml.Unmarshal([]byte("k: "+value), &probe); err == nil && len(probe.Content) == 1 {
		v := probe.Content[0].Content[1]
		if v.Kind == yaml.ScalarNode && v.Value == value && v.Style == 0 && (v.Tag == n.Tag || v.Tag == "!!str") {
			return value
		}
	}
	return strconv.Quote(value)
}

// Line returns the line of the scalar at path.
func Line(doc []byte, path []string) (int, error) {
	n, err := find(doc, path)
	if err != nil {
		return 0, err
	}
	return n.Line, nil
}

// Has says whether the document has a scalar at path; a missing key is false with no error, a
// path through something that is not a map is an error.
func Has(doc []byte, path []string) (bool, error) {
	_, err := find(doc, path)
	var pe *PathError
	if errors.As(err, &pe) && pe.Msg == "key not found" {
		return false, nil
	}
	return err == nil, err
}

// Insert adds `key: value` (key the last segment of path) to the document, creating the block
// maps on the way that do not exist yet (`image:` above `tag:`), after the last line of the
// deepest map that does, indented as its other keys (two spaces per new level); every other byte
// stays as it was. An empty document (comments only) or one that is only `{}` gets the path as
// its first keys. The key must not exist; a flow map on the way (`image: {tag: x}`) is refused.
func Insert(doc []byte, path []string, value string) ([]byte, error) {
	full := strings.Join(path, ".")
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	probe := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle}
	leaf := format(probe, value)
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || isEmptyRoot(root.Content[0]) {
		if len(root.Content) > 0 && root.Content[0].Kind == yaml.MappingNode {
			// `{}` alone on its line: the new keys replace it.
			lines := bytes.SplitAfter(doc, []byte("\n"))
			at := root.Content[0].Line - 1
			if at >= len(lines) || strings.TrimSpace(string(lines[at])) != "{}" {
				return nil, &PathError{Path: full, Line: root.Content[0].Line, Msg: "is not a block map with keys: add the key by hand"}
			}
			doc = slices.Concat(bytes.Join(lines[:at], nil), bytes.Join(lines[at+1:], nil))
		}
		out := append([]byte{}, doc...)
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		out = append(out, nested("", path, leaf)...)
		return checkInserted(out, path, value, 0)
	}
	parent, depth := root.Content[0], 0
	for ; depth < len(path)-1; depth++ {
		var next *yaml.Node
		if parent.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(parent.Content); j += 2 {
				if parent.Content[j].Value == path[depth] {
					next = parent.Content[j+1]
				}
			}
		}
		if next == nil {
			break
		}
		parent = next
	}
	at := strings.Join(path[:max(depth, 1)], ".")
	if depth == 0 {
		at = "the document"
	}
	if parent.Kind != yaml.MappingNode || parent.Style&yaml.FlowStyle != 0 || len(parent.Content) == 0 {
		return nil, &PathError{Path: at, Line: parent.Line, Msg: "is not a block map with keys: add the key by hand"}
	}
	if depth == len(path)-1 {
		for j := 0; j+1 < len(parent.Content); j += 2 {
			if parent.Content[j].Value == path[depth] {
				return nil, &PathError{Path: full, Line: parent.Content[j].Line, Msg: "already exists"}
			}
		}
	}
	last := lastLine(parent)
	text := nested(strings.Repeat(" ", parent.Content[0].Column-1), path[depth:], leaf)
	lines := bytes.SplitAfter(doc, []byte("\n"))
	if last > len(lines) {
		last = len(lines)
	}
	var out []byte
	for i, l := range lines {
		out = append(out, l...)
		if i+1 == last {
			if !bytes.HasSuffix(l, []byte("\n")) {
				out = append(out, '\n')
			}
			out = append(out, text...)
		}
	}
	return checkInserted(out, path, value, parent.Line)
}

// isEmptyRoot is a document whose value is null (comments only) or an empty map.
func isEmptyRoot(n *yaml.Node) bool {
	return (n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "") || (n.Kind == yaml.MappingNode && len(n.Content) == 0)
}

// nested is the block-map lines of keys, the last one holding leaf, starting at indent.
func nested(indent string, keys []string, leaf string) []byte {
	var b []byte
	for i, k := range keys {
		b = append(b, indent...)
		b = append(b, strings.Repeat("  ", i)...)
		b = append(b, k...)
		if i == len(keys)-1 {
			b = append(b, ": "...)
			b = append(b, leaf...)
		} else {
			b = append(b, ':')
		}
		b = append(b, '\n')
	}
	return b
}

func checkInserted(out []byte, path []string, value string, line int) ([]byte, error) {
	if got, err := Get(out, path); err != nil || got != value {
		return nil, &PathError{Path: strings.Join(path, "."), Line: line, Msg: fmt.Sprintf("inserting the value would not read back as %q", value)}
	}
	return out, nil
}

func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		if cl := lastLine(c); cl > l {
			l = cl
		}
	}
	return l
}
