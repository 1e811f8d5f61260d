// Package sdktest holds the hand-written fakes the scheduler core's unit
// tests drive it with: offer fixtures (Offer), a Mesos master behind
// mesos-go's calls.Caller that scripts the event stream and records every
// call (Master), and a clock the test advances (Clock). Nothing here opens a
// listener or starts a process.
package sdktest

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// OfferOption adds to an offer fixture.
type OfferOption func(*mesos.Offer)

// Offer returns an offer fixture from agent on host; when no option adds a
// resource it offers 4 cpus, 4096 MB mem, 16384 MB disk and ports
// 31000-32000, all unreserved, as testenv's agents do.
func Offer(id, agent, host string, opts ...OfferOption) mesos.Offer {
	o := mesos.Offer{
		ID:          mesos.OfferID{Value: id},
		FrameworkID: mesos.FrameworkID{Value: "fw"},
		AgentID:     mesos.AgentID{Value: agent},
		Hostname:    host,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.Resources) == 0 {
		for _, opt := range []OfferOption{CPUs(4), Mem(4096), Disk(16384), Ports(31000, 32000)} {
			opt(&o)
		}
	}
	return o
}

// Scalar offers amount of resource name.
func Scalar(name string, amount float64) OfferOption {
	return func(o *mesos.Offer) {
		o.Resources = append(o.Resources, mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: amount}})
	}
}

// CPUs, Mem and Disk offer scalar resources (MB for mem and disk).
func CPUs(n float64) OfferOption { return Scalar("cpus", n) }

// Mem offers n MB of memory.
func Mem(n float64) OfferOption { return Scalar("mem", n) }

// Disk offers n MB of disk.
func Disk(n float64) OfferOption { return Scalar("disk", n) }

// Ports offers the port range lo-hi.
func Ports(lo, hi uint64) OfferOption {
	return func(o *mesos.Offer) {
		o.Resources = append(o.Resources, mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(),
			Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: lo, End: hi}}}})
	}
}

// Reserved marks the resources added by opts as dynamically reserved to
// role (reservation refinement format).
func Reserved(role string, opts ...OfferOption) OfferOption {
	return func(o *mesos.Offer) {
		n := len(o.Resources)
		for _, opt := range opts {
			opt(o)
		}
		for i := n; i < len(o.Resources); i++ {
			o.Resources[i].Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: &role}}
		}
	}
}

// Allocated sets the allocation role of every resource added so far (MULTI_ROLE offers).
func Allocated(role string) OfferOption {
	return func(o *mesos.Offer) {
		for i := range o.Resources {
			o.Resources[i].AllocationInfo = &mesos.Resource_AllocationInfo{Role: &role}
		}
	}
}

// Revocable marks the resources added by opts revocable.
func Revocable(opts ...OfferOption) OfferOption {
	return func(o *mesos.Offer) {
		n := len(o.Resources)
		for _, opt := range opts {
			opt(o)
		}
		for i := n; i < len(o.Resources); i++ {
			o.Resources[i].Revocable = &mesos.Resource_RevocableInfo{}
		}
	}
}

// Attr sets a text attribute of the agent.
func Attr(name, value string) OfferOption {
	return func(o *mesos.Offer) {
		o.Attributes = append(o.Attributes, mesos.Attribute{Name: name, Type: mesos.TEXT, Text: &mesos.Value_Text{Value: value}})
	}
}

// ScalarAttr sets a scalar attribute of the agent.
func ScalarAttr(name string, v float64) OfferOption {
	return func(o *mesos.Offer) {
		o.Attributes = append(o.Attributes, mesos.Attribute{Name: name, Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: v}})
	}
}

// Domain sets the agent's fault domain.
func Domain(region, zone string) OfferOption {
	return func(o *mesos.Offer) {
		o.Domain = &mesos.DomainInfo{FaultDomain: &mesos.DomainInfo_FaultDomain{
			Region: mesos.DomainInfo_FaultDomain_RegionInfo{Name: region},
			Zone:   mesos.DomainInfo_FaultDomain_ZoneInfo{Name: zone},
		}}
	}
}

// Executors lists executors running on the agent.
func Executors(ids ...string) OfferOption {
	return func(o *mesos.Offer) {
		for _, id := range ids {
			o.ExecutorIDs = append(o.ExecutorIDs, mesos.ExecutorID{Value: id})
		}
	}
}
