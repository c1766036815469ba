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
// delayed unless it pauses in the middle of what looks like the token.
// Reads go straight into the caller's buffer: no copy of the body is kept.
type echoGuard struct {
	r       io.Reader
	token   []byte
	held    []byte // tail that may be the start of the token (< len(token))
	out     []byte // checked bytes not yet returned (small reads only)
	scratch []byte
	err     error
}

func newEchoGuard(r io.Reader, token string) io.Reader {
	if token == "" {
		return r
	}
	return &echoGuard{r: r, token: []byte(token)}
}

func (g *echoGuard) Read(p []byte) (int, error) {
	for {
		if len(g.out) > 0 {
			n := copy(p, g.out)
			g.out = g.out[n:]
			return n, nil
		}
		if g.err != nil {
			if g.err == io.EOF && len(g.held) > 0 {
				// The stream ended inside a prefix: it was not the token.
				g.out, g.held = g.held, nil
				continue
			}
			return 0, g.err
		}
		buf, direct := p, len(p) > 2*len(g.token)
		if !direct {
			if g.scratch == nil {
				g.scratch = make([]byte, 4*len(g.token))
			}
			buf = g.scratch
		}
		k := copy(buf, g.held)
		n, err := g.r.Read(buf[k:])
		g.err = err
		data := buf[:k+n]
		if bytes.Contains(data, g.token) {
			g.held, g.err = nil, errTokenEcho
			return 0, errTokenEcho
		}
		h := heldBack(data, g.token)
		g.held = append(g.held[:0], data[len(data)-h:]...)
		ready := data[:len(data)-h]
		if len(ready) == 0 {
			continue
		}
		if direct {
			return len(ready), nil
		}
		g.out = ready // in scratch: returned by the next turn of the loop
	}
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
