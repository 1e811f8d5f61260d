package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/safefile"
	"github.com/taskkit/taskkit/internal/supervise"
)

// envFileName is the env file's name in the work dir when --env-file is
// not given.
const envFileName = "testenv.env"

// Exit codes of the testenv command.
const (
	ExitOK      = 0 // stopped by SIGINT or SIGTERM
	ExitRuntime = 1 // a runtime error (an address in use, a work dir another cluster holds, an env file that cannot be written, ...)
	ExitUsage   = 2 // bad flags or configuration
)

// Run is the testenv command ("testenv up [flags]"): it reads its flags from
// args (args[0] is the program name) and environ, runs a cluster until
// SIGINT or SIGTERM, and returns the exit code. It reads nothing from stdin.
func Run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sh := cliapp.New("testenv", args, environ, stdin, stdout, stderr)
	sh.UsageCode, sh.FailureCode = ExitUsage, ExitRuntime
	env := func(name string) []string { return []string{"TESTENV_" + name} }
	return sh.Run(ctx, &cli.App{
		Name:      "testenv",
		Usage:     "a Mesos-compatible cluster (master, agents, DNS) on loopback",
		UsageText: "testenv up [flags]",
		Description: "\"up\" writes the master URL, the DNS address and the agents to the env file\n" +
			"(MESOS_MASTER=..., TESTENV_DNS_ADDR=..., ...), then prints them, and runs until SIGINT or\n" +
			"SIGTERM, then stops everything and kills every process it started. Every flag also reads\n" +
			"TESTENV_<FLAG> (an empty one is the default). One cluster at a time uses a work dir (it holds\n" +
			"an flock on the directory) and an env file. Load the env file into a shell with\n" +
			"'set -a; . FILE; set +a' (its lines are KEY=VALUE, not exported).\n\n" +
			"Exit codes: 0 stopped by a signal; 1 runtime error (an address in use, a work dir another\n" +
			"cluster holds, an env file that cannot be written: nothing is printed); 2 usage or\n" +
			"configuration error.\n" +
			"See docs/testenv.md.",
		Commands: []*cli.Command{{
			Name:      "up",
			Usage:     "start a cluster and run until interrupted",
			UsageText: "testenv up [--agents N] [--listen ADDR] [--env-file FILE] [flags]",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "agents", Value: 1, Usage: "number `N` of agents", EnvVars: env("AGENTS")},
				&cli.Float64Flag{Name: "cpus", Value: 4, Usage: "`N` cpus per agent", EnvVars: env("CPUS")},
				&cli.Float64Flag{Name: "mem", Value: 8192, Usage: "memory per agent, `MB` megabytes", EnvVars: env("MEM")},
				&cli.Float64Flag{Name: "disk", Value: 16384, Usage: "disk per agent, `MB` megabytes", EnvVars: env("DISK")},
				&cli.StringFlag{Name: "ports", Value: DefaultPorts, Usage: "port `RANGES` per agent (ports other processes hold are never offered)", EnvVars: env("PORTS")},
				&cli.Float64SliceFlag{Name: "disk-mount", Usage: "a MOUNT disk of `MB` megabytes on every agent, offered whole (repeatable)", EnvVars: env("DISK_MOUNTS")},
				&cli.StringFlag{Name: "reserved", Usage: "statically reserved `RESOURCES` on every agent, as Mesos' --resources: 'cpus(ROLE):2;mem(ROLE):1024;ports(ROLE):[80-80]'", EnvVars: env("RESERVED")},
				&cli.StringSliceFlag{Name: "attribute", Usage: "agent attribute `NAME=VALUE` (repeatable)", EnvVars: env("ATTRIBUTES")},
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1:5050,127.0.0.1:0", Usage: "master `ADDR`, or a comma-separated list: the first that is free", EnvVars: env("LISTEN")},
				&cli.StringFlag{Name: "agent-ip", Usage: "first agent's loopback `IP` (default: the first /24 from 127.0.1.0 no other cluster uses)", EnvVars: env("AGENT_IP")},
				&cli.IntFlag{Name: "agent-port", Value: 5051, Usage: "`PORT` of every agent (0: random)", EnvVars: env("AGENT_PORT")},
				&cli.StringFlag{Name: "dns", Value: "127.0.0.1:0", Usage: "DNS server `ADDR` (UDP and TCP), or off", EnvVars: env("DNS")},
				&cli.StringFlag{Name: "dns-forward", Value: "refuse", Usage: "`WHERE` other names go: refuse, system, or HOST:PORT", EnvVars: env("DNS_FORWARD")},
				&cli.StringFlag{Name: "work-dir", Usage: "`DIR` of the sandboxes, caches and the env file, of one cluster at a time (default: a temporary directory, removed on exit)", EnvVars: env("WORK_DIR")},
				&cli.StringFlag{Name: "executor", Usage: "taskkit executor binary `PATH` for DEFAULT executors (default: next to testenv, then PATH)", EnvVars: env("EXECUTOR")},
				&cli.StringFlag{Name: "agent-ping-timeout", Value: "15secs", Usage: "as the Mesos master's --agent_ping_timeout: the master pings each agent every `D` and a ping unanswered that long times out (1secs..15mins; Go's 15s or Mesos' 15secs)", EnvVars: env("AGENT_PING_TIMEOUT")},
				&cli.IntFlag{Name: "max-agent-ping-timeouts", Value: 5, Usage: "as the Mesos master's --max_agent_ping_timeouts: a killed agent is marked unreachable at `N` ping timeouts in a row (at least 1)", EnvVars: env("MAX_AGENT_PING_TIMEOUTS")},
				&cli.StringFlag{Name: "agent-reregister-timeout", Value: "10mins", Usage: "as the Mesos master's --agent_reregister_timeout: a killed agent is marked unreachable `D` after, if its pings have not timed out first (at least 10mins)", EnvVars: env("AGENT_REREGISTER_TIMEOUT")},
				&cli.StringFlag{Name: "auth", Usage: "credentials `FILE` (JSON {\"credentials\":[{\"principal\",\"secret\"}]} or \"principal secret\" lines; each principal once, neither principal nor secret with ':', the secret not empty): the scheduler API requires HTTP basic auth", EnvVars: env("AUTH")},
				&cli.StringFlag{Name: "env-file", Usage: "`FILE` to write MESOS_MASTER=... to before printing it (not another running cluster's), or none (default: testenv.env in the work dir)", EnvVars: env("ENV_FILE")},
				&cli.StringFlag{Name: "isolation", Value: DefaultIsolation, Usage: "`ISOLATORS`, as the Mesos agent's --isolation: posix/cpu and posix/mem (Mesos' default: none), cgroups/cpu (a cpu cgroup per container with cpu.shares from its cpus; needs root and the cgroup v1 cpu controller)", EnvVars: env("ISOLATION")},
				&cli.StringFlag{Name: "launcher", Usage: "`LAUNCHER`, as the Mesos agent's --launcher: linux (a freezer cgroup per container: destroying it kills every process in it, one that left its session too; needs root and the cgroup v1 freezer controller) or posix (kills the container's process group and session only: a daemonized process outlives it) (default: linux when root with the freezer hierarchy mounted and writable, else posix)", EnvVars: env("LAUNCHER")},
				&cli.StringFlag{Name: "cgroups-hierarchy", Value: DefaultCgroupsHierarchy, Usage: "`DIR` where the cgroup controllers are mounted, as Mesos' --cgroups_hierarchy (cgroups/cpu, the linux launcher)", EnvVars: env("CGROUPS_HIERARCHY")},
				&cli.StringFlag{Name: "cgroups-root", Value: DefaultCgroupsRoot, Usage: "`CGROUP` under which containers' cgroups go, as Mesos' --cgroups_root (cgroups/cpu, the linux launcher)", EnvVars: env("CGROUPS_ROOT")},
				&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log `FORMAT` on stderr: text or json", EnvVars: env("LOG_FORMAT")},
				&cli.BoolFlag{Name: "verbose", Usage: "debug logs", EnvVars: env("VERBOSE")},
			},
			Action: func(c *cli.Context) error { return up(sh, c) },
		}},
	})
}

