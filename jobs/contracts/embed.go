// Package contracts holds the data contracts of the datasets that Distribution publishes, one
// YAML file per dataset, embedded so that the job binary carries the exact contracts it enforces.
package contracts

import "embed"

// FS is the set of contract files, named <dataset>.yaml.
//
//go:embed *.yaml
var FS embed.FS
