package testenv

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
)

// res is a bag of resources with mesos-go's arithmetic (Plus, Minus,
// Contains: Mesos' fixed-point scalars, range arithmetic, and the rules
// for what may be added to or subtracted from what: reservations, disk
// sources, persistent volumes).
//
// Everything the agents and the master keep is in Mesos' internal
// "post-reservation-refinement" format (src/common/resources_utils.cpp):
// a reservation is the Resource.reservations stack, Resource.role and
// Resource.reservation are never set. Agent totals, used resources,
// offers and filters carry no allocation info; the resources of an ACCEPT
// call are allocated to the offers' role while it is processed (as Mesos'
// master injects allocation info) and unallocated when they are stored.
type res mesos.Resources

func newRes() res { return nil }

// copied returns a copy of r that can be changed without changing r: a
// shallow copy, where mesos-go's Resources.Clone (and so Plus and Minus)
// copies deeply with proto.Clone, by reflection, which was most of
// testenv's CPU in a big ACCEPT, under the cluster lock, as an agent's
// total grows by a reservation per RESERVE. Shallow is enough because
// nothing writes through the values a resource points to: mesos-go's
// Resource.Add and Resource.Subtract give the resource new Scalar, Ranges
// or Set values (values.go), Resources.Add deep-copies a resource it
// appends, and testenv only assigns a resource's fields.
func (r res) copied() res { return slices.Clone(r) }

// add returns r + o, by mesos-go's Resources.Add on a copy of r.
func (r res) add(o res) res {
	x := mesos.Resources(r.copied())
	return res(x.Add(o...))
}

// sub returns r - o, by mesos-go's Resources.Subtract on a copy of r;
// what o holds beyond r is ignored.
func (r res) sub(o res) res {
	x := mesos.Resources(r.copied())
	return res(x.Subtract(o...))
}

// contains reports whether every resource of o is in r (Mesos'
// Resources::contains).
func (r res) contains(o res) bool {
	return resources.ContainsAll(mesos.Resources(r.coalesced()), mesos.Resources(o.coalesced()))
}

