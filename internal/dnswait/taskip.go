package dnswait

import (
	"fmt"
	"net"
	"net/netip"
	"os"
)

// Task IP sources, in the order TaskIP tries them.
const (
	EnvContainerIP  = "MESOS_CONTAINER_IP"
	EnvLibprocessIP = "LIBPROCESS_IP"
)

// TaskIPSource is where TaskIP looks. Nil fields mean the real thing.
type TaskIPSource struct {
	// Getenv defaults to os.Getenv.
	Getenv func(string) string
	// InterfaceAddrs defaults to net.InterfaceAddrs (interfaces in index
	// order, so eth0 comes before later interfaces).
	InterfaceAddrs func() ([]net.Addr, error)
}

// TaskIP returns the task's IP and where it came from: MESOS_CONTAINER_IP,
// else LIBPROCESS_IP, else the first interface address that is not loopback,
// link-local, multicast or unspecified ("interface" is then the source). A set
// but unparsable variable is an error naming it rather than a silent fallback.
func TaskIP(src TaskIPSource) (ip netip.Addr, from string, err error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, key := range []string{EnvContainerIP, EnvLibprocessIP} {
		v := getenv(key)
		if v == "" {
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Addr{}, key, fmt.Errorf("%s=%q: not an IP address", key, v)
		}
		return ip.Unmap(), key, nil
	}
	ifaddrs := src.InterfaceAddrs
	if ifaddrs == nil {
		ifaddrs = net.InterfaceAddrs
	}
	addrs, err := ifaddrs()
	if err != nil {
		return netip.Addr{}, "interface", fmt.Errorf("listing interface addresses: %w", err)
	}
	for _, a := range addrs {
		var ip netip.Addr
		switch a := a.(type) {
		case *net.IPNet:
			ip, _ = netip.AddrFromSlice(a.IP)
		case *net.IPAddr:
			ip, _ = netip.AddrFromSlice(a.IP)
		default:
			p, perr := netip.ParsePrefix(a.String())
			if perr != nil {
				continue
			}
			ip = p.Addr()
		}
		ip = ip.Unmap()
		if !ip.IsValid() || ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() ||
			ip.IsLinkLocalUnicast() {
			continue
		}
		return ip, "interface", nil
	}
	return netip.Addr{}, "interface", fmt.Errorf("no task IP: %s and %s are unset and no interface has a non-loopback address", EnvContainerIP, EnvLibprocessIP)
}
