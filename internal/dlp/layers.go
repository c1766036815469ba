package dlp

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/text/unicode/norm"
)

// Decoding layers. A segment's raw text is scanned first; then every
// encoding the scanner can undo is undone, and the result scanned again,
// layer after layer, so a token percent-encoded four times, or gzipped
// behind base64 behind percent-encoding, is still seen. Each layer is
// built only when a cheap sign of it is present (an escape marker found
// by the same automaton pass, or a long run of its alphabet), so clean
// text pays for none of them.

// ErrUnscannable: the request has more layers of encoding, or decodes to
// more bytes, than the scanner will undo. It is refused (dlp-unscannable),
// never sent unscanned. It wraps ErrTooLarge.
var ErrUnscannable = fmt.Errorf("%w: too many layers of encoding to scan", ErrTooLarge)

const (
	// maxLayers bounds the decoding depth. Four percent layers plus
	// base64 plus gzip is six; anything deeper is refused.
	maxLayers = 8
	// layerBudgetFactor bounds the decoded bytes of all layers of one
	// request, as a multiple of the scan limit.
	layerBudgetFactor = 3
)

// view is a decoded text: the whole of its parent transformed (undo set)
// or a piece of it decoded on its own (at origin in the parent).
type view struct {
	text   []byte
	parent *view
	layer  string
	origin int                 // pieces: where the piece starts in parent.text
	undo   func([]byte) []byte // whole-text layers: the transform, to map offsets back
	plus   bool
	// marks are where escape markers end, kept for texts over
	// windowedText only: their layers are decoded around the marks.
	marks []mark
}

// mark is where an escape marker of one kind ends in a view's text.
type mark struct {
	kind escKind
	end  int
}

// path is the decoding path, as a person reads it: "percent ×2 → base64".
func (v *view) path() string {
	var layers []string
	for p := v; p != nil && p.parent != nil; p = p.parent {
		layers = append(layers, p.layer)
	}
	var b strings.Builder
	for i := len(layers) - 1; i >= 0; {
		n := 1
		for i-n >= 0 && layers[i-n] == layers[i] {
			n++
		}
		if b.Len() > 0 {
			b.WriteString(" → ")
		}
		b.WriteString(layers[i])
		if n > 1 {
			fmt.Fprintf(&b, " ×%d", n)
		}
		i -= n
	}
	return b.String()
}