func up(sh *cliapp.Shell, c *cli.Context) error {
	if err := cliapp.NoArgs(c); err != nil {
		return err
	}
	log, err := sh.Logger(c)
	if err != nil {
		return err
	}
	attrs, err := ParseAttributes(c.StringSlice("attribute"))
	if err != nil {
		return cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("attribute"), err))
	}
	cfg := Config{
		DiskMounts:   c.Float64Slice("disk-mount"),
		Reserved:     c.String("reserved"),
		Agents:       c.Int("agents"),
		CPUs:         c.Float64("cpus"),
		Mem:          c.Float64("mem"),
		Disk:         c.Float64("disk"),
		Ports:        c.String("ports"),
		Attributes:   attrs,
		Listen:       c.String("listen"),
		AgentIPBase:  c.String("agent-ip"),
		AgentPort:    c.Int("agent-port"),
		DNSListen:    c.String("dns"),
		DNSForward:   c.String("dns-forward"),
		WorkDir:      c.String("work-dir"),
		ExecutorPath: c.String("executor"),
		Logger:       log,

		Launcher:         c.String("launcher"),
		Isolation:        c.String("isolation"),
		CgroupsHierarchy: c.String("cgroups-hierarchy"),
		CgroupsRoot:      c.String("cgroups-root"),
	}
	if err := masterTimers(sh, c, &cfg); err != nil {
		return cliapp.BadValue(err)
	}
	if f := c.String("auth"); f != "" {
		if cfg.Credentials, err = LoadCredentials(f); err != nil {
			return cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("auth"), err))
		}
	}
	if cfg.Agents < 1 {
		return cliapp.BadValue(fmt.Errorf("%s: %d, want at least 1", sh.Source("agents"), cfg.Agents))
	}
	// Zero is Config's "the default"; given on the command line or in a
	// variable it is as wrong as a negative size.
	for _, f := range []string{"cpus", "mem", "disk"} {
		if v := c.Float64(f); v == 0 {
			return cliapp.BadValue(fmt.Errorf("%s: %v is not a positive number", sh.Source(f), v))
		}
	}
	// Every setting is checked before anything is claimed or started (the
	// env file below, the work dir and the addresses in Start).
	chk := cfg
	if err := chk.defaults(); err != nil {
		return cliapp.BadValue(NameFlags(err, flagOf, sh.Source))
	}
	// The env file is decided, and checked, before anything starts: a path
	// it cannot be written to fails here, with nothing started or printed.
	envFile, envSource := c.String("env-file"), sh.Source("env-file")
	if envFile == "" && cfg.WorkDir != "" {
		envFile, envSource = filepath.Join(cfg.WorkDir, envFileName), sh.Source("work-dir")+": env file"
	}
	var claim *envFileClaim
	defer func() {
		if claim != nil {
			claim.release()
		}
	}()
	if envFile != "none" && envFile != "" {
		if err := safefile.CheckWritable([]safefile.File{{Path: envFile}}); err != nil {
			return exitcode.Wrap(ExitRuntime, fmt.Errorf("%s: %w", envSource, err))
		}
		// Another running cluster's env file is its own, as its work dir
		// is: claimed (locked) here, before anything starts, so that of two
		// clusters given one env file at once only one starts. One in a
		// directory that does not exist yet (in a new work dir) is claimed
		// once the cluster has made it. One held by a cluster on this very
		// work dir is left to Start, which refuses the work dir, saying so.
		if dirExists(filepath.Dir(envFile)) {
			var busy *envFileBusy
			claim, err = claimEnvFile(envFile, false)
			if errors.As(err, &busy) && sameDir(busy.owner, cfg.WorkDir) {
				err = nil
			}
			if err != nil {
				return exitcode.Wrap(ExitRuntime, fmt.Errorf("%s: %w", envSource, err))
			}
		}
	}
	// Orphans of tasks (a daemonizing or setsid'ing task) re-parent to
	// testenv instead of init, so the sweep after the cluster stops finds them.
	if err := supervise.BecomeSubreaper(); err != nil {
		log.Warn("not a subreaper: processes that leave their session may outlive testenv", "error", err.Error())
	}
	ctx, stop := cliapp.SignalContext(c.Context, cliapp.StopSignals...)
	defer stop()
	cl, err := Start(ctx, cfg)
	if err != nil {
		if errors.Is(err, ErrConfig) {
			return cliapp.BadValue(NameFlags(err, flagOf, sh.Source))
		}
		return exitcode.Wrap(ExitRuntime, NameFlags(err, flagOf, sh.Source))
	}
	if envFile == "" { // the default, in a temporary work dir
		envFile = filepath.Join(cl.WorkDir(), envFileName)
	}
	// The env file first, then stdout: a failure leaves neither, and the
	// cluster is stopped and what its Start created removed.
	lines := envLines(cl)
	if envFile != "none" {
		var err error
		if claim == nil {
			claim, err = claimEnvFile(envFile, true)
		}
		if err == nil {
			err = claim.write([]byte(strings.Join(lines, "\n") + "\n"))
		}
		if err != nil {
			cl.discardOnStop()
			stop()
			cl.Wait()
			return exitcode.Wrap(ExitRuntime, fmt.Errorf("%s: %w", envSource, err))
		}
		log.Info("env file written; load it with: set -a; . FILE; set +a (its lines are KEY=VALUE, not exported)", "path", envFile)
	}
	for _, l := range lines {
		fmt.Fprintln(sh.Stdout, l)
	}
	<-ctx.Done()
	log.Info("stopping", "reason", context.Cause(ctx).Error())
	if claim != nil {
		// While the cluster still holds its work dir: the next cluster on
		// it may already have written its own env file once it is released.
		// Removed only if it is still this cluster's.
		claim.release()
		claim = nil
	}
	cl.Wait()
	// Every process the cluster started has been reaped; what is left are
	// orphans that escaped their executor's session.
	if n, err := supervise.KillChildren(5 * time.Second); err != nil {
		log.Error("processes left behind", "error", err.Error())
	} else if n > 0 {
		log.Info("killed orphaned task processes", "count", n)
	}
	return nil
}

