// Package ca is a bottle's certificate authority: an ECDSA key and
// certificate kept in the bottle's state directory, and the short-lived leaf
// certificates the egress proxy presents to the agent, minted on demand and
// cached.
package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
)

// File names inside the state directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// Validity periods. The CA lives as long as a bottle may be resumed; leaves
// are short so a leaked one is useless soon.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 24 * time.Hour
	// leafRenew is how long before expiry a cached leaf is replaced.
	leafRenew = time.Hour
	// maxCached bounds the leaf cache; the agent controls the names asked for.
	maxCached = 4096
)

// CA signs leaf certificates. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]*tls.Certificate
}

// LoadOrCreate reads ca.pem and ca-key.pem from dir, or creates them (the
// key 0600) when neither exists. Exactly one of them existing is an error:
// silently replacing half a CA would break every client that trusts it.
func LoadOrCreate(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		return Parse(certPEM, keyPEM)
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
	case cerr != nil && !errors.Is(cerr, fs.ErrNotExist):
		return nil, fmt.Errorf("reading ca: %w", cerr)
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return nil, fmt.Errorf("reading ca key: %w", kerr)
	default:
		return nil, fmt.Errorf("loading ca from %s: only one of %s and %s exists", dir, CertFile, KeyFile)
	}
	certPEM, keyPEM, err := Generate("bot-bottle CA", time.Now())
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing ca key: %w", err)
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("writing ca: %w", err)
	}
	return Parse(certPEM, keyPEM)
}

// Generate makes a new CA certificate and key, PEM encoded.
func Generate(name string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating ca key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"bot-bottle"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating ca certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding ca key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// Parse builds a CA from PEM certificate and key.
func Parse(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("parsing ca: no certificate in pem")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing ca: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("parsing ca: certificate is not a ca")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("parsing ca key: no key in pem")
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = errors.New("not an ecdsa key")
			}
		}
	default:
		err = fmt.Errorf("unexpected pem block %q", kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing ca key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("parsing ca: key does not match certificate")
	}
	return &CA{cert: cert, certPEM: certPEM, key: key, now: time.Now, cache: map[string]*tls.Certificate{}}, nil
}

// CertPEM is the CA certificate for clients to trust.
func (c *CA) CertPEM() []byte { return c.certPEM }

// Certificate is the parsed CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Leaf returns a certificate for host (a DNS name or an IP literal), minting
// it on first use and again shortly before it expires.
func (c *CA) Leaf(host string) (*tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return nil, errors.New("minting leaf: empty host")
	}
	now := c.now()
	c.mu.Lock()
	if l, ok := c.cache[host]; ok && now.Before(l.Leaf.NotAfter.Add(-leafRenew)) {
		c.mu.Unlock()
		return l, nil
	}
	c.mu.Unlock()
	l, err := c.mint(host, now)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.cache) >= maxCached {
		clear(c.cache)
	}
	c.cache[host] = l
	c.mu.Unlock()
	return l, nil
}

func (c *CA) mint(host string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("minting leaf for %s: %w", host, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	if tmpl.NotAfter.After(c.cert.NotAfter) {
		tmpl.NotAfter = c.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("minting leaf for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("minting leaf for %s: %w", host, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
