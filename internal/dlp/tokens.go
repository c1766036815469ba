package dlp

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/zricethezav/gitleaks/v8/config"
)

// tokenMatch is one gitleaks rule match that passed the rule's entropy and
// allowlist checks. Offsets are into the scanned text.
type tokenMatch struct {
	Rule             int32
	Start, End       int // the whole match
	SecStart, SecEnd int // the secret group (the part to redact)
}

// findTokens runs the rules whose keywords hit (kwHits: pattern ids are
// keyword indexes) on text and returns the matches.
func (rs *ruleSet) findTokens(text []byte, kwHits []acHit) ([]tokenMatch, error) {
	if len(kwHits) == 0 {
		return nil, nil
	}
	// Every regex run is paid for; text built to wake rules everywhere
	// would otherwise cost seconds a megabyte.
	budget := regexBudget(len(text))
	spend := func() bool {
		budget--
		return budget >= 0
	}
	type window struct{ lo, hi int }
	var (
		out     []tokenMatch
		segment = map[int32]bool{}
		windows = map[int32][]window{}
		anchors = map[int32][]int{}
	)
	var present []bool // keyword ids seen, for gated rules
	for _, h := range kwHits {
		kwStart := h.End - len(rs.keywords[h.Pattern])
		for _, ri := range rs.kwRules[h.Pattern] {
			r := &rs.rules[ri]
			if r.gated {
				if present == nil {
					present = make([]bool, len(rs.keywords))
					for _, h := range kwHits {
						present[h.Pattern] = true
					}
				}
				if !slices.ContainsFunc(r.gates, func(g int32) bool { return present[g] }) {
					continue
				}
			}
			switch r.mode {
			case modeSegment:
				segment[ri] = true
			case modeWindow:
				windows[ri] = append(windows[ri], window{max(0, h.End-r.window-1), min(len(text), kwStart+r.window+1)})
			case modeAnchored:
				if r.assign && !assignNear(text, h.End, r.assignLook) {
					continue
				}
				for _, p := range r.prefixes[h.Pattern] {
					cs := kwStart - p.Offset
					if cs >= 0 && cs+len(p.Prefix) <= len(text) && asciiFoldEqual(text[cs:cs+len(p.Prefix)], p.Prefix) {
						anchors[ri] = append(anchors[ri], cs)
					}
				}
			}
		}
	}
	for ri := range segment {
		if !spend() {
			return nil, errTooComplex
		}
		for _, m := range rs.rules[ri].rule.Regex.FindAllSubmatchIndex(text, -1) {
			if tm, ok := rs.accept(ri, text, 0, m); ok {
				out = append(out, tm)
			}
		}
	}
	for ri, ws := range windows {
		slices.SortFunc(ws, func(a, b window) int { return a.lo - b.lo })
		merged := ws[:1]
		for _, w := range ws[1:] {
			last := &merged[len(merged)-1]
			if w.lo <= last.hi {
				last.hi = max(last.hi, w.hi)
			} else {
				merged = append(merged, w)
			}
		}
		for _, w := range merged {
			if !spend() {
				return nil, errTooComplex
			}
			for _, m := range rs.rules[ri].rule.Regex.FindAllSubmatchIndex(text[w.lo:w.hi], -1) {
				// A match touching a cut edge may rely on the cut (\b, $):
				// every real match lies strictly inside the window.
				if (m[0] == 0 && w.lo > 0) || (m[1] == w.hi-w.lo && w.hi < len(text)) {
					continue
				}
				if tm, ok := rs.accept(ri, text, w.lo, m); ok {
					out = append(out, tm)
				}
			}
		}
	}
	for ri, starts := range anchors {
		r := &rs.rules[ri]
		slices.Sort(starts)
		next := 0
		// [quietFrom, quietTo) is known to hold none of the rule's tail
		// factors: a later look that overlaps it rescans only the rest.
		quietFrom, quietTo := 0, 0
		for _, cs := range slices.Compact(starts) {
			if cs < next {
				continue
			}
			if r.wordBoundary && !isWordBoundary(text, cs) {
				continue
			}
			// An unbounded rule (curl ... -H) first gets a bounded look:
			// its .*? would otherwise walk the rest of a one-line JSON body
			// for every hit.
			// A bounded rule looks one byte past its longest match; a match
			// ending at that cut leans on it ($) and is not real.
			end := min(len(text), cs+r.window+1)
			if r.window < 0 {
				end = min(len(text), cs+lookFor(r.rule.RuleID))
			}
			if !spend() {
				return nil, errTooComplex
			}
			if r.tail != nil {
				from := cs
				if quietFrom <= cs && cs < quietTo {
					from = max(cs, quietTo-r.tail.maxLen+1)
				}
				if !r.tail.contains(text[from:end]) {
					quietFrom, quietTo = cs, end
					continue
				}
			}
			m := r.anchored.FindSubmatchIndex(text[cs:end])
			if m != nil && end < len(text) && cs+m[1] == end {
				m = nil
				if r.window < 0 {
					m = r.anchored.FindSubmatchIndex(text[cs:])
				}
			}
			if m == nil {
				continue
			}
			if tm, ok := rs.accept(ri, text, cs, m); ok {
				out = append(out, tm)
				next = tm.End
			}
		}
	}
	slices.SortFunc(out, func(a, b tokenMatch) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return int(a.Rule - b.Rule)
	})
	return out, nil
}

