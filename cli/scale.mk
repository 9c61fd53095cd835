# Fleet scale: the synthetic fleet benchmark (issue 14), included by the root Makefile.
TEST_TOOLS    += helm
BENCH_TARGETS += bench-scale

.PHONY: bench-scale
bench-scale: build ## lakeport on generated fleets of 600 and 3,000 Applications (apps, render, check, three PR previews, peak RSS) vs helm template per release on a seeded sample
	bash hack/ensure.sh helm
	$(GO) run ./cli/internal/benchmarks/scale -lakeport $(BIN)/lakeport -helm $(TOOLS)/helm -repo . -sizes 600,3000 -runs 3 -check-max 1000 -json out/bench-scale.json
