package deptest

import (
	"os/exec"
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
	if !slicesContains(deps, "github.com/taskkit/taskkit/internal/sdk/service") {
		t.Fatalf("go list -deps scheduler-lite does not list the scheduler core: %q", deps)
	}
	if slicesContains(deps, "github.com/taskkit/taskkit/internal/devbuild") {
		t.Error("scheduler-lite links internal/devbuild: it would build binaries at run time")
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
