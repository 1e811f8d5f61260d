package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDescribeExit: a command task's terminal message is Mesos' command
// executor's, "Command " + WSTRINGIFY(status): strsignal(3)'s words for
// every signal (it said "segmentation fault", "interrupt"), and
// " (core dumped)" when the signal dumped core (it never said so).
func TestDescribeExit(t *testing.T) {
	pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	cores := len(pattern) > 0 && !strings.HasPrefix(string(pattern), "|")
	for _, tt := range []struct {
		script string
		want   string
		ok     bool
		core   bool // needs core dumps written to a file
	}{
		{"exit 0", "Command exited with status 0", true, false},
		{"exit 3", "Command exited with status 3", false, false},
		{"kill -TERM $$", "Command terminated with signal Terminated", false, false},
		{"kill -INT $$", "Command terminated with signal Interrupt", false, false},
		{"ulimit -c 0; kill -SEGV $$", "Command terminated with signal Segmentation fault", false, false},
		{"ulimit -c unlimited; kill -SEGV $$", "Command terminated with signal Segmentation fault (core dumped)", false, true},
	} {
		if tt.core && !cores {
			t.Logf("%s: skipped, core dumps are not written to a file here (core_pattern %q)", tt.script, pattern)
			continue
		}
		cmd := exec.Command("/bin/sh", "-c", tt.script)
		cmd.Dir = t.TempDir() // where a core goes
		_ = cmd.Run()
		if msg, ok := describeExit(cmd.ProcessState); msg != tt.want || ok != tt.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tt.script, msg, ok, tt.want, tt.ok)
		}
	}
}
