package scheduler

import (
	"sort"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Executor resources the SDK reserves for the DEFAULT executor of a pod.
const (
	ExecutorCPUs = 0.1
	ExecutorMem  = 32
	ExecutorDisk = 256
)

// pool is what is left of one offer while pods are fitted into it: scalar
// resources and port ranges, with the offered Resource kept as a template so
// that carved resources carry the offer's role, reservation and allocation.
type pool struct {
	scalars map[string]float64
	ports   [][2]uint64 // sorted, disjoint
	tmpl    map[string]mesos.Resource
}

// usable reports whether the framework may use an offered resource:
// unreserved (or reserved to role), not revocable or shared.
func usable(r mesos.Resource, role string) bool {
	if r.Revocable != nil || r.Shared != nil || r.Disk != nil && (r.Disk.Persistence != nil || r.Disk.Source != nil) {
		return false
	}
	if len(r.Reservations) > 0 {
		return r.Reservations[len(r.Reservations)-1].GetRole() == role
	}
	if r.Reservation != nil {
		return r.GetRole() == role
	}
	return true
}

func newPool(o *mesos.Offer, role string) *pool {
	p := &pool{scalars: map[string]float64{}, tmpl: map[string]mesos.Resource{}}
	for _, r := range o.Resources {
		if !usable(r, role) {
			continue
		}
		switch {
		case r.GetType() == mesos.SCALAR && r.Scalar != nil:
			p.scalars[r.Name] += r.Scalar.Value
		case r.Name == "ports" && r.Ranges != nil:
			for _, rg := range r.Ranges.Range {
				p.ports = append(p.ports, [2]uint64{rg.Begin, rg.End})
			}
		default:
			continue
		}
		if _, ok := p.tmpl[r.Name]; !ok {
			p.tmpl[r.Name] = r
		}
	}
	sort.Slice(p.ports, func(i, j int) bool { return p.ports[i][0] < p.ports[j][0] })
	return p
}

// clone copies the pool, so that a failed fit leaves the original intact.
func (p *pool) clone() *pool {
	c := &pool{scalars: map[string]float64{}, ports: append([][2]uint64(nil), p.ports...), tmpl: p.tmpl}
	for k, v := range p.scalars {
		c.scalars[k] = v
	}
	return c
}

// takeScalar removes amount of name; false if not enough is left. Float
// noise below 1e-9 is ignored.
func (p *pool) takeScalar(name string, amount float64) (mesos.Resource, bool) {
	if amount <= 0 {
		return mesos.Resource{}, true
	}
	if p.scalars[name]+1e-9 < amount {
		return mesos.Resource{}, false
	}
	p.scalars[name] -= amount
	r := p.resource(name)
	r.Type = mesos.SCALAR.Enum()
	r.Scalar = &mesos.Value_Scalar{Value: amount}
	return r, true
}

func (p *pool) resource(name string) mesos.Resource {
	t := p.tmpl[name]
	return mesos.Resource{Name: name, Role: t.Role, Reservation: t.Reservation, Reservations: t.Reservations, AllocationInfo: t.AllocationInfo}
}

// takePort removes port want (0: the lowest free one) and returns it.
func (p *pool) takePort(want uint64) (uint64, bool) {
	for i, rg := range p.ports {
		var got uint64
		switch {
		case want == 0:
			got = rg[0]
		case want >= rg[0] && want <= rg[1]:
			got = want
		default:
			continue
		}
		var repl [][2]uint64
		if got > rg[0] {
			repl = append(repl, [2]uint64{rg[0], got - 1})
		}
		if got < rg[1] {
			repl = append(repl, [2]uint64{got + 1, rg[1]})
		}
		p.ports = append(p.ports[:i], append(repl, p.ports[i+1:]...)...)
		return got, true
	}
	return 0, false
}

// portsResource is the ports resource for the given numbers.
func (p *pool) portsResource(ports []uint64) mesos.Resource {
	r := p.resource("ports")
	r.Type = mesos.RANGES.Enum()
	rs := &mesos.Value_Ranges{}
	for _, n := range ports {
		rs.Range = append(rs.Range, mesos.Value_Range{Begin: n, End: n})
	}
	r.Ranges = rs
	return r
}
