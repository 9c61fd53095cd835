# charts/charts.mk: what the chart tests need, included by the root Makefile.
#
# charts/dryrun starts etcd and kube-apiserver (hack/testenv) and dry-run applies every rendered
# object of every environment, with the CRDs of cli/pkg/crds installed; charts/simulated deploys
# dev onto kwok's simulated nodes (controller-manager and scheduler too); charts compares the
# in-process render with the helm binary.
TEST_TOOLS += helm etcd kube-apiserver kube-controller-manager kube-scheduler kwok

.PHONY: charts-test charts-golden charts-crds
charts-test: ## Chart unit tests, golden renders and the server-side dry run
	bash hack/ensure.sh helm etcd kube-apiserver kube-controller-manager kube-scheduler kwok
	LAKEPORT_REQUIRE_TOOLS=1 $(GO) test -count=1 ./charts/...

charts-golden: ## Rewrite charts/testdata/golden from the current charts and values
	$(GO) test ./charts/ -run 'TestGolden' -update

charts-crds: ## Refresh cli/pkg/crds from the pinned prometheus-operator and Argo Workflows modules
	bash hack/crds.sh
