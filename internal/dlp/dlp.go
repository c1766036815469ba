// Package dlp finds secrets in outbound HTTP requests and prompt injection in
// inbound responses. Verdicts are values; the proxy decides what to do.
package dlp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
)

// Detector names, as in the manifest's dlp.outbound_detectors and
// dlp.inbound_detectors.
const (
	DetectorTokenPatterns  = "token_patterns"
	DetectorKnownSecrets   = "known_secrets"
	DetectorEntropy        = "entropy"
	DetectorNaiveInjection = "naive_injection_detection"
)

// Sentinel errors. Both mean "refuse the request": a body that cannot be
// scanned is never passed unscanned.
var (
	// ErrTooLarge: the decoded request exceeds the scan limit.
	ErrTooLarge = errors.New("dlp: request too large to scan")
	// ErrUndecodable: a Content-Encoding or multipart body could not be decoded.
	ErrUndecodable = errors.New("dlp: request body cannot be decoded for scanning")
)

// DefaultMaxBody bounds the decoded bytes scanned per request.
const DefaultMaxBody = 8 << 20

// Secret is a value the sidecar holds (from a token_ref env var).
// String and LogValue never show the value.
type Secret struct {
	Name  string
	Value string
}

// String redacts the value.
func (s Secret) String() string { return s.Name + "=***" }

// LogValue redacts the value.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.String("value", "***"))
}

// MarshalJSON redacts the value.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"name": s.Name, "value": "***"})
}

// MarshalText redacts the value (YAML, map keys, and other text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// GoString redacts the value for %#v.
func (s Secret) GoString() string { return "dlp.Secret{Name:" + s.Name + ", Value:***}" }

// Finding is one match. It never carries the raw matched value.
type Finding struct {
	Detector string // token_patterns | known_secrets | financial | entropy | naive_injection_detection
	Rule     string // gitleaks rule id, or secret NAME for known_secrets (never the value)
	Where    string // "method", "path", "query", "header:Name", "body", "body:part:NAME"
	Redacted string // a short excerpt with the secret replaced by ***; never the raw value
	// Place names where in the request the value sits, as a person reads
	// it: "query q", "header Cookie pair token", "body $.config.key".
	Place string
	// Decoded is the decoding path that showed the value, outermost
	// first ("percent ×2 → base64"); empty when it was in the raw text.
	Decoded string
	// Fingerprint identifies the matched value without revealing it: an
	// HMAC-SHA-256 under a key made at process start, so equal values have
	// equal fingerprints within one process and nothing outside it can test
	// a guess. Use it (not Redacted) to remember an approved value. For
	// known_secrets it is the fingerprint of the held value, whatever
	// encoding was found.
	Fingerprint string
}

// processKey keys fingerprints; made once, never changed.
var processKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("dlp: no randomness for the fingerprint key: " + err.Error()) // crypto/rand never fails on Linux
	}
	return k
})

// fingerprint is the keyed hash of a matched value.
func fingerprint(v []byte) string {
	m := hmac.New(sha256.New, processKey())
	m.Write(v)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// OutboundConfig selects the outbound detectors.
type OutboundConfig struct {
	Detectors []string // subset of token_patterns, known_secrets, financial, entropy; empty = none
	Secrets   []Secret
	MaxBody   int64 // max decoded body bytes scanned; larger -> ErrTooLarge (0 = DefaultMaxBody)
}

// Request is what is scanned. Body is as sent on the wire (Content-Encoding
// applied).
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// Result of a scan. Warnings come only from entropy (warn, never block).
type Result struct {
	Findings []Finding
	Warnings []Finding
}
