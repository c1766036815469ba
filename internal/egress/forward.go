package egress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// Scan limits. A request body larger than MaxScanBody is refused (never
// forwarded unscanned) on routes that scan; a text response larger than
// MaxInboundScan is scanned on its first MaxInboundScan bytes.
const (
	MaxScanBody    = dlp.DefaultMaxBody
	MaxInboundScan = 8 << 20
)

// hopHeaders are connection-scoped and never forwarded.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// forward runs one request through the pipeline: policy, outbound DLP (on
// what the agent sent), token injection, upstream, inbound scanning.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, t target) {
	start := time.Now()
	st := s.state.Load()
	if r.URL.User != nil {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeBadRequest, Reason: "credentials in the URL are refused"}, nil)
		return
	}
	d := st.pol.Decide(policyRequest(r, t, nil))
	if !d.Allow {
		s.refuse(w, r, t, d, nil)
		return
	}
	route := d.Route
	scanner := st.scanners[route]
	if s.refuseHeadBeforeContinue(w, r, t, scanner, route) { // expect.go
		return
	}
	var body []byte
	// A form or JSON body's _method counts against a methods list, so
	// such a route reads it even with DLP off; other bodies stream.
	readIt := scanner != nil || route.RestrictsMethods() && policy.BodyMayOverrideMethod(r.Header)
	// held: body is the request body, read whole; it is sent from there.
	held := false
	if readIt && r.Body != nil && r.Body != http.NoBody && !isGRPC(r.Header) { // gRPC bodies are scanned as they stream (serveGRPC)
		b, err := readBodyInto(s.holdBuf(), r.Body, r.ContentLength, MaxScanBody)
		held = true
		if err != nil {
			s.refuse(w, r, t, policy.Decision{Code: policy.CodeBadRequest, Reason: "reading the request body: " + err.Error()}, nil)
			return
		}
		if len(b) > MaxScanBody {
			s.refuse(w, r, t, policy.Decision{Code: policy.CodeDLPUnscanable, Reason: fmt.Sprintf("request body is larger than %d MiB, the most that can be scanned; it is refused, never sent unscanned", MaxScanBody>>20)}, nil)
			return
		}
		body = b
		if d = policy.DecideBody(d, policyRequest(r, t, body)); !d.Allow {
			s.refuse(w, r, t, d, nil)
			return
		}
	}
	if why := dohRequest(r, body); why != "" { // doh.go: shapes the policy cannot see
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeDoH, Reason: "DNS-over-HTTPS is refused on every host (" + why + "); DNS goes through the bottle's resolver only", Route: route}, nil)
		return
	}
	method, header, path, rawQuery := r.Method, r.Header, r.URL.Path, r.URL.RawQuery
	rawPath := r.URL.RawPath
	var warnings []dlp.Finding
	if scanner != nil {
		// Scan what the agent sent, before the real token is injected.
		dreq := dlp.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: body}
		res, err := scanner.ScanWith(&s.history, dreq)
		if err != nil {
			s.refuse(w, r, t, policy.Decision{Code: policy.CodeDLPUnscanable, Reason: "the request cannot be scanned: " + err.Error()}, nil)
			return
		}
		warnings = res.Warnings
		if found := s.unapproved(res.Findings); len(found) > 0 {
			refusal := policy.Decision{Code: policy.CodeDLP, Reason: "the request contains a secret (" + summarize(found) + ")", Route: route}
			switch route.OnMatch {
			case policy.OnMatchRedact:
				red, left, err := scanner.Redact(dreq)
				if err != nil {
					refusal.Reason += "; redacting failed: " + err.Error()
					s.refuse(w, r, t, refusal, found)
					return
				}
				if left = s.unapproved(left); len(left) > 0 {
					refusal.Reason += "; it survived redaction"
					s.refuse(w, r, t, refusal, left)
					return
				}
				header, body = red.Header, red.Body
				if red.URL != nil {
					path, rawPath, rawQuery = red.URL.Path, red.URL.RawPath, red.URL.RawQuery
				}
				d.Reason += "; redacted " + summarize(found)
			case policy.OnMatchSupervise:
				ok, why := s.holdOnce(r.Context(), st, r, t, found)
				if !ok {
					refusal.Reason += "; held for a human: " + why
					s.refuse(w, r, t, refusal, found)
					return
				}
				d.Reason += "; " + why
			default:
				s.refuse(w, r, t, refusal, found)
				return
			}
		}
	}

	out, err := http.NewRequestWithContext(r.Context(), method, "", nil)
	if err != nil {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeBadRequest, Reason: err.Error()}, nil)
		return
	}
	out.URL = &url.URL{Scheme: t.scheme, Host: t.urlHost(), Path: path, RawPath: rawPath, RawQuery: rawQuery}
	out.Host = out.URL.Host
	out.Header = cleanHeader(header)
	// Request trailers are not part of what DLP scans, so none are sent:
	// out.Trailer stays nil whatever the agent declared (the Trailer
	// header is hop-by-hop and dropped above).
	out.Trailer = nil
	var sentinel string
	if route.Auth != nil {
		sentinel = st.sentinels[route.Auth.Placeholder]
		if route.Auth.InBody && sentinel != "" && t.scheme == "https" {
			body = bytes.ReplaceAll(body, []byte(sentinel), []byte(st.tokens[route.Auth.TokenRef]))
		}
	}
	switch {
	case scanner != nil || held:
		out.Body, out.ContentLength = s.sendBody(body), int64(len(body))
		out.Header.Del("Content-Length")
		if len(body) == 0 && r.ContentLength <= 0 {
			out.Body = http.NoBody
		}
	case r.ContentLength != 0:
		out.Body, out.ContentLength = r.Body, r.ContentLength
	default:
		out.Body = http.NoBody
	}
	if route.Auth != nil {
		// Never a token over plain http (the policy refuses it too).
		injectAuth(out, route.Auth, st.tokens[route.Auth.TokenRef], sentinel, t.scheme == "https")
		wholeBodies(out.Header) // echo.go: no Range slices of a response that may echo the token
	} else if tokenHost(st.pol, t.host) {
		stripCredentials(out, &policy.Auth{}, "")
	}
	if route.Inbound || route.Auth != nil {
		// Let the transport ask for gzip and decode it, so what is scanned
		// is the text the agent reads; an agent asking for codings of its
		// own would invite ones a stream scanner cannot read. A coding the
		// upstream sends anyway is decoded for the scan, or the response is
		// withheld (respond).
		out.Header.Del("Accept-Encoding")
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil
	}

	if policy.IsWebSocketUpgrade(r.Method, r.Header) { // allowed: the route has websocket: true
		s.serveWebSocket(w, r, t, st, d, out)
		return
	}
	if isGRPC(r.Header) {
		s.serveGRPC(w, r, t, st, d, out)
		return
	}
	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		var re *refusalError
		if errors.As(err, &re) {
			s.refuse(w, r, t, policy.Decision{Code: re.code, Reason: re.reason, Route: route}, nil)
			return
		}
		if r.Context().Err() != nil {
			return
		}
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeUpstream, Reason: "reaching the upstream failed: " + err.Error(), Route: route}, nil)
		return
	}
	defer resp.Body.Close()
	n, inbound := s.respond(w, r, t, st, route, resp)
	if inbound.refused {
		return
	}
	s.logAllowed(st, r, t, d, resp.StatusCode, warnings, inbound, n, time.Since(start))
}