// rootOffset maps an offset in v.text back to the raw segment text
// (approximately, for whole-text layers: the shortest raw prefix whose
// transform reaches the offset). Used only to name the place of a finding.
func (v *view) rootOffset(p int) int {
	for ; v.parent != nil; v = v.parent {
		if v.undo == nil {
			p = v.origin
			continue
		}
		src := v.parent.text
		lo, hi := 0, len(src)
		for lo < hi {
			mid := (lo + hi) / 2
			out := v.undo(src[:mid])
			if out == nil {
				out = src[:mid]
			}
			if len(out) < p {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		p = lo
	}
	return p
}

// layerBudget counts the decoded bytes of one request, and notes whether
// any layer showed a piece of a held secret.
type layerBudget struct {
	left      int64
	fragments bool
}

func (b *layerBudget) spend(n int) error {
	b.left -= int64(n)
	if b.left < 0 {
		return ErrUnscannable
	}
	return nil
}

// children decodes every layer of v that its text shows signs of.
func (o *Outbound) children(v *view, esc escKind) []*view {
	var out []*view
	whole := func(k escKind, layer string, f func([]byte) []byte) {
		if ws, ok := markWindows(v, k); ok {
			for _, w := range ws { // sparse markers in a big text
				if d := f(v.text[w.start:w.end]); d != nil && !bytes.Equal(d, v.text[w.start:w.end]) {
					out = append(out, &view{text: d, parent: v, layer: layer, origin: w.start, plus: v.plus})
				}
			}
			return
		}
		if d := f(v.text); d != nil && !bytes.Equal(d, v.text) {
			out = append(out, &view{text: d, parent: v, layer: layer, undo: f, plus: v.plus})
		}
	}
	// In a query or form body '+' is a space: "4111+1111+…" is a card.
	if v.plus && bytes.IndexByte(v.text, '+') >= 0 {
		whole(0, "percent", func(b []byte) []byte { return percentView(b, true) })
	} else if esc&escPercent != 0 {
		whole(escPercent, "percent", func(b []byte) []byte { return percentView(b, false) })
	}
	if esc&escJSON != 0 {
		whole(escJSON, "json-escape", jsonView)
	}
	if esc&escHTML != 0 {
		whole(escHTML, "html-entity", func(b []byte) []byte { return []byte(html.UnescapeString(string(b))) })
	}
	if esc&escQP != 0 {
		whole(escQP, "quoted-printable", qpView)
	}
	if esc&escInvisible != 0 {
		whole(escInvisible, "invisible removed", stripInvisible)
	}
	if esc&escCompat != 0 {
		whole(escCompat, "nfkc", norm.NFKC.Bytes)
	}
	piece := func(layer string, at int, d []byte) {
		if len(d) > 0 {
			out = append(out, &view{text: d, parent: v, layer: layer, origin: at})
		}
	}
	for _, r := range base64Runs(v.text) {
		run := v.text[r.start:r.end]
		if d := decodeB64Wrapped(run); len(d) > 0 {
			piece("base64", r.start, d)
		} else if r.end-r.start < 4096 {
			// A prefix glued to the run ("sha512-…", "x_…") shifts the
			// quantum: try the other alignments of short runs.
			for k := 1; k < 4; k++ {
				if d := decodeB64Wrapped(run[k:]); len(d) > 0 {
					piece("base64", r.start+k, d)
					break
				}
			}
		}
		if d := base32Run(run); d != nil {
			piece("base32", r.start, d)
		}
	}
	for _, r := range hexRuns(v.text) {
		if d := hexRun(v.text[r.start:r.end]); d != nil {
			piece("hex", r.start, d)
		}
	}
	if d, layer := decompressMagic(v.text, o.maxBody); d != nil {
		piece(layer, 0, d)
	}
	return out
}

// windowedText is the size above which a layer whose markers are sparse
// is decoded in windows around them, not over the whole text: random
// binary (an image, a zip, a compressed audio frame) shows a few markers
// of every kind by chance, and whole-text views of every combination of
// layers would exhaust the budget (dlp-unscannable) on ordinary uploads.
const windowedText = 64 << 10

// markRadius is how much text a window keeps on each side of a marker:
// an encoded token (×4 percent of 100 characters is 1,200 bytes) and the
// rule's context around it. An escaped PEM key has markers all along it,
// so its windows merge; 16 KiB (pemLook) would make the windows of
// random binary cover most of it and bring the whole-text views back.
const markRadius = 4 << 10

// markWindows are the windows around v's markers of kind k, merged where
// they overlap; ok is false when the layer should decode the whole text
// (a small text, no marks kept, kind 0, or windows covering half of it).
func markWindows(v *view, k escKind) ([]run, bool) {
	if k == 0 || len(v.text) <= windowedText || v.marks == nil {
		return nil, false
	}
	var ends []int
	for _, m := range v.marks {
		if m.kind == k {
			ends = append(ends, m.end)
		}
	}
	slices.Sort(ends)
	var ws []run
	covered := 0
	for _, e := range ends {
		a, b := max(0, e-markRadius), min(len(v.text), e+markRadius)
		if n := len(ws); n > 0 && a <= ws[n-1].end {
			covered += max(0, b-ws[n-1].end)
			ws[n-1].end = max(b, ws[n-1].end)
			continue
		}
		ws = append(ws, run{a, b})
		covered += b - a
	}
	if covered*2 > len(v.text) {
		return nil, false
	}
	return ws, true
}

// scanLayers scans every decoded layer below v (whose own text was scanned
// with escape markers esc), depth-first, calling found for each view's
// spans.
func (o *Outbound) scanLayers(where string, v *view, esc escKind, depth int, b *layerBudget, found func(*view, []span)) error {
	kids := o.children(v, esc)
	if len(kids) == 0 {
		return nil
	}
	if depth >= maxLayers {
		return ErrUnscannable
	}
	for _, k := range kids {
		if err := b.spend(len(k.text)); err != nil {
			return err
		}
		spans, kesc, err := o.scanText(where, k.text, &k.marks)
		if err != nil {
			return err
		}
		b.fragments = b.fragments || kesc&escFragment != 0
		if len(spans) > 0 {
			found(k, spans)
		}
		if err := o.scanLayers(where, k, kesc, depth+1, b, found); err != nil {
			return err
		}
	}
	return nil
}

type run struct{ start, end int }

// base64Runs finds the runs of base64 text (line-wrapped too) long enough
// to hold a token. A '=' followed by more alphabet ends a run: it is an
// assignment (content=<base64>), not padding.
func base64Runs(b []byte) []run {
	var out []run
	const l = minBase64Run
	for i := 0; i+l <= len(b); {
		if b64Class[b[i+l-1]] == 0 {
			i += l
			continue
		}
		j := i + l - 1
		for j > i && b64Class[b[j-1]] != 0 {
			j--
		}
		k := i + l
		for k < len(b) && b64Class[b[k]] != 0 {
			k++
		}
		start := j
		for p := j; p < k; p++ {
			e := bytes.IndexByte(b[p:k], '=')
			if e < 0 {
				break
			}
			if p += e; p+1 < k && b64Class[b[p+1]] == 1 && b[p+1] != '=' {
				if p+1-start >= l {
					out = append(out, run{start, p + 1})
				}
				start = p + 1
			}
		}
		if k-start >= l {
			out = append(out, run{start, k})
		}
		i = k + 1
	}
	return out
}

// decodeB64Wrapped decodes a run that may carry line breaks (CR, LF, JSON
// \n and \r); nil when it is not base64.
func decodeB64Wrapped(r []byte) []byte { return appendB64Wrapped(nil, r) }

// appendB64Wrapped is decodeB64Wrapped appending to dst (dst unchanged
// when the run is not base64).
func appendB64Wrapped(dst, r []byte) []byte {
	clean := r
	if bytes.IndexByte(r, '\n') >= 0 || bytes.IndexByte(r, '\r') >= 0 || bytes.IndexByte(r, '\\') >= 0 {
		clean = make([]byte, 0, len(r))
		for i := 0; i < len(r); i++ {
			switch {
			case b64Class[r[i]] == 1:
				clean = append(clean, r[i])
			case r[i] == '\\':
				i++
			}
		}
	}
	if len(clean) < minBase64Run {
		return dst
	}
	return appendB64Run(dst, clean)
}

var (
	b32Upper = base32.StdEncoding.WithPadding(base32.NoPadding)
	b32Lower = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
)

// base32Run decodes a run written in the base32 alphabet (one case), or nil.
func base32Run(r []byte) []byte {
	r = bytes.TrimRight(r, "=")
	if len(r) < 32 {
		return nil
	}
	enc := b32Upper
	for _, c := range r {
		switch {
		case 'a' <= c && c <= 'z':
			if enc == b32Upper && c != r[0] && !('a' <= r[0] && r[0] <= 'z') {
				return nil
			}
			enc = b32Lower
		case 'A' <= c && c <= 'Z', '2' <= c && c <= '7':
		default:
			return nil
		}
	}
	if enc == b32Lower && bytes.ContainsFunc(r, func(c rune) bool { return 'A' <= c && c <= 'Z' }) {
		return nil
	}
	if m := len(r) % 8; m == 1 || m == 3 || m == 6 {
		r = r[:len(r)-m]
	}
	d, err := enc.DecodeString(string(r))
	if err != nil {
		return nil
	}
	return d
}

// hexClass: hex digits and the separators hex dumps put between bytes.
var hexClass = func() (t [256]uint8) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = 1
	}
	for _, c := range " :-,\\xX" {
		t[c] = 2
	}
	return t
}()

