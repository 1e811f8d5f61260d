package api

import (
	"encoding/json"
	"net/http"

	"github.com/taskkit/taskkit/internal/plan"
)

// Plans is what the uninstall mode serves: the uninstall plan, named
// deploy (internal/sdk/uninstall.Uninstaller).
type Plans interface {
	PlanView(name string) (plan.View, error)
}

// UninstallHandler serves the SDK's uninstall mode (SDK_UNINSTALL=true):
// Cosmos polls GET /v1/plans/deploy and deletes the Marathon app once it
// answers 200.
//
//	GET /v1/plans          ["deploy"]
//	GET /v1/plans/deploy   the uninstall plan: 200 complete, 417 errors
//	                       (between attempts), 202 in progress
//	GET /v1/health         the same code, no body
//	anything else          503 {"message": "the service is being uninstalled (SDK_UNINSTALL)"}
//
// Bodies are compact JSON, as the SDK writes them.
func UninstallHandler(p Plans) http.Handler {
	write := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/plans", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, []string{plan.Deploy})
	})
	mux.HandleFunc("GET /v1/plans/{plan}", func(w http.ResponseWriter, r *http.Request) {
		v, err := p.PlanView(r.PathValue("plan"))
		if err != nil {
			write(w, http.StatusNotFound, map[string]string{"message": err.Error()})
			return
		}
		write(w, planCode(v), v)
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		v, _ := p.PlanView(plan.Deploy)
		w.WriteHeader(planCode(v))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusServiceUnavailable, map[string]string{"message": "the service is being uninstalled (SDK_UNINSTALL)"})
	})
	return mux
}

// planCode is the SDK's status code of a plan: 200 COMPLETE, 417 with
// errors, 202 otherwise.
func planCode(v plan.View) int {
	switch {
	case v.Status == plan.Complete:
		return http.StatusOK
	case v.Status == plan.Error || len(v.Errors) > 0:
		return http.StatusExpectationFailed
	}
	return http.StatusAccepted
}