func (t target) urlHost() string {
	if t.scheme == "https" && t.port == policy.PortHTTPS || t.scheme == "http" && t.port == policy.PortHTTP {
		if strings.Contains(t.host, ":") {
			return "[" + t.host + "]"
		}
		return t.host
	}
	return net.JoinHostPort(t.host, strconv.Itoa(t.port))
}

func cleanHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		out.Del(name)
	}
	return out
}

// inboundResult is what response scanning saw.
type inboundResult struct {
	verdict dlp.InjectionVerdict
	note    string
	refused bool
}

// respond sends the upstream response to the agent, scanning text for
// prompt injection when the route asks for it.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, t target, st *state, route *policy.Route, resp *http.Response) (int64, inboundResult) {
	var res inboundResult
	copyHeader := func() {
		h := cleanHeader(resp.Header)
		h.Del(RefusalHeader) // only the proxy refuses
		h.Del(RefusalIDHeader)
		for k, vs := range h {
			w.Header()[k] = vs
		}
	}
	// The token injected into this request must not come back to the agent
	// (an upstream that echoes request headers), in any form it was sent.
	forms := sentTokens(st, route, t)
	echo := func(streamed bool) {
		d := policy.Decision{Code: policy.CodeTokenEcho, Reason: fmt.Sprintf("the response from %s carries the token the proxy injected; it was withheld", t.host), Route: route}
		res.refused = true
		if !streamed {
			s.refuse(w, r, t, d, nil)
			return
		}
		s.logDecision(st, r, t, d, resp.StatusCode, nil)
		panic(http.ErrAbortHandler) // headers are gone: cut the connection
	}
	if headerEchoes(resp.Header, forms) {
		echo(false)
		return 0, res
	}
	var body io.Reader = resp.Body
	body = newEchoGuard(body, forms...)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	scan := route.Inbound && r.Method != http.MethodHead
	// The transport asked for gzip and undid it; any coding still on the
	// response is one the upstream chose by itself, and could hide an
	// injection (or an echoed token) from a scan of the raw bytes.
	encoded := encodedResponse(resp.Header)
	withhold := func(code policy.Code, reason string) (int64, inboundResult) {
		s.refuse(w, r, t, policy.Decision{Code: code, Reason: reason, Route: route}, nil)
		res.refused = true
		return 0, res
	}
	ct := resp.Header.Get("Content-Type")
	if code, why := inboundWall(resp.Header, nil, scan); code != "" { // inbound_walls.go
		return withhold(code, why+"; it was withheld")
	}
	switch {
	case scan && streamed(mt) && encoded:
		return withhold(policy.CodeInboundUnscannable, fmt.Sprintf("the %s stream from %s came with content-encoding %q, which the proxy does not decode as it streams; it was withheld, not passed unscanned", mt, t.host, resp.Header.Get("Content-Encoding")))
	case scan && streamed(mt):
		copyHeader()
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		http.NewResponseController(w).Flush()
		onVerdict := func(v dlp.InjectionVerdict) {
			if v.Level > res.verdict.Level {
				res.verdict = v
			}
		}
		var rd io.Reader
		if mt == "text/event-stream" {
			rd = dlp.NewSSEScanner(body, onVerdict)
		} else {
			rd = dlp.NewNDJSONScanner(body, onVerdict)
		}
		n, err := s.copyFlush(w, rd, true)
		if errors.Is(err, errTokenEcho) {
			echo(true)
		}
		if errors.Is(err, dlp.ErrInjection) {
			// Headers are gone: cut the stream so the agent never sees the
			// event, and log the refusal.
			s.logDecision(st, r, t, policy.Decision{Code: policy.CodeInjection, Reason: "prompt injection in the " + mt + " stream (" + res.verdict.Reason + "); stream cut", Route: route}, resp.StatusCode, nil)
			res.refused = true
			panic(http.ErrAbortHandler)
		}
		return n, res
	case (scan && scannedInbound(ct) || len(forms) > 0) && encoded: // with a token, any type: it could be compressed around it
		// Decode a copy to scan; the agent gets the bytes as sent.
		raw, err := readBody(body, resp.ContentLength, MaxInboundScan)
		if errors.Is(err, errTokenEcho) {
			echo(false)
			return 0, res
		}
		if err != nil {
			return withhold(policy.CodeUpstream, "reading the upstream response: "+err.Error())
		}
		if len(raw) > MaxInboundScan {
			return withhold(policy.CodeInboundUnscannable, fmt.Sprintf("the compressed response from %s is larger than %d MiB, the most that can be decoded and scanned; it was withheld", t.host, MaxInboundScan>>20))
		}
		if len(raw) > 0 { // 204, 304 and empty bodies carry the header but nothing to decode
			text, err := dlp.DecodeContent(resp.Header, raw, MaxInboundScan)
			if err != nil {
				return withhold(policy.CodeInboundUnscannable, fmt.Sprintf("the response from %s (content-encoding %q) cannot be decoded for scanning (%v); it was withheld, not passed unscanned", t.host, resp.Header.Get("Content-Encoding"), err))
			}
			if echoesToken(text, forms...) {
				echo(false)
				return 0, res
			}
			if code, why := inboundWall(resp.Header, text, scan); code != "" {
				return withhold(code, why+"; it was withheld")
			}
			if scan && scannedInbound(ct) {
				res.verdict = dlp.DetectInjection(dlp.InboundText(ct, text))
			}
		}
		if res.verdict.Level == dlp.High {
			return withhold(policy.CodeInjection, fmt.Sprintf("the response from %s looks like a prompt injection (%s) and was withheld", t.host, res.verdict.Reason))
		}
		copyHeader()
		if resp.StatusCode != http.StatusNotModified && resp.StatusCode != http.StatusNoContent {
			w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		}
		w.WriteHeader(resp.StatusCode)
		n, _ := w.Write(raw)
		return int64(n), res
	case scan && scannedInbound(ct):
		prefix, err := readBodyInto(s.holdBuf(), body, resp.ContentLength, MaxInboundScan)
		defer func() { s.putHoldBuf(prefix) }() // written (or refused) before respond returns
		if errors.Is(err, errTokenEcho) {
			echo(false)
			return 0, res
		}
		if err != nil {
			return withhold(policy.CodeUpstream, "reading the upstream response: "+err.Error())
		}
		if code, why := inboundWall(resp.Header, prefix, scan); code != "" {
			return withhold(code, why+"; it was withheld")
		}
		res.verdict = s.scanHeld(ct, prefix)
		if res.verdict.Level == dlp.High {
			return withhold(policy.CodeInjection, fmt.Sprintf("the response from %s looks like a prompt injection (%s) and was withheld", t.host, res.verdict.Reason))
		}
		if len(prefix) <= MaxInboundScan {
			copyHeader()
			if resp.StatusCode != http.StatusNotModified && resp.StatusCode != http.StatusNoContent {
				w.Header().Set("Content-Length", strconv.Itoa(len(prefix)))
			}
			w.WriteHeader(resp.StatusCode)
			n, _ := w.Write(prefix)
			return int64(n), res
		}
		return s.respondPastHold(w, r, t, st, route, resp, prefix, body, &res, copyHeader, echo)
	default:
		copyHeader()
		if resp.ContentLength < 0 || resp.Uncompressed {
			w.Header().Del("Content-Length")
		}
		w.WriteHeader(resp.StatusCode)
		if resp.ContentLength < 0 {
			// A stream that starts with a pause still shows its headers.
			http.NewResponseController(w).Flush()
		}
		n, err := s.copyFlush(w, body, resp.ContentLength < 0)
		if errors.Is(err, errTokenEcho) {
			echo(true)
		}
		return n, res
	}
}