// minHexBytes: shorter hex cannot hold a held secret (MinSecretLen) twice
// over or any token; 32 digits.
const minHexBytes = 16

// hexRuns finds runs of hex text, plain or with separators between bytes
// ("41:42", "41-42", "41 42", "\x41\x42", "0x41, 0x42").
func hexRuns(b []byte) []run {
	var out []run
	const l = 2 * minHexBytes
	for i := 0; i+l <= len(b); {
		if hexClass[b[i+l-1]] == 0 {
			i += l
			continue
		}
		j := i + l - 1
		for j > i && hexClass[b[j-1]] != 0 {
			j--
		}
		k := i + l
		for k < len(b) && hexClass[b[k]] != 0 {
			k++
		}
		if k-j >= l {
			out = append(out, run{j, k})
		}
		i = k + 1
	}
	return out
}

// hexRun decodes the longest stretch of the run that is hex bytes: one
// group of digits, or groups of exactly two between separators. nil when
// there is none long enough.
func hexRun(r []byte) []byte {
	var (
		best, cur []byte
		digits    []byte
	)
	flush := func() {
		if len(cur) > len(best) {
			best = cur
		}
		cur = nil
	}
	group := func() {
		switch {
		case len(digits) == 2:
			cur = append(cur, digits...)
		case len(digits) >= 2*minHexBytes && len(digits)%2 == 0:
			flush()
			cur = append(cur, digits...)
			flush()
		default:
			flush()
		}
		digits = digits[:0]
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if hexClass[c] == 1 {
			// "0x" and "\x" prefixes are not digits.
			if c == '0' && i+1 < len(r) && (r[i+1] == 'x' || r[i+1] == 'X') && len(digits) == 0 {
				i++
				continue
			}
			digits = append(digits, c)
			continue
		}
		if len(digits) > 0 {
			group()
		}
	}
	if len(digits) > 0 {
		group()
	}
	flush()
	if len(best) < 2*minHexBytes {
		return nil
	}
	d := make([]byte, len(best)/2)
	if _, err := hex.Decode(d, best); err != nil {
		return nil
	}
	return d
}

