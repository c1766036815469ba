package dlp

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Outbound scans requests leaving the bottle. It is immutable once built
// and safe for concurrent use.
type Outbound struct {
	maxBody int64
	secrets []Secret
	rules   *ruleSet // nil: token_patterns off
	entropy bool
	// financial: cards, IBANs, wallet keys and addresses (financial.go).
	financial bool
	variants  []variant
	// secretPrints[i] is the fingerprint of secrets[i].
	secretPrints []string
	nKw          int32 // pattern ids below nKw are rule keywords
	nEsc         int32 // pattern ids from nEsc on are escape markers
	escKind      []escKind
	ac           *acMatcher
}

// NewOutbound builds a scanner for cfg.
func NewOutbound(cfg OutboundConfig) (*Outbound, error) {
	o := &Outbound{maxBody: cfg.MaxBody, secrets: slices.Clone(cfg.Secrets)}
	for _, sec := range o.secrets {
		o.secretPrints = append(o.secretPrints, fingerprint([]byte(sec.Value)))
	}
	if o.maxBody <= 0 {
		o.maxBody = DefaultMaxBody
	}
	var patterns []string
	for _, d := range cfg.Detectors {
		switch d {
		case DetectorTokenPatterns:
			rs, err := defaultRules()
			if err != nil {
				return nil, fmt.Errorf("building outbound dlp: %w", err)
			}
			o.rules = rs
		case DetectorKnownSecrets:
			o.variants = secretVariants(o.secrets)
		case DetectorEntropy:
			o.entropy = true
		case DetectorFinancial:
			o.financial = true
		default:
			return nil, fmt.Errorf("building outbound dlp: unknown detector %q", d)
		}
	}
	if o.rules != nil {
		patterns = append(patterns, o.rules.keywords...)
	}
	o.nKw = int32(len(patterns))
	for _, v := range o.variants {
		patterns = append(patterns, string(v.Value))
	}
	// Escapes of token characters, found in the same pass, say when a
	// decoded view of the text is worth scanning too.
	o.nEsc = int32(len(patterns))
	for c := 0x21; c < 0x7f; c++ {
		if hidesToken(byte(c)) {
			patterns = append(patterns, fmt.Sprintf("%%%02x", c), fmt.Sprintf(`\u%04x`, c))
			o.escKind = append(o.escKind, escPercent, escJSON)
		}
	}
	patterns = append(patterns, `\/`, "%25")
	o.escKind = append(o.escKind, escJSON, escPercent)
	// Percent-escaped markers of the other layers: a backslash escape, an
	// HTML reference, an invisible or look-alike character in a query.
	for _, m := range pctMarkers {
		patterns = append(patterns, m)
		o.escKind = append(o.escKind, escPercent)
	}
	for _, m := range jsonMarkers {
		patterns = append(patterns, m)
		o.escKind = append(o.escKind, escJSON)
	}
	for c := 0x21; c < 0x7f; c++ {
		if hidesToken(byte(c)) {
			patterns = append(patterns, fmt.Sprintf(`\x%02x`, c))
			o.escKind = append(o.escKind, escJSON)
		}
	}
	var frags []string
	for _, sec := range o.secrets {
		if n := len(sec.Value); n >= MinSecretLen && o.variants != nil {
			f := fragmentLen(n)
			frags = append(frags, sec.Value[:f], sec.Value[n-f:])
		}
	}
	for _, group := range []struct {
		k  escKind
		ps []string
	}{{escHTML, htmlMarkers}, {escQP, qpMarkers()}, {escInvisible, invisibles}, {escCompat, compatLeads}, {escFragment, frags}} {
		for _, m := range group.ps {
			patterns = append(patterns, m)
			o.escKind = append(o.escKind, group.k)
		}
	}
	o.ac = newACMatcher(patterns)
	return o, nil
}

// jsonMarkers: JSON escapes of invisible and look-alike characters
// (Go and most encoders escape them as \uXXXX).
var jsonMarkers = []string{`\u00ad`, `\u034f`, `\u180e`, `\u200`, `\u202`, `\u206`, `\ufeff`, `\uff`}

var pctMarkers = []string{"%5cx", "%5cu", "%26%23", "%c2%ad", "%e2%80", "%e2%81", "%ef%bb", "%ef%bc", "%ef%bd", "%f0%9d"}

// escKind says which decoded view an escape marker calls for.
type escKind uint8

const (
	escPercent escKind = 1 << iota
	escJSON
	escHTML
	escQP
	escInvisible
	escCompat
	escFragment // the start or end of a held secret: it may be split
)

