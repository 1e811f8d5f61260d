// Package taskcheck runs a Mesos task's health check (HealthCheck) and check
// (CheckInfo) as Mesos 1.11's checkers do, on package health's Checker. It
// is shared by taskkit's DEFAULT executor and testenv's command executor.
//
// What follows Mesos (src/checks/checker_process.cpp, health_checker.cpp,
// checker.cpp):
//
//   - the first run starts delay_seconds after the checker starts, each
//     later run interval_seconds after the previous one ended (MinInterval
//     at least), and a run still going after timeout_seconds (0: none) is
//     stopped — a command's whole process group SIGKILLed — and fails;
//   - a health check's COMMAND passes when it exits 0, its HTTP GET when the
//     status (after redirects, as curl -L -k) is 200–399, its TCP connect
//     when accepted; failures are ignored until the first success while
//     within grace_period_seconds of the start, and consecutive_failures
//     counted failures (0 counts as 1) ask for the task's kill (HealthReport);
//   - a check's result is a CheckStatusInfo: the command's exit code, the
//     HTTP status code, whether the TCP connect succeeded; a run that could
//     not finish (a timeout, a refused HTTP connection, a command killed by
//     a signal) gives the empty CheckStatusInfo of its type (EmptyStatus),
//     as Mesos' Checker does with an error. A caller reports a result when
//     it differs from the previous one, the first compared with the empty
//     status.
//
// HTTP and TCP checks connect to Target.Host (Mesos: 127.0.0.1, or ::1 for
// an IPv6 health check); command checks run through Target.Command.
package taskcheck

import (
	"context"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/probe"
)

// MinInterval is the shortest pause between two runs of a check; Mesos
// allows an interval of 0 (runs back to back), package health does not.
const MinInterval = 100 * time.Millisecond

// Target is where a task's checks run.
type Target struct {
	// Host is the IPv4 address HTTP and TCP checks connect to; "" means
	// 127.0.0.1, Mesos' (DEFAULT_IPV4_DOMAIN, src/checks/checks_types.hpp).
	// An IPv6 health check connects to ::1.
	Host string
	// Command returns the prober that runs a COMMAND check's command (in
	// the task's sandbox, with its environment and the command's own
	// variables). It is called once, when the checker is built.
	Command func(ci *mesos.CommandInfo) probe.Prober
}

