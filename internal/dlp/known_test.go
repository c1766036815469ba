package dlp

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestBase64CoreAppearsAtEveryAlignment(t *testing.T) {
	secret := []byte("s3cr3t-value-0123456789")
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		for pre := 0; pre < 6; pre++ {
			for post := 0; post < 4; post++ {
				data := append(append(bytes.Repeat([]byte{0xA5}, pre), secret...), bytes.Repeat([]byte{'z'}, post)...)
				enc := []byte(e.EncodeToString(data))
				std := e == base64.StdEncoding || e == base64.RawStdEncoding
				enc2 := base64.StdEncoding
				if !std {
					enc2 = base64.URLEncoding
				}
				core := base64Core(enc2, secret, pre%3)
				if len(core) < len(secret) {
					t.Fatalf("core too short: %q", core)
				}
				if !bytes.Contains(enc, core) {
					t.Fatalf("pre=%d post=%d: %q not in %q", pre, post, core, enc)
				}
			}
		}
	}
}
