package testenv

import (
	"errors"
	"fmt"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// validateTaskTimes is task::internal::validateKillPolicy,
// validateMaxCompletionTime, validateCheck and validateHealthCheck
// (src/master/validation.cpp, with common::validation::validateCheckInfo
// and validateHealthCheck in src/common/validation.cpp), in that order,
// with their messages; checks and health checks only when checks is set.
//
// A check's or health check's type is read as sent: mesos-go writes an
// unset type as UNKNOWN, which Mesos refuses ("'UNKNOWN' is not a valid
// health check type"); the master's guess of a missing type from the
// command or http field, for LAUNCH, is not made.
func validateTaskTimes(ti *mesos.TaskInfo, checks bool) error {
	if kp := ti.KillPolicy; kp != nil && kp.GracePeriod != nil && kp.GracePeriod.Nanoseconds < 0 {
		return errors.New("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if d := ti.MaxCompletionTime; d != nil && d.Nanoseconds < 0 {
		return errors.New("Task's `max_completion_time` must be non-negative")
	}
	if !checks {
		return nil
	}
	if ti.Check != nil {
		if err := validateCheckInfo(ti.Check); err != nil {
			return fmt.Errorf("Task uses invalid check: %w", err)
		}
	}
	if ti.HealthCheck != nil {
		if err := validateHealthCheck(ti.HealthCheck); err != nil {
			return fmt.Errorf("Task uses invalid health check: %w", err)
		}
	}
	return nil
}

// commandKind is how Mesos names a command without a value: its shell
// form (the default) or its executable path.
func commandKind(c *mesos.CommandInfo) string {
	if c.Shell == nil || *c.Shell {
		return "'shell command'"
	}
	return "'executable path'"
}

func negative(f *float64) bool { return f != nil && *f < 0 }

// validateHealthCheck is common::validation::validateHealthCheck.
func validateHealthCheck(hc *mesos.HealthCheck) error {
	switch hc.Type {
	case mesos.HealthCheck_COMMAND:
		if hc.Command == nil {
			return errors.New("Expecting 'command' to be set for COMMAND health check")
		}
		if hc.Command.Value == nil {
			return errors.New("Command health check must contain " + commandKind(hc.Command))
		}
	case mesos.HealthCheck_HTTP:
		if hc.HTTP == nil {
			return errors.New("Expecting 'http' to be set for HTTP health check")
		}
		if s := hc.HTTP.Scheme; s != nil && *s != "http" && *s != "https" {
			return fmt.Errorf("Unsupported HTTP health check scheme: '%s'", *s)
		}
		if p := hc.HTTP.Path; p != nil && !strings.HasPrefix(*p, "/") {
			return fmt.Errorf("The path '%s' of HTTP health check must start with '/'", *p)
		}
	case mesos.HealthCheck_TCP:
		if hc.TCP == nil {
			return errors.New("Expecting 'tcp' to be set for TCP health check")
		}
	default:
		return fmt.Errorf("'%s' is not a valid health check type", hc.Type)
	}
	switch {
	case negative(hc.DelaySeconds):
		return errors.New("Expecting 'delay_seconds' to be non-negative")
	case negative(hc.GracePeriodSeconds):
		return errors.New("Expecting 'grace_period_seconds' to be non-negative")
	case negative(hc.IntervalSeconds):
		return errors.New("Expecting 'interval_seconds' to be non-negative")
	case negative(hc.TimeoutSeconds):
		return errors.New("Expecting 'timeout_seconds' to be non-negative")
	}
	return nil
}

// validateCheckInfo is common::validation::validateCheckInfo.
func validateCheckInfo(ci *mesos.CheckInfo) error {
	switch ci.Type {
	case mesos.CheckInfo_COMMAND:
		if ci.Command == nil {
			return errors.New("Expecting 'command' to be set for COMMAND check")
		}
		if ci.Command.Command.Value == nil {
			return errors.New("Command check must contain " + commandKind(&ci.Command.Command))
		}
	case mesos.CheckInfo_HTTP:
		if ci.HTTP == nil {
			return errors.New("Expecting 'http' to be set for HTTP check")
		}
		if p := ci.HTTP.Path; p != nil && !strings.HasPrefix(*p, "/") {
			return fmt.Errorf("The path '%s' of HTTP check must start with '/'", *p)
		}
	case mesos.CheckInfo_TCP:
		if ci.TCP == nil {
			return errors.New("Expecting 'tcp' to be set for TCP check")
		}
	default:
		return fmt.Errorf("'%s' is not a valid check type", ci.Type)
	}
	switch {
	case negative(ci.DelaySeconds):
		return errors.New("Expecting 'delay_seconds' to be non-negative")
	case negative(ci.IntervalSeconds):
		return errors.New("Expecting 'interval_seconds' to be non-negative")
	case negative(ci.TimeoutSeconds):
		return errors.New("Expecting 'timeout_seconds' to be non-negative")
	}
	return nil
}
