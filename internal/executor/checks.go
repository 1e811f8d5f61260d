package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/health"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/taskcheck"
)

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

// checkTarget is where a task's checks run: HTTP and TCP checks on
// loopback (the task shares the executor's network), command checks as
// commandProbe runs them, with the task's environment and directory.
func checkTarget(env []string, dir string) taskcheck.Target {
	return taskcheck.Target{Command: func(ci *mesos.CommandInfo) probe.Prober {
		return commandProbe{ci: ci, env: mergeEnv(env, mesosx.CommandEnv(ci)), dir: dir}
	}}
}

// healthChecker builds the checker of a task's HealthCheck (already
// validated). env and dir are the task's, for command checks.
func healthChecker(hc *mesos.HealthCheck, env []string, dir string, onResult func(health.Event)) (*health.Checker, error) {
	return taskcheck.Health(hc, checkTarget(env, dir), onResult)
}

// checkChecker builds the checker of a task's CheckInfo (already
// validated): every result is reported to onResult with its
// CheckStatusInfo.
func checkChecker(ci *mesos.CheckInfo, env []string, dir string, onResult func(*mesos.CheckStatusInfo)) (*health.Checker, error) {
	return taskcheck.Check(ci, checkTarget(env, dir), onResult)
}

// checkPort reports a port Mesos would reject in a check of the given kind.
func checkPort(kind string, port uint32) error {
	if port == 0 || port > 65535 {
		return fmt.Errorf("invalid %s port %d", kind, port)
	}
	return nil
}
