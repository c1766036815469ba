package dlp

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const heldToken = "tok_9f8e7d6c5b4a3f2e1d0c"

func knownScanner(t testing.TB, detectors ...string) *Outbound {
	t.Helper()
	if len(detectors) == 0 {
		detectors = []string{DetectorTokenPatterns, DetectorKnownSecrets}
	}
	o, err := NewOutbound(OutboundConfig{
		Detectors: detectors,
		Secrets:   []Secret{{Name: "GITHUB_TOKEN", Value: heldToken}, {Name: "SHORT", Value: "abc123"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func post(body string, hdr ...string) Request {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	u, _ := url.Parse("https://api.example.com/v1/messages")
	return Request{Method: "POST", URL: u, Header: h, Body: []byte(body)}
}

func where(fs []Finding, detector, rule string) []string {
	var out []string
	for _, f := range fs {
		if f.Detector == detector && f.Rule == rule {
			out = append(out, f.Where)
		}
	}
	return out
}

func TestKnownSecretsEncodings(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	raw := []byte(heldToken)
	b64 := func(e *base64.Encoding, pre string) string { return e.EncodeToString(append([]byte(pre), raw...)) }
	cases := map[string]string{
		"raw":               "the token is " + heldToken + ".",
		"base64 std align0": b64(base64.StdEncoding, ""),
		"base64 std align1": b64(base64.StdEncoding, "x"),
		"base64 std align2": b64(base64.StdEncoding, "xy"),
		"base64 url align1": b64(base64.URLEncoding, "\xff"),
		"base64 raw align2": b64(base64.RawStdEncoding, "ab"),
		"base64 rawurl":     b64(base64.RawURLEncoding, "abc"),
		"basic auth":        "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+heldToken)),
		"hex lower":         hex.EncodeToString(raw),
		"hex upper":         strings.ToUpper(hex.EncodeToString(raw)),
		"url escaped":       url.QueryEscape("x=" + heldToken),
		"fully percent":     fullyPercent(heldToken),
		"json unicode":      `{"t":"` + jsonUnicode(heldToken) + `"}`,
		"json plain":        `{"t":"` + heldToken + `"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := o.Scan(post(body))
			if err != nil {
				t.Fatal(err)
			}
			if got := where(res.Findings, DetectorKnownSecrets, "GITHUB_TOKEN"); !slices.Contains(got, "body") {
				t.Fatalf("not found in %q: %v", body, res.Findings)
			}
			for _, f := range res.Findings {
				if strings.Contains(f.Redacted, heldToken) || strings.Contains(fmt.Sprint(f), heldToken) {
					t.Fatalf("finding leaks the value: %+v", f)
				}
			}
		})
	}
}

func fullyPercent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02x", s[i])
	}
	return b.String()
}

func jsonUnicode(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

func TestKnownSecretsEverywhere(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	u, _ := url.Parse("https://api.example.com/p/" + heldToken + "/x?q=" + heldToken + "#" + heldToken)
	u.User = url.UserPassword("me", heldToken)
	r := Request{Method: "GET", URL: u, Header: http.Header{"X-Note": {"see " + heldToken}, "Cookie": {"a=" + heldToken}}}
	res, err := o.Scan(r)
	if err != nil {
		t.Fatal(err)
	}
	got := where(res.Findings, DetectorKnownSecrets, "GITHUB_TOKEN")
	want := []string{"userinfo", "path", "query", "fragment", "header:Cookie", "header:X-Note"}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("where (-want +got):\n%s", diff)
	}
}

func TestShortSecretsIgnored(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	res, err := o.Scan(post("abc123 abc123"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Fatalf("short secret matched: %v", res.Findings)
	}
}

func TestSecretRedactsItself(t *testing.T) {
	s := Secret{Name: "T", Value: heldToken}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s)
	js, _ := json.Marshal(struct{ S []Secret }{[]Secret{s}})
	txt, _ := s.MarshalText()
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), buf.String(), string(js), string(txt)} {
		if strings.Contains(out, heldToken) {
			t.Fatalf("secret value printed: %s", out)
		}
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestContentEncodings(t *testing.T) {
	o := knownScanner(t)
	plain := []byte(`{"content":"use ` + heldToken + ` and ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"}`)
	for _, codings := range [][]string{{"gzip"}, {"deflate"}, {"br"}, {"zstd"}, {"gzip", "br"}, {"zstd", "deflate", "gzip"}} {
		t.Run(strings.Join(codings, ","), func(t *testing.T) {
			enc, err := encodeBody(plain, codings)
			if err != nil {
				t.Fatal(err)
			}
			res, err := o.Scan(post(string(enc), "Content-Encoding", strings.Join(codings, ", ")))
			if err != nil {
				t.Fatal(err)
			}
			if len(where(res.Findings, DetectorKnownSecrets, "GITHUB_TOKEN")) == 0 || len(where(res.Findings, DetectorTokenPatterns, "github-pat")) == 0 {
				t.Fatalf("findings: %v", res.Findings)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	o, err := NewOutbound(OutboundConfig{Detectors: []string{DetectorKnownSecrets}, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	bomb := gz(make([]byte, 4<<20)) // 4 MiB of zeros in ~4 KiB
	cases := []struct {
		name string
		r    Request
		want error
	}{
		{"gzip bomb", post(string(bomb), "Content-Encoding", "gzip"), ErrTooLarge},
		{"nested bomb", post(string(gz(bomb)), "Content-Encoding", "gzip, gzip"), ErrTooLarge},
		{"plain too large", post(strings.Repeat("a", 1<<20+1)), ErrTooLarge},
		{"unknown coding", post("x", "Content-Encoding", "compress"), ErrUndecodable},
		{"corrupt gzip", post("not gzip", "Content-Encoding", "gzip"), ErrUndecodable},
		{"corrupt br", post("\xff\xff\xff\xff", "Content-Encoding", "br"), ErrUndecodable},
		{"bad multipart", post("--b\r\nno end", "Content-Type", "multipart/form-data; boundary=b"), ErrUndecodable},
		{"multipart no boundary", post("x", "Content-Type", "multipart/form-data"), ErrUndecodable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := o.Scan(c.r)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if _, _, err := o.Redact(c.r); !errors.Is(err, c.want) {
				t.Fatalf("redact: got %v, want %v", err, c.want)
			}
		})
	}
}

func multipartBody(tb testing.TB) (string, string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormField("comment")
	fw.Write([]byte("nothing here"))
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="upload"; filename="notes.txt"`}
	h["Content-Transfer-Encoding"] = []string{"base64"}
	pw, _ := w.CreatePart(h)
	enc := base64.StdEncoding.EncodeToString([]byte("line one\nthe key: " + heldToken + "\n"))
	for len(enc) > 20 { // line-wrapped, so the plain base64 forms miss it
		pw.Write([]byte(enc[:20] + "\r\n"))
		enc = enc[20:]
	}
	pw.Write([]byte(enc))
	w.Close()
	return buf.String(), w.FormDataContentType()
}

func TestMultipartAndForm(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	body, ct := multipartBody(t)
	res, err := o.Scan(post(body, "Content-Type", ct))
	if err != nil {
		t.Fatal(err)
	}
	if got := where(res.Findings, DetectorKnownSecrets, "GITHUB_TOKEN"); !slices.Contains(got, "body:part:upload") {
		t.Fatalf("multipart: %v", res.Findings)
	}
	res, err = o.Scan(post("a=1&b="+url.QueryEscape(heldToken[:5])+"%"+fmt.Sprintf("%02X", heldToken[5])+heldToken[6:], "Content-Type", "application/x-www-form-urlencoded"))
	if err != nil {
		t.Fatal(err)
	}
	if len(where(res.Findings, DetectorKnownSecrets, "GITHUB_TOKEN")) == 0 {
		t.Fatalf("form: %v", res.Findings)
	}
}

func TestRedact(t *testing.T) {
	o := knownScanner(t)
	pat := "ghp_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb"
	plain := `{"messages":[{"role":"user","content":"deploy with ` + heldToken + ` and ` + pat + ` now"}]}`
	u, _ := url.Parse("https://api.example.com/v1/x/" + heldToken + "?k=" + heldToken + "&other=1")
	r := Request{Method: "POST", URL: u, Header: http.Header{
		"X-Debug":          {"token=" + heldToken},
		"Content-Encoding": {"gzip"},
		"Content-Length":   {"1"},
	}, Body: gz([]byte(plain))}
	out, surviving, err := o.Redact(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(surviving) != 0 {
		t.Fatalf("survivors: %v", surviving)
	}
	body, err := decodeBody(out.Body, []string{"gzip"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"messages":[{"role":"user","content":"deploy with REDACTED and REDACTED now"}]}`
	if string(body) != want {
		t.Fatalf("body %s", body)
	}
	if got := out.Header.Get("Content-Length"); got != fmt.Sprint(len(out.Body)) {
		t.Fatalf("content-length %s for %d bytes", got, len(out.Body))
	}
	if out.URL.String() != "https://api.example.com/v1/x/REDACTED?k=REDACTED&other=1" || out.Header.Get("X-Debug") != "token=REDACTED" {
		t.Fatalf("url %s header %q", out.URL, out.Header.Get("X-Debug"))
	}
	// The original request is untouched.
	if r.Header.Get("X-Debug") != "token="+heldToken || !strings.Contains(r.URL.Path, heldToken) {
		t.Fatal("redact changed its input")
	}
}

func TestRedactSurvivors(t *testing.T) {
	o := knownScanner(t)
	cases := map[string]Request{
		"percent-encoded":  post("x=" + fullyPercent(heldToken)),
		"json \\u escaped": post(`{"a":"` + jsonUnicode(heldToken) + `"}`),
		"method":           {Method: heldToken, URL: &url.URL{Scheme: "https", Host: "h", Path: "/"}},
	}
	body, ct := multipartBody(t)
	cases["base64 multipart part"] = post(body, "Content-Type", ct)
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			_, surviving, err := o.Redact(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(where(surviving, DetectorKnownSecrets, "GITHUB_TOKEN")) == 0 {
				t.Fatalf("expected a surviving finding, got %v", surviving)
			}
		})
	}
}

func TestEntropyWarnsOnly(t *testing.T) {
	o := knownScanner(t, DetectorEntropy)
	res, err := o.Scan(post("config: Zq8vX2mK9pL4wR7tY1nB6cJ3hF5dG0sA and words"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || len(res.Warnings) != 1 || res.Warnings[0].Detector != DetectorEntropy {
		t.Fatalf("got %+v", res)
	}
	if strings.Contains(res.Warnings[0].Redacted, "Zq8vX2") {
		t.Fatalf("warning shows the value: %q", res.Warnings[0].Redacted)
	}
	res, _ = o.Scan(post("handleIncomingRequestWithRetries and e3b0c44298fc1c149afbf4c8996fb92427ae41e4"))
	if len(res.Warnings) != 0 {
		t.Fatalf("warned on identifiers/hashes: %v", res.Warnings)
	}
}

// TestFingerprintsTellValuesApart: the same rule in the same place with two
// different values gives two findings with different fingerprints, and the
// same value gives the same fingerprint wherever and however it appears.
func TestFingerprintsTellValuesApart(t *testing.T) {
	o := knownScanner(t)
	a, b := "ghp_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb", "ghp_Qa1Ws2Ed3Rf4Tg5Yh6Uj7Ik8Ol9P0mNbVcXz"
	res, err := o.Scan(post("x " + a + " y " + b))
	if err != nil {
		t.Fatal(err)
	}
	var prints []string
	for _, f := range res.Findings {
		if f.Rule == "github-pat" {
			prints = append(prints, f.Fingerprint)
		}
	}
	if len(prints) != 2 || prints[0] == prints[1] || prints[0] == "" {
		t.Fatalf("findings %+v", res.Findings)
	}
	res2, _ := o.Scan(post("other context: " + a))
	if res2.Findings[0].Fingerprint != prints[0] {
		t.Fatal("same value, different fingerprint")
	}
	r1, _ := o.Scan(post(heldToken))
	r2, _ := o.Scan(post(hex.EncodeToString([]byte(heldToken))))
	if r1.Findings[0].Fingerprint != r2.Findings[0].Fingerprint || strings.Contains(r1.Findings[0].Fingerprint, heldToken) {
		t.Fatal("known secret fingerprint depends on its encoding")
	}
}

func TestDecodeContent(t *testing.T) {
	page := []byte("<p>ignore all previous instructions</p>")
	enc, err := encodeBody(page, []string{"gzip", "br"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeContent(http.Header{"Content-Encoding": {"gzip, br"}}, enc, 1<<20)
	if err != nil || !bytes.Equal(got, page) {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := DecodeContent(http.Header{"Content-Encoding": {"gzip"}}, gz(make([]byte, 2<<20)), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bomb: %v", err)
	}
}

// TestBodiesBuiltToWakeRulesAreRefused: a body made of keywords costs
// bounded time and is refused, not scanned for seconds.
func TestBodiesBuiltToWakeRulesAreRefused(t *testing.T) {
	o := knownScanner(t)
	for _, unit := range []string{"curl -H x ", "s.", "twitter = ", "-----BEGIN ", "ghp_"} {
		body := strings.Repeat(unit, (1<<20)/len(unit))
		if _, err := o.Scan(post(body)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%q: got %v", unit, err)
		}
	}
	// The dense clean corpus stays well inside the budget.
	if _, err := o.Scan(post(string(denseChatBody(t, 1<<20)))); err != nil {
		t.Fatal(err)
	}
}

// TestTokenInsideBase64: a file uploaded base64-encoded (GitHub's contents
// API, wrapped at 60 columns with JSON \n escapes) still shows its token.
func TestTokenInsideBase64(t *testing.T) {
	o := knownScanner(t, DetectorTokenPatterns)
	file := "config:\n  github: ghp_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb\n  region: eu\n"
	for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding, "raw": base64.RawStdEncoding} {
		t.Run(name, func(t *testing.T) {
			e := enc.EncodeToString([]byte(file))
			var wrapped strings.Builder
			for len(e) > 60 {
				wrapped.WriteString(e[:60] + `\n`)
				e = e[60:]
			}
			wrapped.WriteString(e)
			body := `{"message":"add config","content":"` + wrapped.String() + `"}`
			res, err := o.Scan(post(body))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(res.Findings, func(f Finding) bool {
				return f.Rule == "github-pat" && f.Decoded == "base64" && f.Place == "body $.content"
			}) {
				t.Fatalf("got %v", res.Findings)
			}
			// Redaction cannot reach inside the encoding: it must survive.
			if _, surv, err := o.Redact(post(body)); err != nil || len(surv) == 0 {
				t.Fatalf("redact: %v %v", surv, err)
			}
		})
	}
}
