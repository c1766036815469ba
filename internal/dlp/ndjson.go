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

func lineText(line []byte) []byte { return modelText(bytes.TrimSpace(line)) }

// modelText is what a model reads from a piece of a stream: for JSON, the
// string values of text-bearing fields (isTextKey) in document order;
// anything else as it is.
func modelText(data []byte) []byte {
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') || !json.Valid(data) {
		return data
	}
	var out []byte
	key := ""
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		j, esc := i+1, false
		for ; j < len(data) && data[j] != '"'; j++ {
			if data[j] == '\\' {
				esc = true
				j++
			}
		}
		str := data[i+1 : j]
		if esc {
			if v := jsonView(str); v != nil {
				str = v
			}
		}
		k := j + 1
		for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\n' || data[k] == '\r') {
			k++
		}
		if k < len(data) && data[k] == ':' {
			key = string(str) // a key names the values after it
		} else if isTextKey(key) {
			out = append(out, str...)
		}
		i = j
	}
	return out
}
