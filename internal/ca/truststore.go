package ca

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// TrustStorePassword opens the agent's Java trust store. It guards nothing:
// the store holds only the public CA certificate, and Java refuses a PKCS#12
// file without a password's integrity MAC.
const TrustStorePassword = "changeit"

// TrustStore encodes a certificate-only PEM file as a PKCS#12 trust store,
// the form a JVM reads through javax.net.ssl.trustStore. Anything but
// certificates (a key above all) is refused.
func TrustStore(certPEM []byte) ([]byte, error) {
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("trust store: a %s block is not a certificate", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("trust store: no certificate")
	}
	return pkcs12.Modern.EncodeTrustStore(certs, TrustStorePassword)
}
