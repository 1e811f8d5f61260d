package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/redact"
)

// State is a snapshot of the cluster for tests and tools.
type State struct {
	Frameworks []FrameworkState
	Agents     []AgentInfo
}

// FrameworkState is one framework in a State.
type FrameworkState struct {
	ID, Name  string
	Connected bool
	// Tasks are the live and unreachable tasks (TASK_UNREACHABLE, or
	// TASK_LOST without PARTITION_AWARE, on agents marked unreachable),
	// sorted by ID.
	Tasks []TaskState
	// Completed are the terminal tasks the master has removed, oldest first.
	Completed []TaskState
}

// TaskState is one task in a State.
type TaskState struct {
	ID, Name, AgentID, ExecutorID string
	State                         mesos.TaskState
	// PendingUpdates is the number of status updates not yet acknowledged.
	PendingUpdates int
}

// State returns a snapshot of the frameworks (including removed ones) and
// agents.
func (c *Cluster) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s State
	add := func(fw *framework) {
		fs := FrameworkState{ID: fw.id, Name: fw.info.Name, Connected: fw.connected()}
		for _, t := range fw.tasks {
			fs.Tasks = append(fs.Tasks, taskState(t))
		}
		for _, t := range fw.lostUnreachable {
			fs.Tasks = append(fs.Tasks, taskState(t))
		}
		sort.Slice(fs.Tasks, func(i, j int) bool { return fs.Tasks[i].ID < fs.Tasks[j].ID })
		for _, t := range fw.completed {
			fs.Completed = append(fs.Completed, taskState(t))
		}
		s.Frameworks = append(s.Frameworks, fs)
	}
	for _, fw := range c.sortedFrameworksLocked() {
		add(fw)
	}
	for _, fw := range c.completed {
		add(fw)
	}
	for _, a := range c.agents {
		s.Agents = append(s.Agents, a.infoLocked())
	}
	return s
}

func taskState(t *task) TaskState {
	ts := TaskState{ID: t.id(), Name: t.info.Name, AgentID: t.agent.id, State: t.state, PendingUpdates: len(t.pending)}
	if t.exec != nil && !t.exec.command {
		ts.ExecutorID = t.exec.info.ExecutorID.Value
	}
	return ts
}

func (c *Cluster) sortedFrameworksLocked() []*framework {
	fws := make([]*framework, 0, len(c.frameworks))
	for _, fw := range c.frameworks {
		fws = append(fws, fw)
	}
	sort.Slice(fws, func(i, j int) bool { return fws[i].registered.Before(fws[j].registered) })
	return fws
}

// writeJSON writes v as compact JSON, as libprocess' OK(JSON::Value)
// does (stringify: no indentation, no trailing newline; strings escaped
// as rapidjson's Writer does, which leaves <, >, &, U+2028 and U+2029 as
// they are: mesos.StoutEscaping). Mesos
// has no query parameter for indented output; pipe through `jq .`.
func writeJSON(w http.ResponseWriter, code int, v any) {
	writeJSONP(w, code, v, nil)
}

