package dlp

import (
	"bytes"
	"encoding/json"
	"io"
)

// NewNDJSONScanner is NewSSEScanner for newline-delimited JSON
// (application/x-ndjson, application/jsonl): each line is an event,
// released as soon as its newline arrives and it has been scanned. For a
// JSON line the text-bearing fields are what is scanned with the end of
// earlier lines (a model streamed a token per line, as Ollama does).
func NewNDJSONScanner(r io.Reader, onVerdict func(InjectionVerdict)) io.Reader {
	return &sseScanner{r: r, in: sharedInjection().in, onVerdict: onVerdict, end: lineEnd, text: lineText}
}

// lineEnd is the length of the first complete line in b, or -1.
func lineEnd(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return -1
}

func lineText(line []byte) []byte {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || (line[0] != '{' && line[0] != '[') {
		return line
	}
	var v any
	if json.Unmarshal(line, &v) != nil {
		return line
	}
	var out []byte
	collectText(v, "", &out)
	return out
}
