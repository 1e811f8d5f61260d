package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequireToken wraps h so that every mutating call (anything but GET, HEAD
// and OPTIONS) must carry "Authorization: Bearer <token>"; others get 401
// with a WWW-Authenticate challenge. Reads stay open: Marathon's health
// check, the web UI's polling and the agents' artifact fetches need no
// token. The token is compared in constant time and never logged.
func RequireToken(token string, h http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scheduler-lite"`)
			writeErr(w, http.StatusUnauthorized, "this call needs an API token: Authorization: Bearer <token> (--api-token-file)")
			return
		}
		h.ServeHTTP(w, r)
	})
}
