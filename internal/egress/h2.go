package egress

import (
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 limits toward the agent, so a hostile client cannot exhaust the
// sidecar: streams open at once on one tunnel (more are reset with
// RST_STREAM, TestRedTeamHTTP2StreamFlood), the HPACK table it may make us keep, and flow-control
// windows. The header list of one request is bounded by h2MaxHeaderBytes
// (1 MiB, as for HTTP/1.1): a block that decodes past it gets 431, and one
// that goes on in CONTINUATION frames past it closes the connection.
const (
	h2MaxStreams     = 100
	h2MaxHeaderBytes = 1 << 20
)

// tunnelProtos are what the MITM offers by ALPN: h2 first, as a real
// server does. Every HTTP/2 stream is a request through forward, like an
// HTTP/1.1 one; its :authority is checked against the CONNECT target and
// the SNI like a Host header.
func tunnelProtos() []string { return []string{"h2", "http/1.1"} }

// serveTunnelConn finishes the agent's TLS handshake and serves the tunnel
// with the protocol it chose. Unencrypted HTTP/2 (h2c, by prior knowledge
// or Upgrade) is never served: only TLS reaches here, and the policy
// refuses an Upgrade: h2c.
func (s *Server) serveTunnelConn(hs *http.Server, tconn tunnelConn) {
	tconn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tconn.Handshake(); err != nil {
		tconn.Close()
		return
	}
	tconn.SetDeadline(time.Time{})
	if tconn.ConnectionState().NegotiatedProtocol != "h2" {
		hs.Serve(newOneConnListener(tconn))
		return
	}
	hs.MaxHeaderBytes = h2MaxHeaderBytes // x/net's http2 reads its limit here
	h2 := &http2.Server{
		MaxConcurrentStreams:         h2MaxStreams,
		MaxDecoderHeaderTableSize:    4 << 10,
		MaxUploadBufferPerStream:     1 << 20,
		MaxUploadBufferPerConnection: 4 << 20,
		IdleTimeout:                  hs.IdleTimeout,
	}
	// Shutting hs down sends GOAWAY on this connection too.
	if err := http2.ConfigureServer(hs, h2); err != nil {
		tconn.Close()
		return
	}
	h2.ServeConn(tconn, &http2.ServeConnOpts{BaseConfig: hs, Handler: hs.Handler})
}
