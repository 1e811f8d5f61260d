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

func TestInTaskBinariesAvoidMesosAndProtobuf(t *testing.T) {
	for _, bin := range []string{"bootstrap", "healthd", "tlsprov"} {
		t.Run(bin, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "github.com/taskkit/taskkit/"+bin).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", bin, err, out)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %d packages: %q", bin, len(deps), deps)
			}
			for _, d := range deps {
				for _, f := range forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s links %s (forbidden prefix %s)", bin, d, f)
					}
				}
			}
		})
	}
}
