# lakeport diff: peer tools, benchmark and demo (included by the root Makefile's cli/*.mk wildcard).
TEST_TOOLS    += dyff helm
BENCH_TARGETS += bench-diff bench-impacts
DEMO_TARGETS  += demo-diff

.PHONY: bench-diff bench-impacts demo-diff
bench-diff: build ## lakeport diff --base HEAD~1 vs helm template ×2 per release + dyff between (real binaries)
	@echo "== diff: the pull request preview vs helm template ×2 + dyff between per release"
	@$(GO) run ./cli/internal/benchmarks/diff -lakeport $(BIN)/lakeport -helm $(TOOLS)/helm -dyff $(TOOLS)/dyff -runs 5

bench-impacts: ## the PR preview of the whole kit in-process, with and without impacts (target: ratio ≤ 1.10)
	@echo "== diff impacts: the pull request preview with and without impacts"
	@$(GO) run ./cli/internal/benchmarks/impacts -repo . -runs 7

demo-diff: build
	@echo "== lakeport diff: what promoting staging to prod would change"
	@$(BIN)/lakeport diff --from-env staging --to-env prod --exit-code=false