// segment is one part of a request scanned on its own.
type segment struct {
	Where string
	Text  []byte
	Plus  bool   // '+' means space here (query strings, form bodies)
	Kind  string // bodies: kindJSON, kindForm or ""
	// NameLen: a header line's name and ": " are Text[:NameLen].
	NameLen int
}

// span is a match in a segment's raw text: [Start, End) is what redaction
// replaces.
type span struct {
	Start, End int
	Finding    Finding
}

// Scan reports every finding in r. An error (ErrTooLarge, ErrUndecodable)
// means r could not be scanned and must be refused.
func (o *Outbound) Scan(r Request) (Result, error) { return o.ScanWith(nil, r) }

// ScanWith is Scan that also finds held secrets split across consecutive
// requests to r's host, remembered in h (one History per bottle).
func (o *Outbound) ScanWith(h *History, r Request) (Result, error) {
	segs, err := o.segments(r)
	if err != nil {
		return Result{}, err
	}
	var res Result
	b := o.newBudget()
	for _, s := range segs {
		spans, views, err := o.scanSegment(s, b)
		if err != nil {
			return Result{}, err
		}
		for _, sp := range spans {
			res.Findings = append(res.Findings, sp.Finding)
		}
		res.Findings = append(res.Findings, views...)
		if o.entropy {
			res.Warnings = append(res.Warnings, entropyWarnings(s)...)
		}
	}
	if b.fragments {
		host := ""
		if r.URL != nil {
			host = r.URL.Hostname()
		}
		fields := fieldValues(r, segs)
		for _, f := range o.splitFindings(h.get(host), fields) {
			if !slices.ContainsFunc(res.Findings, func(g Finding) bool { return g.Detector == f.Detector && g.Fingerprint == f.Fingerprint }) {
				res.Findings = append(res.Findings, f)
			}
		}
		h.add(host, fields)
	}
	if o.rules != nil {
		res.Findings = append(res.Findings, headerNameFindings(r.Header)...)
	}
	o.scrubPlaces(res.Findings)
	o.scrubPlaces(res.Warnings)
	res.Findings = dedupeFindings(res.Findings)
	res.Warnings = dedupeFindings(res.Warnings)
	return res, nil
}

// headerNameCases: a header name reaches the scan canonicalised (a
// "ghp_aB…" name arrives as "Ghp_ab…", an "AKIA…" one as "Akia…"),
// which case-sensitive token rules miss; the upstream still receives it.
// A name long enough to hold a token is also scanned lower- and
// upper-cased.
func headerNameCases(k string) []segment {
	if len(k) < minHeaderNameToken {
		return nil
	}
	var out []segment
	for _, c := range []string{strings.ToLower(k), strings.ToUpper(k)} {
		if c != k {
			out = append(out, segment{Where: "header:" + k, Text: []byte(c), NameLen: len(c)})
		}
	}
	return out
}

// minHeaderNameToken is the shortest header name scanned in other cases
// (X-Github-Api-Version is 20; tokens rules want 16 and more).
const minHeaderNameToken = 16

