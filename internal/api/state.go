package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// The rest of the SDK's StateResource (dcos-commons http/endpoints/
// StateResource.java, http/queries/StateQueries.java), read from the state
// store as the SDK reads its StateStore:
//
//	GET /v1/state/properties              200 ["key",...]: the property keys, sorted
//	GET /v1/state/properties/{key}        200 the value as stored, as the SDK's
//	                                      StringPropertyDeserializer answers it
//	                                      (not quoted: "true", a PEM text; see
//	                                      valueType); 404 unknown (or withheld,
//	                                      below)
//	GET /v1/state/zone/tasks              200 {"task": "zone"}: the tasks launched
//	                                      with a zone (their TaskInfo's ZONE)
//	GET /v1/state/zone/tasks/{task}       200 text/plain: the zone; 404 none
//	GET /v1/state/zone/{podType}/{ip}     200 text/plain: the zone of the pod type's
//	                                      task whose latest status has that IP; 404 none
//	PUT /v1/state/refresh                 409: nothing to refresh (below)
//
// Zones: a task's zone is the ZONE variable of its stored TaskInfo, which
// the pod builder sets at launch from the offer's
// domain.fault_domain.zone (taskenv.EnvZone; the SDK's
// LaunchEvaluationStage.updateFaultDomainEnv and TaskUtils.getTaskZone).
// A task launched from an offer without a domain has none and is left out,
// as the SDK leaves it out. A task's IP is the first address of its latest
// status' container_status.network_infos (TaskUtils.getTaskIPAddress).
// Unlike the SDK, which stops at the first task of the pod type lacking a
// status (404, whichever task its store lists first) and matches any task
// name merely starting with the pod type, the IP lookup skips tasks
// without an address and matches "<podType>-<index>-" names only.
//
// Withheld properties: reads need no API token (RequireToken), so no
// secret is listed or served. The SDK keeps TLS keys in the DC/OS secret
// store; scheduler-lite keeps its service CA in the state store, and its
// private key (property "ca.key", see serviceCA in internal/sdk/service)
// would let anyone sign certificates every task trusts. It is never
// listed, and reading it is the 404 of an unknown key, so that the answer
// does not even tell it exists. Any other property whose value holds a PEM
// private key block ("PRIVATE KEY-----", e.g. a state file a task uploaded
// holding its key) is withheld the same way. The CA's certificate
// ("ca.crt") is public and served.
//
// Refresh: the SDK's refreshCache reloads its PersisterCache, and answers
// 409 when the state store is not cached. scheduler-lite's stores keep no
// cache (every read goes to bbolt or ZooKeeper), so it answers the SDK's
// 409, with a message saying so.
const (
	// caKeyProperty is the property holding the service CA's private key.
	caKeyProperty = "ca.key"
	// pemPrivateKey ends the PEM header of any private key block
	// ("-----BEGIN PRIVATE KEY-----", "... EC PRIVATE KEY-----", ...).
	pemPrivateKey = "PRIVATE KEY-----"
)

// StateStore is what the state API needs of the state store (store.Store
// has it): the properties (state files included) and the tasks.
type StateStore interface {
	FileStore
	// Tasks returns every stored task (TaskInfo and latest TaskStatus,
	// protobuf) by name.
	Tasks() (map[string]store.Task, error)
}

// routeState adds the properties, zone and refresh endpoints to mux.
func (s *Server) routeState(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/state/properties", s.propertyKeys)
	mux.HandleFunc("GET /v1/state/properties/{key}", s.property)
	mux.HandleFunc("GET /v1/state/zone/tasks", s.taskZones)
	mux.HandleFunc("GET /v1/state/zone/tasks/{task}", s.taskZone)
	mux.HandleFunc("GET /v1/state/zone/{podType}/{ip}", s.ipZone)
	mux.HandleFunc("PUT /v1/state/refresh", s.refreshState)
}

// withheld reports whether property key, of value, is a secret the API
// never lists or serves.
func withheld(key string, value []byte) bool {
	return key == caKeyProperty || bytes.Contains(value, []byte(pemPrivateKey))
}

// stateStore returns the state store, or answers 503 when there is none.
func (s *Server) stateStore(w http.ResponseWriter) StateStore {
	if s.Files == nil {
		writeErr(w, http.StatusServiceUnavailable, "no state store")
	}
	return s.Files
}