// coalesced returns r with every pair of addable resources added together,
// the form mesos-go's ContainsAll expects on both sides: what
// newRes().add(r) returns, without the deep copy of each resource
// mesos-go's Resources.Add makes when it appends one (see add). Invalid
// and empty resources are dropped, as Resources.Add drops them.
func (r res) coalesced() res {
	out := make(res, 0, len(r))
	for _, x := range r {
		if x.Validate() != nil || x.IsEmpty() {
			continue
		}
		if i := slices.IndexFunc(out, func(y mesos.Resource) bool { return y.Addable(x) }); i >= 0 {
			out[i].Add(x)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// empty reports whether r holds nothing.
func (r res) empty() bool {
	for i := range r {
		if !r[i].IsEmpty() {
			return false
		}
	}
	return true
}

// scalar is the total of scalar resource name, whatever its reservations.
func (r res) scalar(name string) float64 {
	sum := &mesos.Value_Scalar{}
	for i := range r {
		if r[i].Name == name && r[i].GetType() == mesos.SCALAR {
			sum = sum.Add(r[i].Scalar)
		}
	}
	return sum.Value
}

// withoutRanges returns r without the ranges rs in its range resources
// called name, reserved or not.
func (r res) withoutRanges(name string, rs mesos.Ranges) res {
	out := r.copied()
	for i := range out {
		if x := &out[i]; x.Name == name && x.GetType() == mesos.RANGES {
			x.Ranges = x.Ranges.Subtract(&mesos.Value_Ranges{Range: rs})
		}
	}
	return res(slicesDeleteEmpty(out))
}

// has reports whether r holds a resource called name.
func (r res) has(name string) bool {
	for i := range r {
		if r[i].Name == name {
			return true
		}
	}
	return false
}

// filter returns the resources of r that keep accepts.
func (r res) filter(keep func(*mesos.Resource) bool) res {
	var out res
	for i := range r {
		if keep(&r[i]) {
			out = append(out, r[i])
		}
	}
	return out
}

// allocatable is Mesos' default minimum for an offer
// (--min_allocatable_resources "cpus:0.01|mem:32").
func (r res) allocatable() bool { return r.scalar("cpus") >= 0.01 || r.scalar("mem") >= 32 }

// allocatableTo returns what of r may be offered to role: unreserved
// resources and those reserved for role or one of its ancestors
// (Resources::allocatableTo).
func (r res) allocatableTo(role string) res {
	return r.filter(func(x *mesos.Resource) bool { return x.IsAllocatableTo(role) })
}

// unreserved returns the unreserved resources of r.
func (r res) unreserved() res {
	return r.filter(func(x *mesos.Resource) bool { return x.IsUnreserved() })
}

// reservations groups the reserved resources of r by reservation role
// (the role of the last reservation of the stack).
func (r res) reservations() map[string]res {
	out := map[string]res{}
	for i := range r {
		if x := &r[i]; !x.IsUnreserved() {
			role := x.ReservationRole()
			out[role] = out[role].add(res{*x})
		}
	}
	return out
}

// checkpointed returns what an agent checkpoints and recovers: dynamic
// reservations and persistent volumes (needCheckpointing in
// src/common/resources_utils.cpp).
func (r res) checkpointed() res {
	return r.filter(func(x *mesos.Resource) bool { return x.IsDynamicallyReserved() || x.IsPersistentVolume() })
}

// volumes returns the persistent volumes of r.
func (r res) volumes() res {
	return r.filter(func(x *mesos.Resource) bool { return x.IsPersistentVolume() })
}

// allocated returns a copy of r allocated to role.
func (r res) allocated(role string) res {
	out := r.copied()
	for i := range out {
		out[i].AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(role)}
	}
	return out
}

// unallocated returns r without allocation info, coalesced.
func (r res) unallocated() res {
	out := r.copied()
	for i := range out {
		out[i].AllocationInfo = nil
	}
	return out.coalesced()
}

// proto renders r as resources for a framework, sorted as Mesos lists
// them (cpus, gpus, mem, disk, then the others by name; unreserved first).
// Without RESERVATION_REFINEMENT they are in the pre-refinement format
// (role "*" when unreserved, role and reservation when reserved); with it,
// in the post-refinement format (only the reservations stack). For
// MULTI_ROLE frameworks each resource carries the allocation role.
func (r res) proto(refinement bool, allocRole string) []mesos.Resource {
	out := []mesos.Resource(r.copied())
	for i := range out {
		x := &out[i]
		if x.IsEmpty() {
			continue
		}
		if !refinement {
			downgradeResource(x, false)
		}
		if allocRole != "" {
			x.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(allocRole)}
		}
	}
	out = slicesDeleteEmpty(out)
	sortResources(out)
	return out
}

// endpointJSON renders r as Mesos' state endpoints list full resources:
// the "endpoint" format (role, and reservation for a single dynamic
// reservation, besides the reservations stack).
func (r res) endpointJSON() []mesos.Resource {
	out := []mesos.Resource(mesos.Resources(r).Clone())
	for i := range out {
		downgradeResource(&out[i], true)
	}
	out = slicesDeleteEmpty(out)
	sortResources(out)
	return out
}

func slicesDeleteEmpty(rs []mesos.Resource) []mesos.Resource {
	out := rs[:0]
	for i := range rs {
		if !rs[i].IsEmpty() {
			out = append(out, rs[i])
		}
	}
	return out
}

func sortResources(rs []mesos.Resource) {
	key := func(x *mesos.Resource) string {
		k := scalarOrder(x.Name) + "\x00"
		if !x.IsUnreserved() {
			k += "1" + x.ReservationRole()
		} else {
			k += "0"
		}
		if d := x.GetDisk(); d != nil {
			k += "\x00" + d.GetSource().GetMount().GetRoot() + "\x00" + d.GetPersistence().GetID()
		}
		return k
	}
	sort.SliceStable(rs, func(i, j int) bool { return key(&rs[i]) < key(&rs[j]) })
}

func scalarOrder(name string) string {
	switch name {
	case "cpus":
		return "0"
	case "gpus":
		return "1"
	case "mem":
		return "2"
	case "disk":
		return "3"
	}
	return "9" + name
}

// upgradeResource converts x to the post-reservation-refinement format
// (convertResourceFormat POST_RESERVATION_REFINEMENT in Mesos'
// src/common/resources_utils.cpp). x must be valid.
func upgradeResource(x *mesos.Resource) {
	defer func() { x.Role, x.Reservation = nil, nil }()
	if len(x.Reservations) > 0 || x.GetRole() == "*" {
		return
	}
	ri := mesos.Resource_ReservationInfo{Type: mesos.Resource_ReservationInfo_STATIC.Enum()}
	if x.Reservation != nil {
		ri = *x.Reservation
		ri.Type = mesos.Resource_ReservationInfo_DYNAMIC.Enum()
	}
	ri.Role = strPtr(x.GetRole())
	x.Reservations = []mesos.Resource_ReservationInfo{ri}
}

// downgradeResource converts x from the post-refinement format to the
// pre-refinement one (keepStack false) or to the endpoint format, which
// keeps the stack besides role and reservation (keepStack true). A
// refined reservation has no pre-refinement form: the callers strip those
// first, and the endpoint format leaves them as they are.
func downgradeResource(x *mesos.Resource, keepStack bool) {
	switch len(x.Reservations) {
	case 0:
		x.Role = strPtr("*")
	case 1:
		src := x.Reservations[0]
		if src.GetType() == mesos.Resource_ReservationInfo_DYNAMIC {
			x.Reservation = &mesos.Resource_ReservationInfo{Principal: src.Principal, Labels: src.Labels}
		}
		x.Role = strPtr(src.GetRole())
		if !keepStack {
			x.Reservations = nil
		}
	}
}

// refined reports whether x has a refined reservation (more than one
// reservation in its stack).
func refined(x *mesos.Resource) bool { return len(x.Reservations) > 1 }

// validateResource is Mesos' Resources::validate for one resource plus
// what mesos-go does not check: a finite scalar.
func validateResource(x *mesos.Resource) error {
	if err := x.Validate(); err != nil {
		return fmt.Errorf("%s: %w", x.Name, err)
	}
	if x.GetType() == mesos.SCALAR {
		if v := x.Scalar.Value; math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: invalid scalar value %v", x.Name, v)
		}
	}
	return nil
}

