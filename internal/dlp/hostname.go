package dlp

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// A host name can carry data out before any byte of a request is sent:
// resolving it is a DNS query that leaves, and the upstream (or its DNS
// server) reads the name. CheckHost looks at a name before anything
// resolves it.

// DetectorHostName names findings about the shape of a host name.
const DetectorHostName = "host_name"

// Host-name shape limits, tuned on real names (hostname_test.go): CDN
// ids (d111111abcdef8.cloudfront.net), S3 buckets with dots, UUIDs and
// deploy hashes of preview hosts (vercel, netlify, Codespaces), AWS ids
// (ELB, VPC endpoints, Lambda URLs) all stay under them.
const (
	// maxLabels: more labels than any real name we have seen (an S3
	// bucket with dots under a regional endpoint is 8).
	maxLabels = 10
	// maxRandomLabel: random-looking characters in one label (a k8s ELB
	// name has 42: 32 hex, a dash, 10 digits).
	maxRandomLabel = 43
	// maxRandomName: random-looking characters in all labels together.
	maxRandomName = 59
	// minRandomRun: a label with fewer characters says little.
	minRandomRun = 12
	// minDecoded: decodings shorter than this (in characters) are not
	// scanned; they cannot hold a token.
	minDecoded = 16
)

// HostVerdict is what a host name carries.
type HostVerdict struct {
	// Secrets: a token pattern or a held secret, in a label as it is or
	// decoded. Always refused.
	Secrets []Finding
	// Encoded: the name looks like it carries data (HostLooksEncoded).
	Encoded []Finding
}

// Clean reports whether the name carries nothing.
func (v HostVerdict) Clean() bool { return len(v.Secrets) == 0 && len(v.Encoded) == 0 }

// HostCheck searches host names for token patterns and held secrets.
// Immutable and safe for concurrent use.
type HostCheck struct{ out *Outbound }

// NewHostCheck builds a check for the token rules and the held secrets.
func NewHostCheck(secrets []Secret) (*HostCheck, error) {
	o, err := NewOutbound(OutboundConfig{Detectors: []string{DetectorTokenPatterns, DetectorKnownSecrets}, Secrets: secrets})
	if err != nil {
		return nil, fmt.Errorf("building the host-name check: %w", err)
	}
	return &HostCheck{out: o}, nil
}

// Check looks at host (a name as the agent sent it, any case, no port).
// An error means the name could not be scanned and must be refused.
func (h *HostCheck) Check(host string) (HostVerdict, error) {
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	v := HostVerdict{Encoded: HostLooksEncoded(host)}
	cands := hostCandidates(host)
	texts := make([]string, len(cands))
	for i, c := range cands {
		texts[i] = c.text
	}
	// One scan of everything; only a name that carries something is
	// scanned again piece by piece, to say where.
	all, err := h.scanText(strings.Join(texts, "\n"))
	if err != nil || len(all) == 0 {
		return v, err
	}
	for _, c := range cands {
		fs, err := h.scanText(c.text)
		if err != nil {
			return v, err
		}
		for _, f := range fs {
			f.Where, f.Place, f.Redacted = c.where, c.where, "decoded: "+c.path
			v.Secrets = append(v.Secrets, f)
		}
	}
	if len(v.Secrets) == 0 { // found only across two pieces
		for _, f := range all {
			f.Where, f.Place, f.Redacted = "host", "host", "decoded"
			v.Secrets = append(v.Secrets, f)
		}
	}
	v.Secrets = dedupeFindings(v.Secrets)
	return v, nil
}

func (h *HostCheck) scanText(text string) ([]Finding, error) {
	res, err := h.out.Scan(Request{Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(text)})
	if err != nil {
		return nil, fmt.Errorf("scanning the host name: %w", err)
	}
	return res.Findings, nil
}

// hostCandidate is one text searched: the name, or a decoding of some of
// its labels.
type hostCandidate struct {
	where string // "host", "host label 2", "host labels 1-3"
	path  string // the decoding: "as sent", "hex", "base32", ...
	text  string
}