// dirExists reports whether dir is an existing directory.
func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// sameDir reports whether a and b name one existing directory.
func sameDir(a, b string) bool {
	if b == "" {
		return false
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// ParseAttributes turns NAME=VALUE words (--attribute, repeatable) into
// Config.Attributes. A word without "=" or with an empty NAME is an error
// quoting it; a later NAME wins.
func ParseAttributes(words []string) (map[string]string, error) {
	attrs := map[string]string{}
	for _, a := range words {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not NAME=VALUE", a)
		}
		attrs[k] = v
	}
	return attrs, nil
}

// flagOf maps each Config field a *FieldError names to the flag that sets
// it.
var flagOf = map[string]string{
	"Agents": "agents", "CPUs": "cpus", "Mem": "mem", "Disk": "disk", "Ports": "ports",
	"DiskMounts": "disk-mount", "Reserved": "reserved", "Listen": "listen",
	"AgentIPBase": "agent-ip", "AgentPort": "agent-port", "DNSListen": "dns",
	"DNSForward": "dns-forward", "WorkDir": "work-dir",
	"Launcher": "launcher", "Isolation": "isolation", "CgroupsHierarchy": "cgroups-hierarchy", "CgroupsRoot": "cgroups-root",
	"AgentPingTimeout": "agent-ping-timeout", "MaxAgentPingTimeouts": "max-agent-ping-timeouts",
	"AgentReregisterTimeout": "agent-reregister-timeout",
}

// NameFlags rewrites Start's error err for a command line: a *FieldError
// whose field flags maps to a flag name (Config field → flag) becomes
// "SOURCE: what is wrong", SOURCE being source(flag): cliapp.Shell.Source,
// which names the flag or the environment variable that set it. Other
// errors come back as they are. Tell ErrConfig (a usage error) before: the
// rewritten error no longer matches it.
func NameFlags(err error, flags map[string]string, source func(flag string) string) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		if name, ok := flags[fe.Field]; ok {
			return fmt.Errorf("%s: %w", source(name), fe.Err)
		}
	}
	return err
}

