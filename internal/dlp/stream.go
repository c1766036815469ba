package dlp

// streamHold is how many trailing bytes a Stream keeps back: enough for
// the longest pattern and the longest rule window around it, so a secret
// cut in two by chunking is seen whole before any of it is released.
const streamHold = 4096

// Stream scans a body that arrives in chunks (a streamed upload) without
// holding all of it: each chunk is scanned together with the held-back end
// of the previous ones. Content-Encoding is not undone here; use it on
// identity bodies. Not safe for concurrent use.
type Stream struct {
	o        *Outbound
	where    string
	held     []byte
	findings []Finding
	seen     map[[3]string]bool
}

// NewStream starts scanning a streamed part of a request (Where: "body").
func (o *Outbound) NewStream(where string) *Stream {
	return &Stream{o: o, where: where, seen: map[[3]string]bool{}}
}

// Write scans p and returns the bytes that are now safe to forward (all
// but the last streamHold bytes seen) and the findings so far. Once
// findings is non-empty, or on an error (refuse, as for Scan), release
// nothing more.
func (s *Stream) Write(p []byte) (release []byte, findings []Finding, err error) {
	buf := append(s.held, p...)
	if err := s.scan(buf, len(s.held)); err != nil {
		s.held = nil
		return nil, s.findings, err
	}
	if len(s.findings) > 0 {
		s.held = nil
		return nil, s.findings, nil
	}
	if len(buf) <= streamHold {
		s.held = buf
		return nil, s.findings, nil
	}
	cut := len(buf) - streamHold
	release = buf[:cut:cut]
	s.held = append([]byte(nil), buf[cut:]...)
	return release, s.findings, nil
}

// Close returns the held-back tail and the final findings (no tail once
// anything was found).
func (s *Stream) Close() (release []byte, findings []Finding) {
	release, s.held = s.held, nil
	if len(s.findings) > 0 {
		return nil, s.findings
	}
	return release, s.findings
}

// scan reports matches in buf that end after from (earlier ones were
// reported by the previous call).
func (s *Stream) scan(buf []byte, from int) error {
	spans, extra, err := s.o.scanSegment(segment{Where: s.where, Text: buf}, s.o.newBudget())
	if err != nil {
		return err
	}
	add := func(f Finding) {
		k := [3]string{f.Detector, f.Rule, f.Fingerprint}
		if !s.seen[k] {
			s.seen[k] = true
			s.findings = append(s.findings, f)
		}
	}
	for _, sp := range spans {
		if sp.End > from {
			add(sp.Finding)
		}
	}
	for _, f := range extra {
		add(f)
	}
	return nil
}
