package scan

import (
	"encoding/base64"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect/codec"
)

// The prefilter decides, fast, that gitleaks' detector cannot find anything
// in a chunk, so the detector runs only on the rest: the detector stays the
// judge, the prefilter only answers "maybe" or "certainly not". "Certainly
// not" must hold for every rule, so it rests on what a match must contain,
// derived from each rule's regular expression, never on sampling:
//
//   - From the regex we derive a relaxed one that every match has a prefix
//     of (unbounded repeats cut to their minimum and what follows them
//     dropped), its maximum length in bytes, and a set of literal strings
//     one of which every relaxed match contains (a "trigger").
//   - One Aho-Corasick pass over the ASCII-lowercased chunk finds every
//     trigger and keyword. A rule runs (as in gitleaks) only when one of its
//     keywords is present, and then only the relaxed regex in a window
//     around each trigger, wide enough to hold any match containing it.
//   - A rule without a trigger runs over the whole chunk, as gitleaks does.
//   - gitleaks' decoder (base64, hex, percent) makes the same decoded
//     layers the detector scans, each checked the same way.
//   - A non-ASCII rune that case-folds to an ASCII letter (K, ſ, İ) counts
//     as that letter for the keyword and trigger search, so a (?i) literal
//     spelled with one is found too.
//
// Entropy, allowlists and stop words are the detector's: a rule's raw
// match is enough for "maybe".
type prefilter struct {
	trie     *ahocorasick.Trie
	patterns []pfPattern // by trie pattern index
	rules    []pfRule
	folding  map[rune]byte // non-ASCII runes that case-fold to ASCII, to that letter
	foldLead [256]bool     // first bytes of those runes
}

type pfPattern struct {
	keywordOf []int // rules gated by this keyword
	triggerOf []int // rules this string triggers
	length    int
}

type pfRule struct {
	id       string
	keywords int            // number of keywords; 0 means always on
	path     *regexp.Regexp // path-only rule
	whole    *regexp.Regexp // runs over the whole text
	relaxed  *regexp.Regexp // runs in windows around triggers
	maxLen   int
}

// maxWindow bounds a relaxed match; a longer one runs over the whole text.
const maxWindow = 4096

func newPrefilter(cfg config.Config) *prefilter {
	pf := &prefilter{folding: foldingRunes()}
	pf.foldLead = foldLeads(pf.folding)
	index := map[string]int{}
	var strs []string
	add := func(s string) int {
		i, ok := index[s]
		if !ok {
			i = len(strs)
			index[s] = i
			strs = append(strs, s)
			pf.patterns = append(pf.patterns, pfPattern{length: len(s)})
		}
		return i
	}
	ids := make([]string, 0, len(cfg.Rules))
	for id := range cfg.Rules {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := cfg.Rules[id]
		if r.Regex == nil && r.Path == nil {
			continue
		}
		n := len(pf.rules)
		pr := pfRule{id: id, keywords: len(r.Keywords)}
		for _, k := range r.Keywords {
			if !isASCII(k) {
				pr.keywords = 0 // the ASCII lowercasing cannot see it: always on
			}
		}
		for _, k := range r.Keywords {
			p := add(strings.ToLower(k))
			pf.patterns[p].keywordOf = append(pf.patterns[p].keywordOf, n)
		}
		switch {
		case r.Regex == nil:
			pr.path = r.Path
		default:
			relaxed, triggers, maxLen, ok := relax(r.Regex)
			if !ok {
				pr.whole = r.Regex
				break
			}
			pr.relaxed, pr.maxLen = relaxed, maxLen
			for _, t := range triggers {
				p := add(t)
				pf.patterns[p].triggerOf = append(pf.patterns[p].triggerOf, n)
			}
		}
		pf.rules = append(pf.rules, pr)
	}
	pf.trie = ahocorasick.NewTrieBuilder().AddStrings(strs).Build()
	return pf
}

