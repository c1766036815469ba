package dlp_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf16"
)

// The outbound corpus is generated here, not stored: every case is a
// token shape, an encoding and a place put together, so the labelled
// set is the cross product written down once. Token-shaped values are
// built by concatenation so this file holds no literal a scanner of the
// repository would report. Techniques follow public descriptions
// (OWASP's agentic top 10, published DLP-evasion write-ups); no case is
// copied from a benchmark.

// corpusCase is one labelled request.
type corpusCase struct {
	Cat, Name string
	Method    string
	URL       string
	Header    http.Header
	Body      []byte
}

// heldToken is the value the sidecar holds for the corpus policy's route.
const heldToken = "corpus-held-9f3a7c21e4b8d605aa17"

var corpusRand = rand.New(rand.NewPCG(11, 300))

func alnum(n int) string {
	const cs = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = cs[corpusRand.IntN(len(cs))]
	}
	return string(b)
}

func digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + corpusRand.IntN(10))
	}
	return string(b)
}

type namedValue struct{ name, v string }

// excusedTokens are shapes gitleaks' code-scanning heuristics excuse.
func excusedTokens() []namedValue {
	return []namedValue{
		{"aws-EXAMPLE-suffix", "AKIA" + "IOSFODNN7" + "EXAMPLE"},
		{"github-low-entropy", "ghp" + "_" + strings.Repeat("ab", 18)},
		{"github-repeated", "ghp" + "_" + strings.Repeat("x", 36)},
		{"gitlab-stopword", "glpat" + "-" + "example" + "example" + "exam" + "pl"},
		{"slack-low-entropy", "xoxb" + "-" + strings.Repeat("1", 12) + "-" + strings.Repeat("2", 13) + "-" + strings.Repeat("a", 24)},
	}
}

// tokens are ordinary provider tokens of the shapes the rules describe.
func tokens() []namedValue {
	return []namedValue{
		{"aws", "AKIA" + "Z3MJQ5" + "TXWB2KLM4N"},
		{"github-pat", "ghp" + "_" + alnum(36)},
		{"github-fine", "github" + "_pat_" + alnum(22) + "_" + alnum(59)},
		{"gitlab", "glpat" + "-" + alnum(20)},
		{"slack-bot", "xoxb" + "-" + digits(12) + "-" + digits(13) + "-" + alnum(24)},
		{"stripe", "sk" + "_live_" + alnum(24)},
		{"anthropic", "sk-ant" + "-api03-" + alnum(93) + "AA"},
		{"npm", "npm" + "_" + alnum(36)},
	}
}

