package testenv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/miekg/dns"
)

// The test binary run as a command task with listenerEnv=IP:PORT listens
// there and answers every connection with listenerNameEnv (see TestMain).
const (
	listenerEnv     = "TESTENV_TEST_LISTENER"
	listenerNameEnv = "TESTENV_TEST_LISTENER_NAME"
)

// runTestListener serves name on addr until killed; exit 3 if it cannot
// bind.
func runTestListener(addr, name string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 3
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return 4
		}
		fmt.Fprintln(conn, name)
		conn.Close()
	}
}

// listenerTask is a command task running the test binary as a listener on
// its agent's address and port.
func listenerTask(t *testing.T, id string, o mesos.Offer, port uint64, name string) mesos.TaskInfo {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ti := commandTask(id, o, fmt.Sprintf(`%s="$MESOS_CONTAINER_IP:%d" %s=%s exec %s`, listenerEnv, port, listenerNameEnv, name, self))
	ti.Resources = append(ti.Resources, resources.Build().Name(resources.NamePorts).Ranges(resources.BuildRanges().Span(port, port).Ranges).Resource)
	return ti
}

// dial reads what the listener at addr answers, retrying until it does.
func dial(t *testing.T, addr string) string {
	t.Helper()
	var got string
	eventually(t, "listener at "+addr, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		got = strings.TrimSpace(line)
		return err == nil
	})
	return got
}

// TestClustersIsolated starts three clusters at once with the default
// configuration, as three test packages or a test run next to the demo
// would, and deploys the same task, on the same port, under the same names,
// on each: every cluster has its own agent addresses, master, DNS server
// and work dir, and every task answers on its own cluster's address.
func TestClustersIsolated(t *testing.T) {
	const n = 3
	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = tryStartCluster(t, Config{Agents: 2})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	blocks, masters, dnss, dirs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, cl := range clusters {
		ip := cl.Agents()[0].IP
		blocks[ip[:strings.LastIndex(ip, ".")]] = true
		masters[cl.MasterURL()] = true
		dnss[cl.DNSAddr()] = true
		dirs[cl.WorkDir()] = true
	}
	if len(blocks) != n || len(masters) != n || len(dnss) != n || len(dirs) != n {
		t.Fatalf("clusters share addresses or directories: blocks %v masters %v dns %v dirs %v", blocks, masters, dnss, dirs)
	}

	t.Run("deploy", func(t *testing.T) {
		for i, cl := range clusters {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				name := "cluster-" + strconv.Itoa(i)
				s := subscribe(t, cl, frameworkInfo("isolation"), protoCodec)
				o := s.offers()[0]
				ports, _ := resources.Ports(o.Resources...)
				port := ports.Min()
				s.launch(o, listenerTask(t, "web", o, port, name))
				s.updateAck("web", mesos.TASK_STARTING)
				s.updateAck("web", mesos.TASK_RUNNING)
				addr := net.JoinHostPort(o.Hostname, strconv.FormatUint(port, 10))
				if got := dial(t, addr); got != name {
					t.Errorf("%s answers %q, want %q", addr, got, name)
				}
				// The same name resolves, on each cluster's DNS server, to
				// that cluster's agent.
				m := new(dns.Msg)
				m.SetQuestion("web.isolation.mesos.", dns.TypeA)
				var answer string
				eventually(t, "DNS record", func() bool {
					r, err := dns.Exchange(m, cl.DNSAddr())
					if err != nil || len(r.Answer) == 0 {
						return false
					}
					answer = r.Answer[0].(*dns.A).A.String()
					return true
				})
				if answer != o.Hostname {
					t.Errorf("web.isolation.mesos = %s, want %s", answer, o.Hostname)
				}
			})
		}
	})
}

// TestOffersLeaveOutHeldPorts: a port another process holds on an agent's
// address or on the wildcard address (TCP or UDP) is not offered on that
// agent; one held on another address is.
func TestOffersLeaveOutHeldPorts(t *testing.T) {
	cl := startCluster(t, Config{})
	ip := cl.Agents()[0].IP
	tcp := listenTCP(t, net.JoinHostPort(ip, "0"))
	udp := listenUDP(t, net.JoinHostPort(ip, "0"))
	wild := listenTCP(t, ":0")
	wild4 := listenUDP(t, "0.0.0.0:0")
	other := listenTCP(t, "127.0.0.1:0")
	hs, err := readHostSockets()
	if err != nil {
		t.Skipf("no /proc/net socket tables: %v", err)
	}
	cl.mu.Lock()
	cl.sockets.snap, cl.sockets.at = hs, time.Now() // what the next offer sees
	cl.mu.Unlock()

	s := subscribe(t, cl, frameworkInfo("held"), protoCodec)
	ports, _ := resources.Ports(s.offers()[0].Resources...)
	for _, tc := range []struct {
		name    string
		port    uint64
		offered bool
	}{
		{"tcp on the agent's address", tcp, false},
		{"udp on the agent's address", udp, false},
		{"tcp on [::]", wild, false},
		{"udp on 0.0.0.0", wild4, false},
		{"tcp on 127.0.0.1", other, true},
	} {
		if got := ports.Search(tc.port) >= 0; got != tc.offered {
			t.Errorf("%s: port %d offered = %v, want %v (offer %v)", tc.name, tc.port, got, tc.offered, ports)
		}
	}
}

