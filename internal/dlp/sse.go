package dlp

import (
	"bytes"
	"io"
)

// SSE limits. An event longer than maxSSEEvent is scanned and passed on in
// pieces (keeping sseContext bytes of overlap) so memory stays bounded.
const (
	maxSSEEvent = 1 << 20
	sseContext  = 512 // text of earlier events kept to catch a phrase split across events
	sseReadSize = 32 << 10
)

// sseScanner passes an event stream through, one complete event at a
// time, after scanning it.
type sseScanner struct {
	r         io.Reader
	in        *injection
	onVerdict func(InjectionVerdict)
	chunk     []byte // read buffer
	buf       []byte // read but not yet emitted: complete events first
	ctx       []byte // extracted text of recent events
	pieceTail []byte // end of the last piece of an over-long event
	released
	end  func([]byte) int    // length of the first complete event, or -1
	text func([]byte) []byte // what a model reads from an event
}

// NewSSEScanner returns a reader that yields r's text/event-stream bytes
// event by event: an event is released as soon as its closing blank line
// arrives and it has been scanned (no buffering beyond the event itself).
// The text the model would read (the data lines; for JSON data, the text
// fields) is also scanned together with the end of earlier events, so an
// injection streamed a word per event is still seen. Medium verdicts are
// reported and the event passes; on a High verdict the event is withheld,
// onVerdict is called, and Read returns ErrInjection from then on.
func NewSSEScanner(r io.Reader, onVerdict func(InjectionVerdict)) io.Reader {
	return &sseScanner{r: r, in: sharedInjection().in, onVerdict: onVerdict, end: eventEnd, text: eventText}
}

func (s *sseScanner) Read(p []byte) (int, error) { return s.read(p, s.fill) }

// released is what a stream scanner has scanned and not yet handed out,
// and why it stopped.
type released struct {
	out []byte // scanned, waiting for the caller
	err error  // sticky: from the source, or ErrInjection
}

// read hands out released bytes, calling fill until there are some.
func (s *released) read(p []byte, fill func()) (int, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		fill()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	if len(s.out) == 0 {
		s.out = nil
	}
	return n, nil
}

// fill reads once from the source and moves every complete event (or an
// over-long piece) from buf to out.
func (s *sseScanner) fill() {
	if s.chunk == nil {
		s.chunk = make([]byte, sseReadSize)
	}
	n, err := s.r.Read(s.chunk)
	s.buf = append(s.buf, s.chunk[:n]...)
	for {
		end := s.end(s.buf)
		if end < 0 {
			break
		}
		if !s.release(s.buf[:end], true) {
			return
		}
		s.buf = s.buf[end:]
	}
	if len(s.buf) > maxSSEEvent {
		if !s.release(s.buf, false) {
			return
		}
		s.buf = nil
	}
	if err != nil {
		if len(s.buf) > 0 && s.release(s.buf, true) {
			s.buf = nil
		}
		if s.err == nil {
			s.err = err
		}
	}
}

// release scans ev and queues it, or stops the stream on High. A piece of
// an over-long event (whole false) is scanned with the end of the piece
// before it, so a phrase cut at the piece boundary is still whole.
func (s *sseScanner) release(ev []byte, whole bool) bool {
	text := s.text(ev)
	scan := append(s.ctx[:len(s.ctx):len(s.ctx)], text...)
	var hits []injectionHit
	for _, h := range score(scan, s.in.find(scan)) {
		if h.End > len(s.ctx) { // not already reported for an earlier event
			hits = append(hits, h)
		}
	}
	raw := ev
	if len(s.pieceTail) > 0 {
		raw = append(s.pieceTail[:len(s.pieceTail):len(s.pieceTail)], ev...)
	}
	hits = append(hits, s.in.readOf(raw, textViews(raw, false))...) // its JSON is read above
	v := verdictOf(hits)
	if v.Level != None && s.onVerdict != nil {
		s.onVerdict(v)
	}
	if v.Level == High {
		s.err = ErrInjection
		s.buf = nil
		return false
	}
	s.out = append(s.out, ev...)
	s.pieceTail = s.pieceTail[:0]
	if !whole {
		s.pieceTail = append(s.pieceTail, raw[max(0, len(raw)-sseContext):]...)
	}
	if len(scan) > sseContext {
		scan = scan[len(scan)-sseContext:]
	}
	s.ctx = append(s.ctx[:0], scan...)
	return true
}

// eventEnd is the length of the first complete event in b (through its
// blank line), or -1.
func eventEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' && b[i] != '\r' {
			continue
		}
		// a line ends at i; a blank line follows if the next line is empty
		j := i + 1
		if b[i] == '\r' && j < len(b) && b[j] == '\n' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			return j + 1
		}
		if j < len(b) && b[j] == '\r' {
			if j+1 < len(b) && b[j+1] == '\n' {
				return j + 2
			}
			return j + 1
		}
		if b[i] == '\r' && j == len(b) {
			return -1
		}
	}
	return -1
}

// eventText is what a model reads from an event: its data lines joined,
// and for JSON data the string values of text-bearing fields.
func eventText(ev []byte) []byte {
	var data []byte
	for _, line := range bytes.FieldsFunc(ev, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if rest, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			rest = bytes.TrimPrefix(rest, []byte(" "))
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, rest...)
		}
	}
	return modelText(data)
}

// isTextKey: every string field a model may be shown, which is every
// field but the few that only name the event's shape (a new provider
// field such as reasoning_content, refusal or summary is read without a
// change here).
func isTextKey(k string) bool {
	switch k {
	case "type", "id", "object", "model", "role", "finish_reason", "stop_reason", "event",
		"system_fingerprint", "created", "index", "status", "service_tier", "logprobs", "signature":
		return false
	}
	return true
}
