package deptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forbidden are import-path prefixes the in-task binaries must not link.
var forbidden = []string{
	"github.com/mesos/mesos-go",
	"github.com/gogo/protobuf",
	"github.com/golang/protobuf",
	"google.golang.org/protobuf",
	"github.com/pquerna/ffjson",
	"github.com/prometheus/client_golang", // protobuf behind it; in-task metrics use VictoriaMetrics/metrics
}

// violations returns the forbidden packages bin links.
func violations(t *testing.T, bin string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "github.com/taskkit/taskkit/"+bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", bin, err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps %s listed only %d packages: %q", bin, len(deps), deps)
	}
	var bad []string
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				bad = append(bad, d)
			}
		}
	}
	return bad
}

func TestInTaskBinariesAvoidMesosAndProtobuf(t *testing.T) {
	for _, bin := range []string{"bootstrap", "healthd", "tlsprov"} {
		t.Run(bin, func(t *testing.T) {
			if bad := violations(t, bin); len(bad) > 0 {
				t.Errorf("%s links forbidden packages: %v", bin, bad)
			}
		})
	}
}

// TestCheckSeesMesos is the control: testenv does link mesos-go, so the check
// must flag it, or it would pass for any binary.
func TestCheckSeesMesos(t *testing.T) {
	if bad := violations(t, "testenv"); len(bad) == 0 {
		t.Fatal("the dependency check found nothing forbidden in testenv, which links mesos-go")
	}
}

// TestSchedulerLiteBuildsNothing: the production scheduler serves the
// artifacts it is given and never runs the go command, so it must not link
// internal/devbuild (the demo's and the tests' builder).
func TestSchedulerLiteBuildsNothing(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/taskkit/taskkit/scheduler-lite").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/taskkit/taskkit/internal/sdk/service") {
		t.Fatalf("go list -deps scheduler-lite does not list the scheduler core: %q", deps)
	}
	if slices.Contains(deps, "github.com/taskkit/taskkit/internal/devbuild") {
		t.Error("scheduler-lite links internal/devbuild: it would build binaries at run time")
	}
}

// TestInTaskBinariesSize builds each in-task binary as scripts/dist.sh does
// (static, stripped, trimmed, urfave_cli_no_docs) and checks it is at most
// MaxBytes.
func TestInTaskBinariesSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	dir := t.TempDir()
	for _, bin := range []string{"bootstrap", "healthd", "tlsprov"} {
		t.Run(bin, func(t *testing.T) {
			out := filepath.Join(dir, bin)
			cmd := exec.Command(goTool, "build", "-tags", "urfave_cli_no_docs", "-trimpath", "-ldflags", "-s -w", "-o", out, "github.com/taskkit/taskkit/"+bin)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", bin, err, b)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes (%.2f MiB)", bin, fi.Size(), float64(fi.Size())/(1<<20))
			if fi.Size() > MaxBytes {
				t.Errorf("%s is %d bytes stripped, over the %d-byte (10 MiB) limit", bin, fi.Size(), MaxBytes)
			}
		})
	}
}