// financialData is data no token rule describes.
func financialData() []namedValue {
	return []namedValue{
		{"visa", "4111" + "111111111111"},
		{"visa-spaced", "4111 " + "1111 1111 1111"},
		{"mastercard-dashed", "5555-" + "5555-5555-4444"},
		{"amex", "3782" + "82246310005"},
		{"iban-gb", "GB82" + "WEST12345698765432"},
		{"iban-de-spaced", "DE89 " + "3704 0044 0532 0130 00"},
		{"wif", "5Hue" + "CGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"},
		{"wif-compressed", "KwdM" + "AjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617"},
		{"mnemonic-12", strings.Repeat("abandon ", 11) + "about"},
		{"mnemonic-legal", "legal winner thank year wave sausage worth useful legal winner thank yellow"},
		{"btc-address", "1A1z" + "P1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
		{"bech32-address", "bc1q" + "w508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
		{"private-key-pem", pemKey()},
	}
}

func pemKey() string {
	raw := make([]byte, 600)
	for i := range raw {
		raw[i] = byte(corpusRand.IntN(256))
	}
	b := base64.StdEncoding.EncodeToString(raw)
	var lines []string
	for len(b) > 64 {
		lines, b = append(lines, b[:64]), b[64:]
	}
	lines = append(lines, b)
	return "-----BEGIN RSA " + "PRIVATE KEY-----\n" + strings.Join(lines, "\n") + "\n-----END RSA " + "PRIVATE KEY-----\n"
}

// encoding is one more wrapping than a naive scanner undoes.
type encoding struct {
	name string
	f    func(string) string
	ml   bool // output may hold a newline: bodies only
}

func pctAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func hexSep(sep, pre string) func(string) string {
	return func(s string) string {
		parts := make([]string, len(s))
		for i := 0; i < len(s); i++ {
			parts[i] = pre + hex.EncodeToString([]byte{s[i]})
		}
		return strings.Join(parts, sep)
	}
}

func interleave(sep string) func(string) string {
	return func(s string) string { return strings.Join(strings.Split(s, ""), sep) }
}

func encodings() []encoding {
	b64 := base64.StdEncoding.EncodeToString
	return []encoding{
		{"percent-x1", pctAll, false},
		{"percent-x2", func(s string) string { return pctAll(pctAll(s)) }, false},
		{"percent-x3", func(s string) string { return url.QueryEscape(url.QueryEscape(pctAll(s))) }, false},
		{"percent-x4", func(s string) string { return url.QueryEscape(url.QueryEscape(url.QueryEscape(pctAll(s)))) }, false},
		{"hex", func(s string) string { return hex.EncodeToString([]byte(s)) }, false},
		{"HEX", func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }, false},
		{"hex-dash", hexSep("-", ""), false},
		{"hex-colon", hexSep(":", ""), false},
		{"hex-space", hexSep(" ", ""), false},
		{"hex-backslash-x", hexSep("", `\x`), false},
		{"hex-0x", hexSep(" ", "0x"), false},
		{"base64", func(s string) string { return b64([]byte(s)) }, false},
		{"base64url-raw", func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }, false},
		{"base64-wrapped", func(s string) string {
			e := b64([]byte(s))
			var out []string
			for len(e) > 16 {
				out, e = append(out, e[:16]), e[16:]
			}
			return strings.Join(append(out, e), "\n")
		}, true},
		{"base64-in-percent", func(s string) string { return pctAll(b64([]byte(s))) }, false},
		{"base64-twice", func(s string) string { return b64([]byte(b64([]byte(s)))) }, false},
		{"base32", func(s string) string { return base32.StdEncoding.EncodeToString([]byte(s)) }, false},
		{"json-u-escape", func(s string) string {
			var b strings.Builder
			for _, r := range s {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			return b.String()
		}, false},
		{"html-entities", func(s string) string {
			var b strings.Builder
			for _, r := range s {
				fmt.Fprintf(&b, "&#x%x;", r)
			}
			return b.String()
		}, false},
		{"quoted-printable", func(s string) string {
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				fmt.Fprintf(&b, "=%02X", s[i])
			}
			return b.String()
		}, false},
		{"gzip-base64", func(s string) string {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write([]byte(s))
			zw.Close()
			return b64(buf.Bytes())
		}, false},
		{"zero-width", interleave("\u200b"), false},
		{"soft-hyphen", interleave("\u00ad"), false},
		{"fullwidth", func(s string) string {
			var b strings.Builder
			for _, r := range s {
				if r > 0x20 && r < 0x7f {
					r += 0xfee0
				}
				b.WriteRune(r)
			}
			return b.String()
		}, false},
	}
}

// place puts a value where a scanner might read less carefully.
type place struct {
	name   string
	header bool // the value lands in a header or the URL: no newlines
	f      func(v string) corpusCase
}

func req(method, u string, h http.Header, body string) corpusCase {
	if h == nil {
		h = http.Header{}
	}
	return corpusCase{Method: method, URL: u, Header: h, Body: []byte(body)}
}

