package egress

import (
	"bytes"
	"errors"
	"io"
)

// errTokenEcho is returned by an echoGuard that saw the injected token.
var errTokenEcho = errors.New("the response carries the token the proxy injected")

// echoGuard passes a response body through, failing once the token the
// proxy injected into the request shows up in it (an upstream that echoes
// request headers would otherwise hand the agent the token). It holds back
// only a tail that could be the start of the token, so a stream is not
// delayed unless it ends in the middle of what looks like the token.
type echoGuard struct {
	r     io.Reader
	token []byte
	buf   []byte // read, not yet returned
	out   []byte // checked, ready to return
	tmp   []byte
	err   error
}

func newEchoGuard(r io.Reader, token string) io.Reader {
	if token == "" {
		return r
	}
	return &echoGuard{r: r, token: []byte(token)}
}

func (g *echoGuard) Read(p []byte) (int, error) {
	for len(g.out) == 0 {
		if g.err != nil {
			if len(g.buf) > 0 && g.err == io.EOF {
				g.out, g.buf = g.buf, nil // a partial token at the end is not the token
				break
			}
			return 0, g.err
		}
		if len(g.tmp) < len(p) {
			g.tmp = make([]byte, len(p))
		}
		n, err := g.r.Read(g.tmp[:len(p)])
		g.err = err
		if n == 0 {
			continue
		}
		g.buf = append(g.buf, g.tmp[:n]...)
		if bytes.Contains(g.buf, g.token) {
			g.buf, g.err = nil, errTokenEcho
			return 0, errTokenEcho
		}
		k := heldBack(g.buf, g.token)
		g.out = append(g.out[:0], g.buf[:len(g.buf)-k]...)
		g.buf = append(g.buf[:0], g.buf[len(g.buf)-k:]...)
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// heldBack is the length of the longest tail of b that is a proper prefix
// of token: bytes that may yet become the token.
func heldBack(b, token []byte) int {
	for k := min(len(token)-1, len(b)); k > 0; k-- {
		if bytes.HasPrefix(token, b[len(b)-k:]) {
			return k
		}
	}
	return 0
}
