package testenv

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/buildinfo"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// mesosVersion is the Mesos version testenv reports.
const mesosVersion = "1.11.0"

func (c *Cluster) masterHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/scheduler", c.serveScheduler)
	mux.HandleFunc("/master/api/v1/scheduler", c.serveScheduler)
	for _, p := range []string{"/state", "/state.json", "/master/state", "/master/state.json"} {
		mux.HandleFunc(p, c.serveState)
	}
	mux.HandleFunc("/slaves", c.serveSlaves)
	mux.HandleFunc("/master/slaves", c.serveSlaves)
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/master/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/version", c.serveVersion)
	c.faultRoutes(mux)
	return mux
}

func (c *Cluster) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"version": mesosVersion, "testenv": buildinfo.String("testenv")})
}

func (c *Cluster) masterInfoLocked() *mesos.MasterInfo {
	ip := c.masterAddr.IP.To4()
	var ipn uint32
	if ip != nil {
		ipn = binary.LittleEndian.Uint32(ip) // Mesos stores the IP in network order in a uint32
	}
	port := uint32(c.masterAddr.Port)
	host := c.masterAddr.IP.String()
	return &mesos.MasterInfo{
		ID:       c.masterID,
		IP:       ipn,
		Port:     &port,
		PID:      strPtr("master@" + c.masterAddr.String()),
		Hostname: &host,
		Version:  strPtr(mesosVersion),
		Address:  &mesos.Address{Hostname: &host, IP: strPtr(host), Port: int32(port)},
	}
}

