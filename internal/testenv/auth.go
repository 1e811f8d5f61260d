package testenv

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// LoadCredentials reads a Mesos credentials file (the master's
// --credentials): either JSON, {"credentials":[{"principal":"p",
// "secret":"s"}]}, or text with one "principal secret" pair per line (blank
// lines and # comments ignored). Secrets never appear in its errors.
func LoadCredentials(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		var doc struct {
			Credentials []struct{ Principal, Secret string }
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: not a credentials document: %w", path, err)
		}
		for i, c := range doc.Credentials {
			if c.Principal == "" {
				return nil, fmt.Errorf("%s: credentials[%d]: no principal", path, i)
			}
			out[c.Principal] = c.Secret
		}
	} else {
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 2 {
				return nil, fmt.Errorf("%s:%d: want \"principal secret\"", path, i+1)
			}
			out[f[0]] = f[1]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no credentials", path)
	}
	return out, nil
}

// authenticate enforces Config.Credentials on the scheduler API as a Mesos
// master with --authenticate_frameworks does: HTTP basic authentication
// with a known principal and its secret, else 401 with a challenge. It
// reports whether the request may go on.
func (c *Cluster) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if len(c.cfg.Credentials) == 0 {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if ok {
		if want, known := c.cfg.Credentials[user]; known && subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1 {
			return true
		}
	}
	c.log.Warn("unauthenticated scheduler call refused", "principal", user, "had_credentials", ok)
	w.Header().Set("WWW-Authenticate", `Basic realm="mesos"`)
	mesosx.WriteError(w, mesosx.Errorf(http.StatusUnauthorized, "%s", "Unauthorized"))
	return false
}

// authorize is the master's principal check once a request is
// authenticated: the principal a framework declares in its FrameworkInfo
// must be the one it authenticated as, at SUBSCRIBE and on every later call
// (Mesos answers 403 Forbidden otherwise). Without credentials configured
// there is nothing to check.
func (c *Cluster) authorize(r *http.Request, call *scheduler.Call) error {
	if len(c.cfg.Credentials) == 0 {
		return nil
	}
	authenticated, _, _ := r.BasicAuth()
	declared := ""
	if call.Type == scheduler.Call_SUBSCRIBE {
		declared = call.Subscribe.FrameworkInfo.GetPrincipal()
	} else {
		c.mu.Lock()
		if fw := c.frameworks[call.FrameworkID.GetValue()]; fw != nil {
			declared = fw.info.GetPrincipal()
		}
		c.mu.Unlock()
	}
	if declared != "" && declared != authenticated {
		return mesosx.Errorf(http.StatusForbidden, "Authenticated principal '%s' does not match principal '%s' set in `FrameworkInfo`", authenticated, declared)
	}
	return nil
}
