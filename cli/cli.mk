# lakeport apps and render: demo and benchmark (included by the root Makefile).
TEST_TOOLS    += helm
DEMO_TARGETS  += demo-render
BENCH_TARGETS += bench-render

.PHONY: demo-render bench-render
demo-render: build
	@echo "== lakeport apps: what the ApplicationSet generates"
	@$(BIN)/lakeport apps
	@echo
	@echo "== lakeport render: every environment × app, as Argo CD will deploy it (files in out/rendered)"
	@$(BIN)/lakeport render -o dir=out/rendered
	@$(BIN)/lakeport render -o table

bench-render: build
	@echo "== render: lakeport render vs helm template once per release (real binary)"
	@$(GO) run ./cli/internal/benchmarks/render -lakeport $(BIN)/lakeport -helm $(TOOLS)/helm -runs 7
	@$(GO) test -run '^$$' -bench 'RenderKit' -benchtime 10x ./cli/pkg/render/ | grep -E '^Benchmark'