func (c *Cluster) serveScheduler(w http.ResponseWriter, r *http.Request) {
	if !c.authenticate(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		mesosx.WriteError(w, mesosx.Errorf(http.StatusMethodNotAllowed, "Expecting a 'POST' request, received '%s'", r.Method))
		return
	}
	var call scheduler.Call
	codec, typeSet, err := mesosx.DecodeRequest(r, &call, "type", callTypeField)
	if err != nil {
		mesosx.WriteError(w, err)
		return
	}
	if err := validateCall(&call, typeSet); err != nil {
		mesosx.WriteError(w, err)
		return
	}
	if err := c.authorize(r, &call); err != nil {
		mesosx.WriteError(w, err)
		return
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		c.subscribe(w, r, &call)
		return
	}
	code, err := c.handleCall(r, &call)
	if err != nil {
		mesosx.WriteError(w, err)
		return
	}
	if code == http.StatusOK { // UPDATE_FRAMEWORK: mesos-go wants the codec's Content-Type on a 200
		w.Header().Set("Content-Type", codec.Type.ContentType())
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(code)
}

// callTypeField is the number of scheduler.Call's "type" field.
const callTypeField = 2

// validateCall is the master's structural validation
// (validation::scheduler::call::validate in src/master/validation.cpp, its
// errors prefixed as Master::Http::scheduler does). typeSet says whether
// the body had a type: none is a 400, an explicit UNKNOWN a 501.
func validateCall(call *scheduler.Call, typeSet bool) error {
	bad := func(msg string) error {
		return mesosx.Errorf(http.StatusBadRequest, "Failed to validate scheduler::Call: %s", msg)
	}
	if !typeSet {
		return bad("Expecting 'type' to be present")
	}
	if call.Type == scheduler.Call_UNKNOWN {
		return &mesosx.HTTPError{Code: http.StatusNotImplemented}
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		if call.Subscribe == nil || call.Subscribe.FrameworkInfo == nil {
			return bad("Expecting 'subscribe' to be present")
		}
		fi := call.Subscribe.FrameworkInfo
		if call.FrameworkID != nil && (fi.ID == nil || fi.ID.Value != call.FrameworkID.Value) {
			return bad("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		if call.FrameworkID == nil && fi.ID != nil && fi.ID.Value != "" {
			return bad("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		return nil
	}
	if call.FrameworkID == nil || call.FrameworkID.Value == "" {
		return bad("Expecting 'framework_id' to be present")
	}
	missing := func(name string) error { return bad("Expecting '" + name + "' to be present") }
	switch call.Type {
	case scheduler.Call_ACCEPT:
		if call.Accept == nil {
			return missing("accept")
		}
	case scheduler.Call_DECLINE:
		if call.Decline == nil {
			return missing("decline")
		}
	case scheduler.Call_KILL:
		if call.Kill == nil {
			return missing("kill")
		}
		if call.Kill.TaskID.Value == "" {
			return bad("Expecting 'kill.task_id' to be present")
		}
	case scheduler.Call_SHUTDOWN:
		if call.Shutdown == nil {
			return missing("shutdown")
		}
	case scheduler.Call_ACKNOWLEDGE:
		if call.Acknowledge == nil {
			return missing("acknowledge")
		}
		if len(call.Acknowledge.UUID) != 16 {
			return bad("Received invalid UUID in 'acknowledge': must be 16 bytes")
		}
	case scheduler.Call_RECONCILE:
		if call.Reconcile == nil {
			return missing("reconcile")
		}
	case scheduler.Call_MESSAGE:
		if call.Message == nil {
			return missing("message")
		}
	case scheduler.Call_REQUEST:
		if call.Request == nil {
			return missing("request")
		}
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		if call.AcceptInverseOffers == nil {
			return missing("accept_inverse_offers")
		}
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		if call.DeclineInverseOffers == nil {
			return missing("decline_inverse_offers")
		}
	case scheduler.Call_UPDATE_FRAMEWORK:
		if call.UpdateFramework == nil {
			return missing("update_framework")
		}
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		if call.AcknowledgeOperationStatus == nil {
			return missing("acknowledge_operation_status")
		}
		if len(call.AcknowledgeOperationStatus.UUID) != 16 {
			return bad("Received invalid UUID in 'acknowledge_operation_status': must be 16 bytes")
		}
		if call.AcknowledgeOperationStatus.AgentID == nil {
			return bad("Expecting 'agent_id' to be present")
		}
	case scheduler.Call_RECONCILE_OPERATIONS:
		if call.ReconcileOperations == nil {
			return missing("reconcile_operations")
		}
	}
	return nil
}

// validateFrameworkInfo returns the roles of a valid FrameworkInfo, or the
// error the master sends in the stream.
//
// FrameworkInfo's user and name are required fields: a body without them
// does not decode (400, DecodeRequest); like Mesos, empty values are
// accepted.
func validateFrameworkInfo(fi *mesos.FrameworkInfo) ([]string, string) {
	multi := false
	for _, c := range fi.Capabilities {
		if c.Type == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			multi = true
		}
	}
	var roles []string
	if multi {
		if fi.Role != nil {
			return nil, "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
		}
		roles = fi.Roles
	} else {
		if len(fi.Roles) > 0 {
			return nil, "'FrameworkInfo.roles' must be empty when the framework is not MULTI_ROLE capable"
		}
		roles = []string{fi.GetRole()}
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if err := validateRole(r); err != "" {
			return nil, err
		}
		if seen[r] {
			return nil, "'FrameworkInfo.roles' contains duplicate items"
		}
		seen[r] = true
	}
	if fi.FailoverTimeout != nil {
		ft := *fi.FailoverTimeout
		if ft < 0 || ft != ft || ft > float64(1<<62)/float64(time.Second) {
			return nil, "Invalid 'FrameworkInfo.failover_timeout': " + strconv.FormatFloat(ft, 'g', -1, 64)
		}
	}
	return roles, ""
}

func validateRole(r string) string {
	switch {
	case r == "":
		return "Invalid role: empty"
	case r == "*":
		return ""
	case r == "." || r == "..":
		return "Invalid role: '" + r + "' is not allowed"
	case strings.HasPrefix(r, "-"):
		return "Invalid role: '" + r + "' must not start with '-'"
	case strings.HasPrefix(r, "/") || strings.HasSuffix(r, "/") || strings.Contains(r, "//"):
		return "Invalid role: '" + r + "' has an empty path component"
	}
	for _, ch := range r {
		if ch <= ' ' || ch == 0x7f || ch == '\\' {
			return "Invalid role: '" + r + "' contains invalid characters"
		}
	}
	for _, part := range strings.Split(r, "/") {
		if part == "*" || part == "." || part == ".." {
			return "Invalid role: '" + r + "' has an invalid path component"
		}
	}
	return ""
}

// subscribe handles SUBSCRIBE: 200 with a RecordIO stream of events.
func (c *Cluster) subscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		mesosx.WriteError(w, mesosx.Errorf(http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header"))
		return
	}
	codec, err := mesosx.ResponseCodec(r)
	if err != nil {
		mesosx.WriteError(w, err)
		return
	}
	streamID := mesosx.NewID()
	c.mu.Lock()
	fw, errMsg := c.subscribeLocked(call.Subscribe, streamID)
	var q *queue
	if fw != nil {
		q = fw.stream.q
	}
	hb := c.cfg.HeartbeatInterval
	c.mu.Unlock()

	ew := mesosx.StartStream(w, codec, map[string]string{"Mesos-Stream-Id": streamID})
	if errMsg != "" {
		_ = ew.Write(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: errMsg}})
		return
	}
	c.pumpFramework(r, ew, fw, q, hb)
}

// pumpFramework writes the framework's queued events and heartbeats until
// the queue closes, the client goes away or the cluster stops.
func (c *Cluster) pumpFramework(r *http.Request, ew *mesosx.EventWriter, fw *framework, q *queue, hb time.Duration) {
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	heartbeat := &scheduler.Event{Type: scheduler.Event_HEARTBEAT}
	write := func(ev encoding.Marshaler) bool { return ew.Write(ev) == nil }
	for {
		items, closed := q.drain()
		for _, ev := range items {
			if !write(ev) {
				c.streamEnded(fw, q)
				return
			}
		}
		if closed {
			c.streamEnded(fw, q)
			return
		}
		select {
		case <-q.wake:
		case <-ticker.C:
			if !write(heartbeat) {
				c.streamEnded(fw, q)
				return
			}
		case <-r.Context().Done():
			c.streamEnded(fw, q)
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// streamEnded handles the end of a framework's stream: if it is still the
// framework's current stream, the framework is disconnected.
func (c *Cluster) streamEnded(fw *framework, q *queue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fw.stream == nil || fw.stream.q != q || c.stopping {
		return
	}
	c.disconnectLocked(fw)
}

// handleCall handles every call but SUBSCRIBE and returns the status code.
func (c *Cluster) handleCall(r *http.Request, call *scheduler.Call) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fid := call.FrameworkID.Value
	fw := c.frameworks[fid]
	if fw == nil {
		return 0, mesosx.Errorf(http.StatusBadRequest, "Framework cannot be found")
	}
	if !fw.connected() {
		return 0, mesosx.Errorf(http.StatusForbidden, "Framework is not subscribed")
	}
	sid := r.Header.Get("Mesos-Stream-Id")
	if sid == "" {
		return 0, mesosx.Errorf(http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	}
	if sid != fw.stream.id {
		return 0, mesosx.Errorf(http.StatusBadRequest, "The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", sid, fid)
	}
	switch call.Type {
	case scheduler.Call_TEARDOWN:
		c.removeFrameworkLocked(fw, "teardown")
	case scheduler.Call_ACCEPT:
		c.acceptLocked(fw, call.Accept)
	case scheduler.Call_DECLINE:
		c.declineLocked(fw, call.Decline.OfferIDs, call.Decline.Filters)
	case scheduler.Call_ACCEPT_INVERSE_OFFERS, scheduler.Call_DECLINE_INVERSE_OFFERS, scheduler.Call_REQUEST:
		// Nothing to do: testenv makes no inverse offers and ignores requests.
	case scheduler.Call_REVIVE:
		c.reviveLocked(fw, call.Revive.GetRoles())
	case scheduler.Call_SUPPRESS:
		c.suppressLocked(fw, call.Suppress.GetRoles())
	case scheduler.Call_KILL:
		c.killTaskLocked(fw, call.Kill)
	case scheduler.Call_SHUTDOWN:
		c.shutdownExecutorLocked(fw, call.Shutdown.AgentID.Value, call.Shutdown.ExecutorID.Value)
	case scheduler.Call_ACKNOWLEDGE:
		c.acknowledgeLocked(fw, call.Acknowledge)
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		c.acknowledgeOperationLocked(fw, call.AcknowledgeOperationStatus)
	case scheduler.Call_RECONCILE_OPERATIONS:
		c.reconcileOperationsLocked(fw, call.ReconcileOperations)
	case scheduler.Call_RECONCILE:
		c.reconcileLocked(fw, call.Reconcile.Tasks)
	case scheduler.Call_MESSAGE:
		c.frameworkMessageLocked(fw, call.Message)
	case scheduler.Call_UPDATE_FRAMEWORK:
		if err := c.updateFrameworkLocked(fw, call.UpdateFramework); err != nil {
			return 0, err
		}
		return http.StatusOK, nil
	default:
		return 0, mesosx.Errorf(http.StatusNotImplemented, "Unsupported call type %s", call.Type)
	}
	return http.StatusAccepted, nil
}
