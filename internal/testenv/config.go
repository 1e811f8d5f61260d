package testenv

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/taskkit/taskkit/internal/logging"
)

// Config configures a cluster. The zero value is a usable one-agent
// cluster on random loopback ports with a temporary work directory.
type Config struct {
	// Agents is the number of agents; 0 means 1.
	Agents int
	// CPUs, Mem (MB) and Disk (MB) are each agent's resources; 0 means 4
	// cpus, 8192 MB and 16384 MB.
	CPUs, Mem, Disk float64
	// Ports is each agent's port resource, e.g. "31000-32000"; default
	// "1024-65535", every unprivileged port. Offers leave out the ports
	// another process holds on the agent's address or on the wildcard
	// address when the offer is made (see hostnet.go).
	Ports string
	// Attributes are text attributes every agent offers; none by default.
	Attributes map[string]string
	// Region is every agent's fault-domain region ("region-1" by default);
	// agents are spread over Zones (default zone-1, zone-2, zone-3) in turn.
	Region string
	Zones  []string

	// Listen is the master's address, or a comma-separated list of
	// addresses tried in order until one can be bound (e.g.
	// "127.0.0.1:5050,127.0.0.1:0": 5050 unless it is taken); default
	// "127.0.0.1:0".
	Listen string
	// AgentIPBase is the first agent's IP; agent N gets the Nth following
	// address. The cluster claims the /24 it is in for its lifetime (see
	// block.go); Start fails if another cluster holds it. Empty (the
	// default) takes the first /24 from 127.0.1.0 that no other cluster
	// holds and whose agent addresses no process uses: 127.0.1.1 for the
	// first cluster on a host, 127.0.2.1 for the second, ... Every 127/8
	// address is loopback on Linux, so no setup is needed.
	AgentIPBase string
	// AgentPort is the port every agent listens on (they differ by IP);
	// 0 picks a free port per agent.
	AgentPort int
	// DNSListen is the DNS server's address (UDP and TCP); default
	// "127.0.0.1:0". "off" disables DNS.
	DNSListen string
	// DNSForward says what happens to names outside .mesos and
	// .thisdcos.directory: "" or "refuse" answers REFUSED, "system" forwards
	// to the servers in /etc/resolv.conf, anything else is a "host:port" to
	// forward to.
	DNSForward string

	// WorkDir holds agents' sandboxes and fetch caches; empty means a
	// temporary directory removed when the cluster stops. It is made when
	// missing (and removed again if Start fails). One running cluster at a
	// time holds it (WorkDirLock): Start fails with ErrWorkDirInUse on one
	// another cluster holds, before it changes anything there.
	WorkDir string
	// ExecutorPath is taskkit's executor binary, run for LAUNCH_GROUP with a
	// DEFAULT executor. Empty means "executor" next to the running binary,
	// then on PATH.
	ExecutorPath string
	// CacheAllURIs makes each agent's fetcher cache every http(s) URI, not
	// only those with cache=true.
	CacheAllURIs bool

	// HeartbeatInterval is the scheduler stream's heartbeat interval;
	// default 15s as in Mesos.
	HeartbeatInterval time.Duration
	// AllocationInterval is how often offers are recomputed besides on
	// every change (to expire decline filters); default 1s as in Mesos.
	AllocationInterval time.Duration
	// StatusUpdateRetry is the first retry interval of an unacknowledged
	// status update; it doubles up to 10 minutes. Default 10s as in Mesos.
	StatusUpdateRetry time.Duration
	// ExecutorRegistrationTimeout is how long an executor may take to
	// subscribe; default 1 minute as in Mesos.
	ExecutorRegistrationTimeout time.Duration
	// StopGrace is how long processes get after SIGTERM when the cluster
	// stops, before SIGKILL; default 2s.
	StopGrace time.Duration
	// AgentPingTimeout and MaxAgentPingTimeouts are Mesos' master flags
	// --agent_ping_timeout (default 15s) and --max_agent_ping_timeouts
	// (default 5): a killed agent, which answers no ping, is marked
	// unreachable at the MaxAgentPingTimeouts-th timeout of the pings the
	// master sends it every AgentPingTimeout since it registered (75-90 s
	// after the kill by default; agentloss.go). 0 means the default, a
	// negative value is an error. Unlike Mesos (1s..15min), any positive
	// AgentPingTimeout is taken, for fast tests.
	AgentPingTimeout     time.Duration
	MaxAgentPingTimeouts int
	// AgentReregisterTimeout is Mesos' --agent_reregister_timeout (default
	// 10 minutes): an agent whose connection broke is marked unreachable
	// this long after, if its pings have not timed out first. 0 means the
	// default, a negative value is an error. Unlike Mesos (at least 10
	// minutes), any positive value is taken.
	AgentReregisterTimeout time.Duration

	// DiskMounts are the sizes (MB) of each agent's MOUNT disks, offered
	// whole with disk.source MOUNT and an absolute mount.root, as Mesos
	// offers disks an operator declares with --resources; none by default.
	DiskMounts []float64
	// Reserved are statically reserved resources every agent has besides
	// the unreserved ones above, in the text form of Mesos' agent
	// --resources, each with a role: "cpus(slave_public):2;
	// mem(slave_public):1024;ports(slave_public):[80-80,443-443]" (scalars,
	// [ranges] or {sets}). Reserved ports are taken out of Ports. They
	// are offered to their role and its sub-roles and can be refined
	// (the SDK's pre-reserved-role), never unreserved. None by default.
	Reserved string

	// Credentials, when not empty, make the scheduler API require HTTP
	// basic authentication with one of these principal → secret pairs
	// (auth.go; the master's --authenticate_frameworks).
	Credentials map[string]string

	// Launcher is Mesos' agent flag --launcher (launcher.go): LauncherLinux,
	// "linux", puts every container (an executor, or a command task) in a
	// cgroup v1 freezer cgroup of its own, <CgroupsHierarchy>/freezer/
	// <CgroupsRoot>/testenv-<master ID>/<container ID>, and destroying the
	// container kills every process in it, one that left its session
	// (setsid, a daemon's double fork) included; LauncherPosix, "posix",
	// kills the container's process group and session only, so such a
	// process outlives its container. Empty means DefaultLauncher, as
	// Mesos: linux when testenv runs as root and the freezer hierarchy is
	// mounted and writable, posix otherwise. Start fails, naming Launcher
	// and why, when linux is asked for and cannot be had.
	Launcher string

	// Isolation is Mesos' agent flag --isolation: a comma-separated list
	// of isolators; empty means DefaultIsolation, Mesos' default
	// "posix/cpu,posix/mem", which isolates nothing (containers are plain
	// processes). IsolatorCgroupsCPU, "cgroups/cpu", puts every container
	// (an executor, or a command task with its command executor) in its
	// own cgroup v1 cpu cgroup, <CgroupsHierarchy>/cpu/<CgroupsRoot>/
	// testenv-<master ID>/<container ID>, whose cpu.shares follow the
	// container's cpus (cgroups.go); it needs root and the cpu
	// controller, and Start fails, naming Isolation and the path, when it
	// cannot make the cluster's cgroup. Another isolator is invalid.
	Isolation string
	// CgroupsHierarchy is Mesos' --cgroups_hierarchy, where the cgroup
	// controllers are mounted (default "/sys/fs/cgroup"); CgroupsRoot is
	// --cgroups_root, the cgroup (a relative path) under which containers'
	// cgroups go (default "mesos"). Used with cgroups/cpu and the linux
	// launcher.
	CgroupsHierarchy string
	CgroupsRoot      string

	// Logger receives the cluster's logs; nil discards them.
	Logger *slog.Logger

	cgroupsCPU bool // Isolation has cgroups/cpu
}

