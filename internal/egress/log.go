package egress

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
	"github.com/bot-bottle/bot-bottle/internal/secretshape"
)

// sensitiveHeaders are never logged with their values.
var sensitiveHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "Api-Key": true, "X-Goog-Api-Key": true, "Private-Token": true,
	"X-Auth-Token": true, "X-Access-Token": true, "Openai-Api-Key": true, "Anthropic-Api-Key": true,
}

// logDecision writes the one line for a refusal (always), a use of a
// grant (always: a new run counts a grant's uses from this log, so resume
// honours what is left) or another allowed decision (log >= 1). The query
// string is never logged.
func (s *Server) logDecision(st *state, r *http.Request, t target, d policy.Decision, status int, findings []dlp.Finding, extra ...slog.Attr) {
	if d.Allow && st.pol.Log < 1 && d.Route.GrantID() == "" {
		return
	}
	decision := "refuse"
	if d.Allow {
		decision = "allow"
	}
	attrs := []slog.Attr{
		slog.String("decision", decision),
		slog.String("code", string(d.Code)),
		slog.String("reason", scrub(d.Reason, st.secrets)),
		slog.String("method", r.Method),
		slog.String("scheme", t.scheme),
		slog.String("host", t.host),
		slog.Int("port", t.port),
	}
	if r.Method != http.MethodConnect {
		path := scrub(r.URL.Path, st.secrets)
		for _, f := range findings {
			if f.Where == "path" {
				path = "(redacted: a finding is in the path)"
			}
		}
		attrs = append(attrs, slog.String("path", path))
	}
	if d.Route != nil {
		attrs = append(attrs, slog.String("route", d.Route.Name()))
	}
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	if len(findings) > 0 {
		attrs = append(attrs, slog.Any("findings", findingsLog(findings)))
	}
	attrs = append(attrs, extra...)
	if st.pol.Log >= 2 {
		attrs = append(attrs, slog.Any("headers", safeHeaders(r.Header, st.secrets)))
	}
	level := slog.LevelInfo
	if !d.Allow {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "egress", attrs...)
}

func (s *Server) logAllowed(st *state, r *http.Request, t target, d policy.Decision, status int, warnings []dlp.Finding, in inboundResult, n int64, dur time.Duration) {
	extra := []slog.Attr{slog.Int64("bytes", n), slog.Float64("ms", float64(dur.Microseconds())/1000)}
	if len(warnings) > 0 {
		extra = append(extra, slog.Any("warnings", findingsLog(warnings)))
	}
	if in.verdict.Level != dlp.None {
		extra = append(extra, slog.String("injection", in.verdict.Level.String()+": "+in.verdict.Reason))
	}
	if in.note != "" {
		extra = append(extra, slog.String("note", in.note))
	}
	s.logDecision(st, r, t, d, status, nil, extra...)
}

type findingLog struct {
	Detector string `json:"detector"`
	Rule     string `json:"rule"`
	Where    string `json:"where"`
	Excerpt  string `json:"excerpt"`
	// Place is where in the request ("query part"); Decoded the encodings
	// undone to see it ("percent → base64"). Neither holds the value.
	Place   string `json:"place,omitempty"`
	Decoded string `json:"decoded,omitempty"`
}

func findingsLog(fs []dlp.Finding) []findingLog {
	out := make([]findingLog, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingLog{f.Detector, f.Rule, f.Where, f.Redacted, f.Place, f.Decoded})
	}
	return out
}

// safeHeaders is the agent's request headers with credentials and any held
// value replaced by ***. The injected header is never in it: it is added
// to the outbound copy only.
func safeHeaders(h http.Header, secrets []dlp.Secret) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		name := k // the name can be the secret too
		if holdsSecret(k, secrets) || tokenShaped(k) {
			name = "***"
		}
		name = secretshape.Redact(name, "***")
		for _, v := range vs {
			if sensitiveHeaders[http.CanonicalHeaderKey(k)] || holdsSecret(v, secrets) || tokenShaped(v) {
				v = "***"
			}
			v = secretshape.Redact(v, "***")
			out[name] = append(out[name], v)
		}
	}
	return out
}

// scrub replaces every held value in s, in every form the token-echo
// guard knows (base64, hex, escapes), and credential-shaped text with
// ***: reasons and paths come from the agent and may carry one.
func scrub(s string, secrets []dlp.Secret) string {
	for _, sec := range secrets {
		if sec.Value != "" {
			for _, f := range stringForms(sec.Value) {
				s = strings.ReplaceAll(s, f, "***")
			}
		}
	}
	return secretshape.Redact(s, "***")
}

func holdsSecret(v string, secrets []dlp.Secret) bool {
	// Percent-encoding a few bytes of a value makes a form of its own:
	// undo it (a few layers) before looking.
	forms := []string{v}
	for i := 0; i < 3 && strings.Contains(forms[len(forms)-1], "%"); i++ {
		u, err := url.PathUnescape(forms[len(forms)-1])
		if err != nil {
			break
		}
		forms = append(forms, u)
	}
	for _, s := range secrets {
		for _, f := range forms {
			if s.Value != "" && echoesToken([]byte(f), s.Value) {
				return true
			}
		}
	}
	return false
}

// tokenShaped: a header value holding one long run of letters, digits and
// token punctuation that mixes digits with letters (both cases, or 32
// long), the shape of an API key whatever its vendor. Custom headers carry
// them under any name.
func tokenShaped(v string) bool {
	run, upper, lower, digit := 0, false, false, false
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			c := v[i]
			tokenByte := true
			switch {
			case c >= 'A' && c <= 'Z':
				upper = true
			case c >= 'a' && c <= 'z':
				lower = true
			case c >= '0' && c <= '9':
				digit = true
			case c == '_' || c == '-' || c == '+' || c == '/' || c == '=' || c == '.':
			default:
				tokenByte = false
			}
			if tokenByte {
				run++
				continue
			}
		}
		if run >= 20 && digit && (upper && lower || run >= 32) {
			return true
		}
		run, upper, lower, digit = 0, false, false, false
	}
	return false
}
