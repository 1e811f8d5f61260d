package executor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
)

// Defaults of the timers in Config.
const (
	// DefaultAckWait bounds the wait for acknowledgements before exiting,
	// as in Mesos' DEFAULT executor.
	DefaultAckWait = 60 * time.Second
	// DefaultUpdateRetry is how long an update may stay unacknowledged
	// while subscribed before it is sent again.
	DefaultUpdateRetry = 10 * time.Second
	// DefaultRegistrationTimeout is how long the first subscription is
	// tried, retries and the wait for the SUBSCRIBE's answer included:
	// the default of the Mesos agent's --executor_registration_timeout
	// (EXECUTOR_REGISTRATION_TIMEOUT in src/slave/constants.hpp), after
	// which the agent destroys an executor that has not subscribed.
	DefaultRegistrationTimeout = time.Minute
	// DefaultNoTaskTimeout is how long a subscribed executor that has
	// never been given a task waits for one before it exits.
	DefaultNoTaskTimeout = 10 * time.Second
	// DefaultKillGrace is the grace period between SIGTERM and SIGKILL when
	// neither the KILL nor the task carries a kill policy.
	DefaultKillGrace = 3 * time.Second
	// DefaultBackoffMax is the largest pause between subscription attempts
	// when MESOS_SUBSCRIPTION_BACKOFF_MAX is unset.
	DefaultBackoffMax = 2 * time.Second
	// DefaultCallTimeout bounds every call to the agent but SUBSCRIBE
	// (UPDATE, MESSAGE): connecting, sending, and the response. SUBSCRIBE
	// has its own bound: see Config.RegistrationTimeout.
	DefaultCallTimeout = 10 * time.Second
)

// Config is what the executor needs to know, mostly from the Mesos executor
// environment (see FromEnv).
type Config struct {
	// Mesos is the standard executor environment, as mesos-go reads it.
	config.Config
	// ContainerIP is exported to tasks as MESOS_CONTAINER_IP: LIBPROCESS_IP
	// when set, else the agent endpoint's IP.
	ContainerIP string
	// AuthToken, if set, is sent as "Authorization: Bearer <token>"
	// (MESOS_EXECUTOR_AUTHENTICATION_TOKEN).
	AuthToken string
	// FetchCacheDir is the agent's fetcher cache, shared by every executor
	// on the agent, for task URIs with cache=true
	// (TASKKIT_FETCHER_CACHE_DIR; testenv sets it). Empty: no cache.
	FetchCacheDir string

	// AckWait bounds the wait for acknowledgements once no task is left;
	// 0 means DefaultAckWait.
	AckWait time.Duration
	// UpdateRetry is how long an update stays unacknowledged before it is
	// sent again; 0 means DefaultUpdateRetry.
	UpdateRetry time.Duration
	// RegistrationTimeout bounds the first subscription, measured from
	// Run: its retries and the wait for a SUBSCRIBE's answer (the response
	// and the SUBSCRIBED event); 0 means DefaultRegistrationTimeout. A
	// re-subscription after a lost connection is bounded by the recovery
	// timeout (MESOS_RECOVERY_TIMEOUT) from the loss instead. Within those
	// bounds a SUBSCRIBE the agent has not answered is never abandoned for
	// another: as in Mesos' executor library (src/executor/executor.cpp,
	// which drops a SUBSCRIBE while one is in flight and retries only
	// when the connection fails or the agent answers 503 or 404), only a
	// failed connection or an error answer starts the next attempt. An
	// abandoned SUBSCRIBE can lose a launch: the agent answers it, and
	// sends the LAUNCH_GROUP it holds, into a stream nobody reads.
	RegistrationTimeout time.Duration
	// CallTimeout bounds every call but SUBSCRIBE; 0 means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// NoTaskTimeout is how long the executor, once subscribed, waits for
	// its first task before it exits; 0 means DefaultNoTaskTimeout. An
	// agent sends an executor its launch with SUBSCRIBED, so one that has
	// none is one whose launch the agent dropped (a launch written into a
	// subscription the executor never read: TASK_DROPPED in Mesos'
	// Slave::subscribe). Exiting frees its resources, which a
	// relaunch on the same reservation needs: the "proper self terminating
	// logic" MESOS-8411 asks of executors (src/slave/slave.cpp).
	NoTaskTimeout time.Duration
}

// FromEnv reads the Mesos executor environment with mesos-go's
// executor/config.FromEnv, plus the variables it does not know. Every
// missing or malformed variable is reported, each by name.
func FromEnv() (Config, error) {
	mc, err := config.FromEnv()
	if err != nil {
		var ee *config.EnvError
		if errors.As(err, &ee) {
			return Config{}, fmt.Errorf("executor environment: %w", errors.Join(ee.Reasons...))
		}
		return Config{}, fmt.Errorf("executor environment: %w", err)
	}
	cfg := Config{Config: mc, AuthToken: os.Getenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN"), FetchCacheDir: os.Getenv("TASKKIT_FETCHER_CACHE_DIR")}
	cfg.ContainerIP = os.Getenv("LIBPROCESS_IP")
	if cfg.ContainerIP == "" || cfg.ContainerIP == "0.0.0.0" {
		host, _, err := net.SplitHostPort(mc.AgentEndpoint)
		if err != nil {
			return Config{}, fmt.Errorf("MESOS_AGENT_ENDPOINT %q: %w", mc.AgentEndpoint, err)
		}
		cfg.ContainerIP = host
	}
	return cfg, nil
}

// withDefaults fills the zero timers.
func (c Config) withDefaults() Config {
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.UpdateRetry <= 0 {
		c.UpdateRetry = DefaultUpdateRetry
	}
	if c.RegistrationTimeout <= 0 {
		c.RegistrationTimeout = DefaultRegistrationTimeout
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.NoTaskTimeout <= 0 {
		c.NoTaskTimeout = DefaultNoTaskTimeout
	}
	if c.SubscriptionBackoffMax <= 0 {
		c.SubscriptionBackoffMax = DefaultBackoffMax
	}
	return c
}
