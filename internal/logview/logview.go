// Package logview reads a bottle's decision logs (the JSON Lines the
// sidecar's daemons write under state/<slug>/logs/, and the audit log),
// merges them by time, redacts anything credential-like that should never
// have been logged, and renders one line per decision.
package logview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Source names as the logs command takes them.
const (
	Egress    = "egress"
	DNS       = "dns"
	Gate      = "gate"
	Supervise = "supervise"
	// Attest is the bypass probes run at start and by doctor.
	Attest = "attest"
	// Audit is the operator's decisions; it is shown with Supervise.
	Audit = "audit"
)

// Kinds are the source names a user may ask for, in display order.
func Kinds() []string { return []string{Egress, DNS, Gate, Supervise, Attest} }

// Source is one log file.
type Source struct {
	// Name is shown on each line: egress, dns, gate, supervise, audit.
	Name string
	// Path is the JSON Lines file.
	Path string
}

// Sources are the files of the kinds asked for (all when kinds is empty):
// logsDir is state/<slug>/logs, auditPath the bottle's audit log. The file
// names are the ones the sidecar's daemons write (internal/sidecar:
// logs/<daemon>.jsonl; dnsguard: logs/dns.jsonl) and the host's
// attestation writes (logs/attest.jsonl).
func Sources(logsDir, auditPath string, kinds []string) ([]Source, error) {
	if len(kinds) == 0 {
		kinds = Kinds()
	}
	var out []Source
	for _, k := range kinds {
		switch k {
		case Egress:
			out = append(out, Source{Egress, filepath.Join(logsDir, "egress.jsonl")})
		case DNS:
			out = append(out, Source{DNS, filepath.Join(logsDir, "dns.jsonl")})
		case Gate:
			out = append(out, Source{Gate, filepath.Join(logsDir, "git-gate.jsonl")})
		case Supervise:
			out = append(out, Source{Supervise, filepath.Join(logsDir, "supervise.jsonl")}, Source{Audit, auditPath})
		case Attest:
			out = append(out, Source{Attest, filepath.Join(logsDir, "attest.jsonl")})
		default:
			return nil, fmt.Errorf("unknown log %q: use %v", k, Kinds())
		}
	}
	return slices.CompactFunc(out, func(a, b Source) bool { return a == b }), nil
}

// Line is one log line.
type Line struct {
	// Source is the file's name (egress, dns, ...).
	Source string
	// Time is the line's "time", or the time of the line before it in the
	// same file when it has none.
	Time time.Time
	// Raw is the line as it should be printed by --json: the file's bytes,
	// or re-encoded when redaction changed something, or a JSON object
	// wrapping a line that was not JSON.
	Raw []byte
	// Fields is the decoded object; nil when the line was not JSON.
	Fields map[string]any
	// Text is the line when it was not a JSON object (redacted).
	Text string
}

// maxLine bounds one line; longer ones are skipped with a note.
const maxLine = 1 << 20

// Tail reads new complete lines from each source on every Poll.
type Tail struct {
	srcs  []Source
	state []tailState
}

type tailState struct {
	info    fs.FileInfo
	offset  int64
	last    time.Time
	skipped bool // inside an over-long line
}

// NewTail starts at the beginning of every source.
func NewTail(srcs []Source) *Tail {
	return &Tail{srcs: srcs, state: make([]tailState, len(srcs))}
}

// Poll returns the lines written since the last Poll, merged by time
// (lines of one file keep their order). A file that does not exist yet is
// empty; a file replaced or cut shorter is read again from its start. A
// trailing line without its newline waits for the next Poll.
func (t *Tail) Poll() ([]Line, error) {
	var all [][]Line
	var errs []error
	for i, src := range t.srcs {
		lines, err := t.read(src, &t.state[i])
		if err != nil {
			errs = append(errs, err)
		}
		all = append(all, lines)
	}
	return merge(all), errors.Join(errs...)
}

func (t *Tail) read(src Source, st *tailState) ([]Line, error) {
	f, err := os.Open(src.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s log: %w", src.Name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s log: %w", src.Name, err)
	}
	if st.info != nil && (!os.SameFile(st.info, info) || info.Size() < st.offset) {
		st.offset, st.skipped = 0, false
	}
	st.info = info
	if _, err := f.Seek(st.offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading %s log: %w", src.Name, err)
	}
	var out []Line
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		n, rerr := f.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			st.offset += int64(i + 1)
			switch {
			case st.skipped:
				st.skipped = false // the end of an over-long line
			case len(line) > maxLine:
				out = append(out, note(src.Name, st.last, fmt.Sprintf("a line longer than %d bytes was skipped", maxLine)))
			case len(bytes.TrimSpace(line)) > 0:
				out = append(out, parse(src.Name, line, &st.last))
			}
			pending = pending[i+1:]
		}
		if len(pending) > maxLine {
			// Drop what is read of an over-long line; say so once.
			if !st.skipped {
				out = append(out, note(src.Name, st.last, fmt.Sprintf("a line longer than %d bytes was skipped", maxLine)))
			}
			st.offset += int64(len(pending))
			st.skipped, pending = true, nil
		}
		if rerr == io.EOF || n == 0 {
			break
		}
		if rerr != nil {
			return out, fmt.Errorf("reading %s log: %w", src.Name, rerr)
		}
	}
	return out, nil
}

// parse decodes and redacts one line. last carries the file's latest time.
func parse(source string, raw []byte, last *time.Time) Line {
	l := Line{Source: source, Time: *last}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil || len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		l.Text = redactString(string(raw))
		l.Raw, _ = json.Marshal(map[string]string{"source": source, "unparsed": l.Text})
		return l
	}
	l.Fields = m
	if s, ok := m["time"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			l.Time, *last = t, t
		}
	}
	if redact(m) {
		l.Raw, _ = json.Marshal(m)
	} else {
		l.Raw = append([]byte(nil), raw...)
	}
	return l
}

func note(source string, t time.Time, msg string) Line {
	m := map[string]any{"msg": msg}
	raw, _ := json.Marshal(map[string]any{"source": source, "note": msg})
	return Line{Source: source, Time: t, Fields: m, Raw: raw}
}

// merge interleaves per-file lines by time; each file's own order is kept.
func merge(files [][]Line) []Line {
	var out []Line
	for _, ls := range files {
		out = append(out, ls...)
	}
	slices.SortStableFunc(out, func(a, b Line) int { return a.Time.Compare(b.Time) })
	return out
}
