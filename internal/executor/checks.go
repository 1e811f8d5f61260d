package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/health"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/probe"
)

// minInterval is the shortest pause between two checks; Mesos allows an
// interval of 0 (checks back to back), package health does not.
const minInterval = 100 * time.Millisecond

// checkTarget is where HTTP and TCP checks connect: the task shares the
// executor's network, so its ports are on loopback.
func checkTarget(ipv6 bool, port uint32) string {
	host := "127.0.0.1"
	if ipv6 {
		host = "::1"
	}
	return net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10))
}

func seconds(name string, v float64) (time.Duration, error) {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("'%s' must be a non-negative number of seconds, got %v", name, v)
	}
	return time.Duration(v * float64(time.Second)), nil
}

// ValidateHealthCheck reports why Mesos would reject hc, or nil.
func ValidateHealthCheck(hc *mesos.HealthCheck) error {
	var errs []error
	switch hc.Type {
	case mesos.HealthCheck_COMMAND:
		if hc.Command == nil {
			errs = append(errs, errors.New("expecting 'command' to be set for COMMAND health check"))
		} else if hc.Command.GetValue() == "" {
			errs = append(errs, errors.New("command health check has no 'value'"))
		}
	case mesos.HealthCheck_HTTP:
		if hc.HTTP == nil {
			errs = append(errs, errors.New("expecting 'http' to be set for HTTP health check"))
		} else {
			if s := hc.HTTP.GetScheme(); s != "" && s != "http" && s != "https" {
				errs = append(errs, fmt.Errorf("unsupported HTTP health check scheme %q", s))
			}
			if p := hc.HTTP.GetPath(); p != "" && !strings.HasPrefix(p, "/") {
				errs = append(errs, fmt.Errorf("the path %q of HTTP health check must start with '/'", p))
			}
			if err := checkPort("HTTP health check", hc.HTTP.Port); err != nil {
				errs = append(errs, err)
			}
		}
	case mesos.HealthCheck_TCP:
		if hc.TCP == nil {
			errs = append(errs, errors.New("expecting 'tcp' to be set for TCP health check"))
		} else if err := checkPort("TCP health check", hc.TCP.Port); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("health check 'type' must be COMMAND, HTTP or TCP, got %s", hc.Type))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"delay_seconds", hc.GetDelaySeconds()}, {"interval_seconds", hc.GetIntervalSeconds()},
		{"timeout_seconds", hc.GetTimeoutSeconds()}, {"grace_period_seconds", hc.GetGracePeriodSeconds()},
	} {
		if _, err := seconds(f.name, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ValidateCheck reports why Mesos would reject a CheckInfo, or nil.
func ValidateCheck(c *mesos.CheckInfo) error {
	var errs []error
	switch c.Type {
	case mesos.CheckInfo_COMMAND:
		if c.Command == nil {
			errs = append(errs, errors.New("expecting 'command' to be set for COMMAND check"))
		} else if c.Command.Command.GetValue() == "" {
			errs = append(errs, errors.New("command check has no 'value'"))
		}
	case mesos.CheckInfo_HTTP:
		if c.HTTP == nil {
			errs = append(errs, errors.New("expecting 'http' to be set for HTTP check"))
		} else {
			if p := c.HTTP.GetPath(); p != "" && !strings.HasPrefix(p, "/") {
				errs = append(errs, fmt.Errorf("the path %q of HTTP check must start with '/'", p))
			}
			if err := checkPort("HTTP check", c.HTTP.Port); err != nil {
				errs = append(errs, err)
			}
		}
	case mesos.CheckInfo_TCP:
		if c.TCP == nil {
			errs = append(errs, errors.New("expecting 'tcp' to be set for TCP check"))
		} else if err := checkPort("TCP check", c.TCP.Port); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("check 'type' must be COMMAND, HTTP or TCP, got %s", c.Type))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"delay_seconds", c.GetDelaySeconds()}, {"interval_seconds", c.GetIntervalSeconds()},
		{"timeout_seconds", c.GetTimeoutSeconds()},
	} {
		if _, err := seconds(f.name, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// commandProbe runs a check's or health check's CommandInfo as Mesos'
// checker does (src/checks/checker_process.cpp, commandCheck) and the
// task's own command is run (commandSpec): a shell command through the
// task's shell, else value exec'd with arguments as its whole argument
// list (arguments[0] is argv[0]), found on the task's PATH at each run.
type commandProbe struct {
	ci  *mesos.CommandInfo
	env []string
	dir string
}

func (c commandProbe) Probe(ctx context.Context) probe.Result {
	spec, err := commandSpec(c.ci, c.env, c.dir)
	if err != nil {
		return probe.Result{Status: probe.Error, Reason: err.Error(), ExitCode: -1}
	}
	return (&probe.Command{Path: spec.Path, Args: spec.Args, Env: spec.Env, Dir: spec.Dir}).Probe(ctx)
}

// healthChecker builds the checker of a task's HealthCheck (already
// validated). env and dir are the task's, for command checks.
func healthChecker(hc *mesos.HealthCheck, env []string, dir string, onResult func(health.Event)) (*health.Checker, error) {
	var p probe.Prober
	switch hc.Type {
	case mesos.HealthCheck_COMMAND:
		p = commandProbe{ci: hc.Command, env: mergeEnv(env, mesosx.CommandEnv(hc.Command)), dir: dir}
	case mesos.HealthCheck_HTTP:
		scheme := hc.HTTP.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		path := hc.HTTP.GetPath()
		if path == "" {
			path = "/"
		}
		h, err := probe.NewHTTP(scheme+"://"+checkTarget(hc.HTTP.GetProtocol() == mesos.IPv6, hc.HTTP.Port)+path, probe.CheckPolicy)
		if err != nil {
			return nil, err
		}
		p = h
	case mesos.HealthCheck_TCP:
		t, err := probe.NewTCP(checkTarget(hc.TCP.GetProtocol() == mesos.IPv6, hc.TCP.Port))
		if err != nil {
			return nil, err
		}
		p = t
	default:
		return nil, fmt.Errorf("unsupported health check type %s", hc.Type)
	}
	cfg := health.MesosDefaults()
	cfg.Delay, _ = seconds("delay_seconds", hc.GetDelaySeconds())
	cfg.Interval, _ = seconds("interval_seconds", hc.GetIntervalSeconds())
	cfg.Timeout, _ = seconds("timeout_seconds", hc.GetTimeoutSeconds())
	cfg.GracePeriod, _ = seconds("grace_period_seconds", hc.GetGracePeriodSeconds())
	cfg.Interval = max(cfg.Interval, minInterval)
	// Mesos kills once consecutiveFailures >= consecutive_failures
	// (health_checker.cpp, failure()): 0 kills at the first counted
	// failure, as 1 does (package health's 0 would never kill).
	cfg.FailureThreshold = max(int(hc.GetConsecutiveFailures()), 1)
	cfg.OnResult = onResult
	return health.New(p, cfg)
}

// checkProbe runs a CheckInfo and keeps the CheckStatusInfo of its latest
// run, which a Checker's OnResult then reads.
type checkProbe struct {
	typ  mesos.CheckInfo_Type
	run  func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo)
	last atomic.Pointer[mesos.CheckStatusInfo]
}

func (c *checkProbe) Probe(ctx context.Context) probe.Result {
	r, st := c.run(ctx)
	c.last.Store(st)
	return r
}

// emptyCheckStatus is the check_status every update of a checked task
// carries before the first result: the type and an empty result.
func emptyCheckStatus(t mesos.CheckInfo_Type) *mesos.CheckStatusInfo {
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

// checkChecker builds the checker of a task's CheckInfo (already
// validated): no grace period, no threshold; every result is reported to
// onResult with its CheckStatusInfo.
func checkChecker(ci *mesos.CheckInfo, env []string, dir string, onResult func(*mesos.CheckStatusInfo)) (*health.Checker, error) {
	cp := &checkProbe{typ: ci.Type}
	switch ci.Type {
	case mesos.CheckInfo_COMMAND:
		cmd := commandProbe{ci: &ci.Command.Command, env: mergeEnv(env, mesosx.CommandEnv(&ci.Command.Command)), dir: dir}
		cp.run = func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo) {
			r := cmd.Probe(ctx)
			st := emptyCheckStatus(ci.Type)
			if r.Status != probe.Error && r.ExitCode >= 0 && ctx.Err() == nil {
				code := int32(r.ExitCode)
				st.Command.ExitCode = &code
			}
			return r, st
		}
	case mesos.CheckInfo_HTTP:
		path := ci.HTTP.GetPath()
		if path == "" {
			path = "/"
		}
		// Mesos runs HTTP checks as it runs HTTP health checks, curl -L -k
		// (checker_process.cpp, httpCheckCommand), and reports curl's
		// %{http_code}: the status of the last response, after redirects.
		h, err := probe.NewHTTP("http://"+checkTarget(false, ci.HTTP.Port)+path, probe.CheckPolicy)
		if err != nil {
			return nil, err
		}
		cp.run = func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo) {
			r := h.Probe(ctx)
			st := emptyCheckStatus(ci.Type)
			if r.StatusCode > 0 {
				code := uint32(r.StatusCode)
				st.HTTP.StatusCode = &code
			}
			return r, st
		}
	case mesos.CheckInfo_TCP:
		tcp, err := probe.NewTCP(checkTarget(false, ci.TCP.Port))
		if err != nil {
			return nil, err
		}
		cp.run = func(ctx context.Context) (probe.Result, *mesos.CheckStatusInfo) {
			r := tcp.Probe(ctx)
			st := emptyCheckStatus(ci.Type)
			ok := r.Status == probe.Healthy
			if r.Status != probe.Error {
				st.TCP.Succeeded = &ok
			}
			return r, st
		}
	default:
		return nil, fmt.Errorf("unsupported check type %s", ci.Type)
	}
	cfg := health.Config{FailureThreshold: 0}
	cfg.Delay, _ = seconds("delay_seconds", ci.GetDelaySeconds())
	cfg.Interval, _ = seconds("interval_seconds", ci.GetIntervalSeconds())
	cfg.Timeout, _ = seconds("timeout_seconds", ci.GetTimeoutSeconds())
	cfg.Interval = max(cfg.Interval, minInterval)
	cfg.OnResult = func(health.Event) {
		if st := cp.last.Load(); st != nil {
			onResult(st)
		}
	}
	return health.New(cp, cfg)
}

// checkPort reports a port Mesos would reject in a check of the given kind.
func checkPort(kind string, port uint32) error {
	if port == 0 || port > 65535 {
		return fmt.Errorf("invalid %s port %d", kind, port)
	}
	return nil
}
