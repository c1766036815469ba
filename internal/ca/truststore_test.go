package ca

import (
	"bytes"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func TestTrustStoreHoldsTheCA(t *testing.T) {
	certPEM, keyPEM, err := Generate("bot-bottle test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	store, err := TrustStore(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pkcs12.DecodeTrustStore(store, TrustStorePassword)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || !bytes.Equal(certs[0].Raw, c.Certificate().Raw) {
		t.Fatalf("trust store holds %d certificates, want the bottle CA", len(certs))
	}
	if _, err := TrustStore(append(certPEM, keyPEM...)); err == nil {
		t.Fatal("a PEM file with a key made a trust store")
	}
	if _, err := TrustStore([]byte("not pem")); err == nil {
		t.Fatal("no certificate made a trust store")
	}
}
