# Lakeport: one Go module, two binary trees (cli/ and jobs/) that never share dependencies.
export GOTOOLCHAIN := go1.27.3
export GOFLAGS ?= -buildvcs=false

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS     := $(CURDIR)/.tools/bin
export LAKEPORT_TOOLS := $(TOOLS)

# Fragments owned by each tree (cli/*.mk, charts/*.mk, jobs/*.mk, hack/*.mk) add to these lists.
DEMO_TARGETS  :=
BENCH_TARGETS :=
# Tools (hack/ensure.sh names) the test suite needs; built once and cached outside the clone.
TEST_TOOLS    := helm

include $(sort $(wildcard cli/*.mk charts/*.mk jobs/*.mk hack/*.mk))

.PHONY: all build test test-race test-short lint demo bench golden tools apt clean
all: build

build: ## Build the lakeport CLI and the job binaries into ./bin (static, as make release builds them)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cli/cmd/... ./jobs/cmd/...

tools: ## Build (or reuse from the cache) every real server and peer tool the tests use
	bash hack/apt.sh
	bash hack/ensure.sh $(sort $(TEST_TOOLS))

# Three phases. Everything but the jobs and hack/; then hack/, whose release and image builds reuse
# the static (-trimpath, CGO_ENABLED=0) packages the chart image test compiled in the first phase
# (run side by side, two tests compiled the same graph at once: a cold run took 69 min); then the
# jobs under the race detector, the concurrent code that runs in production. On the rest the race
# detector would compile the Argo CD, Helm and Kubernetes graph a second time: measured on 2 idle
# cores (2026-12-07), the test phase with -race everywhere took 58 min after the 36 min tool build,
# and with hack/ under -race a cold `.ci/run` took 64 min. With these three phases a cold `.ci/run`
# took 48 min (2026-12-08, on a machine ~1.4x faster; hack/README.md). `make test-race` runs it
# everywhere.
# Test binaries are linked without symbol tables and DWARF (TEST_LDFLAGS), which nothing in the
# tests reads: a third less link time for each of the ~70 test binaries.
TEST_LDFLAGS := -s -w
TEST_FLAGS   := -ldflags='$(TEST_LDFLAGS)' -shuffle=on -count=1 -timeout 60m
test: tools ## The whole test suite, real servers included (what CI runs)
	LAKEPORT_REQUIRE_TOOLS=1 $(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v -e '/lakeport/jobs/' -e '/lakeport/hack/')
	LAKEPORT_REQUIRE_TOOLS=1 $(GO) test $(TEST_FLAGS) ./hack/...
	LAKEPORT_REQUIRE_TOOLS=1 $(GO) test $(TEST_FLAGS) -race ./jobs/...

test-race: tools ## The whole test suite under the race detector (about an hour more when cold)
	LAKEPORT_REQUIRE_TOOLS=1 $(GO) test -ldflags='$(TEST_LDFLAGS)' -race -shuffle=on -count=1 -timeout 90m ./...

test-short: ## Unit tests only: no servers, no tools
	$(GO) test -short -count=1 ./...

lint: ## gofmt, go vet
	@test -z "$$(gofmt -l cli jobs charts hack)" || { gofmt -l cli jobs charts hack; exit 1; }
	$(GO) vet ./...

golden: ## Rewrite golden files from the current output
	$(GO) test ./cli/... ./charts/... -run 'Golden' -update

demo: build $(DEMO_TARGETS) ## The main job on the embedded default

bench: tools $(BENCH_TARGETS) ## Benchmarks against the named peers, measured in the same run

clean:
	rm -rf $(BIN) out
