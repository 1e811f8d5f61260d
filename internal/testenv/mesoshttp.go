package testenv

import (
	"net/http"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// The answers the master's scheduler API and the agents' executor API
// share, worded as libprocess words them
// (3rdparty/libprocess/include/process/http.hpp).

// notImplemented is libprocess' NotImplemented() body: the answer to a
// call of type UNKNOWN.
const notImplemented = "501 Not Implemented."

// writeMethodNotAllowed answers a request that is not a POST as libprocess'
// MethodNotAllowed({"POST"}, method) does: 405, "Allow: POST" and
// "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.".
func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	mesosx.WriteError(w, mesosx.Errorf(http.StatusMethodNotAllowed,
		"405 Method Not Allowed. Expecting one of { 'POST' }, but received '%s'.", r.Method))
}
