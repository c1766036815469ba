package dlp

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// randomBinary is n bytes of noise, as an image, a zip or compressed audio
// looks to the scanner: a few escape markers of every kind by chance.
func randomBinary(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestBinaryUploadIsScannedNotRefused: megabytes of random binary are
// scanned and pass (they were refused as too many layers to scan, which
// broke every upload of an image or an archive), and a token escaped
// inside them is still found.
func TestBinaryUploadIsScannedNotRefused(t *testing.T) {
	o := knownScanner(t)
	noise := randomBinary(4 << 20)
	for _, ct := range []string{"application/octet-stream", "image/png", "text/plain"} {
		res, err := o.Scan(post(string(noise), "Content-Type", ct))
		if err != nil || len(res.Findings) > 0 {
			t.Errorf("%s: 4 MiB of noise: err %v, findings %v", ct, err, res.Findings)
		}
	}
	for _, enc := range []string{
		url.QueryEscape(url.QueryEscape(heldToken)),
		strings.ReplaceAll(heldToken, "_", `\u005f`),
		"&#x74;&#x6f;&#x6b;" + heldToken[3:],
	} {
		body := string(noise[:2<<20]) + " token=" + enc + " " + string(noise[2<<20:])
		res, err := o.Scan(post(body, "Content-Type", "application/octet-stream"))
		if err != nil || len(res.Findings) == 0 {
			t.Errorf("%q inside noise: err %v, findings %v", enc, err, res.Findings)
		}
	}
}

// TestBinaryStreamIsScannedNotRefused: the same through a Stream in 1 MiB
// chunks, as a WebSocket's binary messages are scanned.
func TestBinaryStreamIsScannedNotRefused(t *testing.T) {
	s := knownScanner(t).NewStream("websocket message")
	noise := randomBinary(8 << 20)
	for off := 0; off < len(noise); off += 1 << 20 {
		if _, f, err := s.Write(noise[off : off+1<<20]); err != nil || len(f) > 0 {
			t.Fatalf("chunk at %d: err %v findings %v", off, err, f)
		}
	}
}
