package main

import (
	"context"
	"io"

	"github.com/taskkit/taskkit/internal/schedulerlite"
)

// uninstallCommand is "scheduler-lite uninstall": with the scheduler
// stopped, kill every task of the service, tear its framework down and
// delete its state (see schedulerlite.Uninstall and
// docs/scheduler-lite.md#uninstall).
func uninstallCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return schedulerlite.Uninstall(ctx, args, stdout, stderr)
}
