package egress

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// grpcMaxMessage bounds one gRPC message the proxy holds to scan.
const grpcMaxMessage = MaxScanBody

// isGRPC reports a gRPC call (application/grpc, +proto or any suffix).
func isGRPC(h http.Header) bool {
	ct := h.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// serveGRPC forwards a gRPC call the policy allowed (out is scanned for
// its headers and path and carries the token). The request body streams:
// each length-prefixed message is decoded and scanned before it goes on,
// so streaming RPCs keep streaming. Response trailers (grpc-status,
// grpc-message) reach the agent; a refused message ends the call with
// PERMISSION_DENIED.
func (s *Server) serveGRPC(w http.ResponseWriter, r *http.Request, t target, st *state, d policy.Decision, out *http.Request) {
	start := time.Now()
	route := d.Route
	gs := &grpcScan{src: r.Body, coding: r.Header.Get("Grpc-Encoding")}
	if sc := st.scanners[route]; sc != nil {
		gs.stream = sc.NewStream("grpc message")
		gs.approved = s.unapproved
	}
	out.Body, out.ContentLength = gs, -1
	out.Header.Set("Te", "trailers")
	resp, err := s.transport.RoundTrip(out)
	if ref := gs.refusal(); ref != nil {
		if err == nil {
			resp.Body.Close()
		}
		s.grpcRefuse(w, r, t, st, route, ref, false)
		return
	}
	if err != nil {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeUpstream, Reason: "reaching the upstream failed: " + err.Error(), Route: route}, nil)
		return
	}
	defer resp.Body.Close()
	sent := sentTokens(st, route, t)
	if headerEchoes(resp.Header, sent) {
		s.grpcRefuse(w, r, t, st, route, &wsRefusal{code: policy.CodeTokenEcho, reason: "the response from " + t.host + " carries the token the proxy injected"}, false)
		return
	}
	h := cleanHeader(resp.Header)
	h.Del(RefusalHeader)
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	if resp.Header.Get("Grpc-Status") != "" {
		// Trailers-Only (the call failed before any message): it stays
		// one HEADERS frame that ends the stream. Flushed apart, the
		// agent's client finds headers, no trailers, and says Internal.
		s.logAllowed(st, r, t, d, resp.StatusCode, nil, inboundResult{}, 0, time.Since(start))
		return
	}
	http.NewResponseController(w).Flush()
	n, cerr := s.copyFlush(w, newEchoGuard(resp.Body, sent...), true)
	if ref := gs.refusal(); ref != nil {
		s.grpcRefuse(w, r, t, st, route, ref, true)
		return
	}
	if errors.Is(cerr, errTokenEcho) || headerEchoes(resp.Trailer, sent) {
		s.grpcRefuse(w, r, t, st, route, &wsRefusal{code: policy.CodeTokenEcho, reason: "the response from " + t.host + " carries the token the proxy injected"}, true)
		return
	}
	for k, vs := range resp.Trailer {
		w.Header()[http.TrailerPrefix+k] = vs
	}
	if cerr != nil && resp.Trailer.Get("Grpc-Status") == "" {
		endBrokenCall(w, r, start)
	}
	s.logAllowed(st, r, t, d, resp.StatusCode, nil, inboundResult{}, n, time.Since(start))
}

// endBrokenCall gives the agent a status for a call whose upstream stream
// broke before its trailers (reset at its deadline, or the connection
// lost): a stream that ends bare is, to the agent's client, an Internal
// error of the proxy's.
func endBrokenCall(w http.ResponseWriter, r *http.Request, start time.Time) {
	status, msg := "14", "bot-bottle egress: the upstream ended the call without a status"
	if d, ok := grpcTimeout(r.Header.Get("Grpc-Timeout")); ok && time.Since(start) >= d {
		status, msg = "4", "bot-bottle egress: the call's deadline passed"
	}
	w.Header()[http.TrailerPrefix+"Grpc-Status"] = []string{status}
	w.Header()[http.TrailerPrefix+"Grpc-Message"] = []string{msg}
}

// grpcTimeout parses a grpc-timeout header: at most 8 digits and a unit.
func grpcTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit, ok := map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}[v[len(v)-1]]
	return time.Duration(n) * unit, ok
}

