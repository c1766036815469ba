package policy

import (
	"net/http"
	"testing"
)

// TestRedTeamBodyMethodOverride: a POST-only route must not carry a DELETE
// asked for in the body's _method (Rails and Rack read urlencoded,
// multipart and type-less bodies, Laravel JSON too). They were forwarded.
func TestRedTeamBodyMethodOverride(t *testing.T) {
	p := mustPolicy(t, "egress: {routes: [{host: api.example.com, matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET, POST]}]}]}")
	const mp = "--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--\r\n"
	for _, tc := range []struct {
		ct, body string
		want     Code
	}{
		{"application/x-www-form-urlencoded", "a=1&_method=DELETE", CodeMethod},
		{"application/x-www-form-urlencoded", "%5Fmethod=delete", CodeMethod},
		{"", "_method=PUT", CodeMethod},
		{"text/plain; charset", "_method=PUT", CodeMethod}, // malformed type: read as a form
		{"multipart/form-data; boundary=b", mp, CodeMethod},
		{"multipart/form-data", mp, CodeMethod}, // no boundary: undecidable
		{"application/json", `{"_method": "DELETE"}`, CodeMethod},
		{"application/vnd.api+json", `{"_METHOD": "patch"}`, CodeMethod},
		{"application/json", `{"_method": ["DELETE"]}`, CodeMethod},
		{"application/x-www-form-urlencoded", "a=1&_method=POST", CodeAllowed},
		{"application/x-www-form-urlencoded", "note=the+_method+field", CodeAllowed},
		{"application/json", `{"method": "DELETE", "x": {"_method": "DELETE"}}`, CodeAllowed},
		{"text/plain", "_method=DELETE", CodeAllowed}, // no framework reads a text body's fields
	} {
		r := redTeamReq("POST", "/v1/x")
		r.Header = http.Header{}
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		d := p.Decide(r)
		r.Body = []byte(tc.body)
		if d = DecideBody(d, r); d.Code != tc.want {
			t.Errorf("%q %q: %s (%s), want %s", tc.ct, tc.body, d.Code, d.Reason, tc.want)
		}
	}
}

// TestDecideBodyOnlyOnMethodLists: a route without a methods list allows
// any method, so a body's _method changes nothing there.
func TestDecideBodyOnlyOnMethodLists(t *testing.T) {
	p := mustPolicy(t, "egress: {routes: [{host: api.example.com}]}")
	r := redTeamReq("POST", "/v1/x")
	r.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	r.Body = []byte("_method=DELETE")
	if d := DecideBody(p.Decide(r), r); !d.Allow {
		t.Errorf("a route with no methods list refused a body _method: %s", d.Reason)
	}
}

func FuzzBodyMethodOverrides(f *testing.F) {
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--\r\n"))
	f.Add("application/json", []byte(`{"_method":"DELETE"}`))
	f.Add("", []byte("_method=%44ELETE"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		bodyMethodOverrides(http.Header{"Content-Type": {ct}}, body)
	})
}
