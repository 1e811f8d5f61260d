package supervise

import (
	"os"
	"os/exec"
	"sync"
)

// shell finds the shell once per process: see ShellCommand.
var shell = sync.OnceValue(func() string {
	for _, p := range []string{"/bin/bash", "/usr/bin/bash"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("bash"); err == nil {
		return p
	}
	return "/bin/sh"
})

// ShellCommand is how every shell command line in taskkit runs: a task's
// shell CommandInfo (the executor, testenv's command tasks), the executor's
// COMMAND checks and health checks, and healthd's --cmd and --readiness-cmd
// checks. It returns the program to start and its argv, ["sh", "-c", line].
//
// Mesos runs a task's shell command and a COMMAND check the same way, as
// `sh -c value` (os::Shell in stout's os/posix/shell.hpp, used by
// src/slave/containerizer/mesos/launch.cpp for tasks and, through
// libprocess' subprocess, by src/checks/checker_process.cpp for checks), so
// a check always gets the shell its task gets. On DC/OS agents /bin/sh is
// bash and SDK specs rely on it in both (trap ... SIGTERM, [[ ]]), so the
// program is bash when it is installed (/bin/bash, /usr/bin/bash, else on
// PATH) and /bin/sh otherwise. Called as "sh", bash runs in its POSIX mode,
// as it does as /bin/sh on those agents.
func ShellCommand(line string) (path string, args []string) {
	return shell(), []string{"sh", "-c", line}
}
