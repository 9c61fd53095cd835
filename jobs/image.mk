# Make fragment: the distribution job's container image (included by the root Makefile).
#
# `make image` builds jobs/image/distribution.yaml with hack/imagebuild, offline, from the Go
# toolchain alone (no Docker daemon, no registry): out/image/distribution/ is an OCI image layout
# (one index, one image per platform) and out/image/distribution-<os>-<arch>.tar a `docker load` /
# `crane push` tarball per platform. Same commit, same toolchain -> same digests.
#
#   make image                                          # the host's architecture
#   make image PLATFORMS=linux/amd64,linux/arm64        # a multi-arch index
#   make image IMAGE_CA_CERTIFICATES=                   # without the build machine's CA bundle

IMAGE_DEFINITION      ?= jobs/image/distribution.yaml
# The tag: the chart's appVersion unless told otherwise, so that the chart's default image is what
# this builds.
IMAGE_VERSION         ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' charts/distribution/Chart.yaml)
IMAGE_REGISTRY        ?= registry.risk.internal
IMAGE_REVISION        ?= $(shell git rev-parse HEAD 2>/dev/null)
# Every timestamp in the image is the commit's time (reproducible builds).
SOURCE_DATE_EPOCH     ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PLATFORMS             ?=
IMAGE_CA_CERTIFICATES ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
IMAGE_OUT             ?= out/image

.PHONY: image

image: ## Build the distribution job's OCI image (layout + tarballs under out/image), offline
	$(GO) run ./hack/imagebuild/cmd/imagebuild -definition $(IMAGE_DEFINITION) \
	  -version $(IMAGE_VERSION) -revision "$(IMAGE_REVISION)" -created $(SOURCE_DATE_EPOCH) \
	  -registry $(IMAGE_REGISTRY) -platforms "$(PLATFORMS)" \
	  -ca-certificates "$(IMAGE_CA_CERTIFICATES)" -out $(IMAGE_OUT)
