package podinfo

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
)

// TLS issues transport-encryption certificates from the service's CA, with
// keys from a KeyPool.
type TLS struct {
	// CA signs the leaves.
	CA *pki.Issuer
	// Keys supplies the leaf keys.
	Keys *KeyPool
}

// subject is the SDK's leaf subject besides the CN.
var subject = pkix.Name{Organization: []string{"Mesosphere, Inc"}, Locality: []string{"San Francisco"}, Province: []string{"CA"}, Country: []string{"US"}}

// Issue signs a leaf for claim and returns its key, chain (leaf and
// intermediates) and root, PEM-encoded.
func (t *TLS) Issue(claim evaluate.TLSClaim) (keyPEM, certPEM, caPEM string, err error) {
	key, err := t.Keys.take()
	if err != nil {
		return "", "", "", err
	}
	b, err := t.CA.Issue(pki.LeafRequest{CommonName: claim.CommonName, Subject: subject, DNSNames: claim.DNSNames, Key: key.Signer})
	if err != nil {
		return "", "", "", err
	}
	kp := key.pem
	if kp == nil {
		if kp, err = pki.EncodeKeyPEM(b.Key); err != nil {
			return "", "", "", err
		}
	}
	return string(kp), string(pki.EncodeCertsPEM(b.Chain...)), string(pki.EncodeCertsPEM(b.Roots...)), nil
}

// KeyPool generates leaf keys ahead of need, off the event loop: Want says
// how many should be ready, Run's workers generate them (and PEM-encode
// them, for Issue), Take hands one out (or, when none is ready, generates
// one on the spot). ECDSA P-256 keys take about 50 µs, RSA-2048 ones about
// 100 ms each.
type KeyPool struct {
	typ pki.KeyType
	gen func(pki.KeyType) (crypto.Signer, error)

	mu       sync.Mutex
	ready    []pooledKey
	want     int
	inflight int
	changed  chan struct{} // closed (and replaced) when workers may have work

	generated, onDemand atomic.Int64
}

// NewKeyPool returns a pool of keys of type t (pki.ECDSAP256 when empty).
func NewKeyPool(t pki.KeyType) *KeyPool { return NewKeyPoolWith(t, pki.GenerateKey) }

// NewKeyPoolWith returns a pool whose keys come from gen (tests slow it
// down).
func NewKeyPoolWith(t pki.KeyType, gen func(pki.KeyType) (crypto.Signer, error)) *KeyPool {
	if t == "" {
		t = pki.ECDSAP256
	}
	return &KeyPool{typ: t, gen: gen, changed: make(chan struct{})}
}

// Type is the pool's key type.
func (p *KeyPool) Type() pki.KeyType { return p.typ }

// broadcastLocked wakes every worker. Caller holds p.mu.
func (p *KeyPool) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Want asks for n keys to be kept ready.
func (p *KeyPool) Want(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.want {
		p.broadcastLocked()
	}
	p.want = n
}

// Ready is how many keys are ready.
func (p *KeyPool) Ready() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

// Stats returns how many keys the workers generated ahead of need and how
// many Take had to generate on the spot.
func (p *KeyPool) Stats() (ahead, onDemand int64) { return p.generated.Load(), p.onDemand.Load() }

// pooledKey is a key with its PEM encoding (nil when not encoded yet).
type pooledKey struct {
	crypto.Signer
	pem []byte
}

// Take returns a ready key, or generates one when none is.
func (p *KeyPool) Take() (crypto.Signer, error) {
	k, err := p.take()
	return k.Signer, err
}

// take is Take with the key's PEM encoding when the pool has it.
func (p *KeyPool) take() (pooledKey, error) {
	p.mu.Lock()
	if n := len(p.ready); n > 0 {
		k := p.ready[n-1]
		p.ready = p.ready[:n-1]
		p.broadcastLocked()
		p.mu.Unlock()
		return k, nil
	}
	p.mu.Unlock()
	p.onDemand.Add(1)
	k, err := p.gen(p.typ)
	return pooledKey{Signer: k}, err
}

// Run generates keys until ctx ends, with one worker per CPU but one (at
// least one), so that the event loop keeps a CPU. It returns when its
// workers have stopped.
func (p *KeyPool) Run(ctx context.Context) {
	workers := max(1, runtime.GOMAXPROCS(0)-1)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() { // owned by Run: joined below
			defer wg.Done()
			p.work(ctx)
		}()
	}
	wg.Wait()
}

// work generates keys while fewer than wanted are ready or being
// generated.
func (p *KeyPool) work(ctx context.Context) {
	for ctx.Err() == nil {
		p.mu.Lock()
		need := len(p.ready)+p.inflight < p.want
		changed := p.changed
		if need {
			p.inflight++
		}
		p.mu.Unlock()
		if !need {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		k, err := p.gen(p.typ)
		var pem []byte
		if err == nil {
			pem, _ = pki.EncodeKeyPEM(k) // nil on an error: Issue encodes it and reports it
		}
		p.mu.Lock()
		p.inflight--
		if err == nil {
			p.ready = append(p.ready, pooledKey{Signer: k, pem: pem})
			p.generated.Add(1)
		}
		p.mu.Unlock()
		if err != nil { // Take reports it; no retry before the next change
			select {
			case <-ctx.Done():
			case <-changed:
			}
		}
	}
}