// relax derives a rule's relaxed regex, its triggers and maximum length.
func relax(re *regexp.Regexp) (*regexp.Regexp, []string, int, bool) {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil, nil, 0, false
	}
	cut, _ := truncate(tree)
	cut = shortenTail(trimLeading(cut))
	triggers := analyze(cut).best()
	maxLen := maxBytes(cut)
	if triggers == nil || maxLen < 0 || maxLen > maxWindow {
		return nil, nil, 0, false
	}
	relaxed, err := regexp.Compile(cut.String())
	if err != nil {
		return nil, nil, 0, false
	}
	return relaxed, triggers, maxLen, true
}

// verdict is what the prefilter leaves to the detector: the rules that
// could match (by index), and the deepest decode layer where one could.
type verdict struct {
	rules []bool
	depth int
}

func (v verdict) any() bool {
	return slices.Contains(v.rules, true)
}

// candidate reports which rules gitleaks' detector, decoding up to depth
// layers, could find anything with in raw, and down to which layer.
func (pf *prefilter) candidate(raw, path string, depth int) verdict {
	v := verdict{rules: make([]bool, len(pf.rules))}
	text := raw
	var segs []*codec.EncodedSegment
	dec := codec.NewDecoder()
	for d := 0; ; d++ {
		if pf.check(text, path, d == 0, v.rules) > 0 {
			v.depth = d
		}
		if d >= depth || !mayDecode(text) {
			return v
		}
		text, segs = dec.Decode(text, segs)
		if len(segs) == 0 {
			return v
		}
	}
}

type window struct{ lo, hi int }

// normalize lowercases ASCII letters and replaces each non-ASCII rune that
// case-folds to an ASCII letter (K, ſ, İ, ı) by that letter, so a (?i)
// literal or a lowercased keyword spelled with one is found too. When a
// rune was replaced, at maps each offset in norm (and its end) to text.
func (pf *prefilter) normalize(text string) (norm []byte, at []int) {
	norm = make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			norm = append(norm, c)
			if at != nil {
				at = append(at, i)
			}
			continue
		}
		if !pf.foldLead[c] {
			// Not the start of a rune that folds to ASCII: a byte of
			// another rune, copied as it is.
			norm = append(norm, c)
			if at != nil {
				at = append(at, i)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if a, ok := pf.folding[r]; ok {
			if at == nil {
				at = make([]int, len(norm), len(text)+1)
				for k := range at {
					at[k] = k
				}
			}
			norm = append(norm, a)
			at = append(at, i)
		} else {
			norm = append(norm, text[i:i+size]...)
			for k := range size {
				if at != nil {
					at = append(at, i+k)
				}
			}
		}
		i += size - 1
	}
	if at != nil {
		at = append(at, len(text))
	}
	return norm, at
}

// check marks in flag the rules that could match in text and returns how
// many it marked.
func (pf *prefilter) check(text, path string, paths bool, flag []bool) (n int) {
	norm, at := pf.normalize(text)
	mark := func(i int) {
		flag[i] = true
		n++
	}
	on := make([]bool, len(pf.rules))
	for i, r := range pf.rules {
		if r.keywords == 0 {
			on[i] = true
		}
		if paths && r.path != nil && r.path.MatchString(path) {
			mark(i)
		}
	}
	hits := pf.trie.Match(norm)
	for _, h := range hits {
		for _, i := range pf.patterns[h.Pattern()].keywordOf {
			on[i] = true
		}
	}
	done := make([]bool, len(pf.rules)) // matched in this text
	for i, r := range pf.rules {
		if on[i] && r.whole != nil && r.whole.MatchString(text) {
			mark(i)
			done[i] = true
		}
	}
	// Windows per rule, merged as hits come in order of position.
	open := make([]window, len(pf.rules))
	for i := range open {
		open[i] = window{-1, -1}
	}
	run := func(i int) {
		w := open[i]
		if w.hi >= 0 && !done[i] && pf.rules[i].relaxed.MatchString(text[w.lo:w.hi]) {
			mark(i)
			done[i] = true
		}
	}
	for _, h := range hits {
		p := pf.patterns[h.Pattern()]
		start, end := int(h.Pos()), int(h.Pos())+p.length
		if at != nil {
			start, end = at[start], at[end]
		}
		for _, i := range p.triggerOf {
			if !on[i] || done[i] {
				continue
			}
			// A match holding the trigger at [start, end) lies in
			// [end-maxLen, start+maxLen]; one byte more each side keeps
			// \b, ^ and $ as they are in the whole text.
			m := pf.rules[i].maxLen
			w := window{max(0, end-m-1), min(len(text), start+m+1)}
			if o := open[i]; o.hi >= 0 && w.lo <= o.hi && o.lo <= w.hi {
				open[i] = window{min(o.lo, w.lo), max(o.hi, w.hi)}
				continue
			}
			run(i)
			open[i] = w
		}
	}
	for i := range open {
		run(i)
	}
	return n
}

