// Command bootstrap is the first thing a task runs: it prints the environment
// with secrets masked, works out the task's IP, renders CONFIG_TEMPLATE_*
// mustache templates all-or-nothing, waits until names resolve (its own name
// to its own IP) and URLs answer, installs the cluster CA into the Java
// truststore, and then exits 0 — or, given "-- cmd args...", execs the command
// in its place. It is a drop-in replacement for the DC/OS SDK bootstrap: every
// SDK flag keeps its meaning and default, both -flag and --flag work, and every
// flag also reads BOOTSTRAP_<FLAG> from the environment.
//
// Exit codes: 0 success; 1 internal error; 2 usage or configuration error;
// 3 template error; 4 wait timed out; 5 truststore error; 6 the command to exec
// could not be run; 128+N interrupted by signal N while waiting.
//
// See docs/bootstrap.md; the code is in internal/bootstrap.
package main

import (
	"context"
	"os"

	"github.com/taskkit/taskkit/internal/bootstrap"
)

func main() {
	os.Exit(bootstrap.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
