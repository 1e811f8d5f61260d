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
// token. The scheme is matched case-insensitively (RFC 7235 §2.1: "bearer",
// "BEARER"), one or more spaces may separate it from the token (RFC 7235
// §2.1's 1*SP), and the token is compared in constant time and never
// logged.
func RequireToken(token string, h http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scheduler-lite"`)
			writeErr(w, http.StatusUnauthorized, "this call needs an API token: Authorization: Bearer <token> (--api-token-file)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearer returns the token of an Authorization header value of the Bearer
// scheme (RFC 6750 §2.1, credentials as RFC 7235 §2.1: the scheme is
// case-insensitive and 1*SP separates it from the token); ok is false for
// another scheme or no token.
func bearer(header string) (token string, ok bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	return token, token != ""
}
