package testenv

import (
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// The master's read-only endpoints besides /state, /slaves and
// /frameworks (state.go, state_reservations.go), as Mesos 1.11's master
// serves them (Master::ReadOnlyHandler in src/master/readonly_handler.cpp,
// Master::Http in src/master/http.cpp). Like those, they answer any method
// and honour ?jsonp=. Each is written from what /state writes (stateJSON),
// so a task, an agent or a framework reads the same in every answer, and
// what /state masks (secrets) is masked in these too.

// agentFullKeys are the keys of an agent in /state and /slaves that Mesos'
// SlaveWriter, which /state-summary writes agents with, does not write:
// SlavesWriter::writeSlave adds them for /slaves only.
var agentFullKeys = []string{"reserved_resources_full", "unreserved_resources_full", "used_resources_full", "offered_resources_full"}

// frameworkSummaryKeys are the keys json(Summary<Framework>) writes
// (readonly_handler.cpp), those /state-summary shows of a framework: /state
// writes them too (FullFrameworkWriter starts with them). "pid" is written
// for a PID framework only, and testenv's frameworks all speak HTTP.
var frameworkSummaryKeys = []string{"id", "name", "used_resources", "offered_resources", "capabilities", "hostname", "webui_url", "active", "connected", "recovered"}

// summaryStates are the task states /state-summary counts per agent and per
// framework, in the order Mesos writes them (stateSummary: no TASK_DROPPED,
// TASK_GONE, TASK_GONE_BY_OPERATOR or TASK_UNKNOWN).
var summaryStates = []string{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED", "TASK_KILLED", "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_UNREACHABLE"}

// frameworkTasks lists the tasks of a framework as /state writes it: its
// live, unreachable and completed tasks, in that order.
func frameworkTasks(fw map[string]any) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"tasks", "unreachable_tasks", "completed_tasks"} {
		for _, t := range fw[key].([]any) {
			out = append(out, t.(map[string]any))
		}
	}
	return out
}

