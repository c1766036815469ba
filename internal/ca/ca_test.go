package ca

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreateWritesAndReuses(t *testing.T) {
	dir := t.TempDir()
	c1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", st.Mode().Perm())
	}
	c2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(c1.CertPEM()) != string(c2.CertPEM()) {
		t.Error("second load made a new CA instead of reusing the one on disk")
	}
}

func TestLoadOrCreateRefusesHalfACA(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, KeyFile))
	if _, err := LoadOrCreate(dir); err == nil {
		t.Fatal("loaded a CA whose key is missing")
	}
}

func TestLeafVerifiesForNamesAndIPs(t *testing.T) {
	c, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c.Certificate())
	for _, host := range []string{"api.example.com", "127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			l, err := c.Leaf(host)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
				t.Errorf("leaf does not verify for %s: %v", host, err)
			}
			if _, err := l.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example.com", Roots: roots}); err == nil {
				t.Errorf("leaf for %s verifies for another name", host)
			}
			if d := l.Leaf.NotAfter.Sub(time.Now()); d > LeafValidity {
				t.Errorf("leaf valid for %v, want at most %v", d, LeafValidity)
			}
			again, _ := c.Leaf(host)
			if again != l {
				t.Error("leaf not cached")
			}
		})
	}
}
