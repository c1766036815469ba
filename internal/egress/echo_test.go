package egress

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestEchoGuard(t *testing.T) {
	const tok = "tok-0123456789"
	cases := []struct {
		name, in string
		echo     bool
	}{
		{"clean", "data: hello\n\ndata: world\n\n", false},
		{"token", "x: Bearer tok-0123456789\n", true},
		{"ends with a token prefix", "abc tok-01", false},
		{"prefix then more", "tok-01 tok-0123 tok-0", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time: the token is split across every read.
			out, err := io.ReadAll(newEchoGuard(iotest.OneByteReader(bytes.NewReader([]byte(c.in))), tok))
			if c.echo {
				if !errors.Is(err, errTokenEcho) || bytes.Contains(out, []byte(tok[:5])) {
					t.Fatalf("token passed: %q %v", out, err)
				}
				return
			}
			if err != nil || string(out) != c.in {
				t.Fatalf("got %q %v", out, err)
			}
		})
	}
}

func FuzzEchoGuard(f *testing.F) {
	f.Add("Authorization: Bearer tok-0123456789", 3)
	f.Add("tok-tok-0tok-0123456789", 1)
	f.Add("tok-tok-0tok-012345678 tok-0123456789", 2)
	f.Fuzz(func(t *testing.T, in string, chunk int) {
		const tok = "tok-0123456789"
		if chunk < 1 || chunk > 64 {
			chunk = 1
		}
		g := newEchoGuard(&chunkReader{b: []byte(in), n: chunk}, tok)
		if chunk%2 == 0 {
			g = iotest.OneByteReader(g) // small reads of the guard itself
		}
		out, err := io.ReadAll(g)
		if bytes.Contains([]byte(in), []byte(tok)) {
			if !errors.Is(err, errTokenEcho) || bytes.Contains(out, []byte(tok)) {
				t.Fatalf("token passed: %q %v", out, err)
			}
			return
		}
		if err != nil || string(out) != in {
			t.Fatalf("clean input changed: %q -> %q %v", in, out, err)
		}
	})
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b[:min(c.n, len(c.b))])
	c.b = c.b[n:]
	return n, nil
}