// dedupeFindings keeps one finding per value per place: two different
// values under one rule both stay, so approving one never hides the other.
func dedupeFindings(fs []Finding) []Finding {
	type key struct{ d, r, w, f string }
	seen := map[key]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := key{f.Detector, f.Rule, f.Where, f.Fingerprint}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// segments splits r into the texts scanned: method, host, user info,
// path, query, every header, and the decoded body (or its parts).
func (o *Outbound) segments(r Request) ([]segment, error) {
	segs := []segment{{Where: "method", Text: []byte(r.Method)}}
	if u := r.URL; u != nil {
		segs = append(segs, segment{Where: "host", Text: []byte(u.Host)})
		if u.User != nil {
			segs = append(segs, segment{Where: "userinfo", Text: []byte(u.User.String())})
		}
		segs = append(segs, segment{Where: "path", Text: []byte(u.EscapedPath())})
		if u.Opaque != "" {
			segs = append(segs, segment{Where: "path", Text: []byte(u.Opaque)})
		}
		if u.RawQuery != "" {
			segs = append(segs, segment{Where: "query", Text: []byte(u.RawQuery), Plus: true})
		}
		if u.Fragment != "" {
			segs = append(segs, segment{Where: "fragment", Text: []byte(u.EscapedFragment())})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[k] {
			segs = append(segs, segment{Where: "header:" + k, Text: []byte(k + ": " + v), NameLen: len(k) + 2})
		}
		segs = append(segs, headerNameCases(k)...)
	}
	if len(r.Body) == 0 {
		return segs, nil
	}
	codings, err := contentEncodings(r.Header)
	if err != nil {
		return nil, err
	}
	body, err := decodeBody(r.Body, codings, o.maxBody)
	if err != nil {
		return nil, err
	}
	if len(codings) > 0 {
		// Bytes outside the decoded stream (gzip name, comment and extra
		// fields, data after the end of a deflate stream, zstd skippable
		// frames) reach the upstream too: scan what is sent as well.
		segs = append(segs, segment{Where: "body:raw", Text: r.Body})
	}
	ct := r.Header.Get("Content-Type")
	segs = append(segs, segment{Where: "body", Text: body, Plus: isForm(ct), Kind: bodyKind(ct, body)})
	parts, isMultipart, err := multipartParts(ct, body, o.maxBody)
	if err != nil {
		return nil, err
	}
	if isMultipart {
		for _, p := range parts {
			segs = append(segs, segment{Where: "body:part:" + p.Name, Text: p.Data})
		}
	}
	return segs, nil
}

// bodyKind says how places inside a body are named.
func bodyKind(ct string, body []byte) string {
	if isForm(ct) {
		return kindForm
	}
	t := bytes.TrimLeft(body, " \t\r\n")
	if strings.Contains(strings.ToLower(ct), "json") || len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return kindJSON
	}
	return ""
}

func isForm(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/x-www-form-urlencoded")
}

// scanSegment finds matches in the raw text (as spans that redaction can
// replace) and in every decoded layer below it (layers.go), which
// redaction cannot reach. b bounds the decoded bytes of the request.
func (o *Outbound) scanSegment(s segment, b *layerBudget) ([]span, []Finding, error) {
	root := &view{text: s.Text, plus: s.Plus}
	spans, esc, err := o.scanText(s.Where, s.Text, &root.marks)
	if err != nil {
		return nil, nil, err
	}
	b.fragments = b.fragments || esc&escFragment != 0
	for i := range spans {
		spans[i].Finding.Place = placeOf(s, spans[i].Start)
	}
	var extra []Finding
	seen := map[[3]string]bool{}
	for _, sp := range spans {
		seen[[3]string{sp.Finding.Detector, sp.Finding.Rule, sp.Finding.Fingerprint}] = true
	}
	err = o.scanLayers(s.Where, root, esc, 0, b, func(v *view, vs []span) {
		for _, sp := range vs {
			k := [3]string{sp.Finding.Detector, sp.Finding.Rule, sp.Finding.Fingerprint}
			if seen[k] {
				continue
			}
			seen[k] = true
			f := sp.Finding
			f.Decoded = v.path()
			f.Place = placeOf(s, v.rootOffset(sp.Start))
			extra = append(extra, f)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return spans, extra, nil
}

func (o *Outbound) newBudget() *layerBudget {
	return &layerBudget{left: layerBudgetFactor * o.maxBody}
}

// scanText is one pass of the automaton over text, then the checks the
// hits call for.
func (o *Outbound) scanText(where string, text []byte, marks *[]mark) ([]span, escKind, error) {
	if len(text) == 0 {
		return nil, 0, nil
	}
	hits, ok := o.ac.scanAll(text, nil, maxHits(len(text)))
	if !ok {
		return nil, 0, errTooComplex
	}
	var (
		kw    []acHit
		spans []span
		esc   escKind
	)
	for _, h := range hits {
		if h.Pattern < o.nKw {
			kw = append(kw, h)
			continue
		}
		if h.Pattern >= o.nEsc {
			k := o.escKind[h.Pattern-o.nEsc]
			esc |= k
			if marks != nil && len(text) > windowedText {
				*marks = append(*marks, mark{k, int(h.End)})
			}
			continue
		}
		v := &o.variants[h.Pattern-o.nKw]
		start := h.End - len(v.Value)
		if v.verify(text[start:h.End]) {
			spans = append(spans, span{Start: start, End: h.End, Finding: Finding{
				Detector:    DetectorKnownSecrets,
				Rule:        o.secrets[v.Secret].Name,
				Where:       where,
				Fingerprint: o.secretPrints[v.Secret],
			}})
		}
	}
	if o.rules != nil {
		found, err := o.rules.findTokens(text, kw)
		if err != nil {
			return nil, 0, err
		}
		for _, m := range found {
			spans = append(spans, span{Start: m.SecStart, End: m.SecEnd, Finding: Finding{
				Detector:    DetectorTokenPatterns,
				Rule:        o.rules.rules[m.Rule].rule.RuleID,
				Where:       where,
				Fingerprint: fingerprint(text[m.SecStart:m.SecEnd]),
			}})
		}
	}
	if o.financial {
		for _, m := range findFinancial(text) {
			spans = append(spans, span{Start: m.Start, End: m.End, Finding: Finding{
				Detector:    DetectorFinancial,
				Rule:        m.Rule,
				Where:       where,
				Fingerprint: fingerprint(text[m.Start:m.End]),
			}})
		}
	}
	for i := range spans {
		spans[i].Finding.Redacted = excerpt(text, spans, i)
	}
	return spans, esc, nil
}

const excerptContext = 16

// excerpt shows a little context around spans[i] with every span in view
// replaced by ***. Only printable ASCII is kept.
func excerpt(text []byte, spans []span, i int) string {
	lo := max(0, spans[i].Start-excerptContext)
	hi := min(len(text), spans[i].End+excerptContext)
	var b strings.Builder
	for p := lo; p < hi; {
		in := -1
		for j, sp := range spans {
			if sp.Start <= p && p < sp.End {
				in = j
				break
			}
		}
		if in >= 0 {
			b.WriteString("***")
			p = spans[in].End
			continue
		}
		c := text[p]
		if c < 0x20 || c >= 0x7f {
			c = '.'
		}
		b.WriteByte(c)
		p++
	}
	return b.String()
}

// Redact returns r with every match scrubbed (body re-encoded with its
// Content-Encoding, Content-Length fixed) and the findings that survived
// redaction (non-empty: the caller refuses). Matches that only show up
// once the text is decoded (percent-escapes, \u escapes, a base64 part)
// cannot be scrubbed in place and survive.
func (o *Outbound) Redact(r Request) (Request, []Finding, error) {
	out := r
	out.Header = r.Header.Clone()
	if r.URL != nil {
		u := *r.URL
		out.URL = &u
		for _, part := range []struct {
			where        string
			escaped      string
			plus         bool
			raw, decoded *string // decoded nil: keep only the raw form
		}{
			{"path", u.EscapedPath(), false, &out.URL.RawPath, &out.URL.Path},
			{"query", u.RawQuery, true, &out.URL.RawQuery, nil},
			{"fragment", u.EscapedFragment(), false, &out.URL.RawFragment, &out.URL.Fragment},
		} {
			red, changed, err := o.redactText(part.where, []byte(part.escaped), part.plus)
			if err != nil {
				return r, nil, err
			}
			if !changed {
				continue
			}
			if part.decoded != nil {
				dec, err := url.PathUnescape(string(red))
				if err != nil {
					continue // cannot happen: redaction only removes bytes of valid escapes' text
				}
				*part.decoded = dec
			}
			*part.raw = string(red)
		}
	}
	for k, vs := range out.Header {
		for i, v := range vs {
			line := k + ": " + v
			red, changed, err := o.redactText("header:"+k, []byte(line), false)
			if err != nil {
				return r, nil, err
			}
			if changed {
				if rest, ok := strings.CutPrefix(string(red), k+": "); ok {
					out.Header[k][i] = rest
				}
			}
		}
	}
	if len(r.Body) > 0 {
		codings, err := contentEncodings(r.Header)
		if err != nil {
			return r, nil, err
		}
		body, err := decodeBody(r.Body, codings, o.maxBody)
		if err != nil {
			return r, nil, err
		}
		red, changed, err := o.redactText("body", body, isForm(r.Header.Get("Content-Type")))
		if err != nil {
			return r, nil, err
		}
		if changed {
			enc, err := encodeBody(red, codings)
			if err != nil {
				return r, nil, err
			}
			out.Body = enc
			if out.Header == nil {
				out.Header = make(map[string][]string)
			}
			out.Header.Set("Content-Length", strconv.Itoa(len(enc)))
		}
	}
	res, err := o.Scan(out)
	if err != nil {
		return r, nil, err
	}
	return out, res.Findings, nil
}

// Redaction is what replaces a scrubbed value: plain ASCII that is safe in
// a path, a query, a header and a JSON string.
const Redaction = "REDACTED"

func (o *Outbound) redactText(where string, text []byte, plus bool) ([]byte, bool, error) {
	spans, _, err := o.scanText(where, text, nil)
	if err != nil || len(spans) == 0 {
		return text, false, err
	}
	slices.SortFunc(spans, func(a, b span) int { return a.Start - b.Start })
	var out bytes.Buffer
	p := 0
	for _, sp := range spans {
		if sp.End <= p {
			continue
		}
		if sp.Start > p {
			out.Write(text[p:sp.Start])
		}
		out.WriteString(Redaction)
		p = sp.End
	}
	out.Write(text[p:])
	return out.Bytes(), true, nil
}
