package testenv

import (
	"net/http"
	"slices"
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

// serveSlaves serves /slaves (and /master/slaves), for any method: the
// agents as in /state, with their full resources, only the one whose ID is
// ?slave_id= when given (ReadOnlyHandler::slaves), and no recovered agents.
func (c *Cluster) serveSlaves(w http.ResponseWriter, r *http.Request) {
	slaves := c.stateJSON()["slaves"].([]any)
	if id, ok := queryID(r, "slave_id"); ok {
		slaves = slices.DeleteFunc(slaves, func(a any) bool { return a.(map[string]any)["id"] != id })
	}
	writeJSONP(w, http.StatusOK, map[string]any{"slaves": slaves, "recovered_slaves": []any{}}, r)
}
