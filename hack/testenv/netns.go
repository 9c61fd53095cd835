package testenv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// netNS is a private network namespace with only a loopback interface,
// owned by one OS thread of this process (the keeper). Everything that must
// happen inside the namespace — starting a server, opening a connection to
// one — runs as a function on that thread: a forked child inherits the
// thread's namespace, and a socket belongs to the namespace it was created
// in, whatever thread later uses it.
//
// Nothing inside can reach the outside network or be reached from it, which
// is the point: some servers (Argo CD's application controller) bind their
// metrics port on 0.0.0.0 whatever their flags say, and fixed default ports
// of parallel test packages cannot collide across namespaces.
//
// Creating a network namespace needs CAP_SYS_ADMIN (root); a non-root
// process cannot unshare a user namespace once it has threads, which every
// Go program has.
type netNS struct {
	calls chan func()
	done  chan struct{}
	// Path is the namespace's file, for `nsenter --net=<Path> cmd`.
	path string
}

// newNetNS creates the namespace and brings its loopback interface up.
func newNetNS() (*netNS, error) {
	ns := &netNS{calls: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(ns.done)
		// Never unlocked: once this goroutine returns, the runtime ends the
		// thread rather than reuse it in the wrong namespace.
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("create network namespace (needs root): %w", err)
			return
		}
		if err := LoopbackUp(); err != nil {
			ready <- fmt.Errorf("bring up lo in the network namespace: %w", err)
			return
		}
		ns.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), syscall.Gettid())
		ready <- nil
		for f := range ns.calls {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return ns, nil
}

// do runs f on the keeper thread, inside the namespace.
func (ns *netNS) do(f func()) {
	finished := make(chan struct{})
	ns.calls <- func() {
		defer close(finished)
		f()
	}
	<-finished
}

// close ends the keeper thread; the namespace disappears once no process
// is left in it. Stop the processes first: they were forked from the keeper
// thread, and its end SIGKILLs them (Pdeathsig).
func (ns *netNS) close() {
	close(ns.calls)
	<-ns.done
}

// DialContext opens a connection inside the namespace. Use it as
// http.Transport.DialContext, or client-go's rest.Config.Dial.
func (ns *netNS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var (
		c   net.Conn
		err error
	)
	// A literal IP address: no resolver goroutines, so the socket is made on
	// the keeper thread. Loopback connects finish at once, so serialising
	// dials through one thread costs nothing.
	ns.do(func() {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.DialContext(ctx, network, addr)
	})
	return c, err
}

// LoopbackUp sets IFF_UP on "lo" (what `ip link set lo up` does), on the
// calling thread's namespace.
func LoopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	// struct ifreq: 16 bytes of name, then a union whose first member is
	// the short ifr_flags.
	var ifr [40]byte
	copy(ifr[:], "lo")
	if err := ioctl(fd, syscall.SIOCGIFFLAGS, &ifr); err != nil {
		return fmt.Errorf("get flags: %w", err)
	}
	flags := binary.NativeEndian.Uint16(ifr[16:]) | syscall.IFF_UP | syscall.IFF_RUNNING
	binary.NativeEndian.PutUint16(ifr[16:], flags)
	if err := ioctl(fd, syscall.SIOCSIFFLAGS, &ifr); err != nil {
		return fmt.Errorf("set flags: %w", err)
	}
	return nil
}

func ioctl(fd int, req uintptr, ifr *[40]byte) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(ifr)))
	if errno != 0 {
		return errno
	}
	return nil
}

// errNoNetNS marks StartArgoCD failing for want of privileges.
var errNoNetNS = errors.New("network namespace unavailable")
