package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// wsScanChunk is how much of a message is handed to the stream scanner at
// once: its budget bounds one call, not a message.
const wsScanChunk = 1 << 20

// wsHandshakeHeaders are made by the WebSocket client library for each
// hop; the agent's values describe its hop only.
var wsHandshakeHeaders = []string{
	"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
	"Sec-Websocket-Protocol", "Sec-Websocket-Accept",
}

// serveWebSocket carries an upgrade the policy allowed (the route says
// websocket: true) after the request went through the whole pipeline: out
// is the request as it would go upstream (scanned, redacted, token
// injected). The proxy is a WebSocket endpoint on each side, so every
// message is whole, unfragmented and decompressed when it is scanned, and
// is forwarded only once it is clean.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, t target, st *state, d policy.Decision, out *http.Request) {
	route := d.Route
	if route == nil || !route.WebSocket {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeUpgrade, Reason: "the route does not allow WebSocket"}, nil)
		return
	}
	ctx := r.Context()
	tr := &http.Transport{DialContext: s.dial, DialTLSContext: s.dialTLSHTTP1}
	defer tr.CloseIdleConnections()
	hdr := out.Header.Clone()
	for _, h := range wsHandshakeHeaders {
		hdr.Del(h)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	up, resp, err := websocket.Dial(dctx, out.URL.String(), &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		HTTPHeader:      hdr,
		Subprotocols:    subprotocols(r.Header),
		CompressionMode: websocket.CompressionNoContextTakeover,
	})
	cancel()
	if err != nil {
		var re *refusalError
		if errors.As(err, &re) {
			s.refuse(w, r, t, policy.Decision{Code: re.code, Reason: re.reason, Route: route}, nil)
			return
		}
		why := err.Error()
		if resp != nil {
			why = fmt.Sprintf("the upstream answered %s instead of switching protocols", resp.Status)
		}
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeUpstream, Reason: "opening the WebSocket upstream failed: " + why, Route: route}, nil)
		return
	}
	defer up.CloseNow()
	sent := sentTokens(st, route, t)
	if headerEchoes(resp.Header, sent) {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeTokenEcho, Reason: fmt.Sprintf("the WebSocket handshake from %s carries the token the proxy injected; it was withheld", t.host), Route: route}, nil)
		up.Close(websocket.StatusPolicyViolation, "refused by the proxy")
		return
	}
	var protos []string
	if p := up.Subprotocol(); p != "" {
		protos = []string{p}
	}
	agent, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: protos,
		// The origin is the upstream's to judge; the Origin header went
		// to it with the handshake.
		InsecureSkipVerify: true,
		// Offered to the agent so a compressed message is inflated here,
		// and scanned, before it goes on.
		CompressionMode: websocket.CompressionNoContextTakeover,
	})
	if err != nil {
		up.Close(websocket.StatusGoingAway, "the agent's handshake failed")
		return
	}
	defer agent.CloseNow()
	s.logDecision(st, r, t, d, http.StatusSwitchingProtocols, nil, slog.String("websocket", "open"))
	p := &wsPipe{s: s, st: st, r: r, t: t, route: route, agent: agent, up: up, sent: sent}
	p.run(ctx)
}

// wsPipe relays one WebSocket connection, a goroutine each way.
type wsPipe struct {
	s         *Server
	st        *state
	r         *http.Request
	t         target
	route     *policy.Route
	agent, up *websocket.Conn
	sent      []string // what the upgrade carried upstream (sentTokens)
	once      sync.Once
}

func (p *wsPipe) run(ctx context.Context) {
	for _, c := range []*websocket.Conn{p.agent, p.up} {
		c.SetReadLimit(p.route.MaxMessage)
	}
	// No idle deadline on the pair: net/http clears a hijacked
	// connection's deadlines and Read waits on ctx alone, so it lives as
	// long as both peers keep it (TestWebSocketOutlivesIdleTimeout).
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.relay(ctx, p.agent, p.up, p.outbound()) }()
	go func() { defer wg.Done(); p.relay(ctx, p.up, p.agent, p.inbound) }()
	wg.Wait()
}

// relay copies messages from src to dst, each checked first; a check that
// fails closes both sides with 1008 and the message is never forwarded.
func (p *wsPipe) relay(ctx context.Context, src, dst *websocket.Conn, check func(websocket.MessageType, []byte) *wsRefusal) {
	for {
		typ, msg, err := src.Read(ctx)
		if err != nil {
			p.closeBoth(src, dst, err)
			return
		}
		if ref := check(typ, msg); ref != nil {
			p.refuse(ref)
			return
		}
		if err := dst.Write(ctx, typ, msg); err != nil {
			src.Close(websocket.StatusGoingAway, "the other side went away")
			return
		}
	}
}

