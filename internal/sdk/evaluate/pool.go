package evaluate

import (
	"fmt"
	"strconv"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/reservation"
)

// Pool is what is left of the offers of one agent for the service (the
// SDK's MesosResourcePool), taken from with mesos-go's resource
// arithmetic. It holds three kinds of resources:
//
//   - reservable ones, which a new reservation takes: unreserved, or
//     reserved for a pre-reserved role (statically, or dynamically without
//     a resource ID), not revocable, shared, a volume or a disk with a
//     source;
//   - MOUNT disks that may be reserved, each taken whole;
//   - the framework's own reservations (for one of its roles, with a
//     resource ID, volumes among them), taken by resource ID.
//
// A taken resource keeps the offered resource's role, reservations and
// allocation info, as an operation on the offer must.
type Pool struct {
	res      mesos.Resources
	mounts   []mesos.Resource
	reserved map[string]mesos.Resource
	// from is the pre-reserved role new reservations take from ("":
	// unreserved resources).
	from string
	// shared says that res, mounts and reserved are another pool's, to
	// be copied before the first take changes them (see share).
	shared bool
}

// NewPool returns what offers (of one agent) hold for a framework of
// roles.
func NewPool(roles []string, offers ...*mesos.Offer) Pool {
	var p Pool
	for _, o := range offers {
		p.Add(o, roles)
	}
	return p
}

// Add adds offer o's resources to p (several offers of one agent are used
// together).
func (p *Pool) Add(o *mesos.Offer, roles []string) {
	p.own()
	for i := range o.Resources {
		r := &o.Resources[i]
		switch {
		case r.IsRevocable() || r.Shared != nil || r.HasResourceProvider():
		case reservation.Ours(r, roles):
			if p.reserved == nil {
				p.reserved = map[string]mesos.Resource{}
			}
			id := reservation.ResourceID(r)
			if old, ok := p.reserved[id]; ok && old.Addable(*r) {
				old.Add(*r)
				p.reserved[id] = old
			} else {
				p.reserved[id] = *r
			}
		case r.IsPersistentVolume() || r.IsDynamicallyReserved() && reservation.ResourceID(r) != "":
			// Someone else's volume or labelled reservation.
		case r.IsDisk(mesos.Resource_DiskInfo_Source_MOUNT):
			p.mounts = append(p.mounts, *r)
		case r.GetDisk().GetSource() != nil:
			// PATH and other disks: not used.
		default:
			p.res = append(p.res, *r)
		}
	}
}

// From returns p taking new reservations from resources reserved for the
// pre-reserved role role ("" for unreserved ones).
func (p Pool) From(role string) Pool {
	p.from = role
	return p
}

// Clone returns a copy that can be taken from without changing p. (mesos-go
// never changes a resource's values in place, so copies of the lists are
// enough.)
func (p Pool) Clone() Pool {
	c := Pool{res: append(mesos.Resources(nil), p.res...), mounts: append([]mesos.Resource(nil), p.mounts...), from: p.from}
	if p.reserved != nil {
		c.reserved = make(map[string]mesos.Resource, len(p.reserved))
		for k, v := range p.reserved {
			c.reserved[k] = v
		}
	}
	return c
}

// share returns p sharing its lists with p until it takes from them, when
// it copies them (Clone): an evaluation in a big round most often fails
// before it takes anything. p must not change while the share is used.
func (p Pool) share() Pool {
	p.shared = true
	return p
}

// own gives a shared pool its own copy of the lists, before a take
// changes them.
func (p *Pool) own() {
	if p.shared {
		*p = p.Clone()
	}
}

// Resources returns what is left of the reservable resources.
func (p Pool) Resources() mesos.Resources { return p.res }

// Reserved returns the framework's reservations left, by resource ID.
func (p Pool) Reserved() map[string]mesos.Resource { return p.reserved }

// Mounts returns the MOUNT disks left.
func (p Pool) Mounts() []mesos.Resource { return p.mounts }

// reservable reports whether r may be reserved anew from p (from's
// resources only).
func (p Pool) reservable(r *mesos.Resource) bool {
	if p.from == "" {
		return r.IsUnreserved()
	}
	return !r.IsUnreserved() && r.ReservationRole() == p.from
}

// Scalar is how much of scalar resource name may be reserved.
func (p Pool) Scalar(name string) float64 {
	var sum mesos.Value_Scalar
	for i := range p.res {
		if r := &p.res[i]; r.Name == name && r.GetType() == mesos.SCALAR && p.reservable(r) {
			sum = *sum.Add(r.GetScalar())
		}
	}
	return sum.Value
}

