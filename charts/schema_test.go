package charts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// TestValuesSchemaRejects: each chart's values.schema.json rejects a misspelled key and a wrong
// type, and Helm's error names the offending key and where it is.
func TestValuesSchemaRejects(t *testing.T) {
	cases := []struct {
		chart  string
		name   string
		values map[string]any
		want   []string
	}{
		{"trino", "misspelled key", map[string]any{"worker": map[string]any{"replicsa": 3}}, []string{"at '/worker'", "replicsa"}},
		{"trino", "wrong type", map[string]any{"worker": map[string]any{"replicas": "three"}}, []string{"at '/worker/replicas'", "want integer"}},
		{"trino", "unknown top-level key", map[string]any{"coordinatr": map[string]any{}}, []string{"coordinatr"}},
		{"trino", "catalog type outside the enum", map[string]any{"catalog": map[string]any{"type": "glue"}}, []string{"at '/catalog/type'"}},
		{"trino", "memory not in Gi/Mi", map[string]any{"worker": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "8G"}}}}, []string{"at '/worker/resources/limits/memory'"}},
		{"spark", "misspelled key", map[string]any{"worker": map[string]any{"coers": 2}}, []string{"at '/worker'", "coers"}},
		{"spark", "wrong type", map[string]any{"worker": map[string]any{"cores": "two"}}, []string{"at '/worker/cores'", "want integer"}},
		{"spark", "recovery mode outside the enum", map[string]any{"recovery": map[string]any{"mode": "CUSTOM"}}, []string{"at '/recovery/mode'"}},
		{"minio", "misspelled key", map[string]any{"rootCredentials": map[string]any{"existingSecert": "x"}}, []string{"at '/rootCredentials'", "existingSecert"}},
		{"minio", "wrong type", map[string]any{"replicas": "4"}, []string{"at '/replicas'", "want integer"}},
		{"distribution", "misspelled key", map[string]any{"schedule": map[string]any{"concurrencyPolcy": "Allow"}}, []string{"at '/schedule'", "concurrencyPolcy"}},
		{"distribution", "wrong type", map[string]any{"schedule": map[string]any{"backoffLimit": "2"}}, []string{"at '/schedule/backoffLimit'", "want integer"}},
		{"distribution", "plaintext S3 secret in the job config", map[string]any{"config": map[string]any{"input": map[string]any{"s3": map[string]any{"secretAccessKey": "hunter2"}}}}, []string{"at '/config/input/s3/secretAccessKey'"}},
		{"spring-boot", "misspelled key", map[string]any{"shutdown": map[string]any{"preStopSleepSecond": 5}}, []string{"at '/shutdown'", "preStopSleepSecond"}},
		{"spring-boot", "wrong type", map[string]any{"management": map[string]any{"port": "8081"}}, []string{"at '/management/port'", "want integer"}},
		{"spring-boot", "OTLP protocol outside the enum", map[string]any{"otel": map[string]any{"protocol": "http/json"}}, []string{"at '/otel/protocol'"}},
		{"spring-boot", "the old otlp key", map[string]any{"otlp": map[string]any{"endpoint": "http://c:4318"}}, []string{"otlp"}},
		{"jupyter", "misspelled team key", map[string]any{"teams": []any{map[string]any{"name": "a", "persistense": map[string]any{}}}}, []string{"at '/teams/0'", "persistense"}},
		{"jupyter", "auth type outside the enum", map[string]any{"auth": map[string]any{"type": "password"}}, []string{"at '/auth/type'"}},
		{"jupyter", "OIDC issuer over plain HTTP", map[string]any{"auth": map[string]any{"oidc": map[string]any{"issuerURL": "http://sso"}}}, []string{"at '/auth/oidc/issuerURL'"}},
		{"distribution", "unknown key in the job config", map[string]any{"config": map[string]any{"databse": map[string]any{}}}, []string{"at '/config'", "databse"}},
	}
	for _, tc := range cases {
		t.Run(tc.chart+"/"+tc.name, func(t *testing.T) {
			_, err := chartrender.Render(defaultsRequest(tc.chart, merge(requiredValues(tc.chart), tc.values)))
			if err == nil {
				t.Fatal("rendered; want a schema error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") {
				t.Errorf("not a schema error: %v", err)
			}
		})
	}
}

// TestChartDefaultsRender: every chart renders with its defaults plus the values it requires,
// and the result decodes strictly.
func TestChartDefaultsRender(t *testing.T) {
	for _, c := range chartDirs {
		t.Run(c, func(t *testing.T) {
			objs := mustRender(t, defaultsRequest(c, requiredValues(c)))
			if err := strictCheck(objs); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// requiredValues are what a chart cannot default (existing Secret names).
func requiredValues(chart string) map[string]any {
	switch chart {
	case "trino":
		return trinoValues(nil)
	case "minio":
		return map[string]any{"rootCredentials": map[string]any{"existingSecret": "minio-root"}}
	case "spark":
		return map[string]any{"eventLog": map[string]any{"s3": map[string]any{"existingSecret": "spark-s3"}}}
	case "spring-boot":
		return map[string]any{"image": map[string]any{"repository": "lakeport/risk-api", "tag": "0.1.0"}}
	case "jupyter":
		return map[string]any{"image": map[string]any{"tag": "2026-08-03"}, "teams": []any{map[string]any{"name": "market-risk"}}}
	default:
		return map[string]any{}
	}
}

// TestSchemasAreStrict: every object level a chart's schema defines (every schema with
// properties) rejects unknown keys, and every documented default validates (the charts render
// with their defaults in TestChartDefaultsRender).
func TestSchemasAreStrict(t *testing.T) {
	for _, c := range chartDirs {
		t.Run(c, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(c, "values.schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			var root map[string]any
			if err := json.Unmarshal(raw, &root); err != nil {
				t.Fatal(err)
			}
			var walk func(path string, s map[string]any)
			walk = func(path string, s map[string]any) {
				if props, ok := s["properties"].(map[string]any); ok {
					if s["additionalProperties"] != false {
						t.Errorf("%s: defines properties but does not set additionalProperties: false", path)
					}
					for k, v := range props {
						if m, ok := v.(map[string]any); ok {
							walk(path+"."+k, m)
						}
					}
				}
				if items, ok := s["items"].(map[string]any); ok {
					walk(path+"[]", items)
				}
			}
			walk(c, root)
		})
	}
}
