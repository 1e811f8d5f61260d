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
// carry (RFC 7617, section 2), nor a secret, which a Mesos master's basic
// authenticator refuses. Secrets never appear in its errors.
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
		case strings.Contains(secret, ":"):
			// libprocess' basic authenticator splits the credentials at
			// every ':' and refuses more than two parts
			// (3rdparty/libprocess/src/authenticator.cpp).
			return fmt.Errorf("%s: the secret of principal %q contains ':', which a Mesos master never accepts in HTTP basic authentication", at, principal)
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

// frameworkRealm is the realm of the scheduler API's basic authentication
// challenge (DEFAULT_HTTP_FRAMEWORK_AUTHENTICATION_REALM in
// src/master/constants.hpp).
const frameworkRealm = "mesos-master-scheduler"

// authenticate enforces Config.Credentials on the scheduler API as a Mesos
// master with --authenticate_frameworks does (libprocess'
// BasicAuthenticatorProcess, 3rdparty/libprocess/src/authenticator.cpp):
// HTTP basic authentication with a known principal and its secret, else
// 401 "401 Unauthorized." with the challenge `Basic
// realm="mesos-master-scheduler"`. It returns the authenticated principal
// ("" without credentials configured) and whether the request may go on.
func (c *Cluster) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if len(c.cfg.Credentials) == 0 {
		return "", true
	}
	user, pass, ok := r.BasicAuth()
	if ok {
		if want, known := c.cfg.Credentials[user]; known && subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1 {
			return user, true
		}
	}
	c.log.Warn("unauthenticated scheduler call refused", "principal", user, "had_credentials", ok)
	w.Header().Set("WWW-Authenticate", `Basic realm="`+frameworkRealm+`"`)
	mesosx.WriteError(w, mesosx.Errorf(http.StatusUnauthorized, "%s", "401 Unauthorized."))
	return "", false
}

// principalMismatch is the master's answer when the principal a framework
// declares in its FrameworkInfo is not the one it authenticated as
// (validation::scheduler::call::validate in src/master/validation.cpp for
// SUBSCRIBE, Master::Http::scheduler in src/master/http.cpp for the other
// calls): a 400, not a 403.
func principalMismatch(authenticated, declared string) string {
	return "Authenticated principal '" + authenticated + "' does not match principal '" + declared + "' set in `FrameworkInfo`"
}
