package dlp

import (
	"io"
	"strings"
)

// The part of a plain response body past what the proxy holds and judges
// whole (egress.MaxInboundScan) streams through NewInjectionStream: it is
// scanned in overlapping windows as it passes and cut, never passed
// unscanned, once a window gives orders.
const (
	// streamHoldBack bytes at the end of what has been read are not
	// released until more arrives: a phrase (at most injectionWindow long)
	// starting there and the context after it (scoreWindow) may still be
	// incomplete.
	streamHoldBack = 512
	// streamKeep bytes end each window and begin the next: the held-back
	// bytes plus as much already released text before them, the context a
	// hit's scoring reads before it (scoreWindow).
	streamKeep = 1024
	streamRead = 32 << 10
)

// injectionStream is a plain body read window by window.
type injectionStream struct {
	r         io.Reader
	in        *injection
	onVerdict func(InjectionVerdict)
	mode      byte   // the document's first byte: '{' or '[' JSON, '<' HTML, else text
	win       []byte // the last streamKeep bytes kept, then what was read since
	sent      int    // win[:sent] was already released
	judged    int    // win[:judged] is the end of the prefix, judged whole
	chunk     []byte
	released
	json     jsonLex
	b64      b64Phase
	sc       scoring
	reported map[string]bool
}

// NewInjectionStream scans the rest of a body whose first part, prefix,
// was already scanned whole (DetectInjection) and passed. The text is read
// the way the whole document would be (its JSON strings when it began as
// JSON, its HTML text when it began as HTML, base64 runs decoded in step
// with where they began), in windows that overlap so a phrase cut by a
// read is seen whole before any of it is released. Scoring in a window
// is stricter than on a whole text: a quotation or a code fence opened
// before the window lowers nothing, and two different phrases anywhere in
// the stream are High together. Medium verdicts are reported and pass; on
// a High verdict nothing more is released, onVerdict is called, and Read
// returns ErrInjection from then on. Content-Encoding and charsets are
// not undone here: hand it UTF-8 (or ASCII-compatible) identity bytes.
func NewInjectionStream(prefix []byte, r io.Reader, onVerdict func(InjectionVerdict)) io.Reader {
	s := &injectionStream{r: r, in: sharedInjection().in, onVerdict: onVerdict, mode: firstNonSpace(prefix),
		sc: scoring{local: true, distinct: map[string]bool{}}, reported: map[string]bool{}}
	// The prefix's end is the first window's context, already released.
	keep := prefix[max(0, len(prefix)-streamKeep):]
	s.json.advance(prefix[:len(prefix)-len(keep)])
	s.b64.advance(prefix[:len(prefix)-len(keep)])
	s.win = append(make([]byte, 0, streamKeep+streamRead), keep...)
	s.sent, s.judged = len(s.win), len(s.win)
	// What the whole-text scan of the prefix found counts toward two
	// different phrases.
	for _, h := range s.in.read(prefix) {
		if h.Level != None && h.Start >= 0 && !strings.HasSuffix(h.Reason, discussedNote) {
			s.sc.distinct[h.Rule] = true // undiscussed, as score counts them
		}
	}
	return s
}

func (s *injectionStream) Read(p []byte) (int, error) { return s.read(p, s.fill) }