// upgradeResources validates rs (Resources::validate) and returns a copy
// in the post-refinement format; allocation info is kept.
func upgradeResources(rs []mesos.Resource) (res, error) {
	out := res(mesos.Resources(rs).Clone())
	for i := range out {
		if err := validateResource(&out[i]); err != nil {
			return nil, err
		}
		upgradeResource(&out[i])
	}
	return out, nil
}

// validateResources is the master's resource::validate
// (src/master/validation.cpp) for resources already in the
// post-refinement format: the DiskInfo rules of persistent volumes and
// dynamic reservations that are not revocable.
func validateResources(rs res) error {
	for i := range rs {
		x := &rs[i]
		if err := validateResource(x); err != nil {
			return fmt.Errorf("Invalid resources: %w", err)
		}
		if d := x.GetDisk(); d != nil {
			var err error
			switch {
			case d.Persistence != nil && x.IsRevocable():
				err = errors.New("Persistent volumes cannot be created from revocable resources")
			case d.Persistence != nil && x.IsUnreserved():
				err = errors.New("Persistent volumes cannot be created from unreserved resources")
			case d.Persistence != nil && d.Volume == nil:
				err = errors.New("Expecting 'volume' to be set for persistent volume")
			case d.Persistence != nil && d.Volume.HostPath != nil:
				err = errors.New("Expecting 'host_path' to be unset for persistent volume")
			case d.Persistence != nil:
				if e := validID(d.Persistence.ID); e != nil {
					err = fmt.Errorf("Invalid persistence ID for persistent volume: %v", e)
				}
			case d.Volume != nil:
				err = errors.New("Non-persistent volume not supported")
			case d.Source == nil:
				err = errors.New("DiskInfo is set but empty")
			}
			if err != nil {
				return fmt.Errorf("Invalid DiskInfo: %w", err)
			}
		}
		if x.IsDynamicallyReserved() && x.IsRevocable() {
			return fmt.Errorf("Invalid ReservationInfo: Dynamically reserved resource %s cannot be created from revocable resources", describe(res{*x}))
		}
	}
	return nil
}

// uniquePersistenceIDs checks that no two volumes of rs share a
// persistence ID within a role (validateUniquePersistenceID).
func uniquePersistenceIDs(rs res) error {
	seen := map[string]bool{}
	for _, v := range rs.volumes() {
		k := v.ReservationRole() + "\x00" + v.Disk.Persistence.ID
		if seen[k] {
			return fmt.Errorf("Persistence ID '%s' is not unique", v.Disk.Persistence.ID)
		}
		seen[k] = true
	}
	return nil
}

// singleAllocationRole checks that every resource of rs is allocated, to
// one role (validateAllocatedToSingleRole).
func singleAllocationRole(rs res) error {
	role := ""
	for i := range rs {
		ai := rs[i].AllocationInfo
		if ai == nil || ai.Role == nil {
			return errors.New("The resources are not allocated to a role")
		}
		if role == "" {
			role = *ai.Role
		} else if *ai.Role != role {
			return fmt.Errorf("The resources have multiple allocation roles ('%s' and '%s') but only one allocation role is allowed", *ai.Role, role)
		}
	}
	return nil
}

// describe renders resources in Mesos' text form, for error messages.
func describe(r res) string {
	if len(r) == 0 {
		return "{}"
	}
	return mesos.Resources(r).Format(func(o *mesos.ResourcesFormatOptions) { o.ShowAllocated = true })
}

