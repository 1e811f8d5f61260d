//go:build linux

package mesos

import (
	"errors"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/rlimit"
)

func u64(v uint64) *uint64 { return &v }

// TestRLimits follows the cases of Mesos' PosixRLimitsIsolatorTest
// (src/tests/containerizer/posix_rlimits_isolator_tests.cpp).
func TestRLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []mesos.RLimitInfo_RLimit
		want []rlimit.Limit
		err  string
	}{
		{"none", nil, nil, ""},
		{"soft and hard", []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_NOFILE, Soft: u64(1024), Hard: u64(4096)}},
			[]rlimit.Limit{{Resource: unix.RLIMIT_NOFILE, Name: "RLMT_NOFILE", Soft: 1024, Hard: 4096}}, ""},
		{"UnsetLimits: neither is unlimited", []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_CORE}},
			[]rlimit.Limit{{Resource: unix.RLIMIT_CORE, Name: "RLMT_CORE", Soft: rlimit.Unlimited, Hard: rlimit.Unlimited}}, ""},
		{"BothSoftAndHardLimitSet: soft only", []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_CORE, Soft: u64(1)}},
			nil, "Failed to set RLMT_CORE limit: Invalid rlimit values"},
		{"hard only", []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_STACK, Hard: u64(1)}},
			nil, "Failed to set RLMT_STACK limit: Invalid rlimit values"},
		{"InvalidLimits: soft above hard", []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_CPU, Soft: u64(100), Hard: u64(1)}},
			nil, "Failed to set RLMT_CPU limit: soft limit 100 exceeds hard limit 1"},
		{"unknown type", []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_UNKNOWN}},
			nil, "Failed to set UNKNOWN limit: Unknown rlimit type"},
		{"every type", func() []mesos.RLimitInfo_RLimit {
			var out []mesos.RLimitInfo_RLimit
			for v := range mesos.RLimitInfo_RLimit_Type_name {
				if v != 0 {
					out = append(out, mesos.RLimitInfo_RLimit{Type: mesos.RLimitInfo_RLimit_Type(v)})
				}
			}
			return out
		}(), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var info *mesos.RLimitInfo
			if tc.in != nil {
				info = &mesos.RLimitInfo{Rlimits: tc.in}
			}
			got, err := RLimits(info)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, rlimit.ErrSet) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "every type" {
				if len(got) != len(tc.in) {
					t.Errorf("%d limits for %d types", len(got), len(tc.in))
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got[i], tc.want[i])
				}
			}
		})
	}
}
