package testenv

import (
	"net/http"

	"github.com/mesos/mesos-go/api/v1/lib/encoding"

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

// decodeCall is mesosx.DecodeRequest with the master's and agent's
// Content-Type rule (Master::Http::scheduler in src/master/http.cpp,
// Http::executor in src/slave/http.cpp): the header must be exactly
// application/json or application/x-protobuf, compared as a string, so a
// parameter ("application/json; charset=utf-8") is a 415 too.
func decodeCall(r *http.Request, v encoding.Unmarshaler, typeField string, typeNumber int) (encoding.Codec, bool, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != mesosx.MediaTypeJSON && ct != mesosx.MediaTypeProtobuf {
		return encoding.Codec{}, false, mesosx.Errorf(http.StatusUnsupportedMediaType,
			"Expecting 'Content-Type' of %s or %s", mesosx.MediaTypeJSON, mesosx.MediaTypeProtobuf)
	}
	return mesosx.DecodeRequest(r, v, typeField, typeNumber)
}