func listenTCP(t *testing.T, addr string) uint64 {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return uint64(ln.Addr().(*net.TCPAddr).Port)
}

func listenUDP(t *testing.T, addr string) uint64 {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return uint64(pc.LocalAddr().(*net.UDPAddr).Port)
}

// TestExplicitBlockTaken: an AgentIPBase in a /24 another cluster holds is
// refused, naming it; the claim goes with the cluster.
func TestExplicitBlockTaken(t *testing.T) {
	cl := startCluster(t, Config{})
	ip := net.ParseIP(cl.Agents()[0].IP).To4()
	for _, base := range []string{ip.String(), net.IPv4(ip[0], ip[1], ip[2], 100).String()} {
		_, err := tryStartCluster(t, Config{AgentIPBase: base})
		if !errors.Is(err, ErrBlockTaken) || !strings.Contains(err.Error(), base) {
			t.Errorf("AgentIPBase %s: err = %v, want %v naming it", base, err, ErrBlockTaken)
		}
	}
}

// TestAutoBlockSkipsUsedAddresses: the automatic choice passes over blocks
// whose agent addresses another process uses.
func TestAutoBlockSkipsUsedAddresses(t *testing.T) {
	hs := &hostSockets{byIP: map[string]map[uint16]bool{}, wildcard: map[uint16]bool{}}
	for n := 1; n <= 5; n++ {
		hs.add(net.IPv4(127, 0, byte(n), 2), 8080) // the second agent's address
	}
	b, err := claimBlock("", 2, 0, hs)
	if err != nil {
		t.Fatal(err)
	}
	defer b.release()
	if b.base[1] == 0 && b.base[2] <= 5 {
		t.Errorf("took %s, whose second address is in use", b.base)
	}
	if _, err := claimBlock("", 2, 8080, &hostSockets{wildcard: map[uint16]bool{8080: true}}); err == nil || !strings.Contains(err.Error(), "8080") {
		t.Errorf("agent port held on 0.0.0.0: err = %v", err)
	}
}

// TestHostSockets reads real sockets back from /proc/net, and parses the
// table format: TIME_WAIT sockets hold nothing, IPv4-mapped IPv6 addresses
// are IPv4.
func TestHostSockets(t *testing.T) {
	tcp := listenTCP(t, "127.0.0.1:0")
	udp := listenUDP(t, "127.0.0.1:0")
	wild := listenTCP(t, ":0")
	hs, err := readHostSockets()
	if err != nil {
		t.Skipf("no /proc/net socket tables: %v", err)
	}
	lo := net.ParseIP("127.0.0.1")
	held := hs.held(lo)
	for _, p := range []uint64{tcp, udp, wild} {
		if held.Search(p) < 0 {
			t.Errorf("port %d not held on 127.0.0.1: %v", p, held)
		}
	}
	if h := hs.held(net.ParseIP("127.0.0.2")); h.Search(tcp) >= 0 {
		t.Errorf("port %d of 127.0.0.1 held on 127.0.0.2", tcp)
	}

	word := func(b []byte) string { return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(b)) } // as the kernel prints
	v4 := net.ParseIP("127.9.8.7").To4()
	zero := []byte{0, 0, 0, 0}
	mapped := word(zero) + word(zero) + word([]byte{0, 0, 0xff, 0xff}) + word(v4)
	table := "  sl  local_address rem_address   st ...\n" +
		"   0: " + word(v4) + ":1F90 00000000:0000 0A 0 0\n" + // LISTEN 8080
		"   1: " + word(v4) + ":1F91 " + word(lo.To4()) + ":D431 06 0 0\n" + // TIME_WAIT 8081
		"   2: 00000000:1F92 00000000:0000 0A 0 0\n" // LISTEN 0.0.0.0:8082
	table6 := "  sl  local_address remote_address st ...\n" +
		"   0: " + mapped + ":1F93 00000000000000000000000000000000:0000 01 0 0\n" // ESTABLISHED 8083
	got := &hostSockets{byIP: map[string]map[uint16]bool{}, wildcard: map[uint16]bool{}}
	if err := got.parse(strings.NewReader(table), true); err != nil {
		t.Fatal(err)
	}
	if err := got.parse(strings.NewReader(table6), true); err != nil {
		t.Fatal(err)
	}
	if h := got.held(v4); fmt.Sprint(h) != fmt.Sprint(mesos.Ranges{{Begin: 8080, End: 8080}, {Begin: 8082, End: 8083}}) {
		t.Errorf("held on %s = %v, want 8080, 8082-8083", v4, h)
	}
}

// BenchmarkReadHostSockets is the cost of one look at the host's sockets,
// which an offer takes at most every socketCacheTTL.
func BenchmarkReadHostSockets(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := readHostSockets(); err != nil {
			b.Skip(err)
		}
	}
}