// fill reads once, scans the window and releases all but the held-back
// end (everything at the end of the body).
func (s *injectionStream) fill() {
	if s.chunk == nil {
		s.chunk = make([]byte, streamRead)
	}
	n, err := s.r.Read(s.chunk)
	s.win = append(s.win, s.chunk[:n]...)
	if n > 0 || err == io.EOF {
		if !s.scan() {
			return
		}
		upto := len(s.win) - streamHoldBack
		if err == io.EOF {
			upto = len(s.win)
		}
		if upto > s.sent {
			s.out = append(s.out[:0], s.win[s.sent:upto]...)
			s.sent = upto
		}
		if drop := len(s.win) - streamKeep; drop > 0 && err != io.EOF {
			s.json.advance(s.win[:drop])
			s.b64.advance(s.win[:drop])
			s.win = append(s.win[:0], s.win[drop:]...)
			s.sent -= drop
			s.judged = max(0, s.judged-drop)
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
}

// scan reads the window as the document would be read; false stops the
// stream.
func (s *injectionStream) scan() bool {
	w := s.win
	var base []byte
	switch s.mode {
	case '{', '[':
		base = jsonStrings(s.json.resume(w), 0)
	case '<':
		base = htmlText(w)
	default:
		base = w
	}
	views := viewsOf(base, s.mode == '<', true)
	if skip := s.b64.skip(w); skip >= 0 {
		// A base64 run that began before the window, decoded from where
		// its next whole quantum starts.
		if v := base64View(w[skip:]); v != nil {
			views = append(views, v)
		}
	}
	hits := s.in.readOfWith(w, views, s.sc)
	if s.judged > 0 {
		// A hit within the prefix's end was judged with the whole prefix.
		kept := hits[:0]
		for _, h := range hits {
			if h.Start < 0 || h.End > s.judged {
				kept = append(kept, h)
			}
		}
		hits = kept
	}
	v := verdictOf(hits)
	if v.Level != None && s.onVerdict != nil && !s.reported[v.Rule+v.Reason] {
		s.reported[v.Rule+v.Reason] = true
		s.onVerdict(v)
	}
	if v.Level == High {
		s.err = ErrInjection
		s.out, s.win = nil, nil
		return false
	}
	return true
}

// jsonLex is jsonStrings' lexer state after some bytes: inside a string,
// and whether the next byte is escaped.
type jsonLex struct{ inString, escaped bool }

func (l *jsonLex) advance(b []byte) {
	for _, c := range b {
		switch {
		case l.escaped:
			l.escaped = false
		case !l.inString:
			l.inString = c == '"'
		case c == '\\':
			l.escaped = true
		case c == '"':
			l.inString = false
		}
	}
}

// resume is w as jsonStrings must read it to pick up where the lexer is:
// a window that starts inside a string gets its opening quote back.
func (l *jsonLex) resume(w []byte) []byte {
	switch {
	case l.escaped:
		return append([]byte(`"\`), w...)
	case l.inString:
		return append([]byte(`"`), w...)
	}
	return w
}

// b64Phase follows base64Runs and decodeB64Wrapped over bytes that left
// the window: whether a run is open, and how many alphabet bytes of it
// (mod 4) came, so the rest of the run is decoded on its own quanta.
type b64Phase struct {
	inRun, skipNext, prevEq bool
	n                       int
}

func (p *b64Phase) advance(b []byte) {
	for _, c := range b {
		switch {
		case b64Class[c] == 0:
			*p = b64Phase{}
		case !p.inRun:
			*p = b64Phase{inRun: true}
			p.step(c)
		default:
			p.step(c)
		}
	}
}

func (p *b64Phase) step(c byte) {
	switch {
	case p.skipNext:
		p.skipNext = false
	case c == '\\':
		p.skipNext = true
	case b64Class[c] == 2:
	case c == '=':
		p.prevEq = true
		p.n++
	default:
		if p.prevEq { // content=<base64>: a new run starts here
			p.prevEq, p.n = false, 0
		}
		p.n++
	}
}

// skip is where in w the open run's next whole quantum starts, or -1
// when no run crosses into w.
func (p b64Phase) skip(w []byte) int {
	if !p.inRun || len(w) == 0 || b64Class[w[0]] == 0 {
		return -1
	}
	q := p
	for i := 0; i < len(w); i++ {
		if q.n%4 == 0 && !q.skipNext && b64Class[w[i]] == 1 && !(q.prevEq && w[i] != '=') {
			return i
		}
		if q.prevEq && w[i] != '=' && b64Class[w[i]] == 1 {
			return i // a new run starts here, on its own quanta
		}
		if b64Class[w[i]] == 0 {
			return -1
		}
		q.step(w[i])
	}
	return -1
}
