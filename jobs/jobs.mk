# Make fragment of the distribution jobs (included by the root Makefile).

# Servers the jobs' tests start (PostgreSQL comes from hack/apt.sh).
TEST_TOOLS += versitygw

DEMO_TARGETS  += jobs-demo
BENCH_TARGETS += jobs-bench bench-jobs

JOBS_DEMO_DIR  ?= out/demo
JOBS_DEMO_DATE ?= 2026-03-02
JOBS_DEMO_ROWS ?= 50000

.PHONY: jobs-build jobs-demo jobs-bench jobs-test bench-jobs

jobs-build: ## Build the job binaries (generate, distribution) into ./bin
	$(GO) build -trimpath -o $(BIN)/ ./jobs/cmd/...

# One day of synthetic Spark output for every dataset, published to the embedded default (local
# warehouse + SQLite Iceberg catalog + SQLite database under out/demo), then what a consumer sees.
jobs-demo: jobs-build
	@rm -rf $(JOBS_DEMO_DIR) && mkdir -p $(JOBS_DEMO_DIR)
	@echo "== generate one day of Spark-like Parquet input ($(JOBS_DEMO_ROWS) rows per dataset)"
	$(BIN)/generate --out $(JOBS_DEMO_DIR)/input --cob-date $(JOBS_DEMO_DATE) --rows $(JOBS_DEMO_ROWS)
	@echo "== migrate the relational schema"
	$(BIN)/distribution migrate --data-dir $(JOBS_DEMO_DIR) --log-format text 2>>$(JOBS_DEMO_DIR)/distribution.log
	@echo "== publish every dataset (JSON logs in $(JOBS_DEMO_DIR)/distribution.log)"
	$(BIN)/distribution publish --data-dir $(JOBS_DEMO_DIR) --dataset all --cob-date $(JOBS_DEMO_DATE) 2>>$(JOBS_DEMO_DIR)/distribution.log
	@echo "== a bad file is refused with a report and publishes nothing (exit code 3)"
	@$(BIN)/generate --out $(JOBS_DEMO_DIR)/bad --dataset drc --cob-date $(JOBS_DEMO_DATE) --rows 2000 --fault out-of-range --fault duplicate-key >/dev/null
	@cd $(JOBS_DEMO_DIR) && mv input good && mv bad input && \
	  { $(BIN)/distribution publish --data-dir . --dataset drc --cob-date $(JOBS_DEMO_DATE) 2>publish-bad.log >/dev/null; \
	    code=$$?; mv input bad && mv good input; \
	    grep -v '^{' publish-bad.log; echo "exit code $$code"; test $$code -eq 3; }
	@echo "== what a consumer sees"
	$(BIN)/distribution inspect --data-dir $(JOBS_DEMO_DIR) --log-format text

# 1M rows: Iceberg publish vs PostgreSQL COPY vs row-by-row INSERT vs arrow-go alone (PostgreSQL
# from hack/apt.sh, started and stopped by the bench itself). A few minutes on 2 cores.
jobs-bench: jobs-build
	bash hack/apt.sh
	$(BIN)/bench $(JOBS_BENCH_FLAGS)

# The sharded publication: the same 4M-row day published by 1 and by 2 workers (separate
# `distribution publish --shards` processes, as an Indexed Job's pods), wall clock ratio and peak
# RSS per worker, medians of 3 runs. For the flat-RSS check add a case with 4x the rows on 4
# workers: JOBS_BENCH_SHARD_FLAGS='--cases 4000000x1,4000000x2,16000000x4'.
JOBS_BENCH_SHARD_FLAGS ?=
bench-jobs: jobs-build
	bash hack/apt.sh
	$(BIN)/benchshard --distribution $(BIN)/distribution $(JOBS_BENCH_SHARD_FLAGS)

jobs-test: ## The jobs' tests (real PostgreSQL and versitygw included)
	LAKEPORT_REQUIRE_TOOLS=1 $(GO) test -race -shuffle=on -count=1 -timeout 60m ./jobs/...
