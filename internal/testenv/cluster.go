package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// Cluster is a running testenv cluster. Its methods are safe for concurrent
// use.
type Cluster struct {
	cfg Config
	log *slog.Logger
	ctx context.Context

	// mu guards every field below and every framework, agent, executor,
	// task and offer reachable from them.
	mu          sync.Mutex
	masterID    string
	masterAddr  *net.TCPAddr
	masterSrv   *http.Server
	started     time.Time
	frameworks  map[string]*framework
	completed   []*framework // removed frameworks, newest last
	removedFW   map[string]bool
	agents      []*agent // every agent ever registered, in order
	agentByID   map[string]*agent
	offers      map[string]*offer
	nextFW      int
	nextOffer   int
	nextAgent   int
	ports       mesos.Ranges
	block       *addrBlock
	sockets     socketCache
	dns         *dnsServer
	dnsDirty    bool
	hosts       map[int]*agentHost // by agent index: what outlives agent restarts
	cpu         *cpuIsolator       // the cgroups/cpu isolator, nil without it
	launcher    string             // LauncherLinux or LauncherPosix
	freezer     *freezerLauncher   // the linux launcher's cgroups, nil with posix
	work        *workDir           // locked from Start until shutdown has finished
	discardWork bool               // remove what Start created on shutdown (a failed start)
	stopping    bool
	// counters are the master's counters (metrics.go), by metric name.
	counters map[string]int

	wg   sync.WaitGroup // every goroutine the cluster owns
	done chan struct{}
}

// AgentInfo describes one agent.
type AgentInfo struct {
	// ID is the agent ID (changes when the agent is restarted).
	ID string `json:"id"`
	// Index is the agent's position, 0-based; stable across restarts.
	Index int `json:"index"`
	// IP is its loopback address and Hostname the hostname it reports
	// (the same string).
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
	// Endpoint is "ip:port" of its HTTP server (the executor API).
	Endpoint string `json:"endpoint"`
	// Zone and Region are its fault domain.
	Zone   string `json:"zone"`
	Region string `json:"region"`
	// Active is false after KillAgent until RestartAgent.
	Active bool `json:"active"`
}

// ErrConfig is matched (errors.Is) by Start's error when a Config field is
// invalid; the error is then a *FieldError naming the field.
var ErrConfig = errors.New("invalid configuration")

// Start starts a cluster: the master, cfg.Agents agents and the DNS server.
// It returns once they all listen. The cluster runs until ctx ends; then it
// kills every process it started and closes every server (see Wait).
// An invalid Config field is a *FieldError matching ErrConfig; a work dir
// another running cluster holds is a *FieldError of WorkDir matching
// ErrWorkDirInUse.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("testenv: invalid configuration: %w", err)
	}
	ports, _ := parsePortRanges(cfg.Ports)
	hs, hsErr := readHostSockets()
	if hsErr != nil {
		// Not Linux, or /proc hidden: blocks are still claimed, but neither
		// checked for other processes nor are held ports left out of offers.
		cfg.Logger.Warn("cannot see the host's bound sockets; offers may include ports other processes hold", "err", hsErr.Error())
	}
	block, err := claimBlock(cfg.AgentIPBase, cfg.Agents, cfg.AgentPort, hs)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	cfg.AgentIPBase = block.base.String()
	c := &Cluster{
		cfg:        cfg,
		log:        cfg.Logger,
		ctx:        ctx,
		masterID:   mesosx.NewID(),
		started:    time.Now(),
		frameworks: map[string]*framework{},
		removedFW:  map[string]bool{},
		agentByID:  map[string]*agent{},
		offers:     map[string]*offer{},
		ports:      ports,
		block:      block,
		sockets:    socketCache{read: readHostSockets, snap: hs, at: time.Now(), failed: hsErr != nil},
		done:       make(chan struct{}),
	}
	// The work dir is locked before anything is written into it: a second
	// cluster on it stops here, having changed nothing there.
	work, err := openWorkDir(c.cfg.WorkDir)
	if err != nil {
		block.release()
		if c.cfg.WorkDir == "" {
			return nil, fmt.Errorf("testenv: work dir: %w", err)
		}
		return nil, fmt.Errorf("testenv: %w", fieldErr("WorkDir", err))
	}
	c.cfg.WorkDir, c.work = work.path, work
	if err := c.startAll(); err != nil {
		c.discardWork = true
		c.shutdown()
		return nil, err
	}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

func (c *Cluster) startAll() error {
	// First, as a Mesos agent makes its launcher before its isolators.
	if err := c.startLauncher(); err != nil {
		return err
	}
	if c.cfg.cgroupsCPU {
		// First: a cluster that cannot isolate its containers as asked
		// starts nothing.
		cpu, err := newCPUIsolator(c.cfg.CgroupsHierarchy, c.cfg.CgroupsRoot, clusterDirPrefix+c.masterID, c.log)
		if err != nil {
			return fmt.Errorf("testenv: %w", fieldErr("Isolation", fmt.Errorf("%s: %w", IsolatorCgroupsCPU, err)))
		}
		c.cpu = cpu
		c.log.Info("cgroups/cpu isolation", "cgroup", cpu.dir)
	}
	ln, err := listenFirst(c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("testenv: master: %w", fieldErr("Listen", err))
	}
	c.masterAddr = ln.Addr().(*net.TCPAddr)
	c.masterSrv = &http.Server{Handler: c.masterHandler(), ReadHeaderTimeout: 30 * time.Second}
	c.serve(c.masterSrv, ln)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < c.cfg.Agents; i++ {
		if _, err := c.startAgentLocked(i); err != nil {
			return err
		}
	}
	if c.cfg.DNSListen != "off" {
		d, err := c.startDNS()
		if err != nil {
			return err
		}
		c.dns = d
	}
	c.log.Info("testenv up", "master", c.masterURLLocked(), "agents", len(c.agents), "agent_ips", c.cfg.AgentIPBase+"/"+strconv.Itoa(c.cfg.Agents), "dns", c.dnsAddrLocked())
	return nil
}

