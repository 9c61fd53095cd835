# Prometheus, promtool and the Pushgateway (hack/ensure.sh prometheus pushgateway): the alert rules'
# promtool tests and the dashboards' checks (charts/observability), the Pushgateway groups and the
# end-to-end alerts test (jobs/internal/metrics).
TEST_TOOLS += prometheus pushgateway