// foldingRunes maps the non-ASCII runes that lowercase, uppercase or
// case-fold to an ASCII letter to that letter, lowercased.
func foldingRunes() map[rune]byte {
	out := map[rune]byte{}
	for c := rune(0); c < utf8.RuneSelf; c++ {
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if r >= utf8.RuneSelf {
				out[r] = byte(unicode.ToLower(c))
			}
		}
	}
	// Only a rune in one of unicode.CaseRanges changes case; looking at
	// those alone, not at every rune, spares each hook about 25 ms.
	for _, cr := range unicode.CaseRanges {
		for r := max(rune(cr.Lo), utf8.RuneSelf); r <= rune(cr.Hi); r++ {
			for _, a := range []rune{unicode.ToLower(r), unicode.ToUpper(r)} {
				if a < utf8.RuneSelf {
					out[r] = byte(unicode.ToLower(a))
				}
			}
		}
	}
	return out
}

// foldLeads marks the first bytes of the runes in folding: any other byte
// of a text is copied by normalize as it is.
func foldLeads(folding map[rune]byte) (lead [256]bool) {
	for r := range folding {
		lead[string(r)[0]] = true
	}
	return lead
}

// truncate returns a regex that a prefix of every match of re matches:
// each unbounded repeat keeps its minimum and everything after it goes.
// The bool reports that something was cut (what follows must go too).
func truncate(re *syntax.Regexp) (*syntax.Regexp, bool) {
	empty := &syntax.Regexp{Op: syntax.OpEmptyMatch}
	switch re.Op {
	case syntax.OpConcat:
		out := *re
		out.Sub = nil
		for _, s := range re.Sub {
			c, cut := truncate(s)
			out.Sub = append(out.Sub, c)
			if cut {
				return &out, true
			}
		}
		return &out, false
	case syntax.OpAlternate:
		out := *re
		out.Sub = nil
		any := false
		for _, s := range re.Sub {
			c, cut := truncate(s)
			out.Sub = append(out.Sub, c)
			any = any || cut
		}
		return &out, any
	case syntax.OpCapture:
		c, cut := truncate(re.Sub[0])
		out := *re
		out.Sub = []*syntax.Regexp{c}
		return &out, cut
	case syntax.OpStar:
		return empty, true
	case syntax.OpPlus:
		c, _ := truncate(re.Sub[0])
		return c, true
	case syntax.OpQuest:
		if _, cut := truncate(re.Sub[0]); cut {
			return empty, true
		}
		return re, false
	case syntax.OpRepeat:
		c, cut := truncate(re.Sub[0])
		if re.Max >= 0 && !cut {
			return re, false
		}
		if re.Min == 0 {
			return empty, true
		}
		if cut {
			return c, true
		}
		out := *re
		out.Max = re.Min
		return &out, true
	}
	return re, false
}