// respondPastHold sends a text response longer than MaxInboundScan: the
// held first part was judged whole (and passed); the rest streams through
// the injection scanner in overlapping windows and is cut, the headers
// being gone, once it gives orders. Text in a charset the scanner would
// have to decode is withheld instead: it cannot be decoded as it streams.
func (s *Server) respondPastHold(w http.ResponseWriter, r *http.Request, t target, st *state, route *policy.Route, resp *http.Response, prefix []byte, body io.Reader, res *inboundResult, copyHeader func(), echo func(bool)) (int64, inboundResult) {
	ct := resp.Header.Get("Content-Type")
	if dlp.InboundCharset(ct, prefix) {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeInboundUnscannable, Reason: fmt.Sprintf("the response from %s is text in a charset the proxy decodes to scan, and larger than %d MiB, the most it decodes; it was withheld, not passed unscanned", t.host, MaxInboundScan>>20), Route: route}, nil)
		res.refused = true
		return 0, *res
	}
	copyHeader()
	if resp.ContentLength < 0 {
		w.Header().Del("Content-Length")
	}
	w.WriteHeader(resp.StatusCode)
	n, _ := w.Write(prefix)
	onVerdict := func(v dlp.InjectionVerdict) {
		if v.Level > res.verdict.Level {
			res.verdict = v
		}
	}
	m, err := s.copyFlush(w, dlp.NewInjectionStream(prefix, body, onVerdict), false)
	if errors.Is(err, errTokenEcho) {
		echo(true)
	}
	if errors.Is(err, dlp.ErrInjection) {
		s.logDecision(st, r, t, policy.Decision{Code: policy.CodeInjection, Reason: fmt.Sprintf("prompt injection past the first %d MiB of the response (%s); response cut", MaxInboundScan>>20, res.verdict.Reason), Route: route}, resp.StatusCode, nil)
		res.refused = true
		panic(http.ErrAbortHandler)
	}
	return int64(n) + m, *res
}

