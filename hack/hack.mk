# hack/testenv's own tests start every server it offers (included by the root Makefile).
TEST_TOOLS += etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok versitygw argocd
