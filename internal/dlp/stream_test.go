package dlp

import (
	"bytes"
	"strings"
	"testing"
)

func TestStreamFindsSecretSplitAcrossChunks(t *testing.T) {
	o := knownScanner(t)
	body := strings.Repeat("lorem ipsum dolor ", 600) + heldToken + strings.Repeat(" sit amet", 900)
	at := strings.Index(body, heldToken)
	for _, size := range []int{1, 7, 1000, 4096, 5000} {
		s := o.NewStream("body")
		var released []byte
		var found []Finding
		for i := 0; i < len(body); i += size {
			rel, f, err := s.Write([]byte(body[i:min(len(body), i+size)]))
			if err != nil {
				t.Fatal(err)
			}
			released = append(released, rel...)
			if len(f) > 0 {
				found = f
				break
			}
		}
		if len(found) == 0 {
			rel, f := s.Close()
			released = append(released, rel...)
			found = f
		}
		if len(where(found, DetectorKnownSecrets, "GITHUB_TOKEN")) == 0 {
			t.Fatalf("chunk %d: not found", size)
		}
		// Nothing of the secret was released before it was seen.
		if len(released) > at {
			t.Fatalf("chunk %d: released %d bytes, secret starts at %d", size, len(released), at)
		}
	}
}

func TestStreamPassesCleanBody(t *testing.T) {
	o := knownScanner(t)
	body := bytes.Repeat([]byte("clean text, nothing to see. "), 2000)
	s := o.NewStream("body")
	var out []byte
	for i := 0; i < len(body); i += 3000 {
		rel, f, err := s.Write(body[i:min(len(body), i+3000)])
		if err != nil {
			t.Fatal(err)
		}
		if len(f) > 0 {
			t.Fatal(f)
		}
		out = append(out, rel...)
	}
	rel, f := s.Close()
	out = append(out, rel...)
	if len(f) > 0 || !bytes.Equal(out, body) {
		t.Fatalf("findings %v, equal %v", f, bytes.Equal(out, body))
	}
}