// trimLeading drops the leading parts of a concatenation that match the
// empty string anywhere (x*, x?, x{0,n}): re matches somewhere in a text
// exactly when the rest does (with those parts empty). gitleaks' generic
// rule starts with [\w.-]{0,50}?, which keeps up to 50 threads of Go's
// regexp alive at every byte of a word: dropped, its windows run about ten
// times faster and are narrower.
func trimLeading(re *syntax.Regexp) *syntax.Regexp {
	switch re.Op {
	case syntax.OpCapture:
		out := *re
		out.Sub = []*syntax.Regexp{trimLeading(re.Sub[0])}
		return &out
	case syntax.OpConcat:
		subs := re.Sub
		for len(subs) > 1 && emptyAnywhere(subs[0]) {
			subs = subs[1:]
		}
		if len(subs) == 1 {
			return trimLeading(subs[0])
		}
		out := *re
		out.Sub = slices.Clone(subs)
		return &out
	}
	return re
}

// emptyAnywhere reports that re matches the empty string at any position
// (no assertion on the way).
func emptyAnywhere(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch:
		return true
	case syntax.OpRepeat:
		return re.Min == 0
	case syntax.OpCapture:
		return emptyAnywhere(re.Sub[0])
	}
	return false
}

// shortenTail cuts a repeat at the end of re to its minimum: every match
// of re has a prefix that the result matches, so it matches wherever re
// does (and maybe elsewhere: the prefilter only answers "maybe"), and
// its matches are shorter.
func shortenTail(re *syntax.Regexp) *syntax.Regexp {
	switch re.Op {
	case syntax.OpCapture, syntax.OpConcat, syntax.OpAlternate:
		out := *re
		out.Sub = slices.Clone(re.Sub)
		if re.Op == syntax.OpAlternate {
			for i, s := range out.Sub {
				out.Sub[i] = shortenTail(s)
			}
		} else if len(out.Sub) > 0 {
			out.Sub[len(out.Sub)-1] = shortenTail(out.Sub[len(out.Sub)-1])
		}
		return &out
	case syntax.OpRepeat:
		if re.Min == 0 {
			return &syntax.Regexp{Op: syntax.OpEmptyMatch}
		}
		if re.Max != re.Min {
			out := *re
			out.Max = re.Min
			return &out
		}
	case syntax.OpStar, syntax.OpQuest:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	}
	return re
}

// maxBytes is the longest match of re in bytes, or -1 when unbounded.
func maxBytes(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			w := utf8.RuneLen(r)
			if re.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					w = max(w, utf8.RuneLen(f))
				}
			}
			n += max(w, 1)
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		return max(1, utf8.RuneLen(min(re.Rune[len(re.Rune)-1], unicode.MaxRune)))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture:
		return maxBytes(re.Sub[0])
	case syntax.OpQuest:
		return maxBytes(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return -1
	case syntax.OpRepeat:
		m := maxBytes(re.Sub[0])
		if re.Max < 0 || m < 0 {
			return -1
		}
		return m * re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			m := maxBytes(s)
			switch {
			case m < 0:
				return -1
			case re.Op == syntax.OpConcat:
				n += m
			default:
				n = max(n, m)
			}
		}
		return n
	}
	return 0 // empty match and assertions
}

// maxSet bounds the literal sets analyze builds.
const maxSet = 64

// info is what analyze knows of a regex, in ASCII lowercase: exact is the
// set of strings it matches (when hasExact), req a set one of which every
// match contains (nil when unknown).
type info struct {
	exact    []string
	hasExact bool
	req      []string
}

// best returns a set of non-empty strings one of which every match
// contains, or nil.
func (in info) best() []string {
	if in.hasExact && nonEmpty(in.exact) {
		return in.exact
	}
	return in.req
}

func nonEmpty(set []string) bool {
	if len(set) == 0 {
		return false
	}
	for _, s := range set {
		if s == "" {
			return false
		}
	}
	return true
}

