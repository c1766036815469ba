package dlp

import (
	"bytes"
	"mime"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// InboundText is body as the agent's client decodes it: in the charset
// Content-Type names (UTF-16, EBCDIC, Latin-1, …), or the one a byte-order
// mark or the zero bytes of UTF-16 give away. UTF-8 and undecidable bodies
// come back as they are; the phrases are ASCII, so any charset that keeps
// ASCII where it is needs no decoding.
func InboundText(contentType string, body []byte) []byte {
	if enc := inboundCharset(contentType, body); enc != nil {
		if out, err := enc.NewDecoder().Bytes(body); err == nil {
			return out
		}
	}
	return body
}

func inboundCharset(contentType string, body []byte) encoding.Encoding {
	switch {
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}), bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	}
	_, params, _ := mime.ParseMediaType(contentType)
	name := strings.ToLower(strings.TrimSpace(params["charset"]))
	switch name {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return sniffUTF16(body)
	case "ibm037", "cp037", "ebcdic-cp-us", "ebcdic", "ibm-037":
		return charmap.CodePage037
	case "ibm1047", "cp1047", "ibm-1047":
		return charmap.CodePage1047
	case "ibm1140", "cp1140", "ibm-1140":
		return charmap.CodePage1140
	case "ibm500", "cp500", "ebcdic-international":
		return charmap.CodePage037 // close enough for ASCII letters
	}
	if enc, err := htmlindex.Get(name); err == nil {
		return enc
	}
	return nil
}

// sniffUTF16: text whose every other byte is zero is UTF-16 without a
// mark (the client may still decode it).
func sniffUTF16(b []byte) encoding.Encoding {
	n := min(len(b), 512) &^ 1
	if n < 16 {
		return nil
	}
	var even, odd int
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	switch half := n / 2; {
	case odd > half*6/10 && even < half/10:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case even > half*6/10 && odd < half/10:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return nil
}

// InboundCharset reports whether InboundText decodes body from a charset
// other than UTF-8 (named by contentType, or given away by the body).
func InboundCharset(contentType string, body []byte) bool {
	return inboundCharset(contentType, body) != nil
}
