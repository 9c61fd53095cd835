package chartrender

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one rendered document.
type Object struct {
	// Source is the template path from the "# Source:" comment.
	Source string
	// Raw is the YAML document.
	Raw []byte
	// U is the decoded object.
	U *unstructured.Unstructured
}

// Kind, Name and friends are shortcuts used by the tests.
func (o Object) Kind() string { return o.U.GetKind() }

// Name is metadata.name.
func (o Object) Name() string { return o.U.GetName() }

// Key is group/kind/name, the identity the diff uses.
func (o Object) Key() string {
	return fmt.Sprintf("%s/%s/%s", o.U.GroupVersionKind().Group, o.U.GetKind(), o.U.GetName())
}

// Split decodes a manifest stream into objects, skipping empty documents.
func Split(manifest string) ([]Object, error) {
	var out []Object
	reader := utilyaml.NewYAMLReader(bufioReader(manifest))
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read document: %w", err)
		}
		source := ""
		for _, line := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(line, "# Source: ") {
				source = strings.TrimPrefix(line, "# Source: ")
				break
			}
		}
		jsonDoc, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if bytes.Equal(bytes.TrimSpace(jsonDoc), []byte("null")) {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(jsonDoc); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		out = append(out, Object{Source: source, Raw: doc, U: u})
	}
	return out, nil
}