// better prefers the set whose shortest string is longest: fewer hits.
func better(a, b []string) []string {
	if !nonEmpty(b) {
		return a
	}
	if !nonEmpty(a) {
		return b
	}
	short := func(s []string) int {
		n := len(s[0])
		for _, x := range s {
			n = min(n, len(x))
		}
		return n
	}
	if short(b) > short(a) || short(b) == short(a) && len(b) < len(a) {
		return b
	}
	return a
}

func exactInfo(set []string) info {
	set = dedupe(set)
	in := info{exact: set, hasExact: true}
	if nonEmpty(set) {
		in.req = set
	}
	return in
}

func dedupe(set []string) []string {
	slices.Sort(set)
	return slices.Compact(set)
}

func product(a, b []string) []string {
	if len(a)*len(b) > maxSet {
		return nil
	}
	var out []string
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return dedupe(out)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func analyze(re *syntax.Regexp) info {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if !isASCII(s) {
			return info{}
		}
		return exactInfo([]string{strings.ToLower(s)})
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= utf8.RuneSelf || int(hi-lo)+len(set) >= maxSet {
				return info{}
			}
			for r := lo; r <= hi; r++ {
				set = append(set, strings.ToLower(string(r)))
			}
		}
		if len(set) == 0 || len(set) > 16 {
			return info{}
		}
		return exactInfo(set)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactInfo([]string{""})
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpQuest:
		c := analyze(re.Sub[0])
		if c.hasExact && len(c.exact) < maxSet {
			return info{exact: dedupe(append(slices.Clone(c.exact), "")), hasExact: true}
		}
		return info{}
	case syntax.OpPlus:
		return info{req: analyze(re.Sub[0]).best()}
	case syntax.OpRepeat:
		c := analyze(re.Sub[0])
		if re.Min == 1 && re.Max == 1 {
			return c
		}
		if re.Min >= 1 {
			return info{req: c.best()}
		}
		return info{}
	case syntax.OpAlternate:
		var exact, req []string
		allExact, allReq := true, true
		for _, s := range re.Sub {
			c := analyze(s)
			if c.hasExact {
				exact = append(exact, c.exact...)
			} else {
				allExact = false
			}
			if b := c.best(); b != nil {
				req = append(req, b...)
			} else {
				allReq = false
			}
		}
		if allExact && len(exact) <= maxSet {
			return exactInfo(exact)
		}
		if allReq && len(req) <= maxSet {
			return info{req: dedupe(req)}
		}
		return info{}
	case syntax.OpConcat:
		cur := []string{""}
		allExact := true
		var best []string
		for _, s := range re.Sub {
			c := analyze(s)
			if c.hasExact {
				if p := product(cur, c.exact); p != nil {
					cur = p
					continue
				}
				best = better(best, cur)
				cur = c.exact
				allExact = false
				continue
			}
			allExact = false
			best = better(best, cur)
			best = better(best, c.req)
			cur = []string{""}
		}
		best = better(best, cur)
		if allExact {
			in := exactInfo(cur)
			in.req = best
			return in
		}
		return info{req: best}
	}
	return info{}
}