// candidates returns the indexes of reservable resources named name.
func (p Pool) candidates(name string, t mesos.Value_Type) []int {
	var out []int
	for i := range p.res {
		r := &p.res[i]
		if r.Name == name && r.GetType() == t && p.reservable(r) {
			out = append(out, i)
		}
	}
	return out
}

// first is the index of candidates' first element, -1 when there is none.
func (p Pool) first(name string, t mesos.Value_Type) int {
	for i := range p.res {
		r := &p.res[i]
		if r.Name == name && r.GetType() == t && p.reservable(r) {
			return i
		}
	}
	return -1
}

// TakeReserved takes the framework's reservation of resource ID id, whole.
func (p *Pool) TakeReserved(id string) (mesos.Resource, bool) {
	r, ok := p.reserved[id]
	if ok {
		p.own()
		delete(p.reserved, id)
	}
	return r, ok
}

// TakeMount takes the smallest reservable MOUNT disk of at least size MB,
// whole, as Mesos offers and uses MOUNT disks.
func (p *Pool) TakeMount(size float64) (mesos.Resource, error) {
	at := -1
	want := &mesos.Value_Scalar{Value: size}
	for i := range p.mounts {
		r := &p.mounts[i]
		if !p.reservable(r) || r.GetScalar().Compare(want) < 0 {
			continue
		}
		if at < 0 || r.GetScalar().Compare(p.mounts[at].GetScalar()) < 0 {
			at = i
		}
	}
	if at < 0 {
		return mesos.Resource{}, &ShortError{What: "MOUNT disk", Want: formatScalar("MOUNT disk", size), Have: p.mountsLeft()}
	}
	p.own()
	r := p.mounts[at]
	p.mounts = append(p.mounts[:at:at], p.mounts[at+1:]...)
	return r, nil
}

// mountsLeft describes the reservable MOUNT disks ("1024 MB, 512 MB";
// "no MOUNT disk").
func (p Pool) mountsLeft() string {
	s := ""
	for i := range p.mounts {
		if r := &p.mounts[i]; p.reservable(r) {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%g MB", r.GetScalar().GetValue())
		}
	}
	if s == "" {
		return "no MOUNT disk"
	}
	return "MOUNT disks of " + s
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

// ShortScalar returns the ShortError TakeScalar(name, amount) would
// return (nil when p holds amount of name), taking nothing.
func (p Pool) ShortScalar(name string, amount float64) error {
	if amount <= 0 {
		return nil
	}
	// Most often one offered resource holds it all: no sum needed.
	if i := p.first(name, mesos.SCALAR); i >= 0 && p.res[i].GetScalar().Compare(&mesos.Value_Scalar{Value: amount}) >= 0 {
		return nil
	}
	if have := p.Scalar(name); (&mesos.Value_Scalar{Value: amount}).Compare(&mesos.Value_Scalar{Value: have}) > 0 {
		return &ShortError{What: name, Want: formatScalar(name, amount), Have: formatScalar(name, have)}
	}
	return nil
}

// TakeScalar takes amount of scalar resource name, possibly from several
// offered resources, and returns what it took.
func (p *Pool) TakeScalar(name string, amount float64) ([]mesos.Resource, error) {
	return p.appendScalar(nil, name, amount)
}

// appendScalar is TakeScalar appending what it takes to dst (room on the
// caller's stack: a claim takes from one offered resource most often).
func (p *Pool) appendScalar(dst []mesos.Resource, name string, amount float64) ([]mesos.Resource, error) {
	if amount <= 0 {
		return dst, nil
	}
	want := &mesos.Value_Scalar{Value: amount}
	// Most often one offered resource holds it all.
	if i := p.first(name, mesos.SCALAR); i >= 0 {
		part := like(&p.res[i])
		part.Scalar = want
		if p.res[i].Contains(part) {
			p.own()
			p.res.Subtract1(part)
			return append(dst, part), nil
		}
	}
	cands := p.candidates(name, mesos.SCALAR)
	if err := p.ShortScalar(name, amount); err != nil {
		return dst, err
	}
	start := len(dst)
	took := dst
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
	p.own()
	p.res.Subtract(took[start:]...)
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
	p.own()
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
	var buf [64]byte
	b := strconv.AppendFloat(buf[:0], v, 'g', -1, 64) // fmt's %g
	switch name {
	case "mem", "disk", "MOUNT disk":
		b = append(b, " MB "...)
	default:
		b = append(b, ' ')
	}
	return string(append(b, name...))
}
