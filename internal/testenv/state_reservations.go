package testenv

import (
	"net/http"
)

// reservedJSON is an agent's reserved_resources in Mesos' /state: its
// reserved resources summed up by reservation role.
func reservedJSON(total res) map[string]any {
	out := map[string]any{}
	for role, r := range total.reservations() {
		out[role] = r.stateJSON()
	}
	return out
}

// addFullResources adds to an agent's JSON the full resources (with
// reservations, labels and volumes, in the endpoint format) that Mesos'
// /slaves shows: reserved_resources_full (by role),
// unreserved_resources_full, used_resources_full and
// offered_resources_full.
func addFullResources(slave map[string]any, a *agent, offered res) {
	full := map[string]any{}
	for role, r := range a.total.reservations() {
		full[role] = protoList(r.endpointJSON())
	}
	slave["reserved_resources_full"] = full
	slave["unreserved_resources_full"] = protoList(a.total.unreserved().endpointJSON())
	slave["used_resources_full"] = protoList(a.used.endpointJSON())
	slave["offered_resources_full"] = protoList(offered.endpointJSON())
}

// serveSlaves serves GET /slaves (and /master/slaves): the agents as in
// /state, with their full resources, and no recovered agents.
func (c *Cluster) serveSlaves(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "Expecting 'GET'", http.StatusMethodNotAllowed)
		return
	}
	writeJSONP(w, http.StatusOK, map[string]any{"slaves": c.stateJSON()["slaves"], "recovered_slaves": []any{}}, r)
}
