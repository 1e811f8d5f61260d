package testenv

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// An address block is the /24 of loopback addresses a cluster's agents
// listen on (agent i on the block's base + i). Every 127/8 address is
// loopback on Linux, so a host has 65535 such blocks, and clusters on one
// host stay apart by each taking its own.
//
// A cluster claims its block for its lifetime by binding a Unix socket in
// the abstract namespace named after the block (see claimName): the bind is
// atomic across processes, and the kernel releases it when the process
// dies, even by SIGKILL, so a crashed cluster never leaves its block taken.
// Abstract sockets and loopback addresses both belong to the network
// namespace, which is exactly the scope in which clusters could clash.
//
// With no AgentIPBase the cluster takes the first block, from 127.0.1.0/24
// upwards, that no other cluster claims and on whose agent addresses no
// socket is bound (a process other than testenv using them). An explicit
// AgentIPBase is claimed as given, or Start fails naming it.
type addrBlock struct {
	base  net.IP         // the first agent's address
	claim net.PacketConn // the abstract socket holding the claim
}

// maxAutoBlocks bounds the search for a free block: 127.0.1.0/24 onwards.
const maxAutoBlocks = 4096

// ErrBlockTaken is wrapped by Start's error when an explicit AgentIPBase
// is in a /24 another cluster holds.
var ErrBlockTaken = errors.New("agent address block is in use by another testenv cluster")

// claimName is the abstract socket name claiming the /24 of ip.
func claimName(ip net.IP) string {
	v4 := ip.To4()
	return fmt.Sprintf("@taskkit-testenv/%d.%d.%d.0/24", v4[0], v4[1], v4[2])
}

// tryClaim claims the /24 of ip: nil, nil when another process holds it.
func tryClaim(ip net.IP) (net.PacketConn, error) {
	pc, err := net.ListenPacket("unixgram", claimName(ip))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claiming %s: %w", claimName(ip)[1:], err)
	}
	return pc, nil
}

// agentIPs lists the addresses of n agents from base.
func agentIPs(base net.IP, n int) []net.IP {
	v4 := base.To4()
	out := make([]net.IP, n)
	for i := range out {
		out[i] = net.IPv4(v4[0], v4[1], v4[2], v4[3]+byte(i))
	}
	return out
}

// claimBlock claims the address block for cfg (after defaults): cfg's
// AgentIPBase, or the first free block when it is empty.
func claimBlock(base string, agents, agentPort int, hs *hostSockets) (*addrBlock, error) {
	if agentPort > 0 && hs != nil && hs.wildcard[uint16(agentPort)] {
		return nil, fieldErr("AgentPort", fmt.Errorf("%d is held on every address (0.0.0.0 or ::) by another process; choose another agent port, or 0 for free ones", agentPort))
	}
	if base != "" {
		ip := net.ParseIP(base).To4()
		pc, err := tryClaim(ip)
		if err != nil {
			return nil, err
		}
		if pc == nil {
			return nil, fieldErr("AgentIPBase", fmt.Errorf("%s: %w (%s); leave it unset to pick a free block", base, ErrBlockTaken, claimName(ip)[1:]))
		}
		return &addrBlock{base: ip, claim: pc}, nil
	}
	for i := 0; i < maxAutoBlocks; i++ {
		n := 1 + i // 127.0.1.0/24, 127.0.2.0/24, ...: 127.0.0.0/24 is localhost's
		ip := net.IPv4(127, byte(n>>8), byte(n), 1).To4()
		if hs != nil && hs.usesAny(agentIPs(ip, agents)) {
			continue
		}
		pc, err := tryClaim(ip)
		if err != nil {
			return nil, err
		}
		if pc != nil {
			return &addrBlock{base: ip, claim: pc}, nil
		}
	}
	return nil, fmt.Errorf("no free agent address block among the first %d /24 blocks from 127.0.1.0", maxAutoBlocks)
}

func (b *addrBlock) release() {
	if b != nil && b.claim != nil {
		b.claim.Close()
	}
}
