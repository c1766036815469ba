// Package audit keeps one hash-chained JSON-Lines log per bottle: every
// supervise decision appends a line that carries the SHA-256 of the line
// before it (DESIGN.md, Supervision).
//
// The chain detects an edited, removed or inserted line, a half-written line
// left by a crash, and a log cut short (against a checkpoint file kept beside
// it). It cannot detect someone who rewrites the whole file and its
// checkpoint consistently: see Caveat.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
)

// Caveat is what Verify cannot prove; the audit command prints it.
const Caveat = "the chain detects edited, removed, reordered and half-written lines and a log cut short; " +
	"it cannot detect a complete rewrite of the log and its checkpoint by someone with write access to them"

// Entry is one decision, one line of the log.
type Entry struct {
	Time       time.Time `json:"time"`
	Bottle     string    `json:"bottle"`
	ProposalID string    `json:"proposal_id"`
	Tool       string    `json:"tool"`
	// Action is what was decided: approved, modified, rejected, or another
	// word for an event that is not an answer (applied, expired...).
	Action     string `json:"action"`
	Notes      string `json:"notes"`
	BeforeHash string `json:"before_hash"`
	AfterHash  string `json:"after_hash"`
	// Operator is the host user who decided.
	Operator string `json:"operator,omitempty"`
	// Content is what was decided on: the route YAML, the capability
	// lines, or the findings a hold showed (redacted by the raiser; never
	// a secret value).
	Content string `json:"content,omitempty"`
	// RefusalID is the proxy's refusal an egress-block proved, if any.
	RefusalID string `json:"refusal_id,omitempty"`
	// Limits are an approval's scope (ttl, uses, this run, methods, path
	// prefixes), "" when none.
	Limits string `json:"limits,omitempty"`
	// PrevHash is the SHA-256 hex of the previous line's bytes (without its
	// newline), "" on the first line. Append sets it.
	PrevHash string `json:"prev_hash"`
}

// Report is the outcome of Verify.
type Report struct {
	// Lines is how many lines the log holds (a trailing half line counts).
	Lines int `json:"lines"`
	// OK is true when the whole chain checks out.
	OK bool `json:"ok"`
	// Problem says what is wrong with the first bad line.
	Problem string `json:"problem,omitempty"`
	// Line is the 1-based number of the first bad line (0 when OK, or when
	// the problem is the log as a whole, e.g. cut short).
	Line int `json:"line,omitempty"`
}

// checkpoint is written beside the log after every append: the number of
// lines and the hash of the last one. A log shorter than its checkpoint, or
// whose line at that number hashes differently, was cut or edited. A crash
// between the append and the checkpoint leaves the log one line ahead,
// which is allowed.
type checkpoint struct {
	Lines int    `json:"lines"`
	Hash  string `json:"hash"`
}

// Path is the audit log of bottle slug under home: ~/.bot-bottle/audit/<slug>.jsonl.
func Path(home, slug string) string {
	return filepath.Join(Dir(home), slug+".jsonl")
}

// Dir is the directory holding every bottle's audit log.
func Dir(home string) string {
	return filepath.Join(home, ".bot-bottle", "audit")
}

func checkpointPath(path string) string {
	return strings.TrimSuffix(path, ".jsonl") + ".checkpoint.json"
}

// HashLine is the hash the next line carries for line (without its newline).
func HashLine(line []byte) string {
	s := sha256.Sum256(line)
	return hex.EncodeToString(s[:])
}

