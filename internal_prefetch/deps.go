//go:build tools

// Package prefetch pins the module set while the real packages are written.
package prefetch

import (
	_ "github.com/apache/arrow-go/v18/arrow"
	_ "github.com/apache/iceberg-go/catalog/sql"
	_ "github.com/apache/iceberg-go/catalog/rest"
	_ "github.com/apache/iceberg-go/io/gocloud/s3"
	_ "github.com/apache/iceberg-go/table"
	_ "github.com/argoproj/argo-cd/v3/applicationset/controllers/template"
	_ "github.com/argoproj/argo-cd/v3/applicationset/generators"
	_ "github.com/argoproj/argo-cd/v3/applicationset/utils"
	_ "github.com/argoproj/argo-cd/v3/pkg/apiclient"
	_ "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/open-policy-agent/opa/v1/tester"
	_ "github.com/spf13/cobra"
	_ "github.com/trinodb/trino-go-client/trino"
	_ "github.com/uptrace/bun/driver/sqliteshim"
	_ "helm.sh/helm/v3/pkg/action"
	_ "helm.sh/helm/v3/pkg/chart/loader"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/yaml"
)