// serveStateSummary serves /state-summary (and /master/state-summary) as
// ReadOnlyHandler::stateSummary: the master's hostname; every registered
// agent as /state writes it (SlaveWriter) with the number of tasks in each
// state on it and the IDs of the frameworks with tasks there; every
// registered framework in its summary (json(Summary<Framework>)) with the
// number of its tasks in each state and the IDs of the agents they are on.
// Tasks are counted over the registered frameworks' live, unreachable and
// completed tasks (TaskStateSummaries, SlaveFrameworkMapping); completed
// frameworks are not listed. Mesos writes the ID lists from hash sets, in
// no set order; here they are sorted.
func (c *Cluster) serveStateSummary(w http.ResponseWriter, r *http.Request) {
	st := c.stateJSON()
	byFramework := map[string]map[string]int{}
	byAgent := map[string]map[string]int{}
	agentsOf := map[string]map[string]bool{}
	frameworksOn := map[string]map[string]bool{}
	count := func(m map[string]map[string]int, id, state string) {
		if m[id] == nil {
			m[id] = map[string]int{}
		}
		m[id][state]++
	}
	link := func(m map[string]map[string]bool, from, to string) {
		if m[from] == nil {
			m[from] = map[string]bool{}
		}
		m[from][to] = true
	}
	for _, f := range st["frameworks"].([]any) {
		fw := f.(map[string]any)
		fid := fw["id"].(string)
		for _, t := range frameworkTasks(fw) {
			aid, state := t["slave_id"].(string), t["state"].(string)
			count(byFramework, fid, state)
			count(byAgent, aid, state)
			link(agentsOf, fid, aid)
			link(frameworksOn, aid, fid)
		}
	}
	addCounts := func(m map[string]any, counts map[string]int) {
		for _, s := range summaryStates {
			m[s] = counts[s]
		}
	}
	sortedKeys := func(set map[string]bool) []string {
		out := []string{}
		for k := range set {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	slaves := []any{}
	for _, s := range st["slaves"].([]any) {
		a := map[string]any{}
		for k, v := range s.(map[string]any) {
			if !slices.Contains(agentFullKeys, k) {
				a[k] = v
			}
		}
		id := a["id"].(string)
		addCounts(a, byAgent[id])
		a["framework_ids"] = sortedKeys(frameworksOn[id])
		slaves = append(slaves, a)
	}
	frameworks := []any{}
	for _, f := range st["frameworks"].([]any) {
		full := f.(map[string]any)
		fw := map[string]any{}
		for _, k := range frameworkSummaryKeys {
			fw[k] = full[k]
		}
		id := fw["id"].(string)
		addCounts(fw, byFramework[id])
		fw["slave_ids"] = sortedKeys(agentsOf[id])
		frameworks = append(frameworks, fw)
	}
	writeJSONP(w, http.StatusOK, map[string]any{
		"hostname":   st["hostname"],
		"slaves":     slaves,
		"frameworks": frameworks,
	}, r)
}

// taskLimit is the default of /tasks' limit (TASK_LIMIT in
// src/master/constants.hpp).
const taskLimit = 100

// serveTasks serves /tasks (and /master/tasks) as ReadOnlyHandler::tasks:
// the tasks of the registered and then the completed frameworks (only the
// one ?framework_id= names, when given), each framework's live,
// unreachable and completed tasks (only those with the ID ?task_id= names,
// when given), each as /state writes it (json(Task) in
// src/common/http.cpp), sorted by the timestamp of their first status,
// newest first unless ?order=asc (a task without statuses first in
// ascending order, last in descending: TaskComparator), then ?limit=
// (default 100) of them from ?offset= (default 0). limit and offset are
// read as stout's numify<int> reads them: a malformed one is its default,
// and a negative one is taken as C++ converts it to size_t, a number near
// 2^64 (so limit=-1 lists every task from offset 0; any negative offset
// lists none), with size_t's wrap-around in offset+limit. Mesos sorts
// with std::sort, in which tasks with the same timestamp come in no set
// order; here they stay in the order above.
func (c *Cluster) serveTasks(w http.ResponseWriter, r *http.Request) {
	st := c.stateJSON()
	q := mesosQuery(r)
	limit, offset := uint64(taskLimit), uint64(0)
	if n, ok := numifyInt(q["limit"]); ok {
		limit = uint64(int64(n))
	}
	if n, ok := numifyInt(q["offset"]); ok {
		offset = uint64(int64(n))
	}
	fid, byFramework := queryID(r, "framework_id")
	tid, byTask := queryID(r, "task_id")
	var tasks []map[string]any
	for _, key := range []string{"frameworks", "completed_frameworks"} {
		for _, f := range st[key].([]any) {
			fw := f.(map[string]any)
			if byFramework && fw["id"] != fid {
				continue
			}
			for _, t := range frameworkTasks(fw) {
				if !byTask || t["id"] == tid {
					tasks = append(tasks, t)
				}
			}
		}
	}
	first := func(t map[string]any) (float64, bool) {
		sts := t["statuses"].([]any)
		if len(sts) == 0 {
			return 0, false
		}
		return sts[0].(map[string]any)["timestamp"].(float64), true
	}
	asc := q["order"] == "asc"
	sort.SliceStable(tasks, func(i, j int) bool {
		ti, iok := first(tasks[i])
		tj, jok := first(tasks[j])
		switch {
		case !iok && !jok:
			return false
		case asc && (!iok || !jok):
			return !iok
		case !asc && (!iok || !jok):
			return !jok
		case asc:
			return ti < tj
		default:
			return ti > tj
		}
	})
	out := []any{}
	end := min(offset+limit, uint64(len(tasks))) // size_t arithmetic, as Mesos
	for i := offset; i < end; i++ {
		out = append(out, tasks[i])
	}
	writeJSONP(w, http.StatusOK, map[string]any{"tasks": out}, r)
}

// numifyInt reads s as stout's numify<int> does
// (3rdparty/stout/include/stout/numify.hpp): boost::lexical_cast<int> (an
// optional sign and decimal digits, nothing else, within int's range), or
// a hexadecimal number after "0x" or "-0x" (no "." or "p" anywhere), read
// as `istringstream >> std::hex` reads an int: the hex digits up to the
// first other character (at least one; "0x1g" is 1), within int's range
// ("-0x80000000" is its minimum). ok is false for anything else.
func numifyInt(s string) (n int32, ok bool) {
	digits, neg := s, false
	if strings.HasPrefix(digits, "-") {
		digits, neg = digits[1:], true
	}
	if strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X") {
		if strings.ContainsAny(s, ".p") {
			return 0, false
		}
		digits = digits[2:]
		if end := strings.IndexFunc(digits, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) }); end >= 0 {
			digits = digits[:end]
		}
		v, err := strconv.ParseUint(digits, 16, 32)
		switch {
		case err != nil, !neg && v > math.MaxInt32, neg && v > -math.MinInt32:
			return 0, false
		case neg:
			return int32(-int64(v)), true
		}
		return int32(v), true
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(v), true
}

