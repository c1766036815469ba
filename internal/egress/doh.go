package egress

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// The policy refuses the standard DoH shapes (/dns-query, the dns-message
// and dns-json media types). A resolver on an allowed host answers other
// shapes too: a custom path with ?dns=, the JSON resolve API
// (/resolve?name=…&type=…), a DNS message as the body under any media
// type, or an answer in a DNS media type to a request that did not say
// so. Each is a DNS query leaving past the bottle's resolver.

// dohRequest names the DoH shape of a request, or "".
func dohRequest(r *http.Request, body []byte) string {
	q := r.URL.Query()
	for _, v := range q["dns"] {
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "=")); err == nil && isDNSMessage(b) {
			return "a DNS message in the dns query parameter"
		}
	}
	if q.Get("name") != "" && (q.Has("type") || q.Has("rrtype") || q.Has("qtype") || strings.Contains(strings.ToLower(r.URL.Path), "resolve")) {
		return "a JSON DNS resolve query (name and type parameters)"
	}
	if ct := strings.ToLower(q.Get("ct")); strings.Contains(ct, "dns-") {
		return "a DNS media type in the ct parameter"
	}
	if isDNSMessage(body) {
		return "a DNS message as the request body"
	}
	return ""
}

// dohResponse names the DoH shape of a response, or "".
func dohResponse(h http.Header) string {
	for _, v := range h.Values("Content-Type") {
		mt, _, err := mime.ParseMediaType(v)
		if err != nil {
			mt = strings.ToLower(strings.TrimSpace(v))
		}
		if strings.HasPrefix(mt, "application/dns") || mt == "application/x-dns-message" {
			return "an answer of type " + mt
		}
	}
	return ""
}

// isDNSMessage: b parses completely as one DNS message with a question,
// the shape of a DoH query or answer. Random bytes rarely do: the header
// counts must match what follows to the last byte.
func isDNSMessage(b []byte) bool {
	if len(b) < 17 || len(b) > 4096 {
		return false
	}
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil || len(m.Questions) == 0 || len(m.Questions) > 4 {
		return false
	}
	// Re-pack to the same length: trailing bytes mean it was not one.
	out, err := m.Pack()
	return err == nil && len(out) <= len(b) && len(b)-len(out) < 16
}

// dohJSONAnswer: the JSON resolve API's answer ({"Status":0,"Question":…}).
func dohJSONAnswer(b []byte) bool {
	var a struct {
		Status   *int              `json:"Status"`
		Question []json.RawMessage `json:"Question"`
	}
	return len(b) < 1<<16 && json.Unmarshal(b, &a) == nil && a.Status != nil && len(a.Question) > 0
}