// mayDecode reports whether gitleaks' decoder could find an encoded segment
// in text; false only when it certainly finds none. Its expression (per
// codec/encodings.go) matches percent escapes, U+XXXX or \uXXXX escapes,
// runs of 32 or more hex digits, and runs of 16 or more [\w/+-] with up
// to two '='; a segment counts only when it decodes to something: base64
// and hex to printable ASCII (tab to '~'), a percent match when none of
// its %XX is a control byte. Without unicode escapes and long hex runs,
// every base64 match is a whole [\w/+-] run (a search starts at a run and
// a match ends at its end) or, after a percent match, the rest of the run
// it ended in; trying to decode each decides it. The regular expression
// itself costs more than the rest of the prefilter.
func mayDecode(text string) bool {
	runStart := -1
	hexRun := 0
	percent := false
	for i := 0; i <= len(text); i++ {
		c := byte(0)
		if i < len(text) {
			c = text[i]
		}
		if isHex(c) {
			if hexRun++; hexRun >= 32 {
				return true
			}
		} else {
			hexRun = 0
		}
		if c == '%' && percentAt(text, i) {
			percent = true
		}
		switch {
		case (c == 'u' || c == 'U') && i+1 < len(text) && text[i+1] == '+' && hex4(text, i+2):
			return true // U+XXXX
		case (c == 'u' || c == 'U') && i > 0 && text[i-1] == '\\' && hex4(text, i+1):
			return true // \uXXXX
		case isBase64Run(c) && i < len(text):
			if runStart < 0 {
				runStart = i
			}
		default:
			if runStart >= 0 && base64At(text, runStart, i) {
				return true
			}
			runStart = -1
		}
	}
	return percent && percentMayDecode(text)
}

// base64At reports that the [\w/+-] run text[start:end] (with up to two
// '=' after it) is a base64 match that decodes to printable ASCII.
func base64At(text string, start, end int) bool {
	if end-start < 16 {
		return false
	}
	for n := 0; n < 2 && end < len(text) && text[end] == '='; n++ {
		end++
	}
	return decodesPrintable(text[start:end])
}

// percentAt reports a %XX escape at text[i].
func percentAt(text string, i int) bool {
	return text[i] == '%' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2])
}

// percentMayDecode finds each percent match as gitleaks' expression
// %[0-9A-Fa-f]{2}(?:.*%[0-9A-Fa-f]{2})? does: nothing but a percent match
// can hold a '%', and '.' stops at a newline, so on each line it runs from
// the first %XX to the end of the last one. It reports a match that
// decodes to something (gitleaks' decodePercent: an escape that is a
// control byte empties it), or a base64 run resumed after one (gitleaks'
// overlap filter drops such a run today, as it touches the percent match;
// checking it keeps this test safe if that changes).
func percentMayDecode(text string) bool {
	for lineStart := 0; lineStart < len(text); {
		lineEnd := strings.IndexByte(text[lineStart:], '\n')
		if lineEnd < 0 {
			lineEnd = len(text)
		} else {
			lineEnd += lineStart
		}
		first := -1
		for i := lineStart; i < lineEnd; i++ {
			if percentAt(text, i) {
				first = i
				break
			}
		}
		if first >= 0 {
			end := first + 3
			for i := lineEnd - 1; i >= first+3; i-- {
				if percentAt(text, i) {
					end = i + 3
					break
				}
			}
			if percentPrintable(text[first:end]) {
				return true
			}
			k := end
			for k < len(text) && isBase64Run(text[k]) {
				k++
			}
			if base64At(text, end, k) {
				return true
			}
		}
		lineStart = lineEnd + 1
	}
	return false
}

// percentPrintable is gitleaks' decodePercent, reporting whether the
// result is non-empty: every %XX it decodes must be printable ASCII.
func percentPrintable(s string) bool {
	for i := 0; i < len(s); {
		if percentAt(s, i) {
			if b := unhex(s[i+1])<<4 | unhex(s[i+2]); b <= 0x08 || b >= 0x7f {
				return false
			}
			i += 3
			continue
		}
		i++
	}
	return len(s) > 0
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// hex4 reports four hex digits at text[i:].
func hex4(text string, i int) bool {
	return i+4 <= len(text) && isHex(text[i]) && isHex(text[i+1]) && isHex(text[i+2]) && isHex(text[i+3])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isBase64Run(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
		c == '_' || c == '/' || c == '+' || c == '-'
}

func decodesPrintable(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 && printable(b) {
			return true
		}
	}
	return false
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < '\t' || c > '~' {
			return false
		}
	}
	return true
}