// serveFlags serves /flags (and /master/flags) as Master::Http::flags:
// {"flags": ...}, the flags /state shows. Mesos answers a method other than
// GET with 405 only when it has an authorizer; testenv has none, so any
// method is answered.
func (c *Cluster) serveFlags(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	flags := c.flagsJSONLocked()
	c.mu.Unlock()
	writeJSONP(w, http.StatusOK, map[string]any{"flags": flags}, r)
}

// serveRoles serves /roles (and /master/roles) as ReadOnlyHandler::roles.
// The known roles (Master::knownRoles, src/master/master.cpp) are those
// registered frameworks are subscribed to or have resources allocated to,
// the reservation roles of registered agents, and their ancestors, sorted.
// testenv has no weights and no quotas: every role has weight 1
// (DEFAULT_WEIGHT) and an empty quota guarantee and limit. The quantities
// are Master::RoleResourceBreakdown's, over the role and its sub-roles:
// allocated (the registered frameworks' used resources), offered (their
// outstanding offers), reserved (the registered agents' reservations) and
// the quota's consumed (allocated, plus the reservations no task or
// executor uses); resources is allocated plus offered. A quantity is a
// scalar's value, a range resource's number of values (ports) and a set's
// number of items, as ResourceQuantities::fromResources counts them;
// names with nothing are left out. frameworks are the IDs of the
// frameworks subscribed to the role itself or with resources allocated to
// it (Role::frameworks; Mesos writes them from a hash map, here sorted).
func (c *Cluster) serveRoles(w http.ResponseWriter, r *http.Request) {
	writeJSONP(w, http.StatusOK, map[string]any{"roles": c.rolesJSON()}, r)
}

type roleAllocation struct {
	role string
	r    res
}

func (c *Cluster) rolesJSON() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	known := map[string]bool{}
	addKnown := func(role string) {
		for {
			known[role] = true
			i := strings.LastIndex(role, "/")
			if i < 0 {
				return
			}
			role = role[:i]
		}
	}
	tracked := map[string]map[string]bool{} // role → IDs of frameworks tracked under it
	var allocated, offered []roleAllocation
	for _, fw := range c.sortedFrameworksLocked() {
		track := func(role string) {
			if tracked[role] == nil {
				tracked[role] = map[string]bool{}
			}
			tracked[role][fw.id] = true
			addKnown(role)
		}
		for _, role := range fw.roles {
			track(role)
		}
		c.frameworkUsedLocked(fw, func(role string, r res) {
			allocated = append(allocated, roleAllocation{role, r})
			track(role)
		})
		for _, o := range fw.offers {
			offered = append(offered, roleAllocation{o.role, o.res})
		}
	}
	var agents []*agent
	for _, a := range c.agents {
		if a.removed {
			continue
		}
		agents = append(agents, a)
		for role := range a.total.reservations() {
			addKnown(role)
		}
	}
	names := make([]string, 0, len(known))
	for role := range known {
		names = append(names, role)
	}
	sort.Strings(names)

	out := []any{}
	for _, role := range names {
		sum := func(allocs []roleAllocation) quantities {
			q := quantities{}
			for _, al := range allocs {
				if inRoleSubtree(al.role, role) {
					q.add(al.r)
				}
			}
			return q
		}
		alloc, offer := sum(allocated), sum(offered)
		reserved, unused := quantities{}, quantities{}
		for _, a := range agents {
			reservedHere := a.total.filter(func(x *mesos.Resource) bool { return !x.IsUnreserved() && inRoleSubtree(x.ReservationRole(), role) })
			usedHere := a.used.filter(func(x *mesos.Resource) bool { return !x.IsUnreserved() && inRoleSubtree(x.ReservationRole(), role) })
			reserved.add(reservedHere)
			total, used := quantities{}, quantities{}
			total.add(reservedHere)
			used.add(usedHere)
			unused.plus(total.minus(used))
		}
		consumed := quantities{}
		consumed.plus(alloc)
		consumed.plus(unused)
		resources := quantities{}
		resources.plus(alloc)
		resources.plus(offer)
		fws := []string{}
		for id := range tracked[role] {
			fws = append(fws, id)
		}
		sort.Strings(fws)
		out = append(out, map[string]any{
			"name":   role,
			"weight": 1.0,
			"quota": map[string]any{
				"role":      role,
				"guarantee": map[string]any{},
				"limit":     map[string]any{},
				"consumed":  consumed.json(),
			},
			"resources":  resources.json(),
			"allocated":  alloc.json(),
			"offered":    offer.json(),
			"reserved":   reserved.json(),
			"frameworks": fws,
		})
	}
	return out
}