// decompressMagic: a decoded piece that starts like a gzip, zlib or zstd
// stream is decompressed (within limit); a compressed blob uploaded
// base64-encoded would otherwise hide its contents.
func decompressMagic(b []byte, limit int64) ([]byte, string) {
	var (
		r     io.Reader
		err   error
		layer string
	)
	switch {
	case len(b) > 10 && b[0] == 0x1f && b[1] == 0x8b:
		var zr *gzip.Reader
		zr, err = gzip.NewReader(bytes.NewReader(b))
		r, layer = zr, "gzip"
	case len(b) > 6 && b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 && b[1]&0x20 == 0:
		r, err = zlib.NewReader(bytes.NewReader(b))
		layer = "deflate"
	case len(b) > 8 && bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(limit)+1))
		if err == nil {
			defer zr.Close()
		}
		r, layer = zr, "zstd"
	default:
		return nil, ""
	}
	if err != nil {
		return nil, ""
	}
	// A truncated or corrupt stream still yields what decoded before the
	// damage; that is scanned.
	out, _ := io.ReadAll(io.LimitReader(r, limit))
	if len(out) == 0 {
		return nil, ""
	}
	return out, layer
}

// qpView undoes quoted-printable: =XX escapes and soft line breaks.
func qpView(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '=' {
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
				continue
			}
			if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
				i += 2
				continue
			}
			if i+2 < len(b) {
				hi, ok1 := unhex(b[i+1])
				lo, ok2 := unhex(b[i+2])
				if ok1 && ok2 {
					out = append(out, hi<<4|lo)
					i += 2
					continue
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// invisibles are the characters a reader does not see and that splitting
// a token with leaves it whole to the eye: zero-width spaces and joiners,
// soft hyphen, word joiner and invisible operators, bidi controls, BOM,
// combining grapheme joiner, Mongolian vowel separator.
var invisibles = func() []string {
	var out []string
	for _, r := range []rune{0x00AD, 0x034F, 0x180E, 0xFEFF} {
		out = append(out, string(r))
	}
	for _, rg := range [][2]rune{{0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x2066, 0x2069}} {
		for r := rg[0]; r <= rg[1]; r++ {
			out = append(out, string(r))
		}
	}
	return out
}()

var invisibleReplacer = func() *strings.Replacer {
	var args []string
	for _, s := range invisibles {
		args = append(args, s, "")
	}
	return strings.NewReplacer(args...)
}()

func stripInvisible(b []byte) []byte { return []byte(invisibleReplacer.Replace(string(b))) }

// compatLeads are UTF-8 prefixes of the look-alike characters NFKC folds
// to ASCII letters and digits: fullwidth forms, mathematical alphanumerics,
// enclosed and super/subscript forms, letterlike symbols, ligatures.
var compatLeads = []string{"\xef\xbc", "\xef\xbd", "\xf0\x9d", "\xe2\x91", "\xe2\x92", "\xe2\x93", "\xe2\x81", "\xe2\x82", "\xe2\x84", "\xef\xac", "\xc2\xb2", "\xc2\xb3", "\xc2\xb9", "\xc2\xaa", "\xc2\xba"}

// htmlMarkers: numeric character references, and the named ones of
// characters tokens are made of.
var htmlMarkers = []string{"&#", "&lowbar;", "&equals;", "&period;", "&colon;", "&plus;", "&sol;", "&hyphen;", "&dash;", "&num;", "&amp;"}

// qpMarkers: soft line breaks and escapes of '=' and letters.
func qpMarkers() []string {
	out := []string{"=\n", "=\r\n", "=3D"}
	for c := 'A'; c <= 'Z'; c++ {
		out = append(out, fmt.Sprintf("=%02X", c), fmt.Sprintf("=%02X", c+'a'-'A'))
	}
	return out
}
