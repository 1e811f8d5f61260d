package evaluate

import (
	"fmt"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Pool is what is left of one offer for the service (the SDK's
// MesosResourcePool): the offer's resources the framework may use, taken
// from with mesos-go's resource arithmetic. A taken resource keeps the
// offered resource's role, reservations and allocation info, as an
// operation on the offer must.
type Pool struct {
	res mesos.Resources
}

// usable reports whether the framework (role) may use an offered resource:
// unreserved or reserved to role, not revocable, not shared, not a
// persistent volume or a disk with a source (those need the volume stages).
func usable(r *mesos.Resource, role string) bool {
	if r.IsRevocable() || r.Shared != nil || r.IsPersistentVolume() || r.GetDisk().GetSource() != nil {
		return false
	}
	return r.IsUnreserved() || r.ReservationRole() == role
}

// NewPool returns the resources of o that role may use.
func NewPool(o *mesos.Offer, role string) Pool {
	var p Pool
	for i := range o.Resources {
		if usable(&o.Resources[i], role) {
			p.res = append(p.res, o.Resources[i])
		}
	}
	return p
}

// Clone returns a copy that can be taken from without changing p. (mesos-go
// never changes a resource's values in place, so a copy of the list is
// enough.)
func (p Pool) Clone() Pool { return Pool{res: append(mesos.Resources(nil), p.res...)} }

// Resources returns what is left.
func (p Pool) Resources() mesos.Resources { return p.res }

// Scalar is how much of scalar resource name is left.
func (p Pool) Scalar(name string) float64 {
	var sum mesos.Value_Scalar
	for i := range p.res {
		if r := &p.res[i]; r.Name == name && r.GetType() == mesos.SCALAR {
			sum = *sum.Add(r.GetScalar())
		}
	}
	return sum.Value
}

// candidates returns the indexes of resources named name: those reserved to
// the framework's role first (they were set aside for it), then unreserved
// ones.
func (p Pool) candidates(name string, t mesos.Value_Type) []int {
	var reserved, unreserved []int
	for i := range p.res {
		r := &p.res[i]
		if r.Name != name || r.GetType() != t {
			continue
		}
		if r.IsUnreserved() {
			unreserved = append(unreserved, i)
		} else {
			reserved = append(reserved, i)
		}
	}
	return append(reserved, unreserved...)
}

// first is the index of candidates' first element, -1 when there is none.
func (p Pool) first(name string, t mesos.Value_Type) int {
	at := -1
	for i := range p.res {
		r := &p.res[i]
		if r.Name != name || r.GetType() != t {
			continue
		}
		if !r.IsUnreserved() {
			return i
		}
		if at < 0 {
			at = i
		}
	}
	return at
}

// like returns an empty resource of the same kind as r (name, role,
// reservations, allocation), so that the two can be subtracted.
func like(r *mesos.Resource) mesos.Resource {
	return mesos.Resource{Name: r.Name, Type: r.Type, Role: r.Role, Reservation: r.Reservation, Reservations: r.Reservations, AllocationInfo: r.AllocationInfo}
}

// ShortError says a pool lacks something; Error names what and how much is
// left.
type ShortError struct {
	What       string
	Want, Have string
}

func (e *ShortError) Error() string {
	return fmt.Sprintf("%s: want %s, %s left", e.What, e.Want, e.Have)
}

// TakeScalar takes amount of scalar resource name, possibly from several
// offered resources, and returns what it took.
func (p *Pool) TakeScalar(name string, amount float64) ([]mesos.Resource, error) {
	if amount <= 0 {
		return nil, nil
	}
	want := &mesos.Value_Scalar{Value: amount}
	// Most often one offered resource holds it all.
	if i := p.first(name, mesos.SCALAR); i >= 0 {
		part := like(&p.res[i])
		part.Scalar = want
		if p.res[i].Contains(part) {
			p.res.Subtract1(part)
			return []mesos.Resource{part}, nil
		}
	}
	cands := p.candidates(name, mesos.SCALAR)
	if have := p.Scalar(name); want.Compare(&mesos.Value_Scalar{Value: have}) > 0 {
		return nil, &ShortError{What: name, Want: formatScalar(name, amount), Have: formatScalar(name, have)}
	}
	var took []mesos.Resource
	for _, i := range cands {
		r := &p.res[i]
		part := like(r)
		if r.GetScalar().Compare(want) >= 0 {
			part.Scalar = want
		} else {
			part.Scalar = r.GetScalar()
		}
		took = append(took, part)
		want = want.Subtract(part.Scalar)
		if want.Compare(&mesos.Value_Scalar{}) <= 0 {
			break
		}
	}
	p.res.Subtract(took...)
	return took, nil
}

// TakePort takes port want from the offered port ranges, or with want 0
// the lowest free port (inside one of within, when given: the SDK's
// ranges of a dynamic port), and returns its number and the resource
// taken.
func (p *Pool) TakePort(want uint64, within mesos.Ranges) (uint64, mesos.Resource, error) {
	best, at := uint64(0), -1
	for _, i := range p.candidates("ports", mesos.RANGES) {
		rs := mesos.Ranges(p.res[i].GetRanges().GetRange())
		for _, rg := range rs {
			low, ok := rg.Begin, true
			if want == 0 && len(within) > 0 {
				low, ok = lowestWithin(rg, within)
			}
			switch {
			case want != 0 && want >= rg.Begin && want <= rg.End:
				best, at = want, i
			case want == 0 && ok && (at < 0 || low < best):
				best, at = low, i
			default:
				continue
			}
			if want != 0 {
				break
			}
		}
		if want != 0 && at >= 0 {
			break
		}
	}
	if at < 0 {
		switch {
		case want != 0:
			return 0, mesos.Resource{}, &ShortError{What: "ports", Want: fmt.Sprintf("port %d", want), Have: p.portsLeft()}
		case len(within) > 0:
			return 0, mesos.Resource{}, &ShortError{What: "ports", Want: "a free port in " + formatRanges(within), Have: p.portsLeft()}
		}
		return 0, mesos.Resource{}, &ShortError{What: "ports", Want: "a free port", Have: "none"}
	}
	took := like(&p.res[at])
	took.Ranges = &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: best, End: best}}}
	p.res.Subtract1(took)
	return best, took, nil
}

