package argoloop

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/lakeport/lakeport/hack/testenv"
)

// envInNetNS marks a test binary that already runs in its own network namespace.
const envInNetNS = "LAKEPORT_ARGOLOOP_NETNS"

// InOwnNetNS re-executes the current test binary inside a new network namespace with only a
// loopback interface, once, from TestMain before anything else runs; in the re-executed process
// it brings the loopback up and returns true. Everything the loop starts (the control plane,
// Argo CD, whose application controller binds 0.0.0.0 whatever its flags say) and every client
// in the test process then share that namespace: nothing leaves the machine, nothing collides
// with parallel test packages, and in-process clients (client-go, Argo CD's gRPC clients) need
// no special dialer.
//
// The process image is replaced (syscall.Exec through unshare(1)), so the PID, the standard
// streams and the signals `go test` sends stay the same. Without root (no CAP_SYS_ADMIN) it
// returns false and the caller runs on the host's loopback.
func InOwnNetNS() (bool, error) {
	if os.Getenv(envInNetNS) == "1" {
		if err := testenv.LoopbackUp(); err != nil {
			return false, fmt.Errorf("bring up lo in the network namespace: %w", err)
		}
		return true, nil
	}
	if os.Geteuid() != 0 {
		return false, nil
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return false, nil
	}
	self, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("find the test binary: %w", err)
	}
	argv := append([]string{"unshare", "--net", "--", self}, os.Args[1:]...)
	env := append(os.Environ(), envInNetNS+"=1")
	if err := syscall.Exec(unshare, argv, env); err != nil {
		return false, fmt.Errorf("re-exec in a network namespace: %w", err)
	}
	return false, nil // not reached
}
