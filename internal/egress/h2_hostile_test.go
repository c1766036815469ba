package egress

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The tests here are a hostile HTTP/2 client: x/net's Framer writes frames
// a well-behaved client library never would (streams past the advertised
// limit, header blocks without end), and the sidecar must stay bounded.

// h2Raw is an agent's TLS tunnel speaking raw HTTP/2 frames.
type h2Raw struct {
	t         testing.TB
	tc        *tls.Conn
	fr        *http2.Framer
	settings  map[http2.SettingID]uint32
	authority string
}

// dialH2Raw opens a tunnel to up.example.com, sends the preface, and reads
// the server's SETTINGS (acked). A deadline bounds every read and write, so
// a proxy that stops answering fails the test instead of hanging it.
func dialH2Raw(t testing.TB, p *proxy, port string) *h2Raw {
	t.Helper()
	hp := "up.example.com:" + port
	tc := tls.Client(connect(t, p, hp), &tls.Config{ServerName: "up.example.com", RootCAs: bottleRoots(p), NextProtos: []string{"h2"}})
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("handshake: %v, ALPN %q", err, tc.ConnectionState().NegotiatedProtocol)
	}
	io.WriteString(tc, http2.ClientPreface)
	fr := http2.NewFramer(tc, tc)
	fr.WriteSettings()
	h := &h2Raw{t: t, tc: tc, fr: fr, settings: map[http2.SettingID]uint32{}, authority: hp}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			sf.ForeachSetting(func(s http2.Setting) error { h.settings[s.ID] = s.Val; return nil })
			fr.WriteSettingsAck()
			return h
		}
	}
}

// headerBlock is the HPACK encoding of a request for path plus extra
// fields.
func (h *h2Raw) headerBlock(method, path string, extra ...hpack.HeaderField) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: method}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: h.authority}, {Name: ":path", Value: path},
	}, extra...) {
		enc.WriteField(f)
	}
	return buf.Bytes()
}

// TestRedTeamHTTP2StreamFlood: a client that ignores the advertised
// MAX_CONCURRENT_STREAMS and opens 300 streams at once gets every stream
// past the 100th reset; the sidecar runs at most 100 requests for it.
func TestRedTeamHTTP2StreamFlood(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	h := dialH2Raw(t, p, up.port)
	for id, want := range map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: h2MaxStreams,
		http2.SettingHeaderTableSize:      4 << 10,
		http2.SettingInitialWindowSize:    1 << 20,
	} {
		if h.settings[id] != want {
			t.Errorf("server SETTINGS %v = %d, want %d", id, h.settings[id], want)
		}
	}
	// POSTs whose bodies never come: each stream stays open, its handler
	// waiting to read what DLP must scan.
	const n = 300
	block := h.headerBlock("POST", "/v1/flood", hpack.HeaderField{Name: "content-type", Value: "text/plain"})
	for i := range n {
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block, EndHeaders: true}); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	reset := map[uint32]bool{}
	for len(reset) < n-h2MaxStreams {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d resets: %v", len(reset), err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			reset[f.StreamID] = true
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v after %d resets; want the excess streams reset, the connection kept", f.ErrCode, len(reset))
		case *http2.HeadersFrame:
			t.Fatalf("stream %d answered while its body is pending", f.StreamID)
		}
	}
	for i := range n {
		if id := uint32(2*i + 1); reset[id] != (i >= h2MaxStreams) {
			t.Errorf("stream %d (the %dth): reset %v", id, i+1, reset[id])
		}
	}
	// The first 100 are still live requests: one gets its body and goes.
	h.fr.WriteData(1, true, []byte("hello"))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for stream 1's answer: %v", err)
		}
		if hf, ok := f.(*http2.HeadersFrame); ok && hf.StreamID == 1 {
			break
		}
	}
	if up.seen.count() != 1 {
		t.Errorf("upstream saw %d requests, want the one whose body was sent", up.seen.count())
	}
}

// TestRedTeamHTTP2HeaderListTooLarge: an HPACK bomb, a 10 KB header
// block that decodes to 1.3 MB (one indexed field repeated), is past the
// 1 MiB header-list limit: it gets 431, is not kept, and never reaches the
// policy or the upstream.
func TestRedTeamHTTP2HeaderListTooLarge(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	h := dialH2Raw(t, p, up.port)
	var pad []hpack.HeaderField
	for range 10000 {
		pad = append(pad, hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("a", 100)})
	}
	writeBlock(t, h.fr, 1, h.headerBlock("GET", "/v1/x", pad...), true)
	st := readStatus(t, h.fr, 1)
	if st != "431" {
		t.Errorf("status %s, want 431", st)
	}
	if up.seen.count() != 0 {
		t.Errorf("upstream saw %d requests", up.seen.count())
	}
	if strings.Contains(p.logText(), "/v1/x") {
		t.Errorf("the oversized request reached the pipeline:\n%s", p.logText())
	}
}