// hostCandidates are the name as sent and every decoding of each label
// and of the labels joined (data chunked across labels).
func hostCandidates(host string) []hostCandidate {
	// Upper case too: DNS folds case, and some token alphabets (AWS key
	// ids, base32) survive the fold.
	out := []hostCandidate{{"host", "as sent", host}, {"host", "upper case", strings.ToUpper(host)}}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		for _, d := range decodeLabel(l) {
			out = append(out, hostCandidate{fmt.Sprintf("host label %d", i+1), d[0], d[1]})
		}
	}
	// Joined: every run of two or more labels (data chunked across
	// them). A name deeper than maxLabels is refused for its depth anyway.
	n := min(len(labels), maxLabels+1)
	for start := 0; start < n; start++ {
		for end := start + 2; end <= n; end++ {
			where, joined := fmt.Sprintf("host labels %d-%d", start+1, end), strings.Join(labels[start:end], "")
			out = append(out, hostCandidate{where, "joined", joined})
			for _, d := range decodeLabel(joined) {
				out = append(out, hostCandidate{where, d[0], d[1]})
			}
		}
	}
	return out
}

var (
	b32    = base32.StdEncoding.WithPadding(base32.NoPadding)
	b32hex = base32.HexEncoding.WithPadding(base32.NoPadding)
)

// decodeLabel is every decoding of s (dashes and underscores dropped)
// that works: hex, base32, base32hex, base64url. Each is [path, text].
func decodeLabel(s string) [][2]string {
	s = strings.NewReplacer("-", "", "_", "").Replace(s)
	if len(s) < minDecoded {
		return nil
	}
	var out [][2]string
	add := func(path string, b []byte, err error) {
		if err == nil && len(b) > 0 {
			out = append(out, [2]string{path, string(b)})
		}
	}
	lower := strings.ToLower(s)
	if len(lower)%2 == 0 {
		b, err := hex.DecodeString(lower)
		add("hex", b, err)
	}
	up := strings.ToUpper(s)
	for _, e := range []struct {
		name string
		enc  *base32.Encoding
	}{{"base32", b32}, {"base32hex", b32hex}} {
		b, err := e.enc.DecodeString(trimTo(up, 8, 1, 3, 6))
		add(e.name, b, err)
	}
	b, err := base64.RawURLEncoding.DecodeString(trimTo(s, 4, 1))
	add("base64url", b, err)
	return out
}

// trimTo drops trailing characters until len(s) mod m is not in bad:
// a chunk cut at a label boundary still decodes.
func trimTo(s string, m int, bad ...int) string {
	for len(s) > 0 {
		ok := true
		for _, b := range bad {
			ok = ok && len(s)%m != b
		}
		if ok {
			return s
		}
		s = s[:len(s)-1]
	}
	return s
}

// HostLooksEncoded reports the shape of a name that carries data: too many
// labels, or too many random-looking characters in a label or in the
// whole name. It needs no secrets, so the operator's side can run it too.
func HostLooksEncoded(host string) []Finding {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	var out []Finding
	if len(labels) > maxLabels {
		out = append(out, Finding{Detector: DetectorHostName, Rule: "deep-name", Where: "host",
			Redacted: fmt.Sprintf("%d labels (more than %d)", len(labels), maxLabels)})
	}
	total, long := 0, 0
	for i, l := range labels {
		n := randomChars(l)
		total += n
		if n >= minDecoded {
			long++
		}
		if n > maxRandomLabel {
			out = append(out, Finding{Detector: DetectorHostName, Rule: "encoded-label", Where: fmt.Sprintf("host label %d", i+1),
				Redacted: fmt.Sprintf("%d random-looking characters (more than %d)", n, maxRandomLabel)})
		}
	}
	if total > maxRandomName || long >= 3 {
		out = append(out, Finding{Detector: DetectorHostName, Rule: "encoded-chain", Where: "host",
			Redacted: fmt.Sprintf("%d random-looking characters in %d labels", total, long)})
	}
	return out
}

// randomChars is how many characters of label look like encoded data: all
// of them (dashes and underscores aside) when the label mixes letters and
// digits, mixes cases, or is a long run of letters with few vowels; else 0.
func randomChars(label string) int {
	var letters, digits, upper, lower, vowels, n int
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z':
			lower++
			letters++
			if strings.IndexByte("aeiouy", c) >= 0 {
				vowels++
			}
		case c >= 'A' && c <= 'Z':
			upper++
			letters++
			if strings.IndexByte("AEIOUY", c) >= 0 {
				vowels++
			}
		case c == '-' || c == '_':
			continue
		}
		n++
	}
	switch {
	case n < minRandomRun:
		return 0
	case letters >= 2 && digits >= 2, upper >= 2 && lower >= 2 && n >= minDecoded:
		return n
	case digits == 0 && letters >= 24 && vowels*5 < letters:
		return n
	}
	return 0
}
