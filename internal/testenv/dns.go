package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/miekg/dns"

	"github.com/taskkit/taskkit/internal/taskenv"
)

// dnsServer answers Mesos-DNS-style names for running tasks over UDP and
// TCP on one port.
type dnsServer struct {
	addr     string
	udp, tcp *dns.Server
	index    map[string][]net.IP // fqdn → addresses, rebuilt when dirty; guarded by Cluster.mu
	forward  []string            // upstream servers; empty refuses
}

const dnsTTL = 5

func (c *Cluster) startDNS() (*dnsServer, error) {
	d := &dnsServer{}
	switch f := c.cfg.DNSForward; f {
	case "", "refuse":
	case "system":
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("testenv: %w", fieldErr("DNSForward", fmt.Errorf("system: %w", err)))
		}
		for _, s := range cc.Servers {
			d.forward = append(d.forward, net.JoinHostPort(s, cc.Port))
		}
	default: // host:port, checked by Config.defaults
		d.forward = []string{f}
	}
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for attempt := 0; attempt < 20; attempt++ {
		pc, err = net.ListenPacket("udp", c.cfg.DNSListen)
		if err != nil {
			return nil, fmt.Errorf("testenv: %w", fieldErr("DNSListen", err))
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if !strings.HasSuffix(c.cfg.DNSListen, ":0") {
			return nil, fmt.Errorf("testenv: %w", fieldErr("DNSListen", err))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", fieldErr("DNSListen", err))
	}
	d.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { c.serveDNS(d, w, r) })
	d.udp = &dns.Server{PacketConn: pc, Handler: h}
	d.tcp = &dns.Server{Listener: ln, Handler: h}
	for _, s := range []*dns.Server{d.udp, d.tcp} {
		s := s
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := s.ActivateAndServe(); err != nil && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("dns server", "err", err)
			}
		}()
	}
	return d, nil
}

// stop shuts both servers down. A server whose goroutine has not yet got
// to ActivateAndServe is not "started" for miekg/dns, and its Shutdown
// does nothing: closing its socket makes that ActivateAndServe return at
// once (a cluster stopped right after Start waited forever for it).
func (d *dnsServer) stop() {
	for _, s := range []*dns.Server{d.udp, d.tcp} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.ShutdownContext(ctx)
		cancel()
	}
	_ = d.udp.PacketConn.Close()
	_ = d.tcp.Listener.Close()
}

// rebuildDNSLocked recomputes the name → address index from running tasks.
func (c *Cluster) rebuildDNSLocked(d *dnsServer) {
	idx := map[string][]net.IP{}
	add := func(name string, ip net.IP) {
		name = dns.Fqdn(name)
		for _, x := range idx[name] {
			if x.Equal(ip) {
				return
			}
		}
		idx[name] = append(idx[name], ip)
	}
	mip := c.masterAddr.IP
	add("master.mesos", mip)
	add("leader.mesos", mip)
	for _, fw := range c.frameworks {
		// Mesos-DNS turns the framework and task names into labels
		// (taskenv.DNSName) under ".mesos"; the autoip names are the ones
		// the scheduler gives its tasks (taskenv.AutoIPHost), so both ends
		// spell them by one rule. The SDK's FRAMEWORK_HOST drops slashes:
		// both forms of the framework answer under ".mesos".
		fnames := []string{taskenv.DNSName(fw.info.Name)}
		if f := taskenv.DNSName(strings.ReplaceAll(fw.info.Name, "/", "")); f != fnames[0] {
			fnames = append(fnames, f)
		}
		for _, t := range fw.tasks {
			if t.state != mesos.TASK_RUNNING || !t.agent.active {
				continue
			}
			ip := net.ParseIP(t.agent.ip)
			names := []string{t.info.Name}
			if d := t.info.Discovery; d != nil && d.Name != nil {
				names = append(names, *d.Name)
			}
			for _, n := range names {
				l := taskenv.DNSName(n)
				if l == "" {
					continue
				}
				for _, f := range fnames {
					if f != "" {
						add(l+"."+f+".mesos", ip)
					}
				}
				// An empty label (a name without letters or digits) makes
				// no autoip name.
				if h := taskenv.AutoIPHost(n, fw.info.Name); !strings.HasPrefix(h, ".") && !strings.Contains(h, "..") {
					add(h, ip)
				}
			}
		}
	}
	d.index = idx
	c.dnsDirty = false
}

func ownZone(name string) bool {
	return name == "mesos." || strings.HasSuffix(name, ".mesos.") ||
		name == "thisdcos.directory." || strings.HasSuffix(name, ".thisdcos.directory.")
}

func (c *Cluster) serveDNS(d *dnsServer, w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(dns.Fqdn(q.Name))
	if !ownZone(name) {
		d.forwardDNS(w, req)
		return
	}
	c.mu.Lock()
	if d.index == nil || c.dnsDirty {
		c.rebuildDNSLocked(d)
	}
	ips := append([]net.IP(nil), d.index[name]...)
	c.mu.Unlock()
	m.Authoritative = true
	if len(ips) == 0 {
		m.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(m)
		return
	}
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL},
				A:   ip.To4(),
			})
		}
	}
	_ = w.WriteMsg(m)
}

// forwardDNS forwards a query outside testenv's zones, or refuses it.
func (d *dnsServer) forwardDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(d.forward) == 0 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		_ = w.WriteMsg(m)
		return
	}
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	cl := &dns.Client{Net: network, Timeout: 3 * time.Second}
	for _, up := range d.forward {
		resp, _, err := cl.Exchange(req, up)
		if err == nil && resp != nil {
			_ = w.WriteMsg(resp)
			return
		}
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}