// writeJSONP is writeJSON for the master endpoints that honour Mesos'
// `?jsonp=NAME` (src/master/readonly_handler.cpp: frameworks, slaves,
// state, state-summary, tasks; libprocess' http.cpp OK): when r has one,
// even empty, the body is `NAME(JSON)` as text/javascript.
func writeJSONP(w http.ResponseWriter, code int, v any, r *http.Request) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b := mesosx.StoutEscaping(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	w.Header().Set("Content-Type", "application/json")
	if r != nil {
		if name, ok := mesosQuery(r)["jsonp"]; ok {
			w.Header().Set("Content-Type", "text/javascript")
			b = append(append([]byte(name+"("), b...), ')')
		}
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// serveState serves GET /state (and /master/state) in the shape of Mesos'
// state endpoint.
//
// As Mesos' read-only endpoints (Master::Http::state, slaves, frameworks
// in src/master/http.cpp), these answer any method.
func (c *Cluster) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSONP(w, http.StatusOK, c.stateJSON(), r)
}

// serveFrameworks serves /frameworks (and /master/frameworks) as Mesos'
// ReadOnlyHandler::frameworks: the frameworks and completed frameworks as
// /state shows them, only the one whose ID is ?framework_id= when given,
// and an empty unregistered_frameworks.
func (c *Cluster) serveFrameworks(w http.ResponseWriter, r *http.Request) {
	st := c.stateJSON()
	id, filter := queryID(r, "framework_id")
	pick := func(key string) []any {
		out := []any{}
		for _, fw := range st[key].([]any) {
			if !filter || fw.(map[string]any)["id"] == id {
				out = append(out, fw)
			}
		}
		return out
	}
	writeJSONP(w, http.StatusOK, map[string]any{
		"frameworks":              pick("frameworks"),
		"completed_frameworks":    pick("completed_frameworks"),
		"unregistered_frameworks": []any{},
	}, r)
}

// queryID is the value of query parameter name, and whether r has it, as
// Mesos' IDAcceptor (src/common/http.hpp) selects by it: given, even
// empty, only that ID is accepted.
func queryID(r *http.Request, name string) (string, bool) {
	v, ok := mesosQuery(r)[name]
	return v, ok
}

// mesosQuery is r's query as libprocess decodes a request's
// (http::query::decode in 3rdparty/libprocess/src/http.cpp, which Mesos'
// endpoints read): parameters separated by "&" or ";", a key without "="
// has the value "", "+" is a space, and of a parameter given more than
// once the last counts. A parameter with a malformed %-escape is left out
// (libprocess drops the whole request).
func mesosQuery(r *http.Request) map[string]string {
	q := map[string]string{}
	for _, token := range strings.FieldsFunc(r.URL.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
		k, v, _ := strings.Cut(token, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		q[key] = value
	}
	return q
}

func (c *Cluster) stateJSON() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid := "master@" + c.masterAddr.String()
	var slaves []any
	active, inactive, unreachable := 0, 0, 0
	for _, a := range c.agents {
		switch {
		case !a.unreachableAt.IsZero():
			unreachable++
		case a.removed:
		case a.active:
			active++
		default:
			inactive++
		}
		if a.removed {
			continue // no longer registered (agentloss.go)
		}
		attrs := map[string]any{}
		for _, at := range a.attrs {
			if at.Text != nil {
				attrs[at.Name] = at.Text.Value
			}
		}
		offered := c.offeredLocked(a)
		slave := map[string]any{
			"id":                   a.id,
			"pid":                  "slave(1)@" + a.endpoint(),
			"hostname":             a.ip,
			"port":                 a.port,
			"attributes":           attrs,
			"resources":            a.total.stateJSON(),
			"used_resources":       a.used.stateJSON(),
			"offered_resources":    offered.stateJSON(),
			"unreserved_resources": a.total.unreserved().stateJSON(),
			"reserved_resources":   reservedJSON(a.total),
			"registered_time":      unix(a.registered),
			"active":               a.active,
			"deactivated":          false, // no draining
			"capabilities":         agentCapabilities,
			"version":              mesosVersion,
			"domain":               map[string]any{"fault_domain": map[string]any{"region": map[string]any{"name": a.region}, "zone": map[string]any{"name": a.zone}}},
		}
		addFullResources(slave, a, offered)
		slaves = append(slaves, slave)
	}
	fwJSON := func(fw *framework) map[string]any {
		var tasks, unreachable, completed, offers, executors []any
		used, offered := newRes(), newRes()
		ids := make([]string, 0, len(fw.tasks))
		for id := range fw.tasks {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			t := fw.tasks[id]
			if t.state == mesos.TASK_UNREACHABLE {
				unreachable = append(unreachable, taskJSON(t))
				continue
			}
			tasks = append(tasks, taskJSON(t))
		}
		for _, t := range fw.lostUnreachable {
			unreachable = append(unreachable, taskJSON(t))
		}
		c.frameworkUsedLocked(fw, func(_ string, r res) { used = used.add(r) })
		for _, t := range fw.completed {
			completed = append(completed, taskJSON(t))
		}
		for _, o := range fw.offers {
			offered = offered.add(o.res)
			offers = append(offers, map[string]any{"id": o.id, "framework_id": fw.id, "slave_id": o.agent.id, "resources": o.res.stateJSON(),
				"allocation_info": map[string]any{"role": o.role}})
		}
		for _, a := range c.agents {
			for _, e := range a.executors {
				if state := e.listedState(a, fw); e.fw == fw && !e.command && state != execTerminated {
					ej := map[string]any{
						"executor_id": e.info.ExecutorID.Value, "name": e.info.GetName(), "framework_id": fw.id,
						"slave_id": a.id, "resources": e.res.stateJSON(), "command": commandJSON(e.info.Command),
						"directory": e.dir, "state": state.String(),
					}
					if len(e.info.Resources) > 0 { // as Mesos: none for an executor without resources
						ej["role"] = e.role
					}
					if e.info.Type != mesos.ExecutorInfo_UNKNOWN {
						ej["type"] = e.info.Type.String()
					}
					if e.info.Labels != nil {
						ej["labels"] = protoList(e.info.Labels.Labels)
					}
					executors = append(executors, ej)
				}
			}
		}
		caps := []string{}
		for _, cp := range fw.info.Capabilities {
			caps = append(caps, cp.Type.String())
		}
		m := map[string]any{
			"id":                fw.id,
			"name":              fw.info.Name,
			"user":              fw.info.User,
			"hostname":          fw.info.GetHostname(),
			"webui_url":         redact.URLPasswords(fw.info.GetWebUiURL()), // unlike Mesos: a secret never reaches an API answer
			"capabilities":      caps,
			"active":            fw.connected() && !fw.removed,
			"connected":         fw.connected(),
			"recovered":         false,
			"checkpoint":        fw.info.GetCheckpoint(),
			"failover_timeout":  fw.failoverTimeout().Seconds(),
			"registered_time":   unix(fw.registered),
			"unregistered_time": unix(fw.unregistered),
			"resources":         used.add(offered).stateJSON(),
			"used_resources":    used.stateJSON(),
			"offered_resources": offered.stateJSON(),
			"tasks":             orEmpty(tasks),
			"unreachable_tasks": orEmpty(unreachable),
			"completed_tasks":   orEmpty(completed),
			"offers":            orEmpty(offers),
			"executors":         orEmpty(executors),
			// OfferConstraints (Mesos 1.11) are not in mesos-go's
			// protos: a framework cannot set any here.
			"offer_constraints": map[string]any{},
		}
		// As FullFrameworkWriter (src/master/readonly_handler.cpp):
		// "roles" for a MULTI_ROLE framework, else "role"; the
		// principal and labels only when set; reregistered_time once
		// the framework has subscribed again.
		if fw.multiRole() {
			m["roles"] = append([]string{}, fw.info.Roles...)
		} else {
			m["role"] = fw.info.GetRole()
		}
		if fw.info.Principal != nil {
			m["principal"] = *fw.info.Principal
		}
		if fw.info.Labels != nil {
			m["labels"] = protoList(fw.info.Labels.Labels)
		}
		if !fw.reregistered.IsZero() {
			m["reregistered_time"] = unix(fw.reregistered)
		}
		return m
	}
	var fws, done []any
	for _, fw := range c.sortedFrameworksLocked() {
		fws = append(fws, fwJSON(fw))
	}
	for _, fw := range c.completed {
		done = append(done, fwJSON(fw))
	}
	return map[string]any{
		"version":                 mesosVersion,
		"id":                      c.masterID,
		"pid":                     pid,
		"hostname":                c.masterAddr.IP.String(),
		"leader":                  pid,
		"start_time":              unix(c.started),
		"elected_time":            unix(c.started),
		"activated_slaves":        active,
		"deactivated_slaves":      inactive,
		"unreachable_slaves":      unreachable,
		"slaves":                  orEmpty(slaves),
		"recovered_slaves":        []any{}, // one master, never failed over
		"capabilities":            []any{}, // no agent updates, draining or quota (MasterInfo.capabilities)
		"leader_info":             map[string]any{"id": c.masterID, "pid": pid, "port": c.masterAddr.Port, "hostname": c.masterAddr.IP.String()},
		"flags":                   c.flagsJSONLocked(),
		"frameworks":              orEmpty(fws),
		"completed_frameworks":    orEmpty(done),
		"orphan_tasks":            []any{},
		"unregistered_frameworks": []any{},
		"testenv": map[string]any{
			"dns":      c.dnsAddrLocked(),
			"work_dir": c.cfg.WorkDir,
		},
	}
}

// flagsJSONLocked is /state's "flags": the Mesos master flags testenv
// has, as Mesos writes them (each flag's stringified value, durations in
// stout's form: "15secs"). Mesos writes all of its flags; those testenv
// does not have are left out.
func (c *Cluster) flagsJSONLocked() map[string]string {
	return map[string]string{
		"agent_ping_timeout":       mesosx.FormatDuration(c.cfg.AgentPingTimeout),
		"max_agent_ping_timeouts":  strconv.Itoa(c.cfg.MaxAgentPingTimeouts),
		"agent_reregister_timeout": mesosx.FormatDuration(c.cfg.AgentReregisterTimeout),
		"allocation_interval":      mesosx.FormatDuration(c.cfg.AllocationInterval),
		"authenticate_frameworks":  strconv.FormatBool(len(c.cfg.Credentials) > 0),
		"port":                     strconv.Itoa(c.masterAddr.Port),
	}
}

// agentCapabilities are the capabilities of Mesos 1.11's agents
// (AGENT_CAPABILITIES in src/slave/constants.cpp) that testenv's agents
// have, as /state and /slaves list them: not RESOURCE_PROVIDER,
// RESIZE_VOLUME, AGENT_DRAINING or TASK_RESOURCE_LIMITS.
var agentCapabilities = []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "AGENT_OPERATION_FEEDBACK"}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// taskJSON is a task as Mesos' state endpoint writes it (src/common/http.cpp,
// json(JSON::ObjectWriter*, const Task&)): executor_id "" for a command
// task, the role of its resources (since Mesos 1.3), statuses, labels,
// discovery. Of the task's statuses in a row with the same state only the
// latest is written, as Master::updateTask (src/master/master.cpp) keeps
// them: an update replaces the latest status when it has the same state,
// so a health check's or check's TASK_RUNNING updates leave one.
func taskJSON(t *task) map[string]any {
	eid := ""
	if t.exec != nil && !t.exec.command {
		eid = t.exec.info.ExecutorID.Value
	}
	statuses := []any{}
	for i, st := range t.statuses {
		if i+1 < len(t.statuses) && t.statuses[i+1].GetState() == st.GetState() {
			continue
		}
		s := map[string]any{"state": st.GetState().String(), "timestamp": st.GetTimestamp()}
		if st.Labels != nil {
			s["labels"] = protoList(st.Labels.Labels)
		}
		if cs := st.ContainerStatus; cs != nil {
			// As Mesos models it: container ID, network infos, cgroup info.
			s["container_status"] = protoJSON(&mesos.ContainerStatus{ContainerID: cs.ContainerID, NetworkInfos: cs.NetworkInfos, CgroupInfo: cs.CgroupInfo})
		}
		if st.Healthy != nil {
			s["healthy"] = *st.Healthy
		}
		statuses = append(statuses, s)
	}
	m := map[string]any{
		"id":           t.id(),
		"name":         t.info.Name,
		"framework_id": t.fw.id,
		"executor_id":  eid,
		"slave_id":     t.agent.id,
		"state":        t.state.String(),
		"resources":    t.res.stateJSON(),
		"role":         t.role,
		"statuses":     statuses,
	}
	if len(t.info.Limits) > 0 {
		limits := map[string]float64{}
		for name, v := range t.info.Limits {
			limits[name] = v.Value
		}
		m["limits"] = limits
	}
	// Task.user is the command's user (protobuf::createTask in
	// src/common/protobuf_utils.cpp), when set.
	if u := t.info.GetCommand().GetUser(); u != "" {
		m["user"] = u
	} else if u := t.info.GetExecutor().GetCommand().GetUser(); u != "" {
		m["user"] = u
	}
	if t.info.Labels != nil {
		m["labels"] = protoList(t.info.Labels.Labels)
	}
	if t.info.Discovery != nil {
		m["discovery"] = protoJSON(t.info.Discovery)
	}
	if t.info.Container != nil {
		// Unlike Mesos, which shows a secret volume's value: a secret
		// never reaches an API answer here.
		m["container"] = protoJSON(mesosx.MaskSecretVolumes(t.info.Container))
	}
	if t.info.HealthCheck != nil {
		// Unlike Mesos, the secrets of its command (SECRET variables,
		// secret-named variables, credentials) and the credentials in its
		// HTTP path (a secret-looking query parameter) masked.
		hc := *t.info.HealthCheck
		hc.Command = mesosx.MaskCommand(hc.Command)
		if h := hc.HTTP; h != nil && h.Path != nil {
			masked := *h
			masked.Path = strPtr(redact.Credentials(*h.Path))
			hc.HTTP = &masked
		}
		m["health_check"] = protoJSON(&hc)
	}
	return m
}