// wsRefusal is a message the proxy will not forward.
type wsRefusal struct {
	code     policy.Code
	reason   string
	findings []dlp.Finding
}

// outbound checks what the agent sends with the route's outbound
// detectors. One stream scanner sees every message in order, so a secret
// cut across messages is found in the message that completes it.
func (p *wsPipe) outbound() func(websocket.MessageType, []byte) *wsRefusal {
	scanner := p.st.scanners[p.route]
	if scanner == nil {
		return func(websocket.MessageType, []byte) *wsRefusal { return nil }
	}
	stream := scanner.NewStream("websocket message")
	return func(_ websocket.MessageType, msg []byte) *wsRefusal {
		for len(msg) > 0 {
			n := min(len(msg), wsScanChunk)
			_, found, err := stream.Write(msg[:n])
			msg = msg[n:]
			if err != nil {
				return &wsRefusal{code: policy.CodeDLPUnscanable, reason: "a WebSocket message to " + p.t.host + " cannot be scanned: " + err.Error()}
			}
			if found = p.s.unapproved(found); len(found) > 0 {
				return &wsRefusal{code: policy.CodeDLP, reason: "a WebSocket message to " + p.t.host + " contains a secret (" + summarize(found) + ")", findings: found}
			}
		}
		return nil
	}
}

// inbound checks what the upstream sends: the injected token never comes
// back, and text messages are read by the injection detector.
func (p *wsPipe) inbound(typ websocket.MessageType, msg []byte) *wsRefusal {
	if echoesToken(msg, p.sent...) {
		return &wsRefusal{code: policy.CodeTokenEcho, reason: "a WebSocket message from " + p.t.host + " carries the token the proxy injected"}
	}
	if typ != websocket.MessageText || !p.route.Inbound {
		return nil
	}
	if v := dlp.DetectInjection(msg); v.Level == dlp.High {
		return &wsRefusal{code: policy.CodeInjection, reason: "a WebSocket message from " + p.t.host + " looks like a prompt injection (" + v.Reason + ")"}
	}
	return nil
}

// refuse logs the refusal like any other and closes both sides with 1008
// (policy violation); the reason the agent reads names the code and the
// refusal ID.
func (p *wsPipe) refuse(ref *wsRefusal) {
	p.once.Do(func() {
		d := policy.Decision{Code: ref.code, Reason: ref.reason + "; the message was not forwarded and the WebSocket was closed (1008)", Route: p.route}
		id := newRefusalID() // the close reason carries it, as a refused request's header does
		p.s.logDecision(p.st, p.r, p.t, d, http.StatusSwitchingProtocols, ref.findings, slog.Int("websocket_close", int(websocket.StatusPolicyViolation)), slog.String(LogRefusalID, id))
		reason := "bot-bottle egress refused a message (" + string(ref.code) + ") " + id
		go p.up.Close(websocket.StatusPolicyViolation, reason)
		p.agent.Close(websocket.StatusPolicyViolation, reason)
	})
}

// closeBoth passes a close (or a failure) from src on to dst. A message
// over the route's maximum closed src with 1009; dst gets 1009 too.
func (p *wsPipe) closeBoth(src, dst *websocket.Conn, err error) {
	p.once.Do(func() {
		code, reason := websocket.CloseStatus(err), ""
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			reason = ce.Reason
		}
		switch {
		case errors.Is(err, websocket.ErrMessageTooBig):
			code, reason = websocket.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes (the route's websocket_max_message)", p.route.MaxMessage)
			d := policy.Decision{Code: policy.CodeDLPUnscanable, Reason: "a WebSocket " + reason + "; closed with 1009", Route: p.route}
			p.s.logDecision(p.st, p.r, p.t, d, http.StatusSwitchingProtocols, nil, slog.Int("websocket_close", int(code)))
		case code == -1:
			dst.CloseNow()
			return
		case code == websocket.StatusNoStatusRcvd:
			code = websocket.StatusNormalClosure
		}
		src.CloseNow()
		dst.Close(code, reason)
	})
}

// subprotocols are the ones the agent offered, passed on to the upstream
// so the one it picks is the one the agent gets.
func subprotocols(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
