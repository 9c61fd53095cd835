// Package observability holds what proves the charts' alerts and dashboards: the lists of metric
// names Trino, Spark and MinIO export (exported/*.yaml, each citing the upstream file it was read
// from) and, in its tests, the promtool unit tests of every alert, the dashboards' expressions
// parsed by Prometheus's own parser and checked against those lists, and the end-to-end test in
// which a real Prometheus evaluates the distribution chart's rules over what the job pushes.
package observability