// protoJSON is a message in Mesos' JSON mapping, for embedding in /state.
func protoJSON(m any) json.RawMessage {
	b, err := mesosx.MarshalJSON(m)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

// protoList is a list of messages in Mesos' JSON mapping, [] when empty.
func protoList[T any](items []T) []json.RawMessage {
	out := []json.RawMessage{}
	for i := range items {
		out = append(out, protoJSON(&items[i]))
	}
	return out
}

// commandJSON is an executor's command as Mesos' /state writes it
// (json(JSON::ObjectWriter*, const CommandInfo&) in src/common/http.cpp):
// shell and value when set, argv, and uris with value and executable.
// Unlike Mesos, the environment is left out and the credentials a value,
// an argument or a URI carries are masked (redact.Credentials): a secret
// never reaches an API answer here.
func commandJSON(cmd *mesos.CommandInfo) map[string]any {
	m := map[string]any{}
	if cmd == nil {
		cmd = &mesos.CommandInfo{}
	}
	if cmd.Shell != nil {
		m["shell"] = *cmd.Shell
	}
	if cmd.Value != nil {
		m["value"] = redact.Credentials(*cmd.Value)
	}
	argv := []string{}
	for _, a := range cmd.Arguments {
		argv = append(argv, redact.Credentials(a))
	}
	m["argv"] = argv
	uris := []any{}
	for _, u := range cmd.URIs {
		uris = append(uris, map[string]any{"value": redact.Credentials(u.Value), "executable": u.GetExecutable()})
	}
	m["uris"] = uris
	return m
}
