# hack/workflows.mk: charts/workflows submits the distribution chart's CronWorkflow to a real Argo
# Workflows controller (hack/testenv StartWorkflows) on a control plane with kwok nodes.
TEST_TOOLS += etcd kube-apiserver kube-controller-manager kube-scheduler kwok workflow-controller