// grpcRefuse logs a refused call and ends it with PERMISSION_DENIED, as
// a trailers-only response or, once the response has started, trailers.
func (s *Server) grpcRefuse(w http.ResponseWriter, r *http.Request, t target, st *state, route *policy.Route, ref *wsRefusal, started bool) {
	d := policy.Decision{Code: ref.code, Reason: ref.reason + "; the message was not forwarded and the call was ended", Route: route}
	id := newRefusalID() // the status message carries it, as a refused request's header does
	s.logDecision(st, r, t, d, http.StatusOK, ref.findings, slog.String(LogRefusalID, id))
	msg := "bot-bottle egress refused a message (" + string(ref.code) + ") " + id
	if !started {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set(RefusalHeader, string(ref.code))
		w.Header().Set(RefusalIDHeader, id)
		w.Header().Set("Grpc-Status", "7")
		w.Header().Set("Grpc-Message", msg)
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header()[http.TrailerPrefix+"Grpc-Status"] = []string{"7"}
	w.Header()[http.TrailerPrefix+"Grpc-Message"] = []string{msg}
}

// grpcScan is a request body that releases gRPC messages one at a time,
// each whole and scanned: a 5-byte prefix (compressed flag, big-endian
// length), then the message, inflated for the scan when grpc-encoding is
// gzip.
type grpcScan struct {
	src      io.Reader
	coding   string
	stream   *dlp.Stream // nil: the route does not scan
	approved func([]dlp.Finding) []dlp.Finding
	pending  []byte
	mu       sync.Mutex
	ref      *wsRefusal
}

func (g *grpcScan) refusal() *wsRefusal {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ref
}

func (g *grpcScan) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		msg, err := readGRPCMessage(g.src, grpcMaxMessage)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				g.refuse(&wsRefusal{code: policy.CodeDLPUnscanable, reason: "a gRPC message cannot be read for scanning: " + err.Error()})
			}
			return 0, err
		}
		if ref := g.check(msg); ref != nil {
			return 0, g.refuse(ref)
		}
		g.pending = msg
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

func (g *grpcScan) Close() error { return nil }

func (g *grpcScan) refuse(ref *wsRefusal) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ref == nil {
		g.ref = ref
	}
	return errors.New(ref.reason)
}

// check scans one framed message (prefix included).
func (g *grpcScan) check(msg []byte) *wsRefusal {
	if g.stream == nil {
		return nil
	}
	payload := msg[5:]
	if msg[0]&1 == 1 {
		if !strings.EqualFold(g.coding, "gzip") {
			return &wsRefusal{code: policy.CodeDLPUnscanable, reason: fmt.Sprintf("a gRPC message compressed with %q, which the proxy cannot decode to scan", g.coding)}
		}
		zr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return &wsRefusal{code: policy.CodeDLPUnscanable, reason: "a gzip gRPC message does not decode: " + err.Error()}
		}
		payload, err = io.ReadAll(io.LimitReader(zr, grpcMaxMessage+1))
		if err != nil || len(payload) > grpcMaxMessage {
			return &wsRefusal{code: policy.CodeDLPUnscanable, reason: "a gzip gRPC message does not decode within the scan limit"}
		}
	}
	for len(payload) > 0 {
		n := min(len(payload), wsScanChunk)
		_, found, err := g.stream.Write(payload[:n])
		payload = payload[n:]
		if err != nil {
			return &wsRefusal{code: policy.CodeDLPUnscanable, reason: "a gRPC message cannot be scanned: " + err.Error()}
		}
		if found = g.approved(found); len(found) > 0 {
			return &wsRefusal{code: policy.CodeDLP, reason: "a gRPC message contains a secret (" + summarize(found) + ")", findings: found}
		}
	}
	return nil
}

// readGRPCMessage reads one length-prefixed message, prefix included.
// io.EOF only at a message boundary; a message over limit is an error.
func readGRPCMessage(r io.Reader, limit int) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("body ends inside a message prefix")
		}
		return nil, err
	}
	if hdr[0] > 1 {
		return nil, fmt.Errorf("flag byte %#x is not 0 or 1", hdr[0])
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("message of %d bytes is larger than %d", n, limit)
	}
	// Grown as bytes come, not made at the declared length (a prefix
	// costs the sender 5 bytes; TestRedTeamGRPCDeclaredLengthCostsNothing).
	var buf bytes.Buffer
	buf.Write(hdr[:])
	if k, err := buf.ReadFrom(io.LimitReader(r, int64(n))); err != nil || k < int64(n) {
		return nil, errors.New("body ends inside a message")
	}
	return buf.Bytes(), nil
}
