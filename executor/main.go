// Command executor is taskkit's Mesos executor: the DEFAULT executor's
// semantics (task groups, kill policies, health checks and checks) as a
// static v1 HTTP executor, with the DC/OS SDK's extras (tasks labelled
// essential=false, readiness as check_status, URIs fetched per task).
//
// The agent starts it with the Mesos executor environment (MESOS_FRAMEWORK_ID,
// MESOS_EXECUTOR_ID, MESOS_SANDBOX, MESOS_AGENT_ENDPOINT, ...; see
// internal/executor). Its own flags, each also read from the environment:
//
//	--log-format text|json   EXECUTOR_LOG_FORMAT   log format on stderr (default text)
//	--verbose                EXECUTOR_VERBOSE      debug logs
//
// Exit codes: 0 done (SHUTDOWN, or no task left); 1 the agent was lost or
// another runtime error; 2 usage or environment error.
//
// See docs/executor.md; the code is in internal/executor.
package main

import (
	"context"
	"os"

	"github.com/taskkit/taskkit/internal/executor"
)

func main() {
	os.Exit(executor.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
