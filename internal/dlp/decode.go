package dlp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// contentEncodings parses a Content-Encoding header into the codings in
// the order they were applied ("identity" dropped).
func contentEncodings(h http.Header) ([]string, error) {
	var out []string
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "", "identity":
			case "gzip", "x-gzip", "deflate", "br", "zstd":
				out = append(out, c)
			default:
				return nil, fmt.Errorf("%w: unknown content-encoding %q", ErrUndecodable, c)
			}
		}
	}
	return out, nil
}

// decodeBody undoes the codings (last applied first), never producing
// more than limit bytes: a bigger result is ErrTooLarge.
func decodeBody(body []byte, codings []string, limit int64) ([]byte, error) {
	if int64(len(body)) > limit && len(codings) == 0 {
		return nil, ErrTooLarge
	}
	for i := len(codings) - 1; i >= 0; i-- {
		out, err := decodeOne(body, codings[i], limit)
		if err != nil {
			return nil, err
		}
		body = out
	}
	return body, nil
}

func decodeOne(body []byte, coding string, limit int64) ([]byte, error) {
	var (
		r   io.Reader
		err error
	)
	switch coding {
	case "gzip", "x-gzip":
		var zr *gzip.Reader
		zr, err = gzip.NewReader(bytes.NewReader(body))
		if zr != nil {
			zr.Multistream(true)
		}
		r = zr
	case "deflate":
		// HTTP "deflate" is zlib; some clients send raw deflate.
		r, err = zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			r, err = flate.NewReader(bytes.NewReader(body)), nil
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(bytes.NewReader(body),
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(limit)+1),
			zstd.WithDecoderMaxWindow(uint64(max(limit, 1<<20))))
		if err == nil {
			defer zr.Close()
		}
		r = zr
	default:
		err = errors.New("unknown coding")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUndecodable, coding, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, ErrTooLarge
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUndecodable, coding, err)
	}
	if int64(len(out)) > limit {
		return nil, ErrTooLarge
	}
	return out, nil
}

// encodeBody applies codings in order (used after redaction).
func encodeBody(body []byte, codings []string) ([]byte, error) {
	for _, c := range codings {
		var (
			buf bytes.Buffer
			w   io.WriteCloser
			err error
		)
		switch c {
		case "gzip", "x-gzip":
			w = gzip.NewWriter(&buf)
		case "deflate":
			w = zlib.NewWriter(&buf)
		case "br":
			w = brotli.NewWriter(&buf)
		case "zstd":
			w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		default:
			err = fmt.Errorf("unknown content-encoding %q", c)
		}
		if err != nil {
			return nil, fmt.Errorf("re-encoding body: %w", err)
		}
		if _, err := w.Write(body); err != nil {
			return nil, fmt.Errorf("re-encoding body: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("re-encoding body: %w", err)
		}
		body = buf.Bytes()
	}
	return body, nil
}

// part is one decoded multipart part.
type part struct {
	Name string
	Data []byte // part headers, a blank line, then the decoded content
}

const maxMultipartDepth = 4

// multipartParts splits a multipart body (nested ones too) into decoded
// parts. ok is false when the body is not multipart.
func multipartParts(contentType string, body []byte, limit int64) (parts []part, ok bool, err error) {
	mt, params, perr := mime.ParseMediaType(contentType)
	if perr != nil || !strings.HasPrefix(mt, "multipart/") {
		return nil, false, nil
	}
	total := int64(0)
	err = walkMultipart(params["boundary"], body, "", 0, limit, &total, &parts)
	return parts, true, err
}

func walkMultipart(boundary string, body []byte, prefix string, depth int, limit int64, total *int64, out *[]part) error {
	if boundary == "" {
		return fmt.Errorf("%w: multipart body without boundary", ErrUndecodable)
	}
	if depth >= maxMultipartDepth {
		return fmt.Errorf("%w: multipart nested too deep", ErrUndecodable)
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: multipart: %v", ErrUndecodable, err)
		}
		name := p.FormName()
		if name == "" {
			name = p.FileName()
		}
		if name == "" {
			name = fmt.Sprint(i)
		}
		name = sanitizeName(prefix + name)
		var r io.Reader = p
		switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, newlineStripper{p})
		case "quoted-printable":
			r = newQPReader(p)
		}
		data, err := io.ReadAll(io.LimitReader(r, limit-*total+1))
		if err != nil {
			return fmt.Errorf("%w: multipart part %s: %v", ErrUndecodable, name, err)
		}
		*total += int64(len(data))
		if *total > limit {
			return ErrTooLarge
		}
		var hdr bytes.Buffer
		for k, vs := range p.Header {
			for _, v := range vs {
				hdr.WriteString(k + ": " + v + "\r\n")
			}
		}
		if ct := p.Header.Get("Content-Type"); ct != "" {
			if mt, params, err := mime.ParseMediaType(ct); err == nil && strings.HasPrefix(mt, "multipart/") {
				if err := walkMultipart(params["boundary"], data, name+"/", depth+1, limit, total, out); err != nil {
					return err
				}
			}
		}
		hdr.WriteString("\r\n")
		hdr.Write(data)
		*out = append(*out, part{Name: name, Data: hdr.Bytes()})
	}
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// newlineStripper drops CR and LF so line-wrapped base64 decodes.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// DecodeContent undoes h's Content-Encoding on body (gzip, deflate, br,
// zstd, nested in order), producing at most limit bytes: more is
// ErrTooLarge, a corrupt or unknown coding ErrUndecodable. The proxy uses
// it to scan compressed responses, which an upstream could otherwise use
// to slip past inbound scanning.
func DecodeContent(h http.Header, body []byte, limit int64) ([]byte, error) {
	codings, err := contentEncodings(h)
	if err != nil {
		return nil, err
	}
	return decodeBody(body, codings, limit)
}
