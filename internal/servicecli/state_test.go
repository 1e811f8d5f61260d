package servicecli_test

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/api"
	"github.com/taskkit/taskkit/internal/store"
)

// TestStateCommands runs the state commands against scheduler-lite's own
// API handler on loopback, over a real bbolt store holding the service
// CA: the CA's key is neither listed nor shown, an unknown key is exit 1
// with the 404, and refresh-cache is exit 1 with the API's 409, which
// says why.
func TestStateCommands(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const keyPEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"
	if err := st.SetProperties(map[string][]byte{
		"ca.crt": []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "ca.key": []byte(keyPEM),
		"deployment-completed": []byte("true"),
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Files: st}).Handler())
	defer srv.Close()
	e := newEnv(t)
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string // stdout whole, stderr a part
	}{
		{[]string{"state", "properties"}, 0, "ca.crt\ndeployment-completed\n", ""},
		{[]string{"state", "properties", "--json"}, 0, "[\n  \"ca.crt\",\n  \"deployment-completed\"\n]\n", ""},
		{[]string{"state", "property", "deployment-completed"}, 0, "true\n", ""},
		{[]string{"state", "property", "ca.crt"}, 0, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ""},
		{[]string{"state", "property", "ca.key"}, 1, "", `GET /v1/state/properties/ca.key: 404 Not Found: no such property: "ca.key"`},
		{[]string{"state", "property", "ca.key", "--json"}, 1, "", "404 Not Found"},
		{[]string{"state", "property"}, 2, "", "want KEY, got 0 argument(s)"},
		{[]string{"state", "refresh-cache"}, 1, "", "PUT /v1/state/refresh: 409 Conflict: the state store is not cached: refresh is not applicable"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := e.want(t, c.code, append(c.args, "--url", srv.URL)...)
			if r.stdout != c.stdout || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("stdout %q, stderr %q; want stdout %q, stderr with %q", r.stdout, r.stderr, c.stdout, c.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
				t.Errorf("the CA's key shows:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}
