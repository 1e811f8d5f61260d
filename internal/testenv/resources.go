package testenv

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// res is a bag of unreserved resources: scalars by name and ranges by name.
// testenv's agents only have unreserved resources, so roles, reservations
// and allocation info are not part of the arithmetic.
type res struct {
	scalars map[string]float64
	ranges  map[string]mesos.Ranges
}

func newRes() res { return res{scalars: map[string]float64{}, ranges: map[string]mesos.Ranges{}} }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// parseResources converts resources from a TaskInfo or ExecutorInfo. Kinds
// testenv cannot account (sets, reservations, volumes, revocable, shared)
// are an error naming the resource.
func parseResources(rs []mesos.Resource) (res, error) {
	out := newRes()
	for _, r := range rs {
		if r.Name == "" {
			return out, fmt.Errorf("resource without a name")
		}
		if r.Reservation != nil || len(r.Reservations) > 0 || (r.Role != nil && *r.Role != "*" && *r.Role != "") {
			return out, fmt.Errorf("resource %q: reserved resources are not supported by testenv", r.Name)
		}
		if r.Disk != nil || r.Revocable != nil || r.Shared != nil || r.ProviderID != nil {
			return out, fmt.Errorf("resource %q: volumes, revocable, shared and provider resources are not supported by testenv", r.Name)
		}
		switch r.GetType() {
		case mesos.SCALAR:
			if r.Scalar == nil || r.Scalar.Value < 0 || math.IsNaN(r.Scalar.Value) || math.IsInf(r.Scalar.Value, 0) {
				return out, fmt.Errorf("resource %q: invalid scalar", r.Name)
			}
			out.scalars[r.Name] = round3(out.scalars[r.Name] + r.Scalar.Value)
		case mesos.RANGES:
			if r.Ranges == nil {
				return out, fmt.Errorf("resource %q: missing ranges", r.Name)
			}
			for _, rg := range r.Ranges.Range {
				if rg.Begin > rg.End {
					return out, fmt.Errorf("resource %q: invalid range [%d-%d]", r.Name, rg.Begin, rg.End)
				}
			}
			if overlaps(out.ranges[r.Name], r.Ranges.Range) || overlaps(nil, r.Ranges.Range) {
				return out, fmt.Errorf("resource %q: overlapping ranges", r.Name)
			}
			out.ranges[r.Name] = append(out.ranges[r.Name], r.Ranges.Range...).Sort().Squash()
		default:
			return out, fmt.Errorf("resource %q: type %s is not supported by testenv", r.Name, r.GetType())
		}
	}
	return out, nil
}

// overlaps reports whether b overlaps a or itself.
func overlaps(a, b mesos.Ranges) bool {
	all := append(append(mesos.Ranges{}, a...), b...)
	sort.Slice(all, func(i, j int) bool { return all[i].Begin < all[j].Begin })
	for i := 1; i < len(all); i++ {
		if all[i].Begin <= all[i-1].End {
			return true
		}
	}
	return false
}

func (r res) clone() res {
	out := newRes()
	for k, v := range r.scalars {
		out.scalars[k] = v
	}
	for k, v := range r.ranges {
		out.ranges[k] = append(mesos.Ranges{}, v...)
	}
	return out
}

func (r res) add(o res) res {
	out := r.clone()
	for k, v := range o.scalars {
		out.scalars[k] = round3(out.scalars[k] + v)
	}
	for k, v := range o.ranges {
		out.ranges[k] = append(out.ranges[k], v...).Sort().Squash()
	}
	return out
}

func (r res) sub(o res) res {
	out := r.clone()
	for k, v := range o.scalars {
		x := round3(out.scalars[k] - v)
		if x < 0 {
			x = 0
		}
		out.scalars[k] = x
	}
	for k, v := range o.ranges {
		rs := out.ranges[k]
		for _, rg := range v {
			rs = rs.Remove(rg)
		}
		out.ranges[k] = rs
	}
	return out
}

// contains reports whether every resource of o is in r.
func (r res) contains(o res) bool {
	for k, v := range o.scalars {
		if v > 0 && r.scalars[k]+1e-9 < v {
			return false
		}
	}
	for k, v := range o.ranges {
		have := r.ranges[k]
		for _, rg := range v {
			ok := false
			for _, h := range have {
				if h.Begin <= rg.Begin && rg.End <= h.End {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// empty reports whether r holds nothing.
func (r res) empty() bool {
	for _, v := range r.scalars {
		if v > 0 {
			return false
		}
	}
	for _, v := range r.ranges {
		if len(v) > 0 {
			return false
		}
	}
	return true
}

// allocatable is Mesos' minimum for an offer: 0.01 cpus or 32 MB of memory.
func (r res) allocatable() bool { return r.scalars["cpus"] >= 0.01 || r.scalars["mem"] >= 32 }

// proto renders r as offer resources. Without RESERVATION_REFINEMENT
// unreserved resources carry role "*"; for MULTI_ROLE frameworks each
// resource carries the allocation role.
func (r res) proto(refinement bool, allocRole string) []mesos.Resource {
	var out []mesos.Resource
	decorate := func(x *mesos.Resource) {
		if !refinement {
			x.Role = strPtr("*")
		}
		if allocRole != "" {
			x.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(allocRole)}
		}
	}
	names := make([]string, 0, len(r.scalars))
	for k := range r.scalars {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return scalarOrder(names[i]) < scalarOrder(names[j]) })
	for _, k := range names {
		v := r.scalars[k]
		if v <= 0 {
			continue
		}
		t := mesos.SCALAR
		x := mesos.Resource{Name: k, Type: &t, Scalar: &mesos.Value_Scalar{Value: v}}
		decorate(&x)
		out = append(out, x)
	}
	rnames := make([]string, 0, len(r.ranges))
	for k := range r.ranges {
		rnames = append(rnames, k)
	}
	sort.Strings(rnames)
	for _, k := range rnames {
		v := r.ranges[k]
		if len(v) == 0 {
			continue
		}
		t := mesos.RANGES
		x := mesos.Resource{Name: k, Type: &t, Ranges: &mesos.Value_Ranges{Range: append([]mesos.Value_Range{}, v...)}}
		decorate(&x)
		out = append(out, x)
	}
	return out
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

// stateJSON renders r the way Mesos' state endpoint does:
// {"cpus":1.0,"mem":128.0,"disk":0.0,"gpus":0.0,"ports":"[31000-31001]"}.
func (r res) stateJSON() map[string]any {
	out := map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
	for k, v := range r.scalars {
		out[k] = v
	}
	for k, v := range r.ranges {
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
	if overlaps(nil, out) {
		return nil, fmt.Errorf("overlapping port ranges in %q", s)
	}
	return out.Sort().Squash(), nil
}

func strPtr(s string) *string { return &s }