// inRoleSubtree reports whether role is root or one of its sub-roles
// (Resources::allocatedToRoleSubtree, reservedToRoleSubtree).
func inRoleSubtree(role, root string) bool {
	return role == root || strings.HasPrefix(role, root+"/")
}

// listedState is the state executor e of agent a is listed in for fw: a
// disconnected agent's executors stay listed for a checkpointing framework
// (readonly_handler.cpp lists the master's framework->executors, which
// Master::disconnect keeps), in the state they had when it was lost, until
// the agent or the framework is removed.
func (e *executor) listedState(a *agent, fw *framework) execState {
	if e.lostWith && !a.removed && !fw.removed {
		return e.lostState
	}
	return e.state
}

// frameworkUsedLocked calls f with each allocation of fw's used resources
// and its role: those of its tasks that are neither unreachable nor ended,
// and of its executors that have not terminated (but the command
// executors'), as /state's used_resources adds them up (stateJSON).
func (c *Cluster) frameworkUsedLocked(fw *framework, f func(role string, r res)) {
	ids := make([]string, 0, len(fw.tasks))
	for id := range fw.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if t := fw.tasks[id]; t.state != mesos.TASK_UNREACHABLE && !t.released {
			f(t.role, t.res)
		}
	}
	for _, a := range c.agents {
		for _, e := range a.executors {
			if e.fw == fw && !e.command && e.listedState(a, fw) != execTerminated && !e.res.empty() {
				f(e.role, e.res)
			}
		}
	}
}

// quantities are Mesos' ResourceQuantities (src/common/resource_quantities.cpp):
// an amount per resource name, in thousandths, as Value::Scalar adds them
// (Mesos' fixed-point scalars: 0.1 + 0.2 is 0.3). Names with nothing are
// left out.
type quantities map[string]int64

// add adds the quantities of r (ResourceQuantities::fromResources): a
// scalar's value, a range resource's number of values, a set's number of
// items.
func (q quantities) add(r res) {
	for i := range r {
		x := &r[i]
		var v int64
		switch x.GetType() {
		case mesos.SCALAR:
			v = int64(math.Round(x.GetScalar().GetValue() * 1000))
		case mesos.RANGES:
			for _, rg := range x.GetRanges().GetRange() {
				v += int64(rg.End-rg.Begin+1) * 1000
			}
		case mesos.SET:
			v = int64(len(x.GetSet().GetItem())) * 1000
		}
		if v > 0 {
			q[x.Name] += v
		}
	}
}

// plus adds o to q.
func (q quantities) plus(o quantities) {
	for name, v := range o {
		q[name] += v
	}
}

// minus returns q - o, leaving out what is not positive
// (ResourceQuantities::operator-=).
func (q quantities) minus(o quantities) quantities {
	out := quantities{}
	for name, v := range q {
		if d := v - o[name]; d > 0 {
			out[name] = d
		}
	}
	return out
}

// json is q as Mesos writes ResourceQuantities (json(ObjectWriter*, const
// ResourceQuantities&) in src/common/http.cpp): an object of name to
// amount.
func (q quantities) json() map[string]float64 {
	out := map[string]float64{}
	for name, v := range q {
		if v > 0 {
			out[name] = float64(v) / 1000
		}
	}
	return out
}
