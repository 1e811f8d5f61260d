package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequireToken(t *testing.T) {
	h := RequireToken("s3cret", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		name, method, auth string
		want               int
	}{
		{"read without token", "GET", "", http.StatusTeapot},
		{"post without token", "POST", "", http.StatusUnauthorized},
		{"post with a wrong token", "POST", "Bearer nope", http.StatusUnauthorized},
		{"post with basic auth", "POST", "Basic czNjcmV0", http.StatusUnauthorized},
		{"post with the token", "POST", "Bearer s3cret", http.StatusTeapot},
		{"put with the token", "PUT", "Bearer s3cret", http.StatusTeapot},
		{"delete without token", "DELETE", "", http.StatusUnauthorized},
		// RFC 7235 §2.1: the scheme is case-insensitive; 1*SP before the token.
		{"lower-case scheme", "POST", "bearer s3cret", http.StatusTeapot},
		{"upper-case scheme", "POST", "BEARER s3cret", http.StatusTeapot},
		{"mixed-case scheme", "PUT", "bEaReR s3cret", http.StatusTeapot},
		{"two spaces", "POST", "Bearer  s3cret", http.StatusTeapot},
		{"lower-case scheme, wrong token", "POST", "bearer nope", http.StatusUnauthorized},
		{"scheme only", "POST", "Bearer", http.StatusUnauthorized},
		{"scheme and spaces", "POST", "bearer   ", http.StatusUnauthorized},
		{"scheme glued to the token", "POST", "Bearers3cret", http.StatusUnauthorized},
		{"another scheme with the token", "POST", "Token s3cret", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+"/v1/plans/deploy/interrupt", strings.NewReader(""))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no challenge")
			}
		})
	}
}
