// Package dnswait is bootstrap's waiting library: it waits until host names
// resolve, the task's own name resolves to the task's IP, and TCP, HTTP(S),
// file and unix-socket targets answer, all in parallel under one deadline. It
// also finds the task's IP (TaskIP).
//
// Behaviour:
//
//   - Names are resolved with github.com/miekg/dns directly against the
//     nameservers of /etc/resolv.conf, or Config.Resolvers ("ip[:port]", port
//     53 by default). The file's search list and ndots are honoured either way
//     (a name with at least ndots dots is tried as is first, then with each
//     search domain; a shorter one the other way round; a trailing dot means
//     as is only). /etc/hosts is consulted first, on every attempt (package
//     hostsfile). A and AAAA are asked in parallel; the server is expected
//     to follow CNAMEs; a truncated UDP answer is asked again over TCP.
//   - Servers are asked in order (from the next in turn with resolv.conf's
//     "options rotate"). One that has not answered within NextServerDelay
//     (1 s; less when Config.AttemptTimeout could not give every server
//     that) keeps its question open while the next one is asked too; one that fails (SERVFAIL,
//     REFUSED, a refused connection) hands over at once; each may take
//     resolv.conf's "timeout:" (DefaultServerTimeout, 5 s, as glibc). The
//     first definite answer wins: addresses, NXDOMAIN or no records. So a
//     dead or firewalled first server costs about a second per lookup and
//     never hides the others. "attempts:" is not used: a wait asks again on
//     every poll until its deadline. A lookup that fails says what each
//     server did ("no answer from 10.0.0.2:53 in 1s, NXDOMAIN from
//     10.0.0.3:53").
//   - NXDOMAIN, NODATA, SERVFAIL and timeouts are retried until the deadline:
//     a name that does not exist yet is the normal case.
//   - Self-resolve passes when SelfName resolves to a set of addresses that
//     contains SelfIP; extra addresses, IPv4 or IPv6, are fine. Until then
//     the target shows "resolves to [10.0.0.2], want 10.0.0.1".
//   - Each target polls on its own: an attempt, then a pause of
//     DefaultBackoff (50 ms growing by 25% per attempt to 150 ms, ±20%
//     jitter), never more than MaxQueriesPerSecond (20) queries per name per
//     second over any one-second window. One attempt (a lookup, a
//     connection, an HTTP request with its body) may take up to
//     Config.AttemptTimeout (DefaultAttemptTimeout, 20 s, healthd's and
//     Mesos' check timeout); one it cut short shows "attempt timed out after
//     20s: ...".
//   - Targets (ParseTarget): tcp://host:port passes when a connection is
//     accepted; http:// and https:// when a GET (taskkit's one HTTP prober,
//     package probe) answers 2xx or 3xx and its body arrives whole within
//     the attempt — redirects are not followed, as a 3xx already shows the
//     server is up, and https verifies the certificate against
//     Config.RootCAs (the system roots by default); file:///path when the path exists (any type); unix:///path when
//     the socket accepts a connection. Host names in tcp and http(s) targets
//     are resolved the same way as Hosts, so Resolvers apply to them too, and
//     their addresses are raced (package dial: the next address starts after
//     250 ms or when the previous one fails), so one address that never
//     answers does not keep the others from being tried. A target that fails
//     shows what each address did ("10.0.0.2:80: no answer; 10.0.0.1:80:
//     connection refused"); the DNS server is named only for a lookup that
//     failed.
//   - Config.Timeout 0 means no deadline: Wait runs until everything passes
//     or ctx is canceled (by a signal, say).
//   - When the deadline passes or ctx ends, Wait returns a *PendingError that
//     names every pending target with what its last attempt saw, for example
//     "web-0.svc.mesos: NXDOMAIN from 127.0.0.1:53" or "tcp://db:5432:
//     connection refused"; errors.Is(err, ErrTimeout) or ErrCanceled tells
//     which. Each target is logged once, at Info, when it passes.
//   - TaskIP: MESOS_CONTAINER_IP, else LIBPROCESS_IP, else the first
//     non-loopback, non-link-local interface address.
//
// Passwords in URLs are masked in logs and errors.
package dnswait