// Append adds e to the log at path, setting e.PrevHash (and e.Time when
// zero). Writers in any number of goroutines and processes are serialised by
// an exclusive flock on the log; the line goes out in one O_APPEND write and
// is fsynced before Append returns. A half line left by an earlier crash is
// closed with a newline first and kept, so Verify reports it.
func Append(path string, e Entry) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("appending to audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("appending to audit log: %w", err)
	}
	defer f.Close()
	if err := flock(f); err != nil {
		return fmt.Errorf("locking audit log: %w", err)
	}
	// Closing f releases the lock.
	last, complete, lines, err := lastLine(f)
	if err != nil {
		return fmt.Errorf("reading audit log: %w", err)
	}
	damage := checkDamage(path, last, lines)
	if lines == 0 && damage == "" {
		// The checkpoint exists from the first line on, so a missing one
		// means it was removed.
		if err := writeCheckpoint(path, checkpoint{}); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if !complete {
		buf.WriteByte('\n')
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	prev := ""
	if lines > 0 {
		prev = HashLine(last)
	}
	entries := []Entry{e}
	if damage != "" {
		// Writing on would move the checkpoint past the damage and hide it:
		// record it in the chain first.
		entries = []Entry{{Time: e.Time, Bottle: e.Bottle, Action: ActionDamaged, Notes: damage}, e}
	}
	var line []byte
	for _, x := range entries {
		x.PrevHash = prev
		var err error
		if line, err = json.Marshal(x); err != nil {
			return fmt.Errorf("encoding audit entry: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
		prev = HashLine(line)
		lines++
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("appending to audit log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing audit log: %w", err)
	}
	return writeCheckpoint(path, checkpoint{Lines: lines, Hash: HashLine(line)})
}

// ActionDamaged is the action of a line Append writes when it finds the log
// does not match its checkpoint (cut short, edited at the end, checkpoint
// removed or replaced). Verify reports such a line.
const ActionDamaged = "audit-damaged"

// checkDamage compares the log (its last line and line count) with its
// checkpoint and says what is wrong, or "".
func checkDamage(path string, last []byte, lines int) string {
	cp, err := readCheckpoint(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && lines == 0:
		return "" // a new log
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("the checkpoint was missing; the log had %d lines", lines)
	case err != nil:
		return fmt.Sprintf("the checkpoint was unreadable: %v", err)
	case cp.Lines > lines:
		return fmt.Sprintf("the log had %d lines but its checkpoint recorded %d: it was cut short", lines, cp.Lines)
	case cp.Lines == lines && lines > 0 && cp.Hash != HashLine(last):
		return fmt.Sprintf("line %d did not match the checkpoint: it was edited", lines)
	case cp.Lines < lines-1:
		return fmt.Sprintf("the checkpoint recorded %d lines but the log had %d: the checkpoint was replaced", cp.Lines, lines)
	}
	return ""
}

func writeCheckpoint(path string, c checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(checkpointPath(path), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing audit checkpoint: %w", err)
	}
	return nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// lastLine returns the last line of f (without newline), whether it ends
// with a newline, and the number of lines (a trailing half line counts).
// It reads the whole file: logs hold one line per human decision.
func lastLine(f *os.File) (last []byte, complete bool, lines int, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, false, 0, err
	}
	r := bufio.NewReader(f)
	complete = true
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			lines++
			complete = b[len(b)-1] == '\n'
			last = bytes.TrimSuffix(b, []byte("\n"))
		}
		if err == io.EOF {
			return last, complete, lines, nil
		}
		if err != nil {
			return nil, false, 0, err
		}
	}
}

// Verify walks the log at path and reports the first line that breaks the
// chain: a half line (a crash mid-write), a line that is not a valid entry,
// a prev_hash that does not match the line before (an edit, insertion or
// removal), or a log shorter than its checkpoint (cut short). The error is
// for a log that cannot be read at all. Verify cannot detect a complete,
// consistent rewrite (Caveat).
func Verify(path string) (Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("verifying audit log: %w", err)
	}
	lines, lastComplete := splitLines(b)
	rep := Report{Lines: len(lines), OK: true}
	fail := func(line int, format string, a ...any) {
		if rep.OK {
			rep.OK = false
			rep.Line = line
			rep.Problem = fmt.Sprintf(format, a...)
		}
	}
	prev := ""
	for i, l := range lines {
		n := i + 1
		if i == len(lines)-1 && !lastComplete {
			fail(n, "line %d is cut off (no newline at the end of the log): a write was interrupted", n)
			break
		}
		e, err := decodeEntry(l)
		switch {
		case err != nil:
			fail(n, "line %d is not a valid entry (a write was interrupted, or the line was edited): %v", n, err)
		case e.PrevHash != prev && i == 0:
			fail(n, "line 1 has prev_hash %q, want empty: lines were removed from the start", e.PrevHash)
		case e.PrevHash != prev:
			fail(n, "line %d does not chain to line %d: line %d was edited, or lines were removed or inserted", n, i, i)
		case e.Action == ActionDamaged:
			fail(n, "line %d records damage found by a later write: %s", n, e.Notes)
		}
		prev = HashLine(l)
	}
	cp, err := readCheckpoint(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(lines) > 0 {
			fail(0, "the checkpoint file %s is missing: it was removed", checkpointPath(path))
		}
	case err != nil:
		fail(0, "the checkpoint file %s is unreadable: %v", checkpointPath(path), err)
	case cp.Lines > len(lines):
		fail(0, "the log has %d lines but its checkpoint records %d: it was cut short", len(lines), cp.Lines)
	case cp.Lines > 0 && HashLine(lines[cp.Lines-1]) != cp.Hash:
		fail(cp.Lines, "line %d does not match the checkpoint: it was edited, or the log was cut and rewritten", cp.Lines)
	case cp.Lines < len(lines)-1:
		// One line ahead is a crash between the append and the checkpoint;
		// more means the checkpoint was replaced with an old one.
		fail(0, "the checkpoint records %d lines but the log has %d: the checkpoint was replaced", cp.Lines, len(lines))
	}
	return rep, nil
}

func readCheckpoint(path string) (checkpoint, error) {
	var c checkpoint
	b, err := os.ReadFile(checkpointPath(path))
	if err != nil {
		return c, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return c, err
	}
	if c.Lines < 0 {
		return c, errors.New("negative line count")
	}
	return c, nil
}

// splitLines splits b into lines without their newlines and reports whether
// the last one was complete.
func splitLines(b []byte) ([][]byte, bool) {
	if len(b) == 0 {
		return nil, true
	}
	complete := b[len(b)-1] == '\n'
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.Split(b, []byte("\n")), complete
}

func decodeEntry(l []byte) (Entry, error) {
	var e Entry
	d := json.NewDecoder(bytes.NewReader(l))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return e, err
	}
	if d.More() {
		return e, errors.New("trailing data after the entry")
	}
	return e, nil
}

// Read returns the entries of the log at path in order. Lines that are not
// valid entries are skipped; the error then names the first of them (the
// entries returned are still every good line). Use Verify to check the
// chain.
func Read(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	lines, _ := splitLines(b)
	var out []Entry
	var first error
	for i, l := range lines {
		e, err := decodeEntry(l)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("reading audit log %s: line %d: %w", path, i+1, err)
			}
			continue
		}
		out = append(out, e)
	}
	return out, first
}

// Slugs lists the bottles that have an audit log under home, sorted.
func Slugs(home string) ([]string, error) {
	ents, err := os.ReadDir(Dir(home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing audit logs: %w", err)
	}
	var out []string
	for _, e := range ents {
		if s, ok := strings.CutSuffix(e.Name(), ".jsonl"); ok && !e.IsDir() {
			out = append(out, s)
		}
	}
	return out, nil
}
