//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recorderEnv makes the test binary a command that writes the time it
// receives SIGTERM (Unix nanoseconds) to the file named by the variable.
const recorderEnv = "TASKKIT_HEALTHD_TEST_SIGTERM_RECORDER"

func recordSIGTERM(path string) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if err := os.WriteFile(path+".ready", nil, 0o644); err != nil {
		os.Exit(1)
	}
	select {
	case <-sigs:
		_ = os.WriteFile(path, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
		os.Exit(0)
	case <-time.After(time.Minute):
		os.Exit(2)
	}
}

func readNanos(b *testing.B, path string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkThresholdToSIGTERM measures the delay from the end of the check
// that reaches the failure threshold (the check's last act is to note the
// time) to the supervised command receiving SIGTERM. It reports percentiles
// of b.N runs; each run is a fresh healthd.
func BenchmarkThresholdToSIGTERM(b *testing.B) {
	var delays []time.Duration
	for i := 0; b.Loop(); i++ {
		dir := b.TempDir()
		rec := filepath.Join(dir, "sigterm")
		check := fmt.Sprintf(`while [ ! -e %[1]s.ready ]; do sleep 0.01; done; date +%%s%%N > %[1]s.check; exit 1`, rec)
		cmd := exec.Command(os.Args[0], "--delay", "0", "--grace-period", "0", "--max-consecutive-failures", "1",
			"--interval", "1h", "--cmd", check, "--", "env", recorderEnv+"="+rec, os.Args[0])
		cmd.Env = append(os.Environ(), asMainEnv+"=1")
		cmd.WaitDelay = time.Minute
		if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 124 {
			b.Fatalf("healthd: %v\n%s", err, out)
		}
		delays = append(delays, time.Duration(readNanos(b, rec)-readNanos(b, rec+".check")))
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	pct := func(p float64) float64 { return float64(delays[int(p*float64(len(delays)-1))]) / 1e6 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(0, "ns/op")
}
