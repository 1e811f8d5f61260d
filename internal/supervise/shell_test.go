package supervise

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestShellCommand runs SDK-style task commands the way the executor and
// testenv do: with bash installed, bash syntax works (a SIGTERM trap, [[ ]]),
// as it does on DC/OS agents where /bin/sh is bash.
func TestShellCommand(t *testing.T) {
	path, args := ShellCommand("true")
	if strings.Join(args, " ") != "sh -c true" {
		t.Fatalf("args %q", args)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		if path != "/bin/sh" {
			t.Fatalf("no bash installed, shell %s", path)
		}
		t.Skip("bash is not installed: commands run with /bin/sh")
	}
	if !strings.HasSuffix(path, "/bash") {
		t.Fatalf("bash is installed, shell %s", path)
	}
	for _, tc := range []struct{ cmd, want string }{
		{`terminated() { echo "got TERM"; exit 0; }; trap terminated SIGTERM; kill -TERM $$; sleep 5`, "got TERM"},
		{`if [[ "a-b" == a-* ]]; then echo matched; fi`, "matched"},
		{`echo $0`, "sh"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		path, args := ShellCommand(tc.cmd)
		c := exec.CommandContext(ctx, path, args[1:]...)
		c.Args = args
		out, err := c.CombinedOutput()
		cancel()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.cmd, out, err, tc.want)
		}
	}
}
