package testenv

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// hostSockets is a snapshot of the host's bound IPv4 and IPv6 TCP and UDP
// sockets (Linux /proc/net/{tcp,tcp6,udp,udp6}): which ports are held on
// which local address. Every agent of every cluster shares the host's
// network, so this is how a cluster sees what other processes hold.
type hostSockets struct {
	// byIP maps a local IPv4 address (as a 4-byte string) to the ports a
	// socket holds on it; IPv4-mapped IPv6 addresses count as IPv4.
	byIP map[string]map[uint16]bool
	// wildcard are the ports held on 0.0.0.0 or :: (which take the port on
	// every address).
	wildcard map[uint16]bool
}

// procNetFiles are the socket tables read by readHostSockets.
var procNetFiles = []string{"/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"}

// readHostSockets reads the socket tables. A TCP socket holds its local
// port in every state but TIME_WAIT (a listener, a connection, a socket
// bound and not yet listening); a TIME_WAIT socket belongs to no process and
// does not stop a server that sets SO_REUSEADDR (as Go and nearly every
// server does) from binding the port again. A UDP socket holds its port once
// bound.
func readHostSockets() (*hostSockets, error) {
	hs := &hostSockets{byIP: map[string]map[uint16]bool{}, wildcard: map[uint16]bool{}}
	for _, name := range procNetFiles {
		f, err := os.Open(name)
		if os.IsNotExist(err) && strings.HasSuffix(name, "6") {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("reading bound sockets: %w", err)
		}
		err = hs.parse(f, strings.Contains(name, "tcp"))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading bound sockets: %s: %w", name, err)
		}
	}
	return hs, nil
}

// tcpTimeWait is the "st" column of a TCP socket in TIME_WAIT
// (include/net/tcp_states.h).
const tcpTimeWait = "06"

// parse reads one /proc/net table: a header line, then one socket per line
// whose second field is the local address, "HEXIP:HEXPORT", and fourth the
// state. The IP is the kernel's in-memory bytes printed as native-endian
// 32-bit words.
func (hs *hostSockets) parse(r io.Reader, tcp bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || (tcp && fields[3] == tcpTimeWait) {
			continue
		}
		hexIP, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			return fmt.Errorf("malformed local address %q", fields[1])
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return fmt.Errorf("malformed port in %q", fields[1])
		}
		raw, err := hex.DecodeString(hexIP)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			return fmt.Errorf("malformed address in %q", fields[1])
		}
		ip := make(net.IP, len(raw))
		for i := 0; i < len(raw); i += 4 {
			binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
		}
		hs.add(ip, uint16(port))
	}
	return sc.Err()
}

func (hs *hostSockets) add(ip net.IP, port uint16) {
	if ip.IsUnspecified() {
		hs.wildcard[port] = true
		return
	}
	v4 := ip.To4()
	if v4 == nil {
		return // an IPv6 address: no agent has one
	}
	m := hs.byIP[string(v4)]
	if m == nil {
		m = map[uint16]bool{}
		hs.byIP[string(v4)] = m
	}
	m[port] = true
}

// usesAny reports whether a socket is bound to one of ips.
func (hs *hostSockets) usesAny(ips []net.IP) bool {
	for _, ip := range ips {
		if len(hs.byIP[string(ip.To4())]) > 0 {
			return true
		}
	}
	return false
}

// held returns the ports that cannot be bound on ip: those held on ip itself
// and those held on the wildcard address, as sorted ranges.
func (hs *hostSockets) held(ip net.IP) mesos.Ranges {
	var out mesos.Ranges
	for p := range hs.wildcard {
		out = append(out, mesos.Value_Range{Begin: uint64(p), End: uint64(p)})
	}
	for p := range hs.byIP[string(ip.To4())] {
		out = append(out, mesos.Value_Range{Begin: uint64(p), End: uint64(p)})
	}
	return out.Sort().Squash()
}

// socketCache holds the latest look at the host's sockets for the
// allocator, which consults it for every offer. Reading the tables takes
// milliseconds (the kernel walks its whole socket hash tables), so it is
// never done under the cluster lock: a snapshot older than socketCacheTTL
// is refreshed in the background, and the allocator runs again with the
// new one. Guarded by Cluster.mu.
type socketCache struct {
	read       func() (*hostSockets, error)
	snap       *hostSockets
	at         time.Time
	refreshing bool
	failed     bool // a read failed: not retried (logged by Start)
}

// socketCacheTTL is how old a snapshot may get before it is refreshed.
// An offer is made from a view of other processes' ports at most this old
// (plus one read): a port bound just before can still be in it, as a port
// bound just after an offer always can.
const socketCacheTTL = 250 * time.Millisecond

// heldSocketsLocked returns the latest snapshot (nil when the tables
// cannot be read) and starts a refresh when it is stale.
func (c *Cluster) heldSocketsLocked(now time.Time) *hostSockets {
	sc := &c.sockets
	if sc.failed || sc.refreshing || now.Sub(sc.at) < socketCacheTTL {
		return sc.snap
	}
	sc.refreshing = true
	c.goLocked(func() {
		hs, err := sc.read()
		c.mu.Lock()
		defer c.mu.Unlock()
		sc.refreshing = false
		if err != nil {
			sc.failed, sc.snap = true, nil
			return
		}
		sc.snap, sc.at = hs, time.Now()
		c.allocateLocked()
	})
	return sc.snap
}
