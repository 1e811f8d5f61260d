// Package devbuild builds taskkit's binaries from its source tree with the
// go command: for `go run ./examples/hello-world` and for the tests that run
// the binaries. No production binary links it: scheduler-lite serves the
// artifacts it is given (--artifacts-dir, or the binaries next to it) and
// never builds at run time (internal/deptest checks).
package devbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/taskkit/taskkit/internal/taskenv"
)

// Toolkit are the packages of the binaries scheduler-lite serves as
// artifacts (taskenv.Artifacts).
var Toolkit = func() []string {
	var out []string
	for _, a := range taskenv.Artifacts {
		out = append(out, "./"+a)
	}
	return out
}()

// SourceRoot finds taskkit's source tree from the working directory up.
func SourceRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/taskkit/taskkit\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("the working directory is not inside taskkit's source tree")
		}
		d = parent
	}
}

// Options configures Build.
type Options struct {
	// Root is the source tree (SourceRoot).
	Root string
	// Dir receives the binaries, each named after its package's last
	// element (./examples/hello-world/server → server).
	Dir string
	// Packages are the main packages, relative to Root ("./bootstrap").
	Packages []string
	// Progress, when set, is told what is built, with the elapsed time,
	// as each binary appears and every Every while the build runs.
	Progress func(msg string)
	// Every is the period of progress messages (default 10 s).
	Every time.Duration
	// Timeout bounds the build (default 5 min).
	Timeout time.Duration
}

// Build compiles the packages statically (CGO_ENABLED=0, -trimpath) into
// Dir in one `go build` invocation, so that the go command builds them in
// parallel. The go command runs in its own process group, killed when ctx
// ends or the timeout passes; nothing of it is left but the binaries it
// finished.
func Build(ctx context.Context, o Options) error {
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	bctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	// urfave_cli_no_docs drops urfave/cli's man-page generator, as
	// scripts/dist.sh does: its markdown tables are built at every start
	// of every binary (~3 ms of CPU each, 200 executors in a big deploy).
	args := append([]string{"build", "-tags", "urfave_cli_no_docs", "-trimpath", "-o", dir + string(filepath.Separator)}, o.Packages...)
	// The go command's work directory ($WORK) goes in one of Build's own,
	// removed when Build returns: a go build killed (ctx ended, Ctrl-C)
	// leaves its $WORK behind, a go-build* directory in $TMPDIR.
	work, err := os.MkdirTemp("", "devbuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cmd := exec.CommandContext(bctx, "go", args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTMPDIR="+work)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	names := make([]string, len(o.Packages))
	for i, p := range o.Packages {
		names[i] = path.Base(p)
	}
	start := time.Now()
	o.Progress(fmt.Sprintf("building %s with one go build", strings.Join(names, ", ")))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // owned by Build: received below
	seen := map[string]bool{}
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	next := start.Add(o.Every)
	for {
		select {
		case err := <-done:
			report(o, dir, names, seen, start)
			if err != nil {
				return fmt.Errorf("go build %s: %w\n%s", strings.Join(o.Packages, " "), err, out.Bytes())
			}
			return nil
		case now := <-poll.C:
			report(o, dir, names, seen, start)
			if !now.Before(next) {
				var left []string
				for _, n := range names {
					if !seen[n] {
						left = append(left, n)
					}
				}
				o.Progress(fmt.Sprintf("still building %s (%s elapsed)", strings.Join(left, ", "), time.Since(start).Round(time.Second)))
				next = now.Add(o.Every)
			}
		}
	}
}

// report tells about the binaries that appeared in dir since the last
// report.
func report(o Options, dir string, names []string, seen map[string]bool, start time.Time) {
	for _, n := range names {
		if seen[n] {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.ModTime().After(start.Add(-time.Second)) {
			seen[n] = true
			o.Progress(fmt.Sprintf("built %s (%s)", n, time.Since(start).Round(100*time.Millisecond)))
		}
	}
}
