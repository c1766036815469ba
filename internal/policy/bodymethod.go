package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// Rails and Rack read _method from a POST's form body (urlencoded or
// multipart, and a body with no Content-Type), Laravel from a JSON body
// too. A route's methods list must hold for what the body asks for, or a
// POST-only route would carry a DELETE.

// maxBodyOverrideParts bounds the multipart parts read for a _method field.
const maxBodyOverrideParts = 1000

// bodyMethodOverrides are the methods req's body asks an upstream to run.
// A body whose shape cannot be read for certain yields undecidedMethod.
func bodyMethodOverrides(h http.Header, body []byte) []string {
	if len(body) == 0 {
		return nil
	}
	switch kind, boundary := bodyKind(h); kind {
	case "form":
		return queryMethodOverrides(string(body))
	case "multipart":
		return multipartMethodOverrides(body, boundary)
	case "json":
		return jsonMethodOverrides(body)
	}
	return nil
}

// BodyMayOverrideMethod reports whether a body with these headers is one
// a framework reads _method from: only such a body must be read before a
// route with a methods list forwards it (others stream).
func BodyMayOverrideMethod(h http.Header) bool {
	kind, _ := bodyKind(h)
	return kind != ""
}

// bodyKind is how frameworks read a body's parameters: "form", "multipart",
// "json", or "" (not at all).
func bodyKind(h http.Header) (kind, boundary string) {
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case ct == "" || err != nil:
		// Rack reads a POST without a Content-Type as a form; a type no
		// parser accepts is read by some servers as one too.
		return "form", ""
	case mt == "application/x-www-form-urlencoded":
		return "form", ""
	case strings.HasPrefix(mt, "multipart/"):
		return "multipart", params["boundary"]
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return "json", ""
	}
	return "", ""
}

func multipartMethodOverrides(body []byte, boundary string) []string {
	if boundary == "" {
		return []string{undecidedMethod}
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []string
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil || i >= maxBodyOverrideParts {
			return append(out, undecidedMethod)
		}
		if !isOverrideName(p.FormName()) {
			continue
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return append(out, undecidedMethod)
		}
		out = append(out, strings.ToUpper(strings.TrimSpace(string(v))))
	}
}

// jsonMethodOverrides reads a top-level "_method" (in any spelling a
// lenient server folds to it). A body that is not a JSON object asks for
// nothing: Laravel reads parameters only from objects.
func jsonMethodOverrides(body []byte) []string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil
	}
	var out []string
	for k, raw := range obj {
		if !isOverrideName(k) {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			out = append(out, undecidedMethod)
			continue
		}
		out = append(out, strings.ToUpper(strings.TrimSpace(s)))
	}
	return out
}

// isOverrideName reports whether a lenient server reads name as _method.
func isOverrideName(name string) bool {
	keys, ok := lenientForms(name, true)
	if !ok {
		return true
	}
	for _, k := range keys {
		if paramName(k) == overrideParam {
			return true
		}
	}
	return false
}

// RestrictsMethods reports whether any of the route's matches lists
// methods: only then can a body's method override change the decision, so
// only then must the proxy read the body before forwarding it.
func (r *Route) RestrictsMethods() bool {
	for _, m := range r.matches {
		if len(m.methods) > 0 {
			return true
		}
	}
	return false
}

// DecideBody finishes d once the body has arrived: the methods the body
// asks for must be allowed by the route d chose. It never chooses another
// route and never spends a grant's use twice.
func DecideBody(d Decision, req Request) Decision {
	if !d.Allow || d.Route == nil || !d.Route.RestrictsMethods() {
		return d
	}
	asked := bodyMethodOverrides(req.Header, req.Body)
	if len(asked) == 0 {
		return d
	}
	req.Method = strings.ToUpper(req.Method)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if !d.Route.matchesRequest(req) {
		return refuse(CodeMethod, "the body's _method asks the upstream for %s, which route %s does not allow", strings.Join(asked, ", "), d.Route.Name())
	}
	return d
}