func multipartBody(field, filename, content string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary("corpusboundary7MA4YWxkTrZu0gW")
	var w interface{ Write([]byte) (int, error) }
	if filename != "" {
		w, _ = mw.CreateFormFile(field, filename)
	} else {
		w, _ = mw.CreateFormField(field)
	}
	w.Write([]byte(content))
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

func places() []place {
	jsonH := http.Header{"Content-Type": {"application/json"}}
	hdr := func(k, pre string) func(string) corpusCase {
		return func(v string) corpusCase {
			return req("GET", "https://api.github.com/user", http.Header{k: {pre + v}}, "")
		}
	}
	return []place{
		{"query-value", true, func(v string) corpusCase {
			return req("GET", "https://api.github.com/search/code?q="+url.QueryEscape(v), nil, "")
		}},
		{"query-key", true, func(v string) corpusCase {
			return req("GET", "https://api.github.com/search/code?"+url.QueryEscape(v)+"=1", nil, "")
		}},
		{"path-segment", true, func(v string) corpusCase {
			return req("GET", "https://registry.npmjs.org/"+url.PathEscape(v)+"/-/x.tgz", nil, "")
		}},
		{"cookie-pair", true, hdr("Cookie", "_ga=GA1.2.3; theme=dark; sid=")},
		{"x-header", true, hdr("X-Request-Trace", "")},
		{"user-agent", true, hdr("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) build/")},
		{"referer", true, hdr("Referer", "https://example.org/?from=")},
		{"json-nested", false, func(v string) corpusCase {
			b := fmt.Sprintf(`{"model":"m","metadata":{"tags":[{"k":"env","v":%q}]}}`, v)
			return req("POST", "https://api.anthropic.com/v1/messages", jsonH.Clone(), b)
		}},
		{"form-field", false, func(v string) corpusCase {
			return req("POST", "https://pypi.org/legacy/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "name=pkg&version=1.0&summary="+url.QueryEscape(v))
		}},
		{"multipart-part", false, func(v string) corpusCase {
			b, ct := multipartBody("description", "", v)
			return req("POST", "https://pypi.org/legacy/", http.Header{"Content-Type": {ct}}, b)
		}},
		{"multipart-filename", true, func(v string) corpusCase {
			b, ct := multipartBody("content", v+".txt", "hello")
			return req("POST", "https://pypi.org/legacy/", http.Header{"Content-Type": {ct}}, b)
		}},
		{"yaml-body", false, func(v string) corpusCase {
			return req("PUT", "https://api.github.com/repos/o/r/contents/ci.yml", http.Header{"Content-Type": {"application/yaml"}}, "on: push\njobs:\n  build:\n    env:\n      DEPLOY: |\n        "+strings.ReplaceAll(v, "\n", "\n        ")+"\n")
		}},
		{"csv-body", false, func(v string) corpusCase {
			return req("POST", "https://api.github.com/gists", http.Header{"Content-Type": {"text/csv"}}, "id,name,note\n1,alice,ok\n2,bob,\""+v+"\"\n")
		}},
		{"xml-body", false, func(v string) corpusCase {
			return req("POST", "https://api.github.com/markdown/raw", http.Header{"Content-Type": {"application/xml"}}, "<cfg><item key=\"a\">1</item><item key=\"b\">"+v+"</item></cfg>")
		}},
		{"text-body", false, func(v string) corpusCase {
			return req("POST", "https://api.github.com/markdown/raw", http.Header{"Content-Type": {"text/plain"}}, "Build log follows.\n"+v+"\nend of log\n")
		}},
	}
}

// heldVariants are forms of the held token only a scanner that knows it can find.
func heldVariants() []namedValue {
	rev := []rune(heldToken)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	rot := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, heldToken)
	u16 := utf16.Encode([]rune(heldToken))
	le := make([]byte, 0, 2*len(u16))
	for _, c := range u16 {
		le = append(le, byte(c), byte(c>>8))
	}
	return []namedValue{
		{"as-is", heldToken},
		{"base64", base64.StdEncoding.EncodeToString([]byte(heldToken))},
		{"base64url", base64.RawURLEncoding.EncodeToString([]byte(heldToken))},
		{"hex", hex.EncodeToString([]byte(heldToken))},
		{"reversed", string(rev)},
		{"upper", strings.ToUpper(heldToken)},
		{"rot13", rot},
		{"utf16le-base64", base64.StdEncoding.EncodeToString(le)},
		{"percent-x2", pctAll(pctAll(heldToken))},
		{"basic-auth", base64.StdEncoding.EncodeToString([]byte("agent:" + heldToken))},
	}
}