// TestRedTeamHTTP2ContinuationFlood: a header block that never ends
// (CONTINUATION frames, 64 MiB of them) is not read to its end: the
// sidecar closes the connection once the block is past the limit, so the
// client cannot finish writing it; another tunnel is still served.
func TestRedTeamHTTP2ContinuationFlood(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	h := dialH2Raw(t, p, up.port)
	var pad []hpack.HeaderField
	for i := range 64 {
		pad = append(pad, hpack.HeaderField{Name: fmt.Sprintf("x-pad-%d", i), Value: strings.Repeat("b", 1<<20)})
	}
	wrote := make(chan error, 1)
	go func() { wrote <- writeBlockErr(h.fr, 1, h.headerBlock("GET", "/v1/x", pad...), false) }()
	var goaway *http2.GoAwayFrame
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			break // the sidecar closed the connection
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			goaway = g
		}
	}
	h.tc.Close() // the writer, if still blocked, fails now
	if err := <-wrote; err == nil {
		t.Fatal("the sidecar read all 64 MiB of one header block")
	}
	if goaway == nil {
		t.Error("no GOAWAY before the connection closed")
	}
	if up.seen.count() != 0 {
		t.Errorf("upstream saw %d requests", up.seen.count())
	}
	// The sidecar is still there for everyone else.
	if st, _ := h2Get(t, tls.Client(connect(t, p, "up.example.com:"+up.port), &tls.Config{ServerName: "up.example.com", RootCAs: bottleRoots(p), NextProtos: []string{"h2"}}),
		"https://up.example.com:"+up.port+"/v1/after"); st != http.StatusOK {
		t.Errorf("a fresh tunnel after the flood: %d", st)
	}
}

// writeBlock sends block as one HEADERS frame and CONTINUATION frames of
// 16 KiB; endHeaders false never ends it.
func writeBlock(t testing.TB, fr *http2.Framer, id uint32, block []byte, endHeaders bool) {
	t.Helper()
	if err := writeBlockErr(fr, id, block, endHeaders); err != nil {
		t.Fatalf("writing the header block: %v", err)
	}
}

func writeBlockErr(fr *http2.Framer, id uint32, block []byte, endHeaders bool) error {
	const frag = 16 << 10
	first := block[:min(frag, len(block))]
	block = block[len(first):]
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(block) == 0 && endHeaders}); err != nil {
		return err
	}
	for len(block) > 0 {
		n := min(frag, len(block))
		if err := fr.WriteContinuation(id, n == len(block) && endHeaders, block[:n]); err != nil {
			return err
		}
		block = block[n:]
	}
	return nil
}

// readStatus reads frames until stream id's response headers and returns
// its :status.
func readStatus(t testing.TB, fr *http2.Framer, id uint32) string {
	t.Helper()
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for stream %d: %v", id, err)
		}
		if mh, ok := f.(*http2.MetaHeadersFrame); ok && mh.StreamID == id {
			return mh.PseudoValue("status")
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v, want a response on stream %d", g.ErrCode, id)
		}
	}
}

// TestRedTeamHTTP2ExtendedConnectRefused: WebSocket over HTTP/2 (RFC 8441,
// :method CONNECT with :protocol) is a CONNECT inside the tunnel, refused
// like one, even on a route that allows WebSocket over HTTP/1.1.
func TestRedTeamHTTP2ExtendedConnectRefused(t *testing.T) {
	up := newWSUpstream(t)
	p := startProxy(t, up.upstream, wsPolicy, nil)
	h := dialH2Raw(t, p, up.port)
	block := h.headerBlock("CONNECT", "/ws/chat", hpack.HeaderField{Name: ":protocol", Value: "websocket"}, hpack.HeaderField{Name: "sec-websocket-version", Value: "13"})
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if h.settings[http2.SettingEnableConnectProtocol] != 0 {
		t.Error("the sidecar offers SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	// Today x/net resets it (the setting is not offered); were it offered,
	// the policy's 403 (method) would answer.
	if st := readStatusOrReset(t, h.fr, 1); st != "403" && !strings.HasPrefix(st, "reset ") {
		t.Fatalf("extended CONNECT: %s, want a reset or 403", st)
	}
	if up.seen.count() != 0 {
		t.Errorf("the upstream saw %d upgrades", up.seen.count())
	}
}

// readStatusOrReset is readStatus that also accepts the stream being reset
// ("reset CODE").
func readStatusOrReset(t testing.TB, fr *http2.Framer, id uint32) string {
	t.Helper()
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for stream %d: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return "reset " + f.ErrCode.String()
			}
		case *http2.GoAwayFrame:
			return "goaway " + f.ErrCode.String()
		}
	}
}

// TestRedTeamDeclaredLengthCostsNothing: a Content-Length is a promise
// the sender need not keep, and over HTTP/2 one tunnel holds 100 streams:
// a request declaring 8 MiB and sending nothing must not make the sidecar
// hold 8 MiB (100 such streams would hold 800 MiB for a few KB of
// HEADERS).
func TestRedTeamDeclaredLengthCostsNothing(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readBody(strings.NewReader("only this"), MaxScanBody, MaxScanBody)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a body shorter than its Content-Length was accepted")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("reading a 9-byte body that declared %d bytes allocated %d bytes", MaxScanBody, n)
	}
	b, err := readBody(strings.NewReader("exactly"), 7, MaxScanBody)
	if err != nil || string(b) != "exactly" {
		t.Errorf("a body as long as declared: %q, %v", b, err)
	}
	if _, err := readBody(strings.NewReader("too long"), 3, MaxScanBody); err == nil {
		t.Error("a body longer than its Content-Length was accepted")
	}
}

// TestRedTeamGRPCDeclaredLengthCostsNothing: the same for a gRPC message
// prefix declaring 8 MiB followed by a few bytes.
func TestRedTeamGRPCDeclaredLengthCostsNothing(t *testing.T) {
	body := append([]byte{0, 0, 0x80, 0, 0}, "a few bytes"...) // 8 MiB declared
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readGRPCMessage(bytes.NewReader(body), grpcMaxMessage)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a message shorter than its prefix was accepted")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("reading an 11-byte message that declared 8 MiB allocated %d bytes", n)
	}
}
