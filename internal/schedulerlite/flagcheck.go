package schedulerlite

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
)

// maxLocalAgents is the most agents testenv runs (one loopback address
// each).
const maxLocalAgents = 250

// checkFlags checks every scheduler-lite flag whose value alone can be
// wrong, before anything is started or written: each error names the flag
// or the environment variable that gave the value (source, as
// cliapp.Shell.Source), and is a usage error (cliapp.BadValue: exit
// ExitUsage, with the usage line). Values needing
// the spec or the cluster (--local-ports, a PEM's content) are checked by
// Start. The --secret-file, --api-token-file, --tls-key-type, --backoff-*
// and --log-format checks are the action's.
func checkFlags(c *cli.Context, source func(string) string) error {
	bad := func(flag string, format string, a ...any) error {
		return cliapp.BadValue(fmt.Errorf("%s: %s", source(flag), fmt.Sprintf(format, a...)))
	}
	if m := c.String("master"); m != "local" {
		if err := checkHTTPURL(m); err != nil {
			return bad("master", "%q: want local, or the leading master's URL http(s)://host:port: %v", m, err)
		}
	}
	if n := c.Int("local-agents"); n < 1 || n > maxLocalAgents {
		return bad("local-agents", "%d is out of range 1..%d", n, maxLocalAgents)
	}
	for _, d := range []struct {
		flag   string
		zeroOK bool
	}{{"failover-timeout", true}, {"agent-lost-timeout", true}, {"zk-session-timeout", false}, {"deploy-timeout", false}} {
		v := c.Duration(d.flag)
		if v < 0 || v == 0 && !d.zeroOK {
			want := "a positive duration"
			if d.zeroOK {
				want = "a duration of 0 or more"
			}
			return bad(d.flag, "%v, want %s", v, want)
		}
	}
	if s := c.String("state"); s != "" {
		if err := checkState(s); err != nil {
			return bad("state", "%q: %v", s, err)
		}
	}
	for _, flag := range []string{"artifacts-dir", "secrets-dir"} {
		if d := c.String(flag); d != "" {
			if st, err := os.Stat(d); err != nil {
				return bad(flag, "%v", err)
			} else if !st.IsDir() {
				return bad(flag, "%s: not a directory", d)
			}
		}
	}
	cert, key := c.String("ca-cert"), c.String("ca-key")
	switch {
	case cert != "" && key == "":
		return bad("ca-key", "required with %s", source("ca-cert"))
	case key != "" && cert == "":
		return bad("ca-cert", "required with %s", source("ca-key"))
	}
	for _, flag := range []string{"ca-cert", "ca-key"} {
		if f := c.String(flag); f != "" {
			if err := readable(f); err != nil {
				return bad(flag, "%v", err)
			}
		}
	}
	if e := c.String("executor"); e != "default" && e != "taskkit" {
		return bad("executor", "%q: want default or taskkit", e)
	}
	if u := c.String("webui-url"); u != "" {
		if err := checkHTTPURL(u); err != nil {
			return bad("webui-url", "%q: want an absolute http(s) URL: %v", u, err)
		}
	}
	if l := c.String("api-listen"); l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil {
			return bad("api-listen", "%q: want [host]:port: %v", l, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return bad("api-listen", "%q: port %q: want 0..65535", l, port)
		}
	}
	if h := c.String("api-hostname"); h != "" && !validHost(h) {
		return bad("api-hostname", "%q: want a host name or an IP address (no scheme, port or path)", h)
	}
	if r := c.String("role"); r != "" {
		if err := checkRole(r); err != nil {
			return bad("role", "%q: %v", r, err)
		}
	}
	return nil
}

// checkHTTPURL fails unless s is an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the scheme is not http or https")
	case u.Host == "":
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return fmt.Errorf("port %q: want 1..65535", p)
		}
	}
	return nil
}

// checkState checks a state store location: file:PATH (PATH not a
// directory) or zk://host:port[,host:port][/path], the two store.Open
// knows.
func checkState(s string) error {
	switch {
	case strings.HasPrefix(s, "file:"):
		p := strings.TrimPrefix(s, "file:")
		if p == "" {
			return errors.New("file: without a path")
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return fmt.Errorf("%s is a directory, want the store's file", p)
		}
		return nil
	case strings.HasPrefix(s, "zk://"):
		hosts, _, _ := strings.Cut(strings.TrimPrefix(s, "zk://"), "/")
		for _, h := range strings.Split(hosts, ",") {
			if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
				return fmt.Errorf("ZooKeeper server %q: want host:port", h)
			}
		}
		return nil
	}
	return errors.New("want file:PATH or zk://host:port[,host:port][/path]")
}

// validHost reports whether h is a host name or an IP address alone.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r == '_' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return false
			}
		}
	}
	return true
}

// checkRole checks a framework role as Mesos' roles::validate does
// (src/common/roles.cpp): "*", or '/'-separated components, none empty,
// ".", ".." or "*", none starting with '-' or holding whitespace or DEL.
func checkRole(r string) error {
	if r == "*" {
		return nil
	}
	for _, part := range strings.Split(r, "/") {
		switch {
		case part == "":
			return errors.New("a role must not start or end with '/' nor hold '//'")
		case part == "." || part == ".." || part == "*":
			return fmt.Errorf("a role must not have %q as a component", part)
		case strings.HasPrefix(part, "-"):
			return fmt.Errorf("component %q starts with '-'", part)
		case strings.ContainsAny(part, "\t\n\v\f\r \x7f"):
			return fmt.Errorf("component %q holds whitespace or DEL", part)
		}
	}
	return nil
}

// readable fails unless path is a regular file that can be opened.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return nil
}
