package dlp

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// patToken is a token_patterns value (github-pat), built by concatenation
// so the repository holds no literal a secret scanner would report.
var patToken = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

// TestTokenAsHeaderName: net/http canonicalises a header name before
// anything reads it ("ghp_aB…" becomes "Ghp_ab…", "AKIA…" becomes
// "Akia…"), so a case-sensitive rule missed a token sent as a header
// name, and the upstream received it. Each is a finding at "header name".
func TestTokenAsHeaderName(t *testing.T) {
	o := knownScanner(t)
	for name, v := range map[string]string{
		"github pat": patToken,
		"aws key id": "AKIA" + "Z3MXQ4R7TBYKWP2N",
		"held token": heldToken,
		// no rule sees "Aiza…": the name's shape is the finding
		"google api key": "AIza" + "SyD3x9Qk2mW7vB1nR8tL0pJ4hF6cE5aZ_Y0",
	} {
		t.Run(name, func(t *testing.T) {
			r := post("x")
			r.Header[http.CanonicalHeaderKey(v)] = []string{"1"}
			res, err := o.Scan(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) == 0 || res.Findings[0].Place != "header name" {
				t.Fatalf("%q as a header name (%q): findings %v", v, http.CanonicalHeaderKey(v), res.Findings)
			}
		})
	}
	// Ordinary long header names stay quiet in every case.
	r := post("x", "X-Github-Api-Version", "2022-11-28", "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", "Sec-Ch-Ua-Platform-Version", `"15.0.0"`)
	if res, err := o.Scan(r); err != nil || len(res.Findings) > 0 {
		t.Fatalf("ordinary headers: %v %v", res.Findings, err)
	}
}

// TestBytesOutsideTheDecodedStream: a content-encoded body can carry
// bytes that decoding never yields: gzip's name, comment and extra
// fields, data after the end of a zlib stream, a zstd skippable frame.
// They reach the upstream, so each is a finding or a refusal, never a
// clean scan.
func TestBytesOutsideTheDecodedStream(t *testing.T) {
	o := knownScanner(t)
	gz := func(set func(*gzip.Header)) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		set(&w.Header)
		w.Write([]byte("hello"))
		w.Close()
		return b.Bytes()
	}
	zlibBody, _ := encodeBody([]byte("hello"), []string{"deflate"})
	zstdBody, _ := encodeBody([]byte("hello"), []string{"zstd"})
	skippable := binary.LittleEndian.AppendUint32(nil, 0x184D2A50)
	skippable = binary.LittleEndian.AppendUint32(skippable, uint32(len(patToken)))
	skippable = append(skippable, patToken...)
	for name, c := range map[string]struct {
		body   []byte
		coding string
	}{
		"gzip name":           {gz(func(h *gzip.Header) { h.Name = patToken }), "gzip"},
		"gzip comment":        {gz(func(h *gzip.Header) { h.Comment = "held " + heldToken }), "gzip"},
		"gzip extra":          {gz(func(h *gzip.Header) { h.Extra = []byte(patToken) }), "gzip"},
		"after zlib end":      {append(zlibBody, patToken...), "deflate"},
		"zstd skippable":      {append(skippable, zstdBody...), "zstd"},
		"after the zstd end":  {append(zstdBody, skippable...), "zstd"},
		"after the gzip end":  {append(gz(func(*gzip.Header) {}), patToken...), "gzip"},
		"zlib end, held form": {append(zlibBody, heldToken...), "deflate"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := o.Scan(post(string(c.body), "Content-Encoding", c.coding))
			if err != nil {
				if !errors.Is(err, ErrUndecodable) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("refused for the wrong reason: %v", err)
				}
				return // refused: never sent
			}
			if len(res.Findings) == 0 {
				t.Fatalf("%s: scanned clean, the token would reach the upstream", name)
			}
		})
	}
}

// TestPlaceLabelsNeverCarryTheSecret: a place label is built from the
// request (a header name, a multipart part name, a JSON key). When the
// label is the secret, no field of any finding (what the proxy logs,
// returns in a refusal and files in a proposal) may carry it.
func TestPlaceLabelsNeverCarryTheSecret(t *testing.T) {
	o := knownScanner(t)
	named := post("x")
	named.Header[http.CanonicalHeaderKey(patToken)] = []string{"and " + heldToken}
	part := post("--ZZ\r\nContent-Disposition: form-data; name=\""+patToken+"\"\r\n\r\n"+heldToken+"\r\n--ZZ--\r\n",
		"Content-Type", "multipart/form-data; boundary=ZZ")
	key := post(`{"`+patToken+`":"`+heldToken+`"}`, "Content-Type", "application/json")
	for name, r := range map[string]Request{"header name": named, "part name": part, "json key": key} {
		t.Run(name, func(t *testing.T) {
			res, err := o.Scan(r)
			if err != nil || len(res.Findings) < 2 {
				t.Fatalf("findings %v, %v", res.Findings, err)
			}
			for _, f := range res.Findings {
				s := strings.ToLower(fmt.Sprintf("%+v", f))
				if strings.Contains(s, strings.ToLower(patToken)) || strings.Contains(s, heldToken) {
					t.Errorf("finding carries the secret: %+v", f)
				}
			}
		})
	}
}

// TestPlacesAreNamed: a finding says where the value sat the way a person
// reads the request (what `egress check` and the refusal print).
func TestPlacesAreNamed(t *testing.T) {
	o := knownScanner(t)
	get := func(path string, hdr ...string) Request {
		r := post("", hdr...)
		r.Method, r.Body = "GET", nil
		r.URL, _ = url.Parse("https://api.example.com" + path)
		return r
	}
	for want, r := range map[string]Request{
		"header Cookie pair token": get("/x", "Cookie", "a=1; token="+heldToken),
		"header X-Trace":           get("/x", "X-Trace", "id "+heldToken),
		"path segment 2":           get("/v1/" + heldToken + "/x"),
		"query q":                  get("/x?a=1&q=" + heldToken),
		"query key #2":             get("/x?a=1&" + heldToken + "=1"),
		"body $.config.key":        post(`{"config":{"key":"`+heldToken+`"}}`, "Content-Type", "application/json"),
		"body field b":             post("a=1&b="+heldToken, "Content-Type", "application/x-www-form-urlencoded"),
	} {
		t.Run(want, func(t *testing.T) {
			res, err := o.Scan(r)
			if err != nil || len(res.Findings) == 0 {
				t.Fatalf("%v %v", res.Findings, err)
			}
			var got []string
			for _, f := range res.Findings {
				if f.Place == want {
					return
				}
				got = append(got, f.Place)
			}
			t.Fatalf("places %q, want %q", got, want)
		})
	}
}

// TestTokenInsideBinary: printable runs inside a binary upload are read
// like text, the hex and base64 layers included.
func TestTokenInsideBinary(t *testing.T) {
	o := knownScanner(t, DetectorTokenPatterns)
	noise := randomBinary(1 << 20)
	for name, enc := range map[string]string{
		"plain":  patToken,
		"hex":    hex.EncodeToString([]byte(patToken)),
		"base64": base64.StdEncoding.EncodeToString([]byte(patToken)),
	} {
		body := string(noise[:1<<19]) + "\x00" + enc + "\x00" + string(noise[1<<19:])
		res, err := o.Scan(post(body, "Content-Type", "application/octet-stream"))
		if err != nil || !hasRule(res.Findings, "github-pat") {
			t.Errorf("%s token inside binary: err %v, findings %v", name, err, res.Findings)
		}
	}
}
