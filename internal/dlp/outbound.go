package dlp

import (
	"fmt"
	"strings"
)

// Outbound scans requests leaving the bottle. It is safe for concurrent use.
type Outbound struct {
	cfg OutboundConfig
}

// NewOutbound builds a scanner for cfg.
func NewOutbound(cfg OutboundConfig) (*Outbound, error) {
	for _, d := range cfg.Detectors {
		switch d {
		case DetectorTokenPatterns, DetectorKnownSecrets, DetectorEntropy:
		default:
			return nil, fmt.Errorf("building outbound dlp: unknown detector %q", d)
		}
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	return &Outbound{cfg: cfg}, nil
}

// Scan reports every finding in r. An error means r could not be scanned
// and must be refused.
func (o *Outbound) Scan(r Request) (Result, error) {
	var res Result
	if int64(len(r.Body)) > o.cfg.MaxBody {
		return res, ErrTooLarge
	}
	check := func(where, s string) {
		for _, sec := range o.cfg.Secrets {
			if len(sec.Value) >= 8 && strings.Contains(s, sec.Value) {
				res.Findings = append(res.Findings, Finding{Detector: DetectorKnownSecrets, Rule: sec.Name, Where: where, Redacted: "***"})
			}
		}
	}
	check("method", r.Method)
	if r.URL != nil {
		check("path", r.URL.Path)
		check("query", r.URL.RawQuery)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			check("header:"+k, v)
		}
	}
	check("body", string(r.Body))
	return res, nil
}

// Redact returns r with every match scrubbed (body re-encoded with its
// Content-Encoding, Content-Length fixed) and the findings that survived
// redaction (non-empty: the caller refuses).
func (o *Outbound) Redact(r Request) (Request, []Finding, error) {
	res, err := o.Scan(r)
	if err != nil {
		return r, nil, err
	}
	return r, res.Findings, nil
}
