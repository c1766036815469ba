package egress

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/bot-bottle/bot-bottle/internal/policy"
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
	forms   [][]byte // the token and every encoding of it an agent could undo
	longest int
	held    []byte // tail that may be the start of a form (< longest)
	out     []byte // checked bytes not yet returned (small reads only)
	scratch []byte
	err     error
}

// newEchoGuard guards r against every form of each token (the forms a
// request sent it in: the value, a Basic credential, ...).
func newEchoGuard(r io.Reader, tokens ...string) io.Reader {
	forms := formsOf(tokens...)
	if len(forms) == 0 {
		return r
	}
	g := &echoGuard{r: r, forms: forms}
	for _, f := range g.forms {
		g.longest = max(g.longest, len(f))
	}
	return g
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
		buf, direct := p, len(p) > 2*g.longest
		if !direct {
			if g.scratch == nil {
				g.scratch = make([]byte, 4*g.longest)
			}
			buf = g.scratch
		}
		k := copy(buf, g.held)
		n, err := g.r.Read(buf[k:])
		g.err = err
		data := buf[:k+n]
		if containsForm(data, g.forms) {
			g.held, g.err = nil, errTokenEcho
			return 0, errTokenEcho
		}
		h := 0
		for _, f := range g.forms {
			h = max(h, heldBack(data, f))
		}
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

// tokenForms is the token as sent and in every encoding an upstream might
// reflect it in and an agent could undo: base64 (both alphabets, at any
// alignment inside a longer encoded text), hex in either case, UTF-16 in
// either byte order, JSON \u escapes and full percent-encoding.
func tokenForms(token string) [][]byte {
	forms := []string{token}
	add := func(f string) {
		for _, g := range forms {
			if g == f {
				return
			}
		}
		if len(f) >= 8 { // shorter cores would match by chance
			forms = append(forms, f)
		}
	}
	for off := 0; off < 3; off++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, off), token...))
		whole := (off + len(token)) / 3 * 4 // groups the token fills
		core := enc[[]int{0, 2, 3}[off]:whole]
		add(core)
		add(strings.NewReplacer("+", "-", "/", "_").Replace(core))
	}
	h := hex.EncodeToString([]byte(token))
	add(h)
	add(strings.ToUpper(h))
	var le, be, jl, ju, pl, pu strings.Builder
	for _, u := range utf16.Encode([]rune(token)) {
		le.WriteByte(byte(u))
		le.WriteByte(byte(u >> 8))
		be.WriteByte(byte(u >> 8))
		be.WriteByte(byte(u))
		fmt.Fprintf(&jl, "\\u%04x", u)
		fmt.Fprintf(&ju, "\\u%04X", u)
	}
	for i := 0; i < len(token); i++ {
		fmt.Fprintf(&pl, "%%%02x", token[i])
		fmt.Fprintf(&pu, "%%%02X", token[i])
	}
	for _, f := range []string{le.String(), be.String(), jl.String(), ju.String(), pl.String(), pu.String(), url.QueryEscape(token), url.PathEscape(token)} {
		add(f)
	}
	out := make([][]byte, len(forms))
	for i, f := range forms {
		out[i] = []byte(f)
	}
	return out
}

func containsForm(b []byte, forms [][]byte) bool {
	for _, f := range forms {
		if bytes.Contains(b, f) {
			return true
		}
	}
	return false
}

// echoesToken reports whether b (a header value, a decoded body) carries
// any of the tokens in any of its forms.
func echoesToken(b []byte, tokens ...string) bool {
	return containsForm(b, formsOf(tokens...))
}

// sentTokens are the values a request on route carried upstream (the
// token, and for Basic the credential around it): none off https or
// without auth. Every protocol's echo check starts from these.
func sentTokens(st *state, route *policy.Route, t target) []string {
	if route == nil || route.Auth == nil || t.scheme != "https" {
		return nil
	}
	return sentForms(route.Auth, st.tokens[route.Auth.TokenRef])
}

// headerEchoes reports whether any value of h carries one of the tokens
// in any form.
func headerEchoes(h http.Header, tokens []string) bool {
	forms := formsOf(tokens...)
	for _, vs := range h {
		for _, v := range vs {
			if containsForm([]byte(v), forms) {
				return true
			}
		}
	}
	return false
}

// formsMemo holds tokenForms of each value asked for. The values are only
// ever the sidecar's few held tokens, and their forms are wanted on every
// response and every log line: build them once.
var formsMemo sync.Map // string -> [][]byte

// stringFormsMemo is formsMemo as strings, for scrub: every log line
// looks for every form of every held value.
var stringFormsMemo sync.Map // string -> []string

// stringForms is tokenForms(token) as strings, built once.
func stringForms(token string) []string {
	if f, ok := stringFormsMemo.Load(token); ok {
		return f.([]string)
	}
	var out []string
	for _, f := range formsOf(token) {
		out = append(out, string(f))
	}
	f, _ := stringFormsMemo.LoadOrStore(token, out)
	return f.([]string)
}

// formsOf is the forms of every non-empty token.
func formsOf(tokens ...string) [][]byte {
	var out [][]byte
	for _, t := range tokens {
		if t == "" {
			continue
		}
		f, ok := formsMemo.Load(t)
		if !ok {
			f, _ = formsMemo.LoadOrStore(t, tokenForms(t))
		}
		if len(tokens) == 1 {
			return f.([][]byte) // shared and read-only: no copy
		}
		out = append(out, f.([][]byte)...)
	}
	return out
}

// wholeBodies drops the request headers that ask for part of a response:
// Range slices fetched one by one would each pass the guard and
// reassemble the token, and Go's transport asks for no gzip (so decodes
// none) on a range request. On a route with auth the agent gets whole
// bodies (200, not 206).
func wholeBodies(h http.Header) {
	h.Del("Range")
	h.Del("If-Range")
}