// FieldError is an error one Config field caused: Field is the field's
// name in Config ("Ports", "AgentIPBase"), Err what is wrong with its
// value. An invalid value also matches ErrConfig (errors.Is); a value Start
// could not use (an address in use) does not. A command-line shell maps
// Field to the flag or variable that set it.
type FieldError struct {
	Field string
	Err   error

	invalid bool
}

// Error is "Field: Err".
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// Is reports whether target is ErrConfig and the value is invalid.
func (e *FieldError) Is(target error) bool { return e.invalid && target == ErrConfig }

// invalidField is the FieldError of an invalid value of field.
func invalidField(field string, err error) error {
	return &FieldError{Field: field, Err: err, invalid: true}
}

// fieldErr is the FieldError of a value of field Start could not use.
func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// defaults fills in the zero fields and checks the others: an error is an
// invalid FieldError.
func (c *Config) defaults() error {
	if c.Agents == 0 {
		c.Agents = 1
	}
	if c.Agents < 0 || c.Agents > 250 {
		return invalidField("Agents", fmt.Errorf("%d is out of range 1..250", c.Agents))
	}
	for _, r := range []struct {
		field string
		v     *float64
		def   float64
	}{{"CPUs", &c.CPUs, 4}, {"Mem", &c.Mem, 8192}, {"Disk", &c.Disk, 16384}} {
		if *r.v == 0 {
			*r.v = r.def
		}
		if !(*r.v > 0) || math.IsInf(*r.v, 0) {
			return invalidField(r.field, fmt.Errorf("%v is not a positive number", *r.v))
		}
	}
	if _, err := parseReserved(c.Reserved); err != nil {
		return invalidField("Reserved", err)
	}
	for i, size := range c.DiskMounts {
		if !(size > 0) || math.IsInf(size, 0) {
			return invalidField("DiskMounts", fmt.Errorf("disk %d: size %v MB is not a positive number", i, size))
		}
	}
	if c.Ports == "" {
		c.Ports = DefaultPorts
	}
	if _, err := parsePortRanges(c.Ports); err != nil {
		return invalidField("Ports", err)
	}
	if c.Region == "" {
		c.Region = "region-1"
	}
	if len(c.Zones) == 0 {
		c.Zones = []string{"zone-1", "zone-2", "zone-3"}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	n := 0
	for _, addr := range strings.Split(c.Listen, ",") {
		if addr = strings.TrimSpace(addr); addr == "" {
			continue
		}
		n++
		if err := checkListenAddr(addr); err != nil {
			return invalidField("Listen", err)
		}
	}
	if n == 0 {
		return invalidField("Listen", fmt.Errorf("no address in %q", c.Listen))
	}
	if c.AgentIPBase != "" {
		ip := net.ParseIP(c.AgentIPBase).To4()
		if ip == nil || !ip.IsLoopback() {
			return invalidField("AgentIPBase", fmt.Errorf("%q is not an IPv4 loopback address (127.x.y.z)", c.AgentIPBase))
		}
		if ip[3] == 0 || int(ip[3])+c.Agents > 255 {
			return invalidField("AgentIPBase", fmt.Errorf("%s leaves no room for %d agents in its /24", c.AgentIPBase, c.Agents))
		}
	}
	if c.AgentPort < 0 || c.AgentPort > 65535 {
		return invalidField("AgentPort", fmt.Errorf("%d is out of range 0..65535", c.AgentPort))
	}
	switch c.DNSForward {
	case "", "refuse", "system":
	default:
		if _, _, err := net.SplitHostPort(c.DNSForward); err != nil {
			return invalidField("DNSForward", fmt.Errorf("%q: want refuse, system or host:port", c.DNSForward))
		}
	}
	if c.DNSListen == "" {
		c.DNSListen = "127.0.0.1:0"
	}
	if c.DNSListen != "off" {
		if err := checkListenAddr(c.DNSListen); err != nil {
			return invalidField("DNSListen", err)
		}
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 15 * time.Second
	}
	if c.AllocationInterval <= 0 {
		c.AllocationInterval = time.Second
	}
	if c.StatusUpdateRetry <= 0 {
		c.StatusUpdateRetry = 10 * time.Second
	}
	if c.ExecutorRegistrationTimeout <= 0 {
		c.ExecutorRegistrationTimeout = time.Minute
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 2 * time.Second
	}
	for _, f := range []struct {
		name string
		neg  bool
	}{{"AgentPingTimeout", c.AgentPingTimeout < 0}, {"MaxAgentPingTimeouts", c.MaxAgentPingTimeouts < 0}, {"AgentReregisterTimeout", c.AgentReregisterTimeout < 0}} {
		if f.neg {
			return invalidField(f.name, errors.New("negative; 0 means Mesos' default"))
		}
	}
	if c.AgentPingTimeout <= 0 {
		c.AgentPingTimeout = 15 * time.Second
	}
	if c.MaxAgentPingTimeouts <= 0 {
		c.MaxAgentPingTimeouts = 5
	}
	if c.AgentReregisterTimeout <= 0 {
		c.AgentReregisterTimeout = 10 * time.Minute
	}
	if c.Isolation == "" {
		c.Isolation = DefaultIsolation
	}
	var err error
	if c.cgroupsCPU, err = parseIsolation(c.Isolation); err != nil {
		return invalidField("Isolation", err)
	}
	if err := checkLauncher(c.Launcher); err != nil {
		return invalidField("Launcher", err)
	}
	if c.CgroupsHierarchy == "" {
		c.CgroupsHierarchy = DefaultCgroupsHierarchy
	}
	if !filepath.IsAbs(c.CgroupsHierarchy) {
		return invalidField("CgroupsHierarchy", fmt.Errorf("%q is not an absolute path", c.CgroupsHierarchy))
	}
	if c.CgroupsRoot == "" {
		c.CgroupsRoot = DefaultCgroupsRoot
	}
	if err := checkCgroupsRoot(c.CgroupsRoot); err != nil {
		return invalidField("CgroupsRoot", err)
	}
	if c.Logger == nil {
		c.Logger = logging.Discard()
	}
	return nil
}

// checkListenAddr checks that addr is HOST:PORT with a port number (or a
// service name from /etc/services) in 0..65535, as net.Listen takes it: a
// malformed address is a configuration error found before anything
// starts, not a failure to listen.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (e.g. 127.0.0.1:5050): %w", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q: port %q is not a port number 0..65535", addr, port)
	}
	return nil
}

// DefaultPorts is every agent's port resource unless Config.Ports says
// otherwise: the unprivileged ports.
const DefaultPorts = "1024-65535"

// agentIP returns the IP of agent i (0-based); AgentIPBase is set by then.
func (c *Config) agentIP(i int) string {
	return agentIPs(net.ParseIP(c.AgentIPBase), i+1)[i].String()
}
