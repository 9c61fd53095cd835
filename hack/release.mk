# Make fragment: `make release` (included by the root Makefile).
#
#   make release VERSION=v1.2.3                          # linux and darwin, amd64 and arm64
#   make release VERSION=v1.2.3 PLATFORMS=linux/amd64    # one platform
#
# Writes out/release/<VERSION>/: <bin>_<VERSION>_<os>_<arch>.tar.gz and .cdx.json (CycloneDX SBOM)
# for lakeport and distribution, SHA256SUMS, and images/<bin>/ (OCI image layouts, one multi-arch
# index of the linux platforms each). Reproducible: every timestamp is HEAD's commit time.
# The tests build the host platform twice and compare the bytes (hack/release); the other
# platforms are built by the release workflow (.github/workflows/release.yml), not by CI.
VERSION         ?=
RELEASE_OUT     ?= out/release/$(VERSION)
RELEASE_EXTRA   ?= LICENSE,README.md
RELEASE_REGISTRY ?= ghcr.io
TEST_TOOLS      += actionlint cyclonedx-gomod
BENCH_TARGETS   += bench-start

.PHONY: release bench-start
release: ## Release tarballs, SBOMs, SHA256SUMS and OCI images under out/release/VERSION
	@test -n "$(VERSION)" || { echo "make release: VERSION=vX.Y.Z is required" >&2; exit 2; }
	bash hack/ensure.sh cyclonedx-gomod
	$(GO) run ./hack/release/cmd/release -version $(VERSION) -commit "$$(git rev-parse HEAD)" \
	  -date "$$(git log -1 --format=%ct)" -platforms "$(PLATFORMS)" -registry "$(RELEASE_REGISTRY)" \
	  -extra "$(RELEASE_EXTRA)" -sbom-tool $(TOOLS)/cyclonedx-gomod -out $(RELEASE_OUT)

bench-start: build ## lakeport version: the release build (stripped) vs the development build, start time and size
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -buildid=" -o out/bench/lakeport-release ./cli/cmd/lakeport
	@$(GO) run ./cli/internal/benchmarks/start -dev $(BIN)/lakeport -release out/bench/lakeport-release -runs 31
