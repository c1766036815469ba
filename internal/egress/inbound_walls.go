package egress

import (
	"mime"
	"net/http"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// inboundWall is what respond refuses besides an injection in the body:
// a DNS answer (DoH in a shape the policy did not see), and an injection
// in the response headers a client shows the model (X-…, Link, Warning).
// body is nil when only the headers are known.
func inboundWall(h http.Header, body []byte, scan bool) (policy.Code, string) {
	if why := dohResponse(h); why != "" {
		return policy.CodeDoH, "DNS-over-HTTPS is refused on every host (" + why + "); DNS goes through the bottle's resolver only"
	}
	if body != nil && (isDNSMessage(body) || dohJSONAnswer(body)) {
		return policy.CodeDoH, "DNS-over-HTTPS is refused on every host (a DNS answer as the body); DNS goes through the bottle's resolver only"
	}
	if scan && body == nil {
		if v := headerInjection(h); v.Level == dlp.High {
			return policy.CodeInjection, "a response header looks like a prompt injection (" + v.Reason + ")"
		}
	}
	return "", ""
}

var wordDecoder = &mime.WordDecoder{}

// headerInjection scans the header values a model may be shown: every
// header but the standard ones that carry no prose.
func headerInjection(h http.Header) dlp.InjectionVerdict {
	var text []byte
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "Content-Length", "Date", "Etag", "Last-Modified", "Cache-Control", "Expires", "Vary", "Server", "Set-Cookie", "Strict-Transport-Security", "Content-Security-Policy", "Content-Encoding", "Age", "Accept-Ranges":
			continue
		}
		for _, v := range vs {
			// A client shows an RFC 2047 word (=?utf-8?b?…?=) decoded; a
			// word that does not decode is read as it is.
			if d, err := wordDecoder.DecodeHeader(v); err == nil {
				v = d
			}
			text = append(text, v...)
			text = append(text, '\n')
		}
	}
	if len(text) == 0 {
		return dlp.InjectionVerdict{}
	}
	return dlp.DetectInjection(text)
}

// scannedInbound: the media types whose bodies are buffered and scanned
// for injection. Beyond text, JSON and XML: YAML and TOML, raw file
// downloads (application/octet-stream, GitHub's vnd.github.raw), and a
// missing or unparseable Content-Type, all of which a client hands the
// model as text. Images, audio, video, fonts and archives are not read as
// text by a model's tools.
func scannedInbound(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" {
		return true
	}
	if textual(mt) {
		return true
	}
	for _, p := range []string{"image/", "audio/", "video/", "font/"} {
		if strings.HasPrefix(mt, p) {
			return false
		}
	}
	switch mt {
	case "application/zip", "application/gzip", "application/x-gzip", "application/zstd", "application/x-tar", "application/pdf", "application/wasm", "application/x-git-upload-pack-result", "application/x-git-receive-pack-result":
		return false
	}
	for _, suf := range []string{"gzip", "zip", "zstd", "tar", "bzip2", "xz", "7z-compressed", "rar"} {
		if strings.HasSuffix(mt, suf) { // registry layers, release archives
			return false
		}
	}
	return strings.HasPrefix(mt, "application/")
}
