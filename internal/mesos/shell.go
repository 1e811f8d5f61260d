package mesos

import (
	"os"
	"os/exec"
	"sync"
)

// taskShell finds the shell once per process: see ShellCommand.
var taskShell = sync.OnceValue(func() string {
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

// ShellCommand is how a shell CommandInfo's value runs, both in the
// executor and in testenv's command tasks: the program to start and its
// argv, ["sh", "-c", value]. Mesos runs /bin/sh -c value; on DC/OS agents
// /bin/sh is bash, and SDK specs rely on it (trap ... SIGTERM, [[ ]]), so
// the program is bash when it is installed (/bin/bash, /usr/bin/bash, else
// on PATH) and /bin/sh otherwise. Called as "sh", bash runs in its POSIX
// mode, exactly as it does as /bin/sh on those agents.
func ShellCommand(value string) (path string, args []string) {
	return taskShell(), []string{"sh", "-c", value}
}