func (t Target) addr(ipv6 bool, port uint32) string {
	host := t.Host
	switch {
	case ipv6:
		host = "::1"
	case host == "":
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

func (t Target) command(ci *mesos.CommandInfo) (probe.Prober, error) {
	if t.Command == nil {
		return nil, fmt.Errorf("no way to run a command check")
	}
	return t.Command(ci), nil
}

// path is an HTTP check's path: "/" when unset, as curl asks for a URL
// without one.
func path(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// seconds reads a validated duration field; a value the master would refuse
// (negative, NaN) reads as 0.
func seconds(v float64) time.Duration {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}

// Health builds the checker of a task's HealthCheck (already validated).
// onResult gets every run's event, from the checker's goroutine; see
// HealthReport. The caller runs the checker (Checker.Run) and owns its
// goroutine. It returns an error for a type other than COMMAND, HTTP and
// TCP, for a COMMAND check when tg.Command is nil, and when package probe
// cannot build the prober (an HTTP URL it refuses).
func Health(hc *mesos.HealthCheck, tg Target, onResult func(health.Event)) (*health.Checker, error) {
	var p probe.Prober
	switch hc.Type {
	case mesos.HealthCheck_COMMAND:
		c, err := tg.command(hc.Command)
		if err != nil {
			return nil, err
		}
		p = c
	case mesos.HealthCheck_HTTP:
		scheme := hc.HTTP.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		h, err := probe.NewHTTP(scheme+"://"+tg.addr(hc.HTTP.GetProtocol() == mesos.IPv6, hc.HTTP.Port)+path(hc.HTTP.GetPath()), probe.CheckPolicy)
		if err != nil {
			return nil, err
		}
		p = h
	case mesos.HealthCheck_TCP:
		t, err := probe.NewTCP(tg.addr(hc.TCP.GetProtocol() == mesos.IPv6, hc.TCP.Port))
		if err != nil {
			return nil, err
		}
		p = t
	default:
		return nil, fmt.Errorf("unsupported health check type %s", hc.Type)
	}
	cfg := health.MesosDefaults()
	cfg.Delay = seconds(hc.GetDelaySeconds())
	cfg.Interval = max(seconds(hc.GetIntervalSeconds()), MinInterval)
	cfg.Timeout = seconds(hc.GetTimeoutSeconds())
	cfg.GracePeriod = seconds(hc.GetGracePeriodSeconds())
	// Mesos kills once consecutiveFailures >= consecutive_failures
	// (health_checker.cpp, failure()): 0 kills at the first counted
	// failure, as 1 does (package health's 0 would never kill).
	cfg.FailureThreshold = max(int(hc.GetConsecutiveFailures()), 1)
	cfg.OnResult = onResult
	return health.New(p, cfg)
}

// HealthReport is what Mesos' HealthChecker tells its executor after a run
// (health_checker.cpp, success and failure): report is false when it says
// nothing (a success after a success, a failure ignored in the grace
// period); otherwise healthy is the task's health, and kill says the
// failures reached consecutive_failures and the task must be killed.
func HealthReport(ev health.Event) (report, healthy, kill bool) {
	switch c := ev.Check; {
	case c.Passed():
		// A healthy update on the first success and on the first after
		// failures.
		if ev.From == health.Healthy {
			return false, false, false
		}
		return true, true, false
	case c.Counted:
		return true, false, ev.To == health.Failed
	}
	return false, false, false
}

// checkProbe runs a CheckInfo and keeps the CheckStatusInfo of its latest
// run, which a Checker's OnResult then reads.
type checkProbe struct {
	run  func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo)
	last atomic.Pointer[mesos.CheckStatusInfo]
}

func (c *checkProbe) Probe(ctx context.Context) probe.Result {
	r, st := c.run(ctx)
	c.last.Store(st)
	return r
}

// EmptyStatus is the check_status every update of a checked task carries
// before the first result, and the result of a run that could not finish:
// the type and an empty result (Mesos' createEmptyCheckStatusInfo,
// src/checks/checker.cpp; the command executor's createTaskStatus,
// src/launcher/executor.cpp).
func EmptyStatus(t mesos.CheckInfo_Type) *mesos.CheckStatusInfo {
	st := &mesos.CheckStatusInfo{Type: &t}
	switch t {
	case mesos.CheckInfo_COMMAND:
		st.Command = &mesos.CheckStatusInfo_Command{}
	case mesos.CheckInfo_HTTP:
		st.HTTP = &mesos.CheckStatusInfo_Http{}
	case mesos.CheckInfo_TCP:
		st.TCP = &mesos.CheckStatusInfo_Tcp{}
	}
	return st
}

// Check builds the checker of a task's CheckInfo (already validated): no
// grace period, no threshold; every run's CheckStatusInfo goes to onResult,
// from the checker's goroutine, which the caller runs (Checker.Run) and
// owns. Its errors are Health's, for CheckInfo's types.
func Check(ci *mesos.CheckInfo, tg Target, onResult func(*mesos.CheckStatusInfo)) (*health.Checker, error) {
	cp := &checkProbe{}
	switch ci.Type {
	case mesos.CheckInfo_COMMAND:
		cmd, err := tg.command(&ci.Command.Command)
		if err != nil {
			return nil, err
		}
		cp.run = func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo) {
			r := cmd.Probe(ctx)
			st := EmptyStatus(ci.Type)
			// Only an exit has a code: a command killed by a signal (or
			// that could not start) is an error, reported empty
			// (checker_process.cpp, processCommandCheckResult: WIFEXITED).
			if r.Status != probe.Error && r.ExitCode >= 0 && r.Signal == 0 && ctx.Err() == nil {
				code := int32(r.ExitCode)
				st.Command.ExitCode = &code
			}
			return r, st
		}
	case mesos.CheckInfo_HTTP:
		// Mesos runs HTTP checks as it runs HTTP health checks, curl -L -k
		// (checker_process.cpp, httpCheckCommand), and reports curl's
		// %{http_code}: the status of the last response, after redirects.
		h, err := probe.NewHTTP("http://"+tg.addr(false, ci.HTTP.Port)+path(ci.HTTP.GetPath()), probe.CheckPolicy)
		if err != nil {
			return nil, err
		}
		cp.run = func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo) {
			r := h.Probe(ctx)
			st := EmptyStatus(ci.Type)
			if r.StatusCode > 0 {
				code := uint32(r.StatusCode)
				st.HTTP.StatusCode = &code
			}
			return r, st
		}
	case mesos.CheckInfo_TCP:
		tcp, err := probe.NewTCP(tg.addr(false, ci.TCP.Port))
		if err != nil {
			return nil, err
		}
		cp.run = func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo) {
			r := tcp.Probe(ctx)
			st := EmptyStatus(ci.Type)
			// A connect still pending at the timeout is an error in Mesos
			// (checker_process.cpp, _tcpCheck), not a failed connection.
			ok := r.Status == probe.Healthy
			if r.Status != probe.Error && (ok || ctx.Err() == nil) {
				st.TCP.Succeeded = &ok
			}
			return r, st
		}
	default:
		return nil, fmt.Errorf("unsupported check type %s", ci.Type)
	}
	cfg := health.Config{
		Delay:    seconds(ci.GetDelaySeconds()),
		Interval: max(seconds(ci.GetIntervalSeconds()), MinInterval),
		Timeout:  seconds(ci.GetTimeoutSeconds()),
	}
	cfg.OnResult = func(health.Event) {
		if st := cp.last.Load(); st != nil {
			onResult(st)
		}
	}
	return health.New(cp, cfg)
}
