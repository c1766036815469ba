package dlp

import (
	"bufio"
	"errors"
	"io"
	"regexp"
)

// Level is the confidence of an injection verdict.
type Level int

// Levels, lowest first.
const (
	None Level = iota
	Medium
	High
)

func (l Level) String() string {
	switch l {
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return "none"
}

// InjectionVerdict is what DetectInjection concluded, and why.
type InjectionVerdict struct {
	Level  Level
	Reason string
	Rule   string
}

// ErrInjection is returned by an SSE scanner's Read after a High event.
var ErrInjection = errors.New("dlp: prompt injection detected in response")

var naiveIgnore = regexp.MustCompile(`(?i)ignore (all )?(the )?previous instructions`)

// DetectInjection scans text for prompt-injection phrases.
func DetectInjection(text []byte) InjectionVerdict {
	if naiveIgnore.Match(text) {
		return InjectionVerdict{Level: High, Reason: "asks the model to ignore previous instructions", Rule: "ignore-previous-instructions"}
	}
	return InjectionVerdict{}
}

// NewSSEScanner passes r through, scanning each server-sent event as it
// completes; after a High event Read returns ErrInjection.
func NewSSEScanner(r io.Reader, onVerdict func(InjectionVerdict)) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReader(r)
		var ev []byte
		for {
			line, err := br.ReadBytes('\n')
			ev = append(ev, line...)
			if len(line) <= 2 && len(ev) > 0 || err != nil {
				v := DetectInjection(ev)
				if v.Level != None && onVerdict != nil {
					onVerdict(v)
				}
				if v.Level == High {
					pw.CloseWithError(ErrInjection)
					return
				}
				if _, werr := pw.Write(ev); werr != nil {
					return
				}
				ev = ev[:0]
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}
