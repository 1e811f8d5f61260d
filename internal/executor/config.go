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
	// retried, the agent's executor registration timeout.
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
	// CallTimeout bounds every non-streaming call to the agent.
	CallTimeout = 10 * time.Second
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
	// RegistrationTimeout bounds the retries of the first subscription; 0
	// means DefaultRegistrationTimeout.
	RegistrationTimeout time.Duration
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
	if c.NoTaskTimeout <= 0 {
		c.NoTaskTimeout = DefaultNoTaskTimeout
	}
	if c.SubscriptionBackoffMax <= 0 {
		c.SubscriptionBackoffMax = DefaultBackoffMax
	}
	return c
}