// The env file's variables that programs started from its shell read
// (scheduler-lite hands EnvDNSAddr to its tasks as their resolvers when
// EnvMasterAddr is its master).
const (
	// EnvDNSAddr is the cluster's DNS server, "ip:port" (UDP and TCP).
	EnvDNSAddr = "TESTENV_DNS_ADDR"
	// EnvMasterAddr is the master's "ip:port" (MESOS_MASTER without http://).
	EnvMasterAddr = "TESTENV_MASTER_ADDR"
)

// envLines describes the cluster as KEY=VALUE lines.
func envLines(cl *Cluster) []string {
	var agents []string
	for _, a := range cl.Agents() {
		agents = append(agents, a.ID+"@"+a.Endpoint)
	}
	sort.Strings(agents)
	exe, err := cl.ExecutorBinary()
	if err != nil {
		exe = ""
	}
	return []string{
		"MESOS_MASTER=" + cl.MasterURL(),
		EnvMasterAddr + "=" + cl.MasterAddr(),
		EnvDNSAddr + "=" + cl.DNSAddr(),
		"TESTENV_AGENT_ENDPOINTS=" + strings.Join(agents, ","),
		"TESTENV_SANDBOX_ROOT=" + cl.WorkDir(),
		"TESTENV_EXECUTOR_BINARY=" + exe,
	}
}

