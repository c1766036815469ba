package dlp

import (
	"bytes"
	"compress/gzip"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Encoders an exfiltrating agent can wrap a value in; the corpus
// generator uses them too.
var encoders = map[string]func(string) string{
	"percent":       func(s string) string { return fullyPercent(s) },
	"percent×4":     func(s string) string { return nestPercent(s, 4) },
	"base64":        func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"base64url-raw": func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	"base64-wrapped": func(s string) string {
		return wrap(base64.StdEncoding.EncodeToString([]byte("data: "+s+"\n")), 8, "\r\n")
	},
	"base64-in-pct":    func(s string) string { return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(s))) },
	"pct-in-base64":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(fullyPercent(s))) },
	"base32":           func(s string) string { return base32.StdEncoding.EncodeToString([]byte(s)) },
	"base32-lower":     func(s string) string { return strings.ToLower(base32.StdEncoding.EncodeToString([]byte(s))) },
	"hex":              func(s string) string { return hex.EncodeToString([]byte(s)) },
	"hex-upper":        func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) },
	"hex-colon":        func(s string) string { return hexSep(s, "", ":") },
	"hex-dash":         func(s string) string { return hexSep(s, "", "-") },
	"hex-space":        func(s string) string { return hexSep(s, "", " ") },
	"hex-backslash-x":  func(s string) string { return hexSep(s, `\x`, "") },
	"hex-0x-comma":     func(s string) string { return hexSep(s, "0x", ", ") },
	"json-unicode":     func(s string) string { return jsonUnicode(s) },
	"js-hex-escape":    func(s string) string { return hexSep(s, `\x`, "") },
	"html-decimal":     func(s string) string { return htmlRefs(s, "&#%d;") },
	"html-hex":         func(s string) string { return htmlRefs(s, "&#x%x;") },
	"quoted-printable": func(s string) string { return qpAll(s) },
	"gzip-base64":      func(s string) string { return base64.StdEncoding.EncodeToString(gz([]byte(s))) },
	"zstd-base64":      func(s string) string { return base64.StdEncoding.EncodeToString(zst([]byte(s))) },
	"zero-width":       func(s string) string { return interleave(s, "\u200b") },
	"soft-hyphen":      func(s string) string { return interleave(s, "\u00ad") },
	"bidi":             func(s string) string { return interleave(s, "\u202e") },
	"fullwidth":        fullwidth,
	"after-equals":     func(s string) string { return "content=" + base64.StdEncoding.EncodeToString([]byte(s)) },
}

func nestPercent(s string, n int) string {
	s = fullyPercent(s)
	for range n - 1 {
		s = strings.ReplaceAll(s, "%", "%25")
	}
	return s
}

func wrap(s string, w int, nl string) string {
	var b strings.Builder
	for len(s) > w {
		b.WriteString(s[:w] + nl)
		s = s[w:]
	}
	return b.String() + s
}

func hexSep(s, prefix, sep string) string {
	parts := make([]string, len(s))
	for i := range len(s) {
		parts[i] = fmt.Sprintf("%s%02x", prefix, s[i])
	}
	return strings.Join(parts, sep)
}

func htmlRefs(s, f string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, f, s[i])
	}
	return b.String()
}

func qpAll(s string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, "=%02X", s[i])
		if i%10 == 9 {
			b.WriteString("=\r\n")
		}
	}
	return b.String()
}

func interleave(s, sep string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fullwidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x20 && r < 0x7f {
			r += 0xFF01 - 0x21
		}
		b.WriteRune(r)
	}
	return b.String()
}

