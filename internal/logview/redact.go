package logview

import (
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/secretshape"
)

// Masked replaces a redacted value.
const Masked = "***"

// sensitiveKey reports a field or header name whose value is a credential.
// The daemons never log these with values (egress masks them itself);
// this is the second line, for a daemon that gets it wrong.
func sensitiveKey(k string) bool {
	k = strings.ToLower(strings.ReplaceAll(k, "_", "-"))
	switch k {
	case "authorization", "proxy-authorization", "cookie", "set-cookie",
		"x-api-key", "api-key", "x-goog-api-key", "private-token", "x-auth-token",
		"x-access-token", "openai-api-key", "anthropic-api-key",
		"token", "access-token", "refresh-token", "id-token", "client-secret",
		"password", "passwd", "secret", "api-secret", "private-key":
		return true
	}
	return false
}

// redactString masks credential-shaped text in s (secretshape is the
// one definition, shared with egress's own log lines).
func redactString(s string) string { return secretshape.Redact(s, Masked) }

// redact masks, in place, the values of sensitive keys and
// credential-shaped text anywhere in v; it reports whether it changed
// anything.
func redact(m map[string]any) bool {
	changed := false
	for k, v := range m {
		if sensitiveKey(k) {
			if masked := mask(v); !equalMasked(v, masked) {
				m[k], changed = masked, true
			}
			continue
		}
		if nv, ok := redactValue(v); ok {
			m[k], changed = nv, true
		}
	}
	return changed
}

func redactValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		if r := redactString(x); r != x {
			return r, true
		}
	case map[string]any:
		return x, redact(x)
	case []any:
		changed := false
		for i, e := range x {
			if ne, ok := redactValue(e); ok {
				x[i], changed = ne, true
			}
		}
		return x, changed
	}
	return v, false
}

// mask is v with every leaf string replaced by Masked (a header logged as
// a list of values stays a list).
func mask(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mask(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = mask(e)
		}
		return out
	case string:
		if x == "" {
			return x
		}
	case nil, bool:
		return x
	}
	return Masked
}

// equalMasked reports whether v is already what mask makes of it.
func equalMasked(v, masked any) bool {
	switch x := v.(type) {
	case string:
		return x == masked
	case []any:
		y := masked.([]any)
		for i := range x {
			if !equalMasked(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y := masked.(map[string]any)
		for k := range x {
			if !equalMasked(x[k], y[k]) {
				return false
			}
		}
		return true
	case nil, bool:
		return true
	}
	return false
}
