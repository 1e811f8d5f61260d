//go:build linux

package mesos

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/rlimit"
)

// rlimitResources maps Mesos' rlimit types to Linux resources
// (rlimits::convert in src/posix/rlimits.cpp).
var rlimitResources = map[mesos.RLimitInfo_RLimit_Type]int{
	mesos.RLimitInfo_RLimit_RLMT_AS:         unix.RLIMIT_AS,
	mesos.RLimitInfo_RLimit_RLMT_CORE:       unix.RLIMIT_CORE,
	mesos.RLimitInfo_RLimit_RLMT_CPU:        unix.RLIMIT_CPU,
	mesos.RLimitInfo_RLimit_RLMT_DATA:       unix.RLIMIT_DATA,
	mesos.RLimitInfo_RLimit_RLMT_FSIZE:      unix.RLIMIT_FSIZE,
	mesos.RLimitInfo_RLimit_RLMT_LOCKS:      unix.RLIMIT_LOCKS,
	mesos.RLimitInfo_RLimit_RLMT_MEMLOCK:    unix.RLIMIT_MEMLOCK,
	mesos.RLimitInfo_RLimit_RLMT_MSGQUEUE:   unix.RLIMIT_MSGQUEUE,
	mesos.RLimitInfo_RLimit_RLMT_NICE:       unix.RLIMIT_NICE,
	mesos.RLimitInfo_RLimit_RLMT_NOFILE:     unix.RLIMIT_NOFILE,
	mesos.RLimitInfo_RLimit_RLMT_NPROC:      unix.RLIMIT_NPROC,
	mesos.RLimitInfo_RLimit_RLMT_RSS:        unix.RLIMIT_RSS,
	mesos.RLimitInfo_RLimit_RLMT_RTPRIO:     unix.RLIMIT_RTPRIO,
	mesos.RLimitInfo_RLimit_RLMT_RTTIME:     unix.RLIMIT_RTTIME,
	mesos.RLimitInfo_RLimit_RLMT_SIGPENDING: unix.RLIMIT_SIGPENDING,
	mesos.RLimitInfo_RLimit_RLMT_STACK:      unix.RLIMIT_STACK,
}

// RLimits converts a ContainerInfo's rlimit_info (nil: none) into the
// limits to start a process with, with the semantics of Mesos'
// posix/rlimits isolator (rlimits::set in src/posix/rlimits.cpp): a limit
// with both soft and hard sets them, one with neither is unlimited, one
// with only one of them is invalid, as are a soft value above the hard one
// and an unknown type. Errors are *rlimit.Error, read as Mesos' launch
// helper reports them: "Failed to set RLMT_CORE limit: Invalid rlimit
// values".
func RLimits(info *mesos.RLimitInfo) ([]rlimit.Limit, error) {
	var out []rlimit.Limit
	for _, l := range info.GetRlimits() {
		name := l.Type.String()
		res, ok := rlimitResources[l.Type]
		if !ok {
			return nil, &rlimit.Error{Name: name, Reason: "Unknown rlimit type"}
		}
		lim := rlimit.Limit{Resource: res, Name: name, Soft: rlimit.Unlimited, Hard: rlimit.Unlimited}
		switch {
		case l.Soft != nil && l.Hard != nil:
			lim.Soft, lim.Hard = *l.Soft, *l.Hard
		case l.Soft != nil || l.Hard != nil:
			return nil, &rlimit.Error{Name: name, Reason: "Invalid rlimit values"}
		}
		if err := rlimit.Check([]rlimit.Limit{lim}); err != nil {
			return nil, err
		}
		out = append(out, lim)
	}
	return out, nil
}