// The bounds the Mesos master puts on its failure-detection flags
// (src/master/flags.cpp: --agent_ping_timeout 1secs..15mins,
// --max_agent_ping_timeouts at least 1; src/master/master.cpp and
// constants.hpp: --agent_reregister_timeout at least
// MIN_AGENT_REREGISTER_TIMEOUT, 10mins). "testenv up" keeps to them; Config
// and mesostest take any positive value, for fast tests.
const (
	minAgentPingTimeout       = time.Second
	maxAgentPingTimeout       = 15 * time.Minute
	minAgentReregisterTimeout = 10 * time.Minute
)

// masterTimers reads --agent-ping-timeout, --max-agent-ping-timeouts and
// --agent-reregister-timeout into cfg, checked against Mesos' bounds; an
// error names the flag or variable that set the value.
func masterTimers(sh *cliapp.Shell, c *cli.Context, cfg *Config) error {
	var err error
	if cfg.AgentPingTimeout, err = flagDuration(sh, c, "agent-ping-timeout"); err != nil {
		return err
	}
	if d := cfg.AgentPingTimeout; d < minAgentPingTimeout || d > maxAgentPingTimeout {
		return fmt.Errorf("%s: %q is not between %s and %s, as Mesos' --agent_ping_timeout must be",
			sh.Source("agent-ping-timeout"), c.String("agent-ping-timeout"), mesosx.FormatDuration(minAgentPingTimeout), mesosx.FormatDuration(maxAgentPingTimeout))
	}
	if cfg.MaxAgentPingTimeouts = c.Int("max-agent-ping-timeouts"); cfg.MaxAgentPingTimeouts < 1 {
		return fmt.Errorf("%s: %d is less than 1, as Mesos' --max_agent_ping_timeouts must not be",
			sh.Source("max-agent-ping-timeouts"), cfg.MaxAgentPingTimeouts)
	}
	if cfg.AgentReregisterTimeout, err = flagDuration(sh, c, "agent-reregister-timeout"); err != nil {
		return err
	}
	if cfg.AgentReregisterTimeout < minAgentReregisterTimeout {
		return fmt.Errorf("%s: %q is less than %s, as Mesos' --agent_reregister_timeout must not be",
			sh.Source("agent-reregister-timeout"), c.String("agent-reregister-timeout"), mesosx.FormatDuration(minAgentReregisterTimeout))
	}
	return nil
}

// flagDuration parses duration flag name as Go writes durations ("15s",
// "1m30s") or as Mesos' flags do (stout's "15secs", "1.5mins":
// mesosx.ParseDuration).
func flagDuration(sh *cliapp.Shell, c *cli.Context, name string) (time.Duration, error) {
	s := c.String(name)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := mesosx.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration: want Go's form (15s, 1m30s) or Mesos' (15secs, 1.5mins)", sh.Source(name), s)
	}
	return d, nil
}
