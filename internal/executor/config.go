package executor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/executor/config"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
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
	// neither the KILL nor the task carries a kill policy, and of every kill
	// by the group rule or SHUTDOWN: Mesos' default executor's kill()
	// default, which those use whatever the task's kill policy.
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

// FromEnv reads the Mesos executor environment: the variables mesos-go's
// executor/config.FromEnv reads, into its config.Config, plus those it does
// not know (Config's fields say which). Every missing or malformed variable
// is reported, each by name, with its value (never a secret's), joined
// after "executor environment: ". It reads them itself, durations with
// taskkit's parser of Mesos durations (mesos.ParseDuration, stout's
// Duration::parse: 5secs, 1.5mins, as the agent writes them,
// src/slave/slave.cpp executorEnvironment; an out-of-range value is an
// error, which mesos-go's lib/time turns into a negative or, on arm64, a
// saturated duration), because
// mesos-go's FromEnv reports a malformed duration or MESOS_CHECKPOINT by
// neither name nor value, and accepts an agent endpoint without a port.
//
//   - MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID: required;
//   - MESOS_DIRECTORY, MESOS_SANDBOX: required, absolute paths;
//   - MESOS_AGENT_ENDPOINT: required, host:port with a port in 1..65535;
//   - MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: required, a Mesos duration:
//     how long the executor lives after a SHUTDOWN (see Executor.Run);
//   - MESOS_CHECKPOINT: a boolean (strconv.ParseBool: 1, 0, true, ...),
//     false when unset; when true, MESOS_RECOVERY_TIMEOUT and
//     MESOS_SUBSCRIPTION_BACKOFF_MAX are required Mesos durations;
//   - LIBPROCESS_IP: an IP address, when set;
//   - MESOS_EXECUTOR_AUTHENTICATION_TOKEN: no line breaks or NUL (it goes
//     into a header);
//   - TASKKIT_FETCHER_CACHE_DIR: an absolute path, when set.
func FromEnv() (Config, error) { return fromEnv(os.Getenv) }

func fromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	required := func(name string) string {
		v := getenv(name)
		if v == "" {
			bad(name, "not set")
		}
		return v
	}
	absolute := func(name, v string) string {
		if v != "" && !filepath.IsAbs(v) {
			bad(name, "%q is not an absolute path", v)
		}
		return v
	}
	duration := func(name string) time.Duration {
		v := required(name)
		if v == "" {
			return 0
		}
		d, err := mesosx.ParseDuration(v)
		if err != nil {
			bad(name, "%v", err) // it names v and what is wrong with it
		}
		return d
	}
	var cfg Config
	cfg.FrameworkID = required("MESOS_FRAMEWORK_ID")
	cfg.ExecutorID = required("MESOS_EXECUTOR_ID")
	cfg.Directory = absolute("MESOS_DIRECTORY", required("MESOS_DIRECTORY"))
	cfg.Sandbox = absolute("MESOS_SANDBOX", required("MESOS_SANDBOX"))
	cfg.AgentEndpoint = required("MESOS_AGENT_ENDPOINT")
	agentHost := ""
	if ep := cfg.AgentEndpoint; ep != "" {
		host, port, err := net.SplitHostPort(ep)
		if n, perr := strconv.ParseUint(port, 10, 16); err == nil && (perr != nil || n == 0) {
			err = fmt.Errorf("port %q is not a number in 1..65535", port)
		}
		if err == nil && host == "" {
			err = errors.New("no host")
		}
		if err != nil {
			bad("MESOS_AGENT_ENDPOINT", "%q is not host:port: %v", ep, err)
		}
		agentHost = host
	}
	cfg.ExecutorShutdownGracePeriod = duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD")
	if v := getenv("MESOS_CHECKPOINT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("MESOS_CHECKPOINT", "%q is not a boolean (1 or 0)", v)
		}
		cfg.Checkpoint = b
	}
	if cfg.Checkpoint {
		cfg.RecoveryTimeout = duration("MESOS_RECOVERY_TIMEOUT")
		cfg.SubscriptionBackoffMax = duration("MESOS_SUBSCRIPTION_BACKOFF_MAX")
	}
	cfg.ContainerIP = getenv("LIBPROCESS_IP")
	if cfg.ContainerIP != "" && net.ParseIP(cfg.ContainerIP) == nil {
		bad("LIBPROCESS_IP", "%q is not an IP address", cfg.ContainerIP)
	}
	if cfg.ContainerIP == "" || cfg.ContainerIP == "0.0.0.0" {
		cfg.ContainerIP = agentHost
	}
	cfg.AuthToken = getenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
	if strings.ContainsAny(cfg.AuthToken, "\r\n\x00") {
		bad("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "holds a line break or NUL (the value is not shown)")
	}
	cfg.FetchCacheDir = absolute("TASKKIT_FETCHER_CACHE_DIR", getenv("TASKKIT_FETCHER_CACHE_DIR"))
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("executor environment: %w", errors.Join(errs...))
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
