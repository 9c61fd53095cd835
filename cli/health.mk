# lakeport health: the real GitOps loop's tools and the health benchmark (included by the root
# Makefile). The loop (cli/internal/argoloop) needs the whole stack; the health package's own
# tests and benchmark need only etcd and kube-apiserver.
TEST_TOOLS    += etcd kube-apiserver kube-controller-manager kube-scheduler kwok helm argocd argocd-v2-crds
BENCH_TARGETS += bench-health

.PHONY: bench-health
bench-health:
	@echo "== health: one check of 1,000 Applications on a real kube-apiserver (median ms, API requests per check)"
	@$(GO) test -run '^$$' -bench 'Health1000' -benchtime 10x ./cli/pkg/health/ | grep -E '^Benchmark'
