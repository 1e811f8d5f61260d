package mesos

import "github.com/taskkit/taskkit/internal/supervise"

// ShellCommand is how a shell CommandInfo's value runs in the executor and
// in testenv's command tasks: supervise.ShellCommand, the one shell rule that
// the executor's and healthd's command checks follow too (Mesos runs tasks
// and checks with the same `sh -c`).
func ShellCommand(value string) (path string, args []string) {
	return supervise.ShellCommand(value)
}