// encodedResponse reports a Content-Encoding other than identity.
func encodedResponse(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return true
			}
		}
	}
	return false
}

// streamed types are scanned as they pass, one event or line at a time:
// buffering them whole would stall the agent.
func streamed(mt string) bool {
	switch mt {
	case "text/event-stream", "application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines":
		return true
	}
	return false
}

// textual types are buffered and scanned whole.
func textual(mt string) bool {
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml") || mt == "application/javascript"
}

// readBody reads at most limit+1 bytes (so the caller sees "too large"),
// in one allocation when the length is known.
func readBody(r io.Reader, length, limit int64) ([]byte, error) {
	return readBodyInto(nil, r, length, limit)
}

// readBodyInto is readBody reading into b's room first (a pooled buffer);
// the result may be b grown.
func readBodyInto(b []byte, r io.Reader, length, limit int64) ([]byte, error) {
	// One byte more than allowed, or than declared, is read to notice a
	// body longer than that.
	most, declared := limit+1, length >= 0 && length <= limit
	if declared {
		most = length + 1
	}
	b = b[:0]
	if cap(b) == 0 {
		// Grown as bytes come, not made at the declared length: a header
		// costs the sender nothing, and 100 HTTP/2 streams declaring 8 MiB
		// each would hold 800 MiB before a byte of body arrived. Up to 64
		// KiB is made at once when the length is known, so an ordinary
		// body costs one allocation.
		b = make([]byte, 0, 512)
		if declared {
			b = make([]byte, 0, min(most, 64<<10))
		}
	}
	for int64(len(b)) < most {
		if len(b) == cap(b) {
			// Full: see whether the body ends here before growing (a
			// pooled buffer stays its size for a body that fills it).
			var peek [512]byte
			n, err := r.Read(peek[:min(int64(len(peek)), most-int64(len(b)))])
			if n == 0 && err == io.EOF {
				break
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			// Doubled exactly (append's growth would overshoot the sizes
			// the hold buffers are kept at).
			grown := make([]byte, len(b), max(2*cap(b), len(b)+n, 64<<10))
			copy(grown, b)
			b = append(grown, peek[:n]...)
			if err == io.EOF {
				break
			}
			continue
		}
		n, err := r.Read(b[len(b):min(int64(cap(b)), most)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case !declared:
	case int64(len(b)) < length:
		return nil, io.ErrUnexpectedEOF
	case int64(len(b)) > length:
		return nil, errors.New("body longer than its Content-Length")
	}
	return b, nil
}

// Held response text: buffers of holdBufSize are recycled; one grown past
// maxPooledHold (a response of several MiB) is let go. Up to
// keptHoldBufs grown buffers are kept aside from the pool (which the
// collector empties), so a run of large responses does not regrow one
// each time: at most keptHoldBufs × maxPooledHold stays allocated.
const (
	holdBufSize   = 64 << 10
	maxPooledHold = 2 << 20
	keptHoldBufs  = 4
)

// holdBuf is a recycled buffer to hold a response's text in while it is
// scanned; hand it back with putHoldBuf once the text is written.
func (s *Server) holdBuf() []byte {
	select {
	case b := <-s.bigHolds:
		return b
	default:
	}
	if bp, _ := s.heldText.Get().(*[]byte); bp != nil {
		return *bp
	}
	return make([]byte, 0, holdBufSize)
}

func (s *Server) putHoldBuf(b []byte) {
	switch {
	case cap(b) == 0 || cap(b) > maxPooledHold:
	case cap(b) > holdBufSize:
		select {
		case s.bigHolds <- b[:0]:
		default:
		}
	default:
		b = b[:0]
		s.heldText.Put(&b)
	}
}

// sendBody is the upstream request's body sent from b: the buffer holdBuf
// gave it was read into, or the copy redaction or the placeholder swap
// made of it. Nothing else holds b once it is sent (the scan's history
// keeps copies), so it is recycled when the transport is done with it.
func (s *Server) sendBody(b []byte) io.ReadCloser {
	return &recycledBody{r: bytes.NewReader(b), buf: b, put: s.putHoldBuf}
}

// recycledBody hands its buffer back when the transport closes it, and
// not before: the transport may still be writing the body after
// RoundTrip returns, and may close it from another goroutine while a
// read is in progress. Read and Close take turns, so a recycled buffer
// is never read.
type recycledBody struct {
	mu  sync.Mutex
	r   *bytes.Reader
	buf []byte
	put func([]byte)
}

func (b *recycledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.r.Read(p)
}

func (b *recycledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		b.put(b.buf)
		b.buf, b.r = nil, nil
	}
	return nil
}

// scanHeld runs the injection scan of a held text; texts larger than
// holdBufSize take a turn among as many at once as there are CPUs, so
// the scan's views (each a copy of the size of the text) of many large
// responses at once do not pile up in memory for no gain in speed.
func (s *Server) scanHeld(ct string, text []byte) dlp.InjectionVerdict {
	if len(text) > holdBufSize {
		s.bigScans <- struct{}{}
		defer func() { <-s.bigScans }()
	}
	return dlp.DetectInjection(dlp.InboundText(ct, text))
}

// copyFlush copies src to w, flushing after every read when flush is set
// (event streams and bodies of unknown length: no added delay).
func (s *Server) copyFlush(w http.ResponseWriter, src io.Reader, flush bool) (int64, error) {
	rc := http.NewResponseController(w)
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 32<<10)
		bp = &b
	}
	defer s.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
			if flush {
				rc.Flush()
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// policyRequest is r as the policy reads it, with its body once the proxy
// has read it (nil before).
func policyRequest(r *http.Request, t target, body []byte) policy.Request {
	return policy.Request{
		Method: r.Method, Scheme: t.scheme, Host: t.host, Port: t.port,
		Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header, Body: body,
	}
}
