package testenv

import (
	"encoding/binary"
	"math"
	"net/http"
	"slices"
	"sort"
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
	mux.HandleFunc("/frameworks", c.serveFrameworks)
	mux.HandleFunc("/master/frameworks", c.serveFrameworks)
	// The master's other read-only endpoints (master_readonly.go), at
	// their paths under the master process ("/master/...") and at the
	// root, as libprocess delegates "/" to the master (src/master/master.cpp
	// routes them). Mesos 1.11 has no ".json" aliases of these: 0.25
	// deprecated "/tasks.json", and it has gone since.
	for p, h := range map[string]http.HandlerFunc{
		"/state-summary": c.serveStateSummary,
		"/tasks":         c.serveTasks,
		"/roles":         c.serveRoles,
		"/flags":         c.serveFlags,
	} {
		mux.HandleFunc(p, h)
		mux.HandleFunc("/master"+p, h)
	}
	mux.HandleFunc("/metrics/snapshot", c.serveMetricsSnapshot) // libprocess' metrics process, not the master's
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

// serveScheduler is the master's /api/v1/scheduler, answering in the
// order of Master::Http::scheduler (src/master/http.cpp): authentication
// (401), method (405), Content-Type and body (400, 415), call validation
// (400), Accept for SUBSCRIBE and RECONCILE_OPERATIONS (406), then
// SUBSCRIBE, or the framework's checks and the call.
func (c *Cluster) serveScheduler(w http.ResponseWriter, r *http.Request) {
	principal, ok := c.authenticate(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		writeMethodNotAllowed(w, r)
		return
	}
	var call scheduler.Call
	codec, typeSet, err := mesosx.DecodeRequest(r, &call, "type", callTypeField)
	if err != nil {
		mesosx.WriteError(w, err)
		return
	}
	if err := validateCall(&call, typeSet, principal); err != nil {
		mesosx.WriteError(w, err)
		return
	}
	if call.Type == scheduler.Call_SUBSCRIBE || call.Type == scheduler.Call_RECONCILE_OPERATIONS {
		if codec, err = mesosx.ResponseCodec(r); err != nil {
			mesosx.WriteError(w, err)
			return
		}
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		fi := call.Subscribe.FrameworkInfo
		if principal != "" && fi.Principal == nil {
			// Mesos takes the authenticated principal as the framework's.
			fi.Principal = &principal
		}
		c.subscribe(w, r, &call, codec)
		return
	}
	code, err := c.handleCall(r, &call, principal)
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
// the body had a type: none is a 400; an explicit UNKNOWN passes here and
// gets its 501 once the framework is checked (handleCall). principal is
// the authenticated one ("" for none): a SUBSCRIBE declaring another is a
// 400 here.
func validateCall(call *scheduler.Call, typeSet bool, principal string) error {
	bad := func(msg string) error {
		return mesosx.Errorf(http.StatusBadRequest, "Failed to validate scheduler::Call: %s", msg)
	}
	if !typeSet {
		return bad("Expecting 'type' to be present")
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		if call.Subscribe == nil || call.Subscribe.FrameworkInfo == nil {
			return bad("Expecting 'subscribe' to be present")
		}
		fi := call.Subscribe.FrameworkInfo
		if call.FrameworkID.GetValue() != fi.ID.GetValue() {
			return bad("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		if principal != "" && fi.Principal != nil && *fi.Principal != principal {
			return bad(principalMismatch(principal, *fi.Principal))
		}
		return nil
	}
	if call.FrameworkID == nil {
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
	case scheduler.Call_SHUTDOWN:
		if call.Shutdown == nil {
			return missing("shutdown")
		}
	case scheduler.Call_ACKNOWLEDGE:
		if call.Acknowledge == nil {
			return missing("acknowledge")
		}
		if !validUUID(call.Acknowledge.UUID) {
			return bad(notAUUID)
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
		if call.FrameworkID.GetValue() != call.UpdateFramework.FrameworkInfo.ID.GetValue() {
			return bad("'framework_id' differs from 'update_framework.framework_info.id'")
		}
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		if call.AcknowledgeOperationStatus == nil {
			return missing("acknowledge_operation_status")
		}
		if !validUUID(call.AcknowledgeOperationStatus.UUID) {
			return bad(notAUUID)
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

// notAUUID is stout's error for bytes that are no UUID
// (id::UUID::fromBytes, 3rdparty/stout/include/stout/uuid.hpp).
const notAUUID = "Not a valid UUID"

// validUUID reports whether b is a UUID as stout's id::UUID::fromBytes
// takes one: 16 bytes with a known version (1 to 5, the high nibble of
// byte 6, as boost's uuid::version reads it).
func validUUID(b []byte) bool {
	if len(b) != 16 {
		return false
	}
	v := b[6] >> 4
	return v >= 1 && v <= 5
}

// validateFrameworkLocked returns the roles of a valid FrameworkInfo, or
// the error the master gives (Master::validateFramework in
// src/master/master.cpp, validation::framework::validate in
// src/master/validation.cpp, roles::validate in src/common/roles.cpp), in
// its order: the roles, the suppressed roles, a removed framework's ID, the
// failover timeout.
//
// FrameworkInfo's user and name are required fields: a body without them
// does not decode (400, DecodeRequest); like Mesos, empty values are
// accepted.
func (c *Cluster) validateFrameworkLocked(fi *mesos.FrameworkInfo, suppressed []string) ([]string, string) {
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
		seen, dup := map[string]bool{}, map[string]bool{}
		for _, r := range roles {
			dup[r] = seen[r]
			seen[r] = true
		}
		var dups []string
		for r, d := range dup {
			if d {
				dups = append(dups, r)
			}
		}
		if len(dups) > 0 {
			sort.Strings(dups) // Mesos prints a hashset, in no set order
			return nil, "'FrameworkInfo.roles' contains duplicate items: { " + strings.Join(dups, ", ") + " }"
		}
		for _, r := range roles {
			if err := validateRole(r); err != "" {
				return nil, "'FrameworkInfo.roles' contains invalid role: " + err
			}
		}
	} else {
		if len(fi.Roles) > 0 {
			return nil, "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
		}
		roles = []string{fi.GetRole()}
		if err := validateRole(roles[0]); err != "" {
			return nil, "'FrameworkInfo.role' is not a valid role: " + err
		}
	}
	for _, r := range suppressed {
		if !slices.Contains(roles, r) {
			return nil, "Suppressed role '" + r + "' is not contained in the list of roles"
		}
	}
	if fi.ID != nil && c.removedFW[fi.ID.Value] {
		return nil, "Framework has been removed"
	}
	// Any number of seconds a Duration holds is valid (Duration::create in
	// 3rdparty/stout/include/stout/duration.hpp), negative ones too.
	if ft := fi.GetFailoverTimeout(); ft*1e9 > math.MaxInt64 || ft*1e9 < math.MinInt64 {
		return nil, "The framework failover_timeout (" + strconv.FormatFloat(ft, 'g', 6, 64) + ") is invalid"
	}
	return roles, ""
}

// validateFrameworkUpdate is validation::framework::validateUpdate
// (src/master/validation.cpp): what a re-SUBSCRIBE or UPDATE_FRAMEWORK may
// not change.
func validateFrameworkUpdate(old, fi *mesos.FrameworkInfo) string {
	switch {
	case (old.Principal == nil) != (fi.Principal == nil) || old.GetPrincipal() != fi.GetPrincipal():
		return "Changing framework's principal is not allowed."
	case old.User != fi.User:
		return "Updating 'FrameworkInfo.user' is unsupported; attempted to update from '" + old.User + "' to '" + fi.User + "'"
	case old.GetCheckpoint() != fi.GetCheckpoint():
		return "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from '" +
			strconv.FormatBool(old.GetCheckpoint()) + "' to '" + strconv.FormatBool(fi.GetCheckpoint()) + "'"
	}
	return ""
}

// validateRole is roles::validate (src/common/roles.cpp), with its messages.
func validateRole(r string) string {
	if r == "*" {
		return ""
	}
	switch {
	case strings.HasPrefix(r, "/"):
		return "Role '" + r + "' cannot start with a slash"
	case strings.HasSuffix(r, "/"):
		return "Role '" + r + "' cannot end with a slash"
	case strings.Contains(r, "//"):
		return "Role '" + r + "' cannot contain two adjacent slashes"
	case r == "":
		return "Role names cannot be the empty string"
	}
	for _, part := range strings.Split(r, "/") {
		switch {
		case part == "." || part == ".." || part == "*":
			return "Role '" + r + "' cannot include '" + part + "' as a component"
		case strings.HasPrefix(part, "-"):
			return "Role component '" + part + "' is invalid because it starts with a dash"
		case strings.ContainsAny(part, "\t\n\v\f\r \x7f"):
			return "Role component '" + part + "' is invalid because it contains backspace or whitespace"
		}
	}
	return ""
}

// subscribe handles SUBSCRIBE: 200 with a RecordIO stream of events.
// codec is the stream's, from the Accept header.
func (c *Cluster) subscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call, codec encoding.Codec) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		mesosx.WriteError(w, mesosx.Errorf(http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header"))
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

// handleCall handles every call but SUBSCRIBE and returns the status code,
// checking first, as Master::Http::scheduler does (src/master/http.cpp),
// that the framework exists (400), has the authenticated principal (400),
// is connected (403) and sent its stream's ID (400).
func (c *Cluster) handleCall(r *http.Request, call *scheduler.Call, principal string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fid := call.FrameworkID.Value
	fw := c.frameworks[fid]
	if fw == nil {
		return 0, mesosx.Errorf(http.StatusBadRequest, "Framework cannot be found")
	}
	if principal != "" && principal != fw.info.GetPrincipal() {
		return 0, mesosx.Errorf(http.StatusBadRequest, "%s", principalMismatch(principal, fw.info.GetPrincipal()))
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
	default: // UNKNOWN
		return 0, mesosx.Errorf(http.StatusNotImplemented, "%s", notImplemented)
	}
	return http.StatusAccepted, nil
}
