package dlp

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"html"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// An inbound text is read the way a model would read it before the
// phrases are tried: JSON strings walked and unescaped, HTML reduced to
// its text (comments and attribute values kept: a model reading raw HTML
// sees them), invisible characters dropped, look-alike characters folded
// (NFKC), and base64 segments decoded.

// readViews are the texts of b a model may read. The first view keeps
// b's own offsets when b is plain text, so the SSE scanner can tell which
// hits are new.
func readViews(b []byte) [][]byte { return textViews(b, true) }

// textViews is readViews; events false skips the event-stream view (the
// SSE scanner reads each event's JSON itself).
func textViews(b []byte, events bool) [][]byte {
	var base []byte
	first := firstNonSpace(b)
	switch {
	case first == '{' || first == '[':
		base = jsonStrings(b, 0)
	case first == '<':
		base = htmlText(b)
	default:
		base = b
	}
	return viewsOf(base, first == '<', events)
}

// viewsOf is textViews from the base view on: base is the text itself,
// its JSON strings, or (html) its HTML text.
func viewsOf(base []byte, html, events bool) [][]byte {
	views := [][]byte{base}
	// Event-stream text (SSE "data: {…}" lines) holds JSON a client
	// decodes: its strings are what the model reads.
	if events {
		if v := eventJSON(base); v != nil {
			views = append(views, v)
		}
	}
	// What is left of escapes and markup inside the text (a JSON string
	// holding HTML, a page quoting \u escapes).
	if bytes.IndexByte(base, '\\') >= 0 {
		if v := jsonView(base); v != nil {
			views = append(views, v)
		}
	}
	if !html && (hasTag(base) || bytes.IndexByte(base, '&') >= 0) {
		views = append(views, htmlText(base)) // markup inside text, or text of JSON strings
	}
	// Folding and dropping invisible characters only matter for non-ASCII
	// text; ASCII is its own NFKC form.
	for i, n := 0, len(views); i < n; i++ {
		if !isASCII(views[i]) {
			if f := foldText(views[i]); !bytes.Equal(f, views[i]) {
				views = append(views, f)
			}
		}
	}
	for i, n := 0, len(views); i < n; i++ {
		if v := base64View(views[i]); v != nil {
			views = append(views, v)
		}
	}
	return views
}

