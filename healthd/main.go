//go:build linux

// Command healthd runs health and readiness checks with Mesos semantics and,
// given a command after --, supervises it like an init process: it forwards
// signals to the command's process group, reaps zombies, kills the command
// when its health check fails too often, and never leaves a process behind.
//
//	healthd [flags] -- CMD ARGS...   supervise CMD
//	healthd [flags]                  sidecar: check and report only
//	healthd check [flags]            run one check: exit 0 healthy, 1 unhealthy, 2 could not run
//
// Every flag can also be set by an environment variable (HEALTHD_<FLAG>, for
// example HEALTHD_INTERVAL; for `healthd check`, HEALTHD_CHECK_<FLAG>). See
// docs/healthd.md; the code is in internal/healthd.
package main

import (
	"context"
	"os"

	"github.com/taskkit/taskkit/internal/healthd"
)

func main() {
	os.Exit(healthd.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
