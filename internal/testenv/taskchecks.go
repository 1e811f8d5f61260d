package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// validateTaskTimes is task::internal::validateKillPolicy,
// validateMaxCompletionTime, validateCheck and validateHealthCheck
// (src/master/validation.cpp, with common::validation::validateCheckInfo
// and validateHealthCheck in src/common/validation.cpp), in that order,
// with their messages, for a LAUNCH task and a task of a LAUNCH_GROUP
// alike (Mesos 1.11 runs task::internal::validateTask for both).
//
// A check's or health check's type is read as sent: mesos-go writes an
// unset type as UNKNOWN, which Mesos refuses ("'UNKNOWN' is not a valid
// health check type"); the master's guess of a missing type from the
// command or http field, for LAUNCH, is not made.
func validateTaskTimes(ti *mesos.TaskInfo) error {
	if kp := ti.KillPolicy; kp != nil && kp.GracePeriod != nil && kp.GracePeriod.Nanoseconds < 0 {
		return errors.New("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if d := ti.MaxCompletionTime; d != nil && d.Nanoseconds < 0 {
		return errors.New("Task's `max_completion_time` must be non-negative")
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
		if err := validateEnvironment(hc.Command.Environment); err != nil {
			return fmt.Errorf("Health check's `CommandInfo` is invalid: %w", err)
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
		if err := validateEnvironment(ci.Command.Command.Environment); err != nil {
			return fmt.Errorf("Check's `CommandInfo` is invalid: %w", err)
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

// validateEnvironment is common::validation::validateEnvironment, what
// validateCommandInfo checks of a check's command: each variable's value
// or secret against its type. A type mesos-go does not know is read as
// VALUE, as Mesos reads an enum value it does not know.
func validateEnvironment(env *mesos.Environment) error {
	if env == nil {
		return nil
	}
	for _, v := range env.Variables {
		switch v.GetType() {
		case mesos.Environment_Variable_SECRET:
			if v.Secret == nil {
				return fmt.Errorf("Environment variable '%s' of type 'SECRET' must have a secret set", v.Name)
			}
			if v.Value != nil {
				return fmt.Errorf("Environment variable '%s' of type 'SECRET' must not have a value set", v.Name)
			}
			if err := validateSecret(v.Secret); err != nil {
				return fmt.Errorf("Environment variable '%s' specifies an invalid secret: %w", v.Name, err)
			}
			if val := v.Secret.Value; val != nil && bytes.IndexByte(val.Data, 0) >= 0 {
				return fmt.Errorf("Environment variable '%s' specifies a secret containing null bytes, which is not allowed in the environment", v.Name)
			}
		case mesos.Environment_Variable_UNKNOWN:
			return errors.New("Environment variable of type 'UNKNOWN' is not allowed")
		default:
			if v.Value == nil {
				return fmt.Errorf("Environment variable '%s' of type 'VALUE' must have a value set", v.Name)
			}
			if v.Secret != nil {
				return fmt.Errorf("Environment variable '%s' of type 'VALUE' must not have a secret set", v.Name)
			}
		}
	}
	return nil
}

// validateSecret is common::validation::validateSecret.
func validateSecret(s *mesos.Secret) error {
	switch s.Type {
	case mesos.Secret_REFERENCE:
		if s.Reference == nil {
			return errors.New("Secret of type REFERENCE must have the 'reference' field set")
		}
		if s.Value != nil {
			return fmt.Errorf("Secret '%s' of type REFERENCE must not have the 'value' field set", s.Reference.Name)
		}
	case mesos.Secret_VALUE:
		if s.Value == nil {
			return errors.New("Secret of type VALUE must have the 'value' field set")
		}
		if s.Reference != nil {
			return errors.New("Secret of type VALUE must not have the 'reference' field set")
		}
	}
	return nil
}
