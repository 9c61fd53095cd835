# lakeport diff: peer tools, benchmark and demo (included by the root Makefile's cli/*.mk wildcard).
TEST_TOOLS    += dyff helm
BENCH_TARGETS += bench-diff
DEMO_TARGETS  += demo-diff

.PHONY: bench-diff demo-diff
bench-diff: build ## lakeport diff --base HEAD~1 vs helm template ×2 per release + dyff between (real binaries)
	@echo "== diff: the pull request preview vs helm template ×2 + dyff between per release"
	@$(GO) run ./cli/internal/benchmarks/diff -lakeport $(BIN)/lakeport -helm $(TOOLS)/helm -dyff $(TOOLS)/dyff -runs 5

demo-diff: build
	@echo "== lakeport diff: what promoting staging to prod would change"
	@$(BIN)/lakeport diff --from-env staging --to-env prod --exit-code=false
