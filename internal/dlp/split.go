package dlp

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// A held secret split into pieces (half in one header, half in another;
// across JSON or form fields; across consecutive requests to one host) is
// not in any one field. When a scan sees the start or end of a held
// secret, the request's field values are joined, in order and in reverse
// order, after the recent fields sent to the same host, and searched for
// the held secrets again.

// fieldValues lists the values of r's fields in request order: path
// segments, query values, header values (by name), and the body's JSON
// strings, form values or multipart parts (or the whole body).
func fieldValues(r Request, segs []segment) [][]byte {
	var out [][]byte
	if u := r.URL; u != nil {
		for _, p := range strings.Split(u.Path, "/") {
			if p != "" {
				out = append(out, []byte(p))
			}
		}
		for _, kv := range strings.FieldsFunc(u.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
			_, v, _ := strings.Cut(kv, "=")
			if d, err := url.QueryUnescape(v); err == nil {
				v = d
			}
			out = append(out, []byte(v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[k] {
			if strings.EqualFold(k, "Cookie") {
				for _, pair := range strings.Split(v, ";") {
					_, cv, _ := strings.Cut(pair, "=")
					out = append(out, []byte(strings.TrimSpace(cv)))
				}
				continue
			}
			out = append(out, []byte(v))
		}
	}
	for _, s := range segs {
		switch {
		case strings.HasPrefix(s.Where, "body:part:"):
			out = append(out, s.Text)
		case s.Where == "body" && s.Kind == kindJSON:
			out = append(out, jsonStringValues(s.Text)...)
		case s.Where == "body" && s.Kind == kindForm:
			if q, err := url.ParseQuery(string(s.Text)); err == nil {
				for _, k := range slices.Sorted(maps.Keys(q)) {
					for _, v := range q[k] {
						out = append(out, []byte(v))
					}
				}
			}
		case s.Where == "body":
			out = append(out, s.Text)
		}
	}
	return out
}

// jsonStringValues is every string value of a JSON body, unescaped, in
// document order; what does not parse is taken whole.
func jsonStringValues(b []byte) [][]byte {
	var (
		out   [][]byte
		stack []bool // true: inside an object
		key   bool   // the next string is a key
	)
	d := json.NewDecoder(bytes.NewReader(b))
	for {
		t, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, b)
		}
		switch t := t.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, true)
				key = true
				continue
			case '[':
				stack = append(stack, false)
			default:
				stack = stack[:max(0, len(stack)-1)]
			}
		case string:
			if key {
				key = false
				continue
			}
			out = append(out, []byte(t))
		}
		key = len(stack) > 0 && stack[len(stack)-1]
	}
}

// splitFindings looks for each held secret cut into pieces that are
// whole field values (the first may end a value, the last may start one),
// in any order, among prior (the recent fields sent to the same host) and
// this request's fields.
func (o *Outbound) splitFindings(prior, fields [][]byte) []Finding {
	all := append(slices.Clone(prior), fields...)
	var out []Finding
	for i, sec := range o.secrets {
		v := []byte(sec.Value)
		if len(v) < MinSecretLen {
			continue
		}
		if from, ok := assemble(v, all); ok {
			place := "split across fields"
			if from < len(prior) {
				place = "split across requests to this host"
			}
			out = append(out, Finding{Detector: DetectorKnownSecrets, Rule: sec.Name, Where: "fields",
				Place: place, Decoded: "joined", Redacted: "***", Fingerprint: o.secretPrints[i]})
		}
	}
	return out
}

// maxPieces bounds how many pieces a split secret is looked for in.
const maxPieces = 8

// minPiece: a middle or last piece shorter than this is not looked for
// (one- and two-byte fields are everywhere).
const minPiece = 3

// assemble reports whether v is the end of one field followed by whole
// other fields and the start of a last one (at most maxPieces pieces);
// from is the lowest field index used. A search over positions in v, so
// its cost is bounded by len(v) × len(fields) × maxPieces.
func assemble(v []byte, fields [][]byte) (from int, ok bool) {
	f := fragmentLen(len(v))
	for i, fi := range fields {
		for k := min(len(fi), len(v)-1); k >= f; k-- {
			if !bytes.HasSuffix(fi, v[:k]) {
				continue
			}
			if low, ok := rest(v, k, fields); ok {
				return min(i, low), true
			}
		}
	}
	return 0, false
}

// rest: v[pos:] is whole fields and then the start of one.
func rest(v []byte, pos int, fields [][]byte) (int, bool) {
	type state struct{ pos, low int }
	frontier := []state{{pos, len(fields)}}
	seen := map[int]bool{pos: true}
	for range maxPieces - 1 {
		var next []state
		for _, st := range frontier {
			rem := v[st.pos:]
			for j, fj := range fields {
				if len(fj) < minPiece && len(fj) < len(rem) {
					continue
				}
				if len(rem) >= minPiece && bytes.HasPrefix(fj, rem) {
					return min(st.low, j), true
				}
				if len(fj) < len(rem) && bytes.HasPrefix(rem, fj) && !seen[st.pos+len(fj)] {
					seen[st.pos+len(fj)] = true
					next = append(next, state{st.pos + len(fj), min(st.low, j)})
				}
			}
		}
		frontier = next
	}
	return 0, false
}

// History remembers, per host, the last field values of requests that
// showed a piece of a held secret, so a secret sent in pieces over
// consecutive requests is seen whole. Bounded: HistoryBytes per host,
// HistoryHosts hosts, and a host's pieces are forgotten HistoryAge after
// its last one. Safe for concurrent use. The zero value is ready.
type History struct {
	mu    sync.Mutex
	hosts map[string][][]byte
	last  map[string]time.Time
	// now is the clock; nil means time.Now (tests set it).
	now func() time.Time
}

// Bounds of a History.
const (
	HistoryBytes = 1024
	HistoryHosts = 256
	HistoryAge   = 10 * time.Minute
)

func (h *History) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

func (h *History) get(host string) [][]byte {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clock().Sub(h.last[host]) > HistoryAge {
		return nil
	}
	return slices.Clone(h.hosts[host])
}

func (h *History) add(host string, fields [][]byte) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hosts == nil || len(h.hosts) >= HistoryHosts {
		h.hosts = map[string][][]byte{} // forget everything rather than grow
		h.last = map[string]time.Time{}
	}
	if h.clock().Sub(h.last[host]) > HistoryAge {
		delete(h.hosts, host) // too old to join with what comes now
	}
	h.last[host] = h.clock()
	fs := h.hosts[host]
	for _, f := range fields {
		if len(f) <= HistoryBytes {
			fs = append(fs, slices.Clone(f))
		}
	}
	n := 0
	for i := len(fs) - 1; i >= 0; i-- {
		if n += len(fs[i]); n > HistoryBytes {
			fs = fs[i+1:]
			break
		}
	}
	h.hosts[host] = fs
}
