// Package zktest runs a throwaway ZooKeeper server (Debian's zookeeperd
// package: java plus /usr/share/java/zookeeper.jar) for tests: its own
// temporary data directory, a free loopback port, tickTime 250 ms (so
// session timeouts down to 500 ms are allowed), killed with its process
// group when the test ends. Tests skip when ZooKeeper is not installed.
package zktest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/taskkit/taskkit/internal/testtools"
)

// Jars are the places the ZooKeeper server jar is looked for.
var Jars = []string{"/usr/share/java/zookeeper.jar", "/usr/share/zookeeper/zookeeper.jar"}

// Server is a running ZooKeeper server.
type Server struct {
	// Addr is host:port of its client port.
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// Skip is the message of a test skipped for want of ZooKeeper.
var Skip = testtools.Message("zookeeper", "no java or no ZooKeeper jar (apt-get install zookeeperd)")

// Available reports the java binary and classpath to run ZooKeeper with,
// or ok=false.
func Available() (java, classpath string, ok bool) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", "", false
	}
	for _, j := range Jars {
		if _, err := os.Stat(j); err == nil {
			cp := j
			if _, err := os.Stat("/etc/zookeeper/conf"); err == nil {
				cp = "/etc/zookeeper/conf:" + j
			}
			return java, cp, true
		}
	}
	return "", "", false
}

// Start starts a server for t, or skips t when ZooKeeper is not installed.
// It fails t if the server does not answer and open a first session within
// startWait. The server is killed when t ends.
//
// The client port is found free and closed for ZooKeeper to bind: another
// process may take it meanwhile, and ZooKeeper then exits without a word
// (it has no log binding). A server that exits before it answers is
// started again on another port, at most 3 times in all.
func Start(t testing.TB) *Server {
	t.Helper()
	java, cp, ok := Available()
	if !ok {
		t.Skip(Skip)
	}
	for attempt := 1; ; attempt++ {
		s, exited, err := start(t, java, cp)
		if err == nil {
			return s
		}
		if !exited || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("%v; starting it again on another port", err)
	}
}

// startWait bounds the wait for a started server's first answer and first
// session: seconds on an idle 2-core machine, more than 30 s for a JVM
// starting while several test suites run (load average 40).
const startWait = 2 * time.Minute

// start runs one server; exited says its error is an exit before it
// answered.
func start(t testing.TB, java, cp string) (_ *Server, exited bool, _ error) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, false, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf(`tickTime=250
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
minSessionTimeout=500
maxSessionTimeout=60000
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok
`, filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, false, err
	}
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		return nil, false, err
	}
	cmd := exec.Command(java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, false, fmt.Errorf("starting ZooKeeper: %w", err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { // owned by the Server: ends when the process does
		cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(startWait)
	for !s.ruok() {
		select {
		case <-s.done:
			b, _ := os.ReadFile(logf.Name())
			return nil, true, fmt.Errorf("ZooKeeper exited before answering on %s (%s): %s", s.Addr, cmd.ProcessState, tail(b))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			return nil, false, fmt.Errorf("ZooKeeper did not answer within %s: %s", startWait, tail(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.firstSession(deadline); err != nil {
		b, _ := os.ReadFile(logf.Name())
		return nil, false, fmt.Errorf("%w: %s", err, tail(b))
	}
	return s, false, nil
}

// firstSession opens a session and closes it, waiting until deadline: a
// server that answers ruok may still take long over its first sessions
// (its JVM loading and compiling their code), over 15 s on a loaded
// machine, where a client under test would give up.
func (s *Server) firstSession(deadline time.Time) error {
	c, _, err := zk.Connect([]string{s.Addr}, 30*time.Second, zk.WithLogger(Discard{}))
	if err != nil {
		return fmt.Errorf("ZooKeeper %s: %w", s.Addr, err)
	}
	defer c.Close()
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			return fmt.Errorf("ZooKeeper %s: no first session within %s", s.Addr, startWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Discard is a ZooKeeper client logger (zk.WithLogger) that drops every
// line.
type Discard struct{}

// Printf implements zk.Logger.
func (Discard) Printf(string, ...any) {}

// ruok asks the four-letter-word question.
func (s *Server) ruok() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "imok")
}

// URL is "zk://<addr>" + path.
func (s *Server) URL(path string) string { return "zk://" + s.Addr + path }

// Stop kills the server's process group and waits for it (at most 10 s).
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
