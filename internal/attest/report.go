package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/attest/probe"
)

// Report is the outcome of one attestation.
type Report struct {
	Slug   string
	Checks []Check
	hints  map[string]string // the backend's own steps, by category
}

// Bad lists the checks that did not stay closed: leaked, or could not run.
func (r Report) Bad() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Result.Leaked || c.Result.Failed {
			out = append(out, c)
		}
	}
	return out
}

// Got is a check's result as the table shows it.
func (c Check) Got() string {
	switch {
	case c.Result.Leaked:
		return "LEAKED: " + c.Result.Got
	case c.Result.Failed:
		return "FAILED: " + c.Result.Got
	case c.Result.NotApplicable:
		return "n/a: " + c.Result.Got
	}
	return "closed: " + c.Result.Got
}

// WriteTable prints one row per check: probe, expected, got.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBE\tEXPECTED\tGOT")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, Expected, oneLine(c.Got()))
	}
	return tw.Flush()
}

// Summary is one line: how many checks ran and how many did not stay
// closed.
func (r Report) Summary() string {
	bad, na := len(r.Bad()), 0
	for _, c := range r.Checks {
		if c.Result.NotApplicable {
			na++
		}
	}
	if bad == 0 {
		return fmt.Sprintf("bottle %s: all %d probes stayed closed (%d not applicable)", r.Slug, len(r.Checks), na)
	}
	return fmt.Sprintf("bottle %s: %d of %d probes did not stay closed", r.Slug, bad, len(r.Checks))
}

// LeakError is a failed attestation: what got out and how to fix it.
type LeakError struct {
	Slug  string
	Total int
	Bad   []Check
	hints map[string]string
}

func (e *LeakError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bottle %s is not sealed: %d of %d attestation probes did not stay closed:", e.Slug, len(e.Bad), e.Total)
	seen := map[Category]bool{}
	var cats []Category
	for _, c := range e.Bad {
		fmt.Fprintf(&b, "\n  - %s", oneLine(c.Name+": "+c.Got()))
		if !seen[c.Category] {
			seen[c.Category] = true
			cats = append(cats, c.Category)
		}
	}
	for _, cat := range cats {
		if f := Fix(cat); f != "" {
			fmt.Fprintf(&b, "\nfix (%s): %s", cat, f)
		}
		if h := e.hints[string(cat)]; h != "" {
			fmt.Fprintf(&b, "\n  on this engine: %s", h)
		}
	}
	return b.String()
}

// Err is nil when every check stayed closed, else a *LeakError.
func (r Report) Err() error {
	bad := r.Bad()
	if len(bad) == 0 {
		return nil
	}
	return &LeakError{Slug: r.Slug, Total: len(r.Checks), Bad: bad, hints: r.hints}
}

// logLine is one check in the bottle's attest log.
type logLine struct {
	Time          time.Time `json:"time"`
	Slug          string    `json:"bottle"`
	Phase         string    `json:"phase"`
	Probe         string    `json:"probe"`
	Category      Category  `json:"category"`
	Kind          string    `json:"kind"`
	Target        string    `json:"target,omitempty"`
	Expected      string    `json:"expected"`
	Got           string    `json:"got"`
	Leaked        bool      `json:"leaked"`
	Failed        bool      `json:"failed,omitempty"`
	NotApplicable bool      `json:"not_applicable,omitempty"`
}

// LogFile is the attest log's name in the bottle's logs directory.
const LogFile = "attest.jsonl"

// Log appends one JSON line per check to dir/attest.jsonl.
func (r Report) Log(dir, phase string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("logging attestation: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("logging attestation: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, c := range r.Checks {
		target := c.Spec.Addr
		if c.Spec.URL != "" {
			target = c.Spec.URL
		}
		if err := enc.Encode(logLine{
			Time: now.UTC(), Slug: r.Slug, Phase: phase, Probe: c.Name, Category: c.Category,
			Kind: string(c.Spec.Kind), Target: target, Expected: Expected, Got: c.Result.Got,
			Leaked: c.Result.Leaked, Failed: c.Result.Failed, NotApplicable: c.Result.NotApplicable,
		}); err != nil {
			f.Close()
			return fmt.Errorf("logging attestation: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("logging attestation: %w", err)
	}
	return nil
}

// oneLine keeps probe output (which a running agent may influence) to one
// printable line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Apply fills cs with the probe program's answer. The answer comes from
// inside the bottle, so it is parsed strictly: every check must be
// answered exactly once, or it fails.
func Apply(cs []Check, out []byte) error {
	var resp probe.Response
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		return fmt.Errorf("reading probe results: %w", err)
	}
	// One document and nothing after it: trailing text is not the probe's.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("reading probe results: text after the results")
	}
	byID := map[string]probe.Result{}
	for _, r := range resp.Results {
		if _, dup := byID[r.ID]; dup {
			return fmt.Errorf("reading probe results: probe %q answered twice", oneLine(r.ID))
		}
		byID[r.ID] = r
	}
	for i := range cs {
		r, ok := byID[cs[i].Spec.ID]
		if !ok {
			cs[i].Result = probe.Result{ID: cs[i].Spec.ID, Failed: true, Got: "no result from the probe program"}
			continue
		}
		r.Got = oneLine(r.Got)
		cs[i].Result = r
	}
	if len(byID) > len(cs) {
		return fmt.Errorf("reading probe results: %d results for %d probes", len(byID), len(cs))
	}
	return nil
}
