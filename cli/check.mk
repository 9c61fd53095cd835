# lakeport check: the peer tool its parity test and benchmark run, and the benchmark.
# Included by the top-level Makefile.
TEST_TOOLS    += conftest
BENCH_TARGETS += bench-check

.PHONY: bench-check
bench-check: build ## lakeport check over every environment vs conftest on the same rendered files (median of 7 runs, one process each)
	bash hack/ensure.sh conftest
	$(GO) run ./cli/internal/benchmarks/check -repo . -lakeport $(BIN)/lakeport -conftest $(TOOLS)/conftest -n 7 -json out/bench-check.json