// listenFirst listens on the first address of a comma-separated list that
// can be bound, and reports every failure if none can.
func listenFirst(list string) (net.Listener, error) {
	var errs []error
	for _, addr := range strings.Split(list, ",") {
		addr = strings.TrimSpace(addr)
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("no address in %q", list)
	}
	return nil, errors.Join(errs...)
}

func (c *Cluster) serve(srv *http.Server, ln net.Listener) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("http server", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// run owns the housekeeping loop: allocation, filter expiry, status update
// retries, failover timeouts and registration timeouts. It stops the
// cluster when ctx ends.
func (c *Cluster) run() {
	defer c.wg.Done()
	tick := c.cfg.AllocationInterval
	if tick > 250*time.Millisecond {
		tick = 250 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	lastAlloc := time.Now()
	for {
		select {
		case <-c.ctx.Done():
			go func() { // not owned by wg: it waits for wg
				c.shutdown()
			}()
			return
		case now := <-t.C:
			c.mu.Lock()
			c.housekeepLocked(now)
			if now.Sub(lastAlloc) >= c.cfg.AllocationInterval {
				lastAlloc = now
				c.allocateLocked()
			}
			c.mu.Unlock()
		}
	}
}

// shutdown kills every process, closes every stream and server, waits for
// every goroutine and closes done.
func (c *Cluster) shutdown() {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return
	}
	c.stopping = true
	var procs []*proc
	for _, a := range c.agents {
		procs = append(procs, a.procsLocked()...)
		a.closeStreamsLocked()
	}
	for _, fw := range c.frameworks {
		if fw.stream != nil {
			fw.stream.q.close()
		}
	}
	agents := append([]*agent(nil), c.agents...)
	c.mu.Unlock()

	killAll(procs, c.cfg.StopGrace)
	for _, a := range agents {
		if a.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.srv.Shutdown(ctx)
			cancel()
			_ = a.srv.Close()
		}
	}
	if c.masterSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = c.masterSrv.Shutdown(ctx)
		cancel()
		_ = c.masterSrv.Close()
	}
	if c.dns != nil {
		c.dns.stop()
	}
	c.wg.Wait()
	if c.freezer != nil {
		c.freezer.close() // every container's process has been reaped
	}
	if c.cpu != nil {
		c.cpu.close() // every container's process has been reaped
	}
	c.block.release()
	c.mu.Lock()
	discard := c.discardWork
	for _, a := range c.agents {
		a.root.Close()
	}
	for _, h := range c.hosts {
		h.root.Close()
	}
	c.mu.Unlock()
	c.work.release(discard)
	c.log.Info("testenv stopped")
	close(c.done)
}

// discardOnStop makes the cluster, when it stops, also remove what its
// Start created: a work dir that did not exist (with its new parents). For
// a command whose start failed after Start returned. Call it before ending
// the cluster's context.
func (c *Cluster) discardOnStop() {
	c.mu.Lock()
	c.discardWork = true
	c.mu.Unlock()
}

// Done is closed once the cluster has stopped and every process it started
// has exited.
func (c *Cluster) Done() <-chan struct{} { return c.done }

// Wait blocks until the cluster has stopped (after its context ended).
func (c *Cluster) Wait() { <-c.done }

// MasterURL is the master's base URL, e.g. "http://127.0.0.1:5050"; the
// scheduler API is at MasterURL()+"/api/v1/scheduler".
func (c *Cluster) MasterURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.masterURLLocked()
}

func (c *Cluster) masterURLLocked() string { return "http://" + c.masterAddr.String() }

// MasterAddr is the master's "ip:port".
func (c *Cluster) MasterAddr() string { return c.masterAddr.String() }

// DNSAddr is the DNS server's "ip:port" (UDP and TCP), or "" without DNS.
func (c *Cluster) DNSAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dnsAddrLocked()
}

func (c *Cluster) dnsAddrLocked() string {
	if c.dns == nil {
		return ""
	}
	return c.dns.addr
}

// WorkDir is the directory holding the agents' sandboxes.
func (c *Cluster) WorkDir() string { return c.cfg.WorkDir }

// Agents describes the cluster's current agents, in index order.
func (c *Cluster) Agents() []AgentInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []AgentInfo
	byIndex := map[int]*agent{}
	for _, a := range c.agents {
		byIndex[a.index] = a // the latest agent at each index wins
	}
	for i := 0; i < c.cfg.Agents; i++ {
		if a := byIndex[i]; a != nil {
			out = append(out, a.infoLocked())
		}
	}
	return out
}

func (c *Cluster) newFrameworkIDLocked() string {
	id := c.masterID + "-" + fmt.Sprintf("%04d", c.nextFW)
	c.nextFW++
	return id
}

func (c *Cluster) newOfferIDLocked() string {
	id := c.masterID + "-O" + strconv.Itoa(c.nextOffer)
	c.nextOffer++
	return id
}

func (c *Cluster) newAgentIDLocked() string {
	id := c.masterID + "-S" + strconv.Itoa(c.nextAgent)
	c.nextAgent++
	return id
}

// goLocked runs f in a goroutine the cluster waits for on stop; it must be
// called with c.mu held and reports false (running nothing) once the
// cluster is stopping.
func (c *Cluster) goLocked(f func()) bool {
	if c.stopping {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}
