package policy

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestRedTeamMethodOverrideParamForms: spellings of _method that
// frameworks read as _method (PHP turns "." and " " into "_", Go's
// ParseQuery skips ";" pairs that Python splits on, a double-encoded name)
// must not widen a GET/POST methods list. They were forwarded.
func TestRedTeamMethodOverrideParamForms(t *testing.T) {
	p := mustPolicy(t, "egress: {routes: [{host: api.example.com, matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET, POST]}]}]}")
	for _, q := range []string{
		"%5Fmethod=DELETE",
		"%5fmethod=DELETE",
		".method=DELETE",
		"%2Emethod=DELETE",
		"+_method=DELETE", // PHP drops leading spaces
		"%20_method=DELETE",
		"[method=DELETE",
		"_METHOD=DELETE",
		"_method[]=DELETE",
		"_method%00x=DELETE",
		"a=1;_method=DELETE",
		"%255Fmethod=DELETE",
		"%25255Fmethod=DELETE",
		"_method=%44ELETE",
		"_method=+delete+",
		"%u005fmethod=DELETE",
		"\uff3fmethod=DELETE", // fullwidth low line (NFKC)
		"_method=%25252525252544",
	} {
		r := redTeamReq("POST", "/v1/x")
		r.Query = q
		if d := p.Decide(r); d.Code != CodeNoMatch {
			t.Errorf("?%s: %s (%s), want %s", q, d.Code, d.Reason, CodeNoMatch)
		}
	}
	for _, q := range []string{"", "_method=GET", "%5Fmethod=post", "method=DELETE", "my_method=DELETE", "a=%zz", "x=_method"} {
		r := redTeamReq("POST", "/v1/x")
		r.Query = q
		if d := p.Decide(r); !d.Allow {
			t.Errorf("?%s refused: %s", q, d.Reason)
		}
	}
}

// TestRedTeamLenientPathForms: look-alikes and encodings a lenient
// upstream reads as ".." or "/". Each was forwarded under /v1/.
func TestRedTeamLenientPathForms(t *testing.T) {
	p := mustPolicy(t, redTeamPolicy)
	for _, pth := range []string{
		"/v1/\u2025/admin",           // two dot leader: NFKC ".."
		"/v1/..\uff0fadmin",          // fullwidth solidus
		"/v1/..\uff3cadmin",          // fullwidth reverse solidus
		"/v1/..\xc0\xafadmin",        // overlong "/" (%C0%AF)
		"/v1/..\xe0\x80\xafadmin",    // 3-byte overlong "/"
		"/v1/..\xc1\x9cadmin",        // overlong "\"
		"/v1/..%c0%afadmin",          // the same, decoded twice
		"/v1/%uff0e%uff0e/admin",     // IIS %u escapes
		"/v1/%u002e%u002e%u2215x",    // %u dots
		"/v1/%252e%252e/admin",       // double-encoded
		"/v1/..%00/admin",            // NUL cut
		"/v1/.. /admin",              // Windows drops trailing spaces
		"/v1/%2e%2e;x=1/admin",       // matrix parameter on an encoded dot segment
		"/v1/%25%32%65%25%32%65/a",   // nibble-encoded
		"/v1/\u2024\u2024/admin",     // one dot leaders
		"/v1/%e2%80%a5/admin",        // ‥ percent-encoded once more
		"/v1/..%5cadmin",             // backslash decoded twice
		"/v1/%2525252e%2525252e/adm", // deeper than four rounds
	} {
		if d := p.Decide(redTeamReq("GET", pth)); d.Code != CodePath {
			t.Errorf("%q: %s (%s), want %s", pth, d.Code, d.Reason, CodePath)
		}
	}
	for _, pth := range []string{"/v1/a\u2025b", "/v1/caf\u00e9", "/v1/%zz", "/v1/x;v=1", "/v1/\u65e5\u672c", "/v1/a%20b"} {
		if d := p.Decide(redTeamReq("GET", pth)); !d.Allow {
			t.Errorf("%q refused: %s", pth, d.Reason)
		}
	}
}

// lenientServer is an independent model of a lenient upstream, built
// from the standard library: decode rounds times, read overlong UTF-8 and
// NFKC, treat \ as /, cut ;params and NULs, then resolve dot segments.
func lenientServer(p string, rounds int) string {
	for range rounds {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
	}
	p = norm.NFKC.String(unOverlong(p))
	p = strings.NewReplacer("\\", "/", "\u2215", "/", "\u2044", "/", "\u29f8", "/", "\u2216", "/", "\u29f9", "/").Replace(p)
	segs := strings.Split(p, "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		s, _, _ = strings.Cut(s, "\x00")
		segs[i] = strings.TrimRight(s, " \t")
	}
	return path.Clean("/" + strings.Join(segs, "/"))
}

// FuzzLenientPrefix: whatever the agent puts after an allowed prefix, a
// request the policy allows stays under the prefix on a lenient server
// that decodes up to three more times.
func FuzzLenientPrefix(f *testing.F) {
	p := mustPolicy(f, "egress: {routes: [{host: api.example.com, matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET]}]}]}")
	for _, s := range []string{"x", "..%2fadmin", "\u2025/a", "..\uff0fa", "..\xc0\xafa", "%252e%252e/a", "a;b/../c", "%u002e%u002e/a"} {
		f.Add(s, "")
	}
	f.Add("x", "%5Fmethod=DELETE")
	f.Fuzz(func(t *testing.T, tail, query string) {
		r := redTeamReq("GET", "/v1/"+tail)
		r.Query = query
		d := p.Decide(r)
		if !d.Allow {
			return
		}
		for n := 0; n < maxRounds; n++ {
			if got := lenientServer(r.Path, n); got != "/v1" && !strings.HasPrefix(got, "/v1/") {
				t.Fatalf("allowed %q reads as %q after %d more decodes", r.Path, got, n)
			}
		}
		for _, m := range queryMethodOverrides(query) {
			if m != "GET" {
				t.Fatalf("allowed ?%s asks for %q", query, m)
			}
		}
	})
}

// FuzzLenientForms: decoding never panics, never grows without bound, and
// is stable once it reports ok.
func FuzzLenientForms(f *testing.F) {
	for _, s := range []string{"%", "%u", "%u12", "%uD800", "\xc0", "\xc0\xaf", "\xf0\x80\x80\xaf", "%C0%AF", "a+b", "\xef\xbc\x8e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		forms, ok := lenientForms(s, true)
		if len(forms) == 0 || len(forms) > maxRounds {
			t.Fatalf("%d forms", len(forms))
		}
		last := forms[len(forms)-1]
		if ok && fold(lenientUnescape(last, true)) != last {
			t.Fatalf("ok but %q still decodes", last)
		}
		_ = paramName(last)
	})
}