// parseResources validates the resources of a TaskInfo or ExecutorInfo
// as Mesos' master does (Resources::validate and resource::validate) and
// returns them in the post-refinement format, allocation info kept.
func parseResources(rs []mesos.Resource) (res, error) {
	out, err := upgradeResources(rs)
	if err != nil {
		return nil, fmt.Errorf("Invalid resources: %w", err)
	}
	if err := validateResources(out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseReserved parses statically reserved resources written as Mesos'
// agent --resources text (Resources::parse in src/common/resources.cpp),
// each with a role: "name(role):value" separated by ';', the value a
// scalar, "[b-e,...]" ranges or "{a,b}" a set.
func parseReserved(s string) (res, error) {
	var out res
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		head, value, ok := strings.Cut(part, ":")
		name, role, hasRole := strings.Cut(head, "(")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !hasRole || !strings.HasSuffix(role, ")") || name == "" || value == "" {
			return nil, fmt.Errorf("%q: want name(role):value, e.g. cpus(slave_public):2", part)
		}
		role = strings.TrimSuffix(role, ")")
		if role == "*" {
			return nil, fmt.Errorf("%q: role '*' is not a reservation", part)
		}
		if msg := validateRole(role); msg != "" {
			return nil, fmt.Errorf("%q: %s", part, msg)
		}
		var x mesos.Resource
		switch {
		case strings.HasPrefix(value, "["):
			rs, err := parsePortRanges(strings.TrimSuffix(strings.TrimPrefix(value, "["), "]"))
			if err != nil || !strings.HasSuffix(value, "]") {
				return nil, fmt.Errorf("%q: invalid ranges %s", part, value)
			}
			x = rangesResource(name, rs)
		case strings.HasPrefix(value, "{"):
			if !strings.HasSuffix(value, "}") {
				return nil, fmt.Errorf("%q: invalid set %s", part, value)
			}
			var items []string
			for _, it := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(value, "{"), "}"), ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
			x = mesos.Resource{Name: name, Type: mesos.SET.Enum(), Set: &mesos.Value_Set{Item: items}}
		default:
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return nil, fmt.Errorf("%q: invalid scalar %s", part, value)
			}
			x = scalarResource(name, v)
		}
		x.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: strPtr(role)}}
		if err := validateResource(&x); err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		out = out.add(res{x})
	}
	return out, nil
}

// stateJSON renders r the way Mesos' state endpoint does:
// {"cpus":1.0,"mem":128.0,"disk":0.0,"gpus":0.0,"ports":"[31000-31001]"},
// every reservation and disk summed up by name.
func (r res) stateJSON() map[string]any {
	out := map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
	ranges := map[string]mesos.Ranges{}
	for i := range r {
		x := &r[i]
		switch x.GetType() {
		case mesos.SCALAR:
			out[x.Name] = r.scalar(x.Name)
		case mesos.RANGES:
			ranges[x.Name] = append(ranges[x.Name], x.GetRanges().GetRange()...)
		}
	}
	for k, v := range ranges {
		v = v.Sort().Squash()
		if len(v) == 0 {
			continue
		}
		parts := make([]string, len(v))
		for i, rg := range v {
			parts[i] = fmt.Sprintf("%d-%d", rg.Begin, rg.End)
		}
		out[k] = "[" + strings.Join(parts, ", ") + "]"
	}
	return out
}

// overlaps reports whether the ranges overlap one another.
func overlaps(rs mesos.Ranges) bool {
	all := append(mesos.Ranges{}, rs...)
	sort.Slice(all, func(i, j int) bool { return all[i].Begin < all[j].Begin })
	for i := 1; i < len(all); i++ {
		if all[i].Begin <= all[i-1].End {
			return true
		}
	}
	return false
}

// parsePortRanges parses "31000-32000" or "31000-31999,33000-33100".
func parsePortRanges(s string) (mesos.Ranges, error) {
	var out mesos.Ranges
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
		if err1 != nil || err2 != nil || b > e || b == 0 {
			return nil, fmt.Errorf("invalid port range %q (want BEGIN-END, e.g. 31000-32000)", part)
		}
		out = append(out, mesos.Value_Range{Begin: b, End: e})
	}
	if overlaps(out) {
		return nil, fmt.Errorf("overlapping port ranges in %q", s)
	}
	return out.Sort().Squash(), nil
}

// scalarResource and rangesResource build unreserved agent resources.
func scalarResource(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

func rangesResource(name string, rs mesos.Ranges) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: append([]mesos.Value_Range(nil), rs...)}}
}

func strPtr(s string) *string { return &s }