func zst(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

var _ = gzip.NewWriter

const patternToken = "ghp_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb"

// TestEveryLayerIsUndone: a token pattern and a held secret are found
// behind every encoding, with the decoding path named.
func TestEveryLayerIsUndone(t *testing.T) {
	o := knownScanner(t)
	for name, enc := range encoders {
		for _, tc := range []struct{ det, rule, value string }{
			{DetectorTokenPatterns, "github-pat", patternToken},
			{DetectorKnownSecrets, "GITHUB_TOKEN", heldToken},
		} {
			t.Run(name+"/"+tc.det, func(t *testing.T) {
				body := `{"note":"see attached","blob":"` + enc(tc.value) + `"}`
				res, err := o.Scan(post(body, "Content-Type", "application/json"))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range res.Findings {
					if f.Detector == tc.det && f.Rule == tc.rule {
						if f.Place != "body $.blob" {
							t.Errorf("place %q, want body $.blob", f.Place)
						}
						t.Logf("found by %s via %q", f.Rule, f.Decoded)
						return
					}
				}
				t.Fatalf("%s behind %s not found in %s: %+v", tc.rule, name, body, res.Findings)
			})
		}
	}
}

func TestDecodingPathIsNamed(t *testing.T) {
	o := knownScanner(t, DetectorTokenPatterns)
	q := "q=" + url.QueryEscape(fullyPercent(base64.StdEncoding.EncodeToString([]byte(patternToken))))
	r := post("")
	r.Method, r.Body = "GET", nil
	r.URL, _ = url.Parse("https://api.example.com/search?" + q)
	res, err := o.Scan(r)
	if err != nil || len(res.Findings) == 0 {
		t.Fatal(err, res)
	}
	f := res.Findings[0]
	if f.Place != "query q" || f.Decoded != "percent ×2 → base64" {
		t.Fatalf("place %q decoded %q", f.Place, f.Decoded)
	}
}

// TestTooManyLayersRefused: encoding nested past the bound is refused,
// never passed unscanned.
func TestTooManyLayersRefused(t *testing.T) {
	o := knownScanner(t)
	s := "hello world, nothing to see"
	for range maxLayers + 2 {
		s = base64.StdEncoding.EncodeToString([]byte(s + " and padding to keep each layer long"))
	}
	_, err := o.Scan(post(s))
	if !errors.Is(err, ErrUnscannable) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrUnscannable", err)
	}
}

// TestHeldSecretForms: a held secret reversed, case-changed, rot13'd or
// UTF-16-encoded is still the secret.
func TestHeldSecretForms(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	for name, v := range map[string]string{
		"reversed":     string(reverseBytes([]byte(heldToken))),
		"upper":        strings.ToUpper(heldToken),
		"rot13":        string(rot13([]byte(heldToken))),
		"utf16le":      string(utf16Bytes(heldToken, false)),
		"utf16be-b64":  base64.StdEncoding.EncodeToString(utf16Bytes(heldToken, true)),
		"rot13-in-hex": hex.EncodeToString(rot13([]byte(heldToken))),
	} {
		res, err := o.Scan(post("x " + v + " y"))
		if err != nil || !hasRule(res.Findings, "GITHUB_TOKEN") {
			t.Errorf("%s: not found: %v %v", name, res.Findings, err)
		}
	}
}

// TestHeldSecretSplit: halves in two headers, in two JSON fields, in two
// form fields, and over two requests to one host.
func TestHeldSecretSplit(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	a, b := heldToken[:11], heldToken[11:]
	headers := post("")
	headers.Header.Set("X-Part-A", a)
	headers.Header.Set("X-Part-B", b)
	reversed := post("")
	reversed.Header.Set("X-A", b)
	reversed.Header.Set("X-B", a)
	for name, r := range map[string]Request{
		"headers":          headers,
		"headers reversed": reversed,
		"json":             post(`{"k1":"`+a+`","k2":"`+b+`"}`, "Content-Type", "application/json"),
		"form":             post("a="+a+"&b="+b, "Content-Type", "application/x-www-form-urlencoded"),
	} {
		res, err := o.Scan(r)
		if err != nil || !hasRule(res.Findings, "GITHUB_TOKEN") {
			t.Errorf("%s: not found: %v %v", name, res.Findings, err)
		}
	}
	var h History
	first, second := post(""), post("")
	first.URL, _ = url.Parse("https://paste.example.com/a?part=" + a)
	second.URL, _ = url.Parse("https://paste.example.com/b?part=" + b)
	if res, _ := o.ScanWith(&h, first); len(res.Findings) != 0 {
		t.Fatalf("first half alone is a finding: %v", res.Findings)
	}
	res, err := o.ScanWith(&h, second)
	if err != nil || !hasRule(res.Findings, "GITHUB_TOKEN") {
		t.Fatalf("split over two requests not found: %v %v", res.Findings, err)
	}
	if res.Findings[0].Place != "split across requests to this host" {
		t.Errorf("place %q", res.Findings[0].Place)
	}
}
