package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// EnvKeep keeps the temp folders (data and logs) of stopped servers when set
// to 1, for debugging; Stop then prints where they are.
const EnvKeep = "LAKEPORT_TESTENV_KEEP"

// stopGrace is how long a server gets to exit after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

var lookPath = exec.LookPath

// proc is one server process, started in its own process group so that
// Stop reaches anything it forks, with its output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	stopSig syscall.Signal
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid once done is closed
}

// procSpec describes a process to start.
type procSpec struct {
	name    string   // label used in errors and for the log file name
	path    string   // binary
	args    []string // arguments
	env     []string // extra environment, appended to os.Environ()
	dir     string   // working directory ("" = inherit)
	logPath string   // where stdout and stderr go
	cred    *syscall.Credential
	stopSig syscall.Signal // what asks it to exit; default SIGTERM
	ns      *netNS         // start it inside this network namespace (nil: the host's)
}

func startProc(s procSpec) (*proc, error) {
	lf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", s.name, err)
	}
	if s.cred != nil {
		// The server runs as another user and may want to write more logs
		// next to this one; the file itself is written by us.
		_ = lf.Chown(int(s.cred.Uid), int(s.cred.Gid))
	}
	cmd := exec.Command(s.path, s.args...) //nolint:gosec // test servers run binaries we built
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Dir = s.dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the test binary dies without calling Stop (a panic, a timeout
		// kill), take the server with it rather than leak it.
		Pdeathsig:  syscall.SIGKILL,
		Credential: s.cred,
	}
	fmt.Fprintf(lf, "### %s: %s %q\n", time.Now().Format(time.RFC3339), s.path, s.args)
	if s.ns != nil {
		s.ns.do(func() { err = cmd.Start() })
	} else {
		err = cmd.Start()
	}
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	p := &proc{name: s.name, cmd: cmd, logPath: s.logPath, logFile: lf, stopSig: s.stopSig, done: make(chan struct{})}
	if p.stopSig == 0 {
		p.stopSig = syscall.SIGTERM
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to exit (its stop signal, sent to it alone so that
// a server with workers, like postgres, shuts them down in order), kills its
// whole process group after stopGrace, and finally kills whatever is left in
// the group.
func (p *proc) stop() {
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	if !p.exited() {
		_ = syscall.Kill(pid, p.stopSig)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	p.logFile.Close()
}

// failure wraps err with the process's exit status (if it ended) and the
// tail of its log, which is what one needs to see why a server did not come up.
func (p *proc) failure(err error) error {
	status := "still running"
	if p.exited() {
		status = "exited"
		if p.waitErr != nil {
			status = "exited: " + p.waitErr.Error()
		}
	}
	return fmt.Errorf("%s (%s): %w\n--- last lines of %s ---\n%s", p.name, status, err, p.logPath, tail(p.logPath, 30))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// waitFor polls check every 100ms until it returns nil, the process exits
// or the timeout passes; the error then carries the process's log tail.
func waitFor(p *proc, what string, timeout time.Duration, check func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if p != nil && p.exited() {
			return p.failure(fmt.Errorf("wait for %s: %w", what, last))
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("wait for %s: timed out after %s: %w", what, timeout, last)
			if p != nil {
				return p.failure(err)
			}
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago. All listeners are held until every port is chosen so that they differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// group is a set of processes and a temp folder stopped and removed together.
type group struct {
	mu    sync.Mutex
	dir   string
	procs []*proc
	once  sync.Once
}

func (g *group) add(p *proc) {
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
}

// stop ends the processes in reverse start order, then removes the folder
// (unless LAKEPORT_TESTENV_KEEP=1). Safe to call more than once.
func (g *group) stop() {
	g.once.Do(func() {
		g.mu.Lock()
		procs := g.procs
		g.mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
		if g.dir == "" {
			return
		}
		if os.Getenv(EnvKeep) == "1" {
			fmt.Fprintf(os.Stderr, "testenv: kept %s (%s=1)\n", g.dir, EnvKeep)
			return
		}
		_ = os.RemoveAll(g.dir)
	})
}

// mkTempDir makes a temp folder for a server's data and logs.
func mkTempDir(base, pattern string) (string, error) {
	d, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", fmt.Errorf("make temp dir: %w", err)
	}
	// Resolve symlinks (macOS /tmp, some CI runners) so paths in flags match.
	if r, err := filepath.EvalSymlinks(d); err == nil {
		d = r
	}
	return d, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// errNotYet is returned by readiness checks that have nothing better to say.
var errNotYet = errors.New("not ready yet")