// eventJSON is the text of b with every "data:" line that holds JSON
// replaced by that JSON's strings, or nil when there is none.
func eventJSON(b []byte) []byte {
	if !bytes.Contains(b, []byte("data:")) {
		return nil
	}
	var out []byte
	found := false
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		d, ok := bytes.CutPrefix(bytes.TrimLeft(line, " \t"), []byte("data:"))
		if f := firstNonSpace(d); ok && (f == '{' || f == '[') && json.Valid(d) {
			out, found = append(out, jsonStrings(d, 0)...), true
			continue
		}
		out = append(out, line...)
	}
	if !found {
		return nil
	}
	return out
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func isASCII(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasTag reports a '<' that opens a tag or a comment.
func hasTag(b []byte) bool {
	for i := bytes.IndexByte(b, '<'); i >= 0 && i+1 < len(b); {
		if c := b[i+1] | 0x20; (c >= 'a' && c <= 'z') || b[i+1] == '/' || b[i+1] == '!' {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '<')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// foldText drops invisible characters (zero-width, soft hyphen, bidi
// controls, tag characters) and folds the rest with NFKC, so "ｉｇｎｏｒｅ"
// and "ig\u00adnore" read as "ignore".
func foldText(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if !invisibleRune(r) {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return norm.NFKC.Bytes(out)
}

func invisibleRune(r rune) bool {
	switch {
	case r == 0xAD, r == 0x34F, r == 0x180E, r == 0xFEFF:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x2069:
		return true
	case r >= 0xE0000 && r <= 0xE007F:
		return true
	}
	return false
}

// htmlText is the text of an HTML page as a reader (or a model reading
// the source) takes it: tags become spaces, but comments and quoted
// attribute values stay, and entities are decoded.
func htmlText(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] != '<' || !opensTag(b[i+1:]) {
			j := bytes.IndexByte(b[i+1:], '<')
			if j < 0 {
				j = len(b) - i - 1
			}
			out = append(out, b[i:i+1+j]...)
			i += 1 + j
			continue
		}
		if bytes.HasPrefix(b[i:], []byte("<!--")) {
			end := bytes.Index(b[i+4:], []byte("-->"))
			if end < 0 {
				end = len(b) - i - 4
			}
			out = append(out, ' ')
			out = append(out, b[i+4:i+4+end]...)
			out = append(out, ' ')
			i += 4 + end + 3
			continue
		}
		// A tag: keep its quoted attribute values (alt, title, aria-label
		// and content carry text a model reads). Code and quotations stay
		// marked as such for score.
		if spoofTag(b[i+1:]) {
			j := bytes.IndexByte(b[i:], '>')
			if j < 0 {
				j = len(b) - i - 1
			}
			out = append(out, b[i:i+j+1]...) // a fake turn marker is text to the model
			i += j + 1
			continue
		}
		if m := tagMark(b[i+1:]); m != "" && !bytes.HasSuffix(bytes.TrimRight(out, " "), []byte(strings.TrimSpace(m))) {
			out = append(out, m...) // <pre><code> is one fence
		}
		j, attrs := i+1, len(out)
		for j < len(b) && b[j] != '>' {
			if q := b[j]; q == '"' || q == '\'' {
				k := bytes.IndexByte(b[j+1:], q)
				if k < 0 {
					k = len(b) - j - 1
				}
				out = append(out, ' ')
				out = append(out, b[j+1:j+1+k]...)
				j += k + 2
				continue
			}
			j++
		}
		// Inline formatting splits no word on screen: "Ig<span></span>nore"
		// reads "Ignore".
		if len(out) > attrs || !tagIs(b[i+1:], inlineTags...) {
			out = append(out, ' ')
		}
		i = j + 1
	}
	if bytes.IndexByte(out, '&') >= 0 {
		out = []byte(html.UnescapeString(string(out)))
	}
	return out
}

// jsonStrings is every string (keys and values) of a JSON text,
// unescaped, one a line; a string that is itself JSON is walked too. It
// lexes rather than parses, so a truncated or malformed document still
// gives up its strings.
func jsonStrings(b []byte, depth int) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		j, esc := i+1, false
		for ; j < len(b) && b[j] != '"'; j++ {
			if b[j] == '\\' {
				esc = true
				j++
			}
		}
		s := b[i+1 : min(j, len(b))]
		if esc {
			if v := jsonView(s); v != nil {
				s = v
			}
		}
		if f := firstNonSpace(s); depth < 4 && (f == '{' || f == '[') && json.Valid(s) {
			s = jsonStrings(s, depth+1)
		}
		out = append(out, s...)
		out = append(out, '\n')
		i = j
	}
	return out
}

func opensTag(rest []byte) bool {
	if len(rest) == 0 {
		return false
	}
	c := rest[0] | 0x20
	return (c >= 'a' && c <= 'z') || rest[0] == '/' || rest[0] == '!'
}

// tagName is the name of the tag whose text (after '<') is rest, as
// written.
func tagName(rest []byte) []byte {
	name := bytes.TrimPrefix(rest, []byte("/"))
	end := 0
	for end < len(name) && end < 16 && (name[end]|0x20 >= 'a' && name[end]|0x20 <= 'z' || name[end] >= '0' && name[end] <= '9' || name[end] == '_' || name[end] == '-') {
		end++
	}
	return name[:end]
}

func tagIs(rest []byte, names ...string) bool {
	n := tagName(rest)
	for _, x := range names {
		if len(n) == len(x) && bytes.EqualFold(n, []byte(x)) {
			return true
		}
	}
	return false
}

// spoofTag: no HTML element, but the markup of a chat turn or a system
// prompt, which the phrases look for.
func spoofTag(rest []byte) bool {
	return tagIs(rest, "system", "system_prompt", "system-prompt", "systemprompt", "developer", "instruction", "instructions", "admin", "sys")
}

// inlineTags render inside a word without a break.
var inlineTags = []string{"span", "b", "i", "u", "s", "em", "strong", "small", "sub", "sup", "mark", "font", "abbr", "wbr", "ins", "bdi", "bdo"}

// tagMark is what a tag leaves in the text besides a space: a fence for
// code, a quotation mark for a quotation.
func tagMark(rest []byte) string {
	switch {
	case tagIs(rest, "pre", "code", "kbd", "samp"):
		return " ``` "
	case tagIs(rest, "q", "blockquote"):
		return ` " `
	}
	return ""
}