// regexBudget is how many rule runs a text of n bytes may cost: far above
// what real traffic needs (a 64 KiB chat body dense with keywords uses a
// few hundred), far below what a body built of keywords would.
func regexBudget(n int) int { return 1000 + n/32 }

// maxHits bounds the automaton hits kept for a text of n bytes (memory).
func maxHits(n int) int { return 4 * regexBudget(n) }

// errTooComplex: refuse rather than spend unbounded time.
var errTooComplex = fmt.Errorf("%w: too many candidate secrets to check", ErrTooLarge)

// anchoredLook bounds how far an unbounded anchored rule looks past its
// keyword. A curl command whose -H comes more than this after "curl" is
// not matched by the curl rules (the token in it still is, by its own rule
// or by known_secrets).
const anchoredLook = 512

// pemLook: a PEM private key runs to several KiB (an RSA-4096 key is
// about 3.3 KiB), so its rule looks that far for the END line.
const pemLook = 16 << 10

func lookFor(id string) int {
	if id == "private-key" {
		return pemLook
	}
	return anchoredLook
}

func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

func isWordBoundary(text []byte, i int) bool {
	before := i > 0 && isWordByte(text[i-1])
	after := i < len(text) && isWordByte(text[i])
	return before != after
}

func asciiFoldEqual(b []byte, lower string) bool {
	for i := range b {
		if foldByte(b[i]) != lower[i] {
			return false
		}
	}
	return true
}

// keepHeuristics are the rules whose shape alone fires on ordinary
// prose or code, so gitleaks' entropy floor and allowlists still apply
// (measured on the clean corpus: TestFalsePositivesOnCleanTraffic and
// the benign half of testdata/outbound). docs/dlp.md lists why for each.
var keepHeuristics = map[string]bool{}

// accept applies gitleaks' per-finding checks (secret group, entropy,
// allowlists) to a match m found at base in text. The "gitleaks:allow"
// comment is deliberately not honoured: the agent writes the traffic.
func (rs *ruleSet) accept(ri int32, text []byte, base int, m []int) (tokenMatch, bool) {
	r := rs.rules[ri].rule
	start, end := base+m[0], base+m[1]
	// gitleaks trims newlines from the match.
	for end > start && text[end-1] == '\n' {
		end--
	}
	for start < end && text[start] == '\n' {
		start++
	}
	tm := tokenMatch{Rule: ri, Start: start, End: end, SecStart: start, SecEnd: end}
	groups := len(m) / 2
	if groups >= 2 {
		pick := -1
		if r.SecretGroup > 0 {
			if r.SecretGroup >= groups {
				return tm, false
			}
			pick = r.SecretGroup
		} else {
			for g := 1; g < groups; g++ {
				if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
					pick = g
					break
				}
			}
		}
		if pick > 0 && m[2*pick] >= 0 {
			tm.SecStart, tm.SecEnd = base+m[2*pick], base+m[2*pick+1]
		}
	}
	secret := string(text[tm.SecStart:tm.SecEnd])
	// Egress mode: the agent chooses what it sends, so a value of the
	// rule's shape is a finding even where gitleaks' code-scanning
	// heuristics (entropy floors, allowlists, stopwords) would excuse it
	// as a placeholder. Only the rules in keepHeuristics keep them.
	if !keepHeuristics[r.RuleID] {
		return tm, true
	}
	if r.Entropy != 0 && shannonEntropy(secret) <= r.Entropy {
		return tm, false
	}
	match := string(text[start:end])
	lineStart := bytes.LastIndexByte(text[:start], '\n') + 1
	lineEnd := bytes.IndexByte(text[end:], '\n')
	if lineEnd < 0 {
		lineEnd = len(text)
	} else {
		lineEnd += end
	}
	line := string(text[lineStart:lineEnd])
	if allowed(rs.global, secret, match, line) || allowed(r.Allowlists, secret, match, line) {
		return tm, false
	}
	return tm, true
}

// allowed mirrors gitleaks' checkFindingAllowed for a finding with no
// commit and no path.
func allowed(lists []*config.Allowlist, secret, match, line string) bool {
	for _, a := range lists {
		target := secret
		switch a.RegexTarget {
		case "match":
			target = match
		case "line":
			target = line
		}
		regexOK := a.RegexAllowed(target)
		stopOK, _ := a.ContainsStopWord(secret)
		if a.MatchCondition == config.AllowlistMatchAnd {
			if len(a.Commits) > 0 || len(a.Paths) > 0 {
				continue // needs a commit or path we never have
			}
			ok := len(a.Regexes) > 0 || len(a.StopWords) > 0
			if len(a.Regexes) > 0 && !regexOK {
				ok = false
			}
			if len(a.StopWords) > 0 && !stopOK {
				ok = false
			}
			if ok {
				return true
			}
		} else if regexOK || stopOK {
			return true
		}
	}
	return false
}

// shannonEntropy is gitleaks' measure: bits per rune over the rune counts
// (divided by the byte length, as gitleaks does).
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var ascii [128]int
	var other map[rune]int
	for _, c := range s {
		if c < 128 {
			ascii[c]++
			continue
		}
		if other == nil {
			other = map[rune]int{}
		}
		other[c]++
	}
	e := 0.0
	inv := 1 / float64(len(s))
	add := func(n int) {
		if n > 0 {
			f := float64(n) * inv
			e -= f * math.Log2(f)
		}
	}
	for _, n := range ascii {
		add(n)
	}
	for _, n := range other {
		add(n)
	}
	return e
}