// lowestWithin is the lowest port of rg inside one of within.
func lowestWithin(rg mesos.Value_Range, within mesos.Ranges) (uint64, bool) {
	low, ok := uint64(0), false
	for _, w := range within {
		b, e := max(rg.Begin, w.Begin), min(rg.End, w.End)
		if b <= e && (!ok || b < low) {
			low, ok = b, true
		}
	}
	return low, ok
}

// portsLeft describes the free ports ("31000-31010, 31020-32000").
func (p Pool) portsLeft() string {
	var all mesos.Ranges
	for _, i := range p.candidates("ports", mesos.RANGES) {
		all = append(all, p.res[i].GetRanges().GetRange()...)
	}
	return formatRanges(all)
}

// formatRanges writes ranges sorted and squashed, at most four of them
// ("31000-31010, 31020-32000, ..."); "none" when empty.
func formatRanges(rs mesos.Ranges) string {
	if len(rs) == 0 {
		return "none"
	}
	all := append(mesos.Ranges(nil), rs...)
	s := ""
	for i, rg := range all.Sort().Squash() {
		if i == 4 {
			s += ", ..."
			break
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d-%d", rg.Begin, rg.End)
	}
	return s
}

// formatScalar writes an amount with its unit: "0.5 cpus", "256 MB mem".
func formatScalar(name string, v float64) string {
	switch name {
	case "mem", "disk":
		return fmt.Sprintf("%g MB %s", v, name)
	}
	return fmt.Sprintf("%g %s", v, name)
}
