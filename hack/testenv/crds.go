package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"
)

// InstallCRDs server-side-applies every CustomResourceDefinition of a
// multi-document YAML file (as hack/ensure.sh writes them: plainly
// formatted, one document per CRD) and waits until each is Established, so
// that its kind can be created right after. Server-side apply, because big
// CRDs do not fit a last-applied annotation.
func (k *Kube) InstallCRDs(ctx context.Context, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read CRDs: %w", err)
	}
	var names []string
	for _, doc := range splitYAML(string(b)) {
		name := yamlMetadataName(doc)
		if name == "" {
			continue
		}
		if err := k.apply(ctx, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, doc); err != nil {
			return fmt.Errorf("%s: apply CRD %s: %w", path, name, err)
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: no CustomResourceDefinition found", path)
	}
	for _, name := range names {
		if err := waitFor(nil, "CRD "+name+" Established", 30*time.Second, func(ctx context.Context) error {
			var crd struct {
				Status struct {
					Conditions []struct{ Type, Status string } `json:"conditions"`
				} `json:"status"`
			}
			if err := k.do(ctx, http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, nil, &crd); err != nil {
				return err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == "Established" && c.Status == "True" {
					return nil
				}
			}
			return errNotYet
		}); err != nil {
			return err
		}
	}
	return nil
}