func (s *Server) propertyKeys(w http.ResponseWriter, r *http.Request) {
	st := s.stateStore(w)
	if st == nil {
		return
	}
	keys, err := st.PropertyKeys()
	if err != nil {
		s.Logger.Error("listing the properties", "err", err)
		writeErr(w, http.StatusInternalServerError, "reading the state store failed")
		return
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		v, err := st.Property(k)
		if err != nil {
			s.Logger.Error("reading a property", "key", k, "err", err)
			writeErr(w, http.StatusInternalServerError, "reading the state store failed")
			return
		}
		if v != nil && !withheld(k, v) {
			out = append(out, k)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) property(w http.ResponseWriter, r *http.Request) {
	st := s.stateStore(w)
	if st == nil {
		return
	}
	key := r.PathValue("key")
	v, err := st.Property(key)
	if err != nil {
		s.Logger.Error("reading a property", "key", key, "err", err)
		writeErr(w, http.StatusInternalServerError, "reading the state store failed")
		return
	}
	if v == nil || withheld(key, v) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no such property: %q", key))
		return
	}
	w.Header().Set("Content-Type", valueType(v))
	w.Write(v)
}

// valueType is the content type a property value is served with: the
// SDK labels every value application/json, JSON or not; scheduler-lite
// serves the same bytes but labels them honestly, application/json only
// when they are JSON ("true", an object), else text/plain when they are
// UTF-8 text (a PEM certificate, a state file), else
// application/octet-stream.
func valueType(v []byte) string {
	switch {
	case json.Valid(v):
		return "application/json"
	case utf8.Valid(v):
		return "text/plain; charset=utf-8"
	default:
		return "application/octet-stream"
	}
}

// zones reads the zone (and IP) of every stored task launched with a
// zone; ok is false once it has answered an error.
func (s *Server) zones(w http.ResponseWriter) (map[string]zonedTask, bool) {
	st := s.stateStore(w)
	if st == nil {
		return nil, false
	}
	tasks, err := st.Tasks()
	if err != nil {
		s.Logger.Error("reading the tasks", "err", err)
		writeErr(w, http.StatusInternalServerError, "reading the state store failed")
		return nil, false
	}
	out := make(map[string]zonedTask, len(tasks))
	for name, t := range tasks {
		var info mesos.TaskInfo
		if err := info.Unmarshal(t.Info); err != nil {
			s.Logger.Error("decoding a stored TaskInfo", "task", name, "err", err)
			writeErr(w, http.StatusInternalServerError, "reading the state store failed: task "+name+": bad TaskInfo")
			return nil, false
		}
		zone, ok := taskZone(&info)
		if !ok {
			continue
		}
		zt := zonedTask{zone: zone}
		if t.Status != nil {
			var status mesos.TaskStatus
			if err := status.Unmarshal(t.Status); err == nil {
				zt.ip = taskIP(&status)
			}
		}
		out[name] = zt
	}
	return out, true
}

// zonedTask is a stored task's zone and, when its latest status has one,
// its IP address.
type zonedTask struct{ zone, ip string }

// taskZone returns the ZONE variable of a TaskInfo's command (the SDK's
// TaskUtils.taskHasZone and getTaskZone); ok is false without one.
func taskZone(info *mesos.TaskInfo) (zone string, ok bool) {
	for _, v := range info.GetCommand().GetEnvironment().GetVariables() {
		if v.Name == taskenv.EnvZone && v.GetType() != mesos.Environment_Variable_SECRET {
			return v.GetValue(), true
		}
	}
	return "", false
}

// taskIP returns the first IP address of a status' first network, "" when
// it has none (the SDK's TaskUtils.getTaskIPAddress).
func taskIP(status *mesos.TaskStatus) string {
	nets := status.GetContainerStatus().GetNetworkInfos()
	if len(nets) == 0 || len(nets[0].IPAddresses) == 0 {
		return ""
	}
	return nets[0].IPAddresses[0].GetIPAddress()
}

func (s *Server) taskZones(w http.ResponseWriter, r *http.Request) {
	zs, ok := s.zones(w)
	if !ok {
		return
	}
	out := make(map[string]string, len(zs))
	for name, z := range zs {
		out[name] = z.zone
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) taskZone(w http.ResponseWriter, r *http.Request) {
	zs, ok := s.zones(w)
	if !ok {
		return
	}
	name := r.PathValue("task")
	z, ok := zs[name]
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no zone known for task %q", name))
		return
	}
	writeText(w, http.StatusOK, z.zone)
}

func (s *Server) ipZone(w http.ResponseWriter, r *http.Request) {
	zs, ok := s.zones(w)
	if !ok {
		return
	}
	podType, ip := r.PathValue("podType"), r.PathValue("ip")
	names := make([]string, 0, len(zs))
	for name := range zs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if z := zs[name]; z.ip != "" && z.ip == ip && ofPodType(name, podType) {
			writeText(w, http.StatusOK, z.zone)
			return
		}
	}
	writeErr(w, http.StatusNotFound, fmt.Sprintf("no task of pod type %q with IP %s and a zone", podType, ip))
}

// ofPodType reports whether task name is "<podType>-<index>-<task>".
func ofPodType(name, podType string) bool {
	rest, ok := strings.CutPrefix(name, podType+"-")
	if !ok {
		return false
	}
	idx, task, ok := strings.Cut(rest, "-")
	return ok && task != "" && idx != "" && strings.Trim(idx, "0123456789") == ""
}

// refreshState answers the SDK's refresh of an uncached state store.
func (s *Server) refreshState(w http.ResponseWriter, r *http.Request) {
	writeErr(w, http.StatusConflict, "the state store is not cached: refresh is not applicable (scheduler-lite reads bbolt or ZooKeeper directly)")
}
