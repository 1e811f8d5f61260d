package testenv

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// LoadCredentials reads a Mesos credentials file (the master's
// --credentials): either JSON, {"credentials":[{"principal":"p",
// "secret":"s"}]}, or text with one "principal secret" pair per line (blank
// lines and # comments ignored). It returns principal → secret.
//
// Every entry needs a principal and a non-empty secret, and a principal
// may appear once: otherwise, or with no entry at all, the error names the
// file, the entry (credentials[i], or file:line) and the principal. Nor
// may a principal contain ':', which HTTP basic authentication cannot
// carry (RFC 7617, section 2). Secrets never appear in its errors.
func LoadCredentials(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	where := map[string]string{} // principal → the entry that gave it
	// add takes one entry: at is where it is ("FILE: credentials[i]" or
	// "FILE:LINE"), entry what it is called in another entry's error.
	add := func(at, entry, principal, secret string) error {
		switch {
		case principal == "":
			return fmt.Errorf("%s: no principal", at)
		case strings.Contains(principal, ":"):
			return fmt.Errorf("%s: principal %q contains ':', which HTTP basic authentication cannot carry", at, principal)
		case secret == "":
			return fmt.Errorf("%s: principal %q has no secret", at, principal)
		case where[principal] != "":
			return fmt.Errorf("%s: principal %q is already given by %s", at, principal, where[principal])
		}
		out[principal], where[principal] = secret, entry
		return nil
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		var doc struct {
			Credentials []struct {
				Principal string `json:"principal"`
				Secret    string `json:"secret"`
			} `json:"credentials"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: not a credentials document: %w", path, jsonErrorWithoutValues(err))
		}
		for i, c := range doc.Credentials {
			entry := fmt.Sprintf("credentials[%d]", i)
			if err := add(path+": "+entry, entry, c.Principal, c.Secret); err != nil {
				return nil, err
			}
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
			if err := add(path+":"+strconv.Itoa(i+1), "line "+strconv.Itoa(i+1), f[0], f[1]); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no credentials", path)
	}
	return out, nil
}

// jsonErrorWithoutValues is a JSON decoding error without the input it may
// quote (encoding/json's syntax errors quote the character they stopped
// at, which may be a secret's; type errors may quote a number): what is
// wrong and where, only.
func jsonErrorWithoutValues(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 12345" → "number"
		return fmt.Errorf("%s: a JSON %s, want %s", typ.Field, kind, typ.Type)
	}
	return errors.New("invalid JSON")
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
