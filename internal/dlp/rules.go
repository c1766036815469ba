package dlp

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// excludedRules are default gitleaks rules left out of token_patterns:
// they fire on ordinary prompt text and code (measured: see
// TestFalsePositivesOnCleanTraffic), or they need a file path to mean
// anything.
var excludedRules = map[string]string{
	"generic-api-key":          "keyword-plus-value on words like key, token, secret: fires on prose and code",
	"sourcegraph-access-token": "any 40-hex string (every git commit id) once 'sourcegraph' appears",
}

// How a rule is run once one of its keywords is seen.
type ruleMode int

const (
	// modeSegment: run the regex over the whole segment (gitleaks'
	// semantics), for rules whose matches need not contain a keyword.
	modeSegment ruleMode = iota
	// modeWindow: every match contains a keyword and is at most window
	// bytes long, so run the regex only around each keyword hit.
	modeWindow
	// modeAnchored: every match starts with one of prefixes, each
	// containing a keyword, so try the anchored regex at the one place a
	// match could start.
	modeAnchored
)

// tokenRule is one gitleaks rule, prepared for matching near keyword hits.
type tokenRule struct {
	rule   *config.Rule
	mode   ruleMode
	window int // max match length (-1: unbounded)
	// modeAnchored: the regex wrapped as ^(?:re) with a leading \b
	// removed (checked by hand: a slice start is not a word boundary).
	anchored     *regexp.Regexp
	wordBoundary bool
	// prefixes[kw] lists where keyword kw sits inside the prefixes.
	prefixes map[int32][]prefixAt
	// assign: the rule is gitleaks' keyword-then-assignment template, so
	// a match needs an assignment operator soon after the keyword.
	assign     bool
	assignLook int
	// gated: anchors are not the rule's keywords; one of gates (keyword
	// ids) must also occur in the segment.
	gated bool
	gates []int32
	// tail, for unbounded anchored rules: one of these must follow the
	// prefix before the regex is worth running.
	tail *acMatcher
}

// prefixAt: a match may start at (keyword start - Offset) and then begins
// with Prefix (ASCII case-insensitive).
type prefixAt struct {
	Prefix string
	Offset int
}

// ruleSet is the compiled token_patterns detector. Immutable once built.
type ruleSet struct {
	rules    []tokenRule
	keywords []string  // lowercased, unique
	kwRules  [][]int32 // keyword index -> rules
	global   []*config.Allowlist
	skipped  map[string]string
}

// gitleaksConfig parses gitleaks' embedded default config with a private
// viper instance (the package-level one is shared mutable state).
func gitleaksConfig() (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return config.Config{}, fmt.Errorf("reading gitleaks default config: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("decoding gitleaks default config: %w", err)
	}
	c, err := vc.Translate()
	if err != nil {
		return config.Config{}, fmt.Errorf("translating gitleaks default config: %w", err)
	}
	return c, nil
}

// defaultRules is built once: parsing and analysing ~200 regexes takes
// tens of milliseconds and the result is read-only.
var defaultRules = sync.OnceValues(func() (*ruleSet, error) {
	c, err := gitleaksConfig()
	if err != nil {
		return nil, err
	}
	return buildRuleSet(c, excludedRules)
})

// gitleaksEnd is the terminator 150-odd gitleaks rules end with;
// egressEnd is the one used instead.
const (
	gitleaksEnd = "(?:[\\x60'\"\\s;]|\\\\[nr]|$)"
	egressEnd   = "(?:[^0-9A-Za-z]|$)"
)

// keepEnd: rules whose short body reads as code ("s." and 24 letters is
// a method call) keep gitleaks' terminator (TestFalsePositivesOnCleanTraffic).
var keepEnd = map[string]bool{"vault-service-token": true}

func buildRuleSet(c config.Config, exclude map[string]string) (*ruleSet, error) {
	rs := &ruleSet{global: c.Allowlists, skipped: map[string]string{}}
	ids := make([]string, 0, len(c.Rules))
	for id := range c.Rules {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	kwIndex := map[string]int32{}
	for _, id := range ids {
		r := c.Rules[id]
		switch {
		case exclude[id] != "":
			rs.skipped[id] = exclude[id]
			continue
		case r.Regex == nil:
			rs.skipped[id] = "path-only rule"
			continue
		case r.Path != nil:
			rs.skipped[id] = "needs a file path"
			continue
		case len(r.Keywords) == 0:
			rs.skipped[id] = "no keywords: would run on every byte"
			continue
		case r.SkipReport:
			rs.skipped[id] = "auxiliary rule"
			continue
		}
		if src := r.Regex.String(); strings.Contains(src, gitleaksEnd) && !keepEnd[id] {
			// Egress mode: gitleaks ends a token at a quote, space or ';'
			// (how code spells it); in a request it also ends at '/', '=',
			// '<', '.' (a path, a query key, XML, a file name).
			r.Regex = regexp.MustCompile(strings.ReplaceAll(src, gitleaksEnd, egressEnd))
		}
		re, err := syntax.Parse(r.Regex.String(), syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("parsing gitleaks rule %s: %w", id, err)
		}
		kws := make([]string, 0, len(r.Keywords))
		for _, k := range r.Keywords {
			kws = append(kws, strings.ToLower(k))
		}
		tr := tokenRule{rule: &r}
		intern := func(k string) int32 {
			ki, ok := kwIndex[k]
			if !ok {
				ki = int32(len(rs.keywords))
				kwIndex[k] = ki
				rs.keywords = append(rs.keywords, k)
				rs.kwRules = append(rs.kwRules, nil)
			}
			return ki
		}
		kwIDs := make([]int32, len(kws))
		for i, k := range kws {
			kwIDs[i] = intern(k)
		}
		re = flattenConcat(re)
		body, wb := stripLeadingWordBoundary(re)
		if !wb {
			body = stripLeadingNullable(body)
		}
		// anchors are the strings whose hits say where a match may be: the
		// keywords when every match contains one, else (gated: a keyword
		// must still appear somewhere, as in gitleaks) literal factors
		// every match contains.
		anchors := kws
		pf := prefixFactors(body)
		f := requiredFactors(re)
		switch {
		case pf != nil && allContainKeyword(pf, kws):
			tr.mode = modeAnchored
		case pf != nil && minFactorLen(pf) >= minAnchorLen:
			tr.mode, tr.gated, anchors = modeAnchored, true, pf
		case f != nil && maxLen(re) >= 0 && allContainKeyword(f, kws):
			tr.mode, tr.window = modeWindow, maxLen(re)
		case f != nil && maxLen(re) >= 0 && minFactorLen(f) >= minAnchorLen:
			tr.mode, tr.window, tr.gated, anchors = modeWindow, maxLen(re), true, f
		}
		anchorIDs := make([]int32, len(anchors))
		for i, a := range anchors {
			anchorIDs[i] = intern(a)
		}
		if tr.gated {
			tr.gates = kwIDs
		}
		if tr.mode == modeAnchored {
			anch, err := regexp.Compile(`^(?:` + body.String() + `)`)
			if err != nil {
				return nil, fmt.Errorf("compiling anchored gitleaks rule %s: %w", id, err)
			}
			tr.anchored, tr.wordBoundary = anch, wb
			tr.window = maxLen(body)
			if tr.window < 0 && body.Op == syntax.OpConcat && len(body.Sub) > 1 {
				rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: body.Sub[1:], Flags: body.Flags}
				if tf := requiredFactors(rest); tf != nil {
					tr.tail = newACMatcher(tf)
				}
			}
			tr.prefixes = map[int32][]prefixAt{}
			for i, k := range anchors {
				for _, p := range pf {
					for off := 0; off+len(k) <= len(p); off++ {
						if p[off:off+len(k)] == k {
							tr.prefixes[anchorIDs[i]] = append(tr.prefixes[anchorIDs[i]], prefixAt{Prefix: p, Offset: off})
						}
					}
				}
			}
		}
		kwIDs = anchorIDs
		kws = anchors
		if src := r.Regex.String(); strings.Contains(src, assignTemplate) || strings.Contains(src, assignTemplateClosed) {
			// The operator comes within the filler (20+3) after the keyword
			// group, which may be longer than the shortest keyword.
			if pre := keywordGroupLen(body); pre >= 0 && tr.mode == modeAnchored {
				kmin := len(slices.MinFunc(kws, func(a, b string) int { return len(a) - len(b) }))
				tr.assign, tr.assignLook = true, max(0, pre-kmin)+24
			}
		}
		ri := int32(len(rs.rules))
		rs.rules = append(rs.rules, tr)
		for _, ki := range kwIDs {
			if !slices.Contains(rs.kwRules[ki], ri) {
				rs.kwRules[ki] = append(rs.kwRules[ki], ri)
			}
		}
	}
	return rs, nil
}

// flattenConcat splices nested concatenations ((?i:...) groups) into one.
func flattenConcat(re *syntax.Regexp) *syntax.Regexp {
	if re.Op != syntax.OpConcat {
		if re.Op == syntax.OpCapture {
			c := *re
			c.Sub = []*syntax.Regexp{flattenConcat(re.Sub[0])}
			return &c
		}
		return re
	}
	c := *re
	c.Sub = nil
	for _, s := range re.Sub {
		s = flattenConcat(s)
		if s.Op == syntax.OpConcat {
			c.Sub = append(c.Sub, s.Sub...)
		} else {
			c.Sub = append(c.Sub, s)
		}
	}
	return &c
}

// nullable: re matches the empty string at any position.
func nullable(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return re.Min == 0 || nullable(re.Sub[0])
	case syntax.OpCapture:
		return nullable(re.Sub[0])
	case syntax.OpConcat:
		return all(re.Sub, nullable)
	case syntax.OpAlternate:
		return slices.ContainsFunc(re.Sub, nullable)
	}
	return false
}

func all(subs []*syntax.Regexp, f func(*syntax.Regexp) bool) bool {
	return !slices.ContainsFunc(subs, func(s *syntax.Regexp) bool { return !f(s) })
}

func hasCapture(re *syntax.Regexp) bool {
	if re.Op == syntax.OpCapture {
		return true
	}
	return slices.ContainsFunc(re.Sub, hasCapture)
}

// stripLeadingNullable drops leading parts that may match nothing and
// capture nothing (like gitleaks' [\w.-]{0,50}? before a keyword): a match
// of the rest is a match of the whole, starting a little later.
func stripLeadingNullable(re *syntax.Regexp) *syntax.Regexp {
	if re.Op == syntax.OpAlternate {
		c := *re
		c.Sub = make([]*syntax.Regexp, len(re.Sub))
		for i, s := range re.Sub {
			c.Sub[i] = stripLeadingNullable(flattenConcat(s))
		}
		return &c
	}
	if re.Op != syntax.OpConcat {
		return re
	}
	i := 0
	for i < len(re.Sub)-1 && nullable(re.Sub[i]) && !hasCapture(re.Sub[i]) {
		i++
	}
	if i == 0 {
		return re
	}
	c := *re
	c.Sub = slices.Clone(re.Sub[i:])
	return &c
}

// stripLeadingWordBoundary removes a \b that starts every match.
func stripLeadingWordBoundary(re *syntax.Regexp) (*syntax.Regexp, bool) {
	if re.Op == syntax.OpWordBoundary {
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}, true
	}
	if re.Op == syntax.OpConcat && len(re.Sub) > 0 && re.Sub[0].Op == syntax.OpWordBoundary {
		c := *re
		c.Sub = slices.Clone(re.Sub[1:])
		return &c, true
	}
	return re, false
}

// prefixFactors returns lowercased strings one of which starts every match
// of re, or nil if it cannot tell.
func prefixFactors(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral, syntax.OpCharClass:
		return requiredFactors(re)
	case syntax.OpCapture, syntax.OpPlus:
		return prefixFactors(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return prefixFactors(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			f := prefixFactors(s)
			if f == nil {
				return nil
			}
			out = append(out, f...)
		}
		if len(out) <= maxFactors {
			return dedupe(out)
		}
	case syntax.OpConcat:
		if len(re.Sub) > 1 && re.Sub[0].Op == syntax.OpWordBoundary {
			// Inside an alternation a leading \b stays in the regex, where a
			// slice start counts as a boundary: at worst a rare extra match.
			rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[1:], Flags: re.Flags}
			return prefixFactors(rest)
		}
		if len(re.Sub) == 0 {
			return nil
		}
		first := prefixFactors(re.Sub[0])
		if first == nil || !isExact(re.Sub[0]) || len(re.Sub) == 1 {
			return first
		}
		rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[1:], Flags: re.Flags}
		next := prefixFactors(rest)
		if next == nil || len(first)*len(next) > maxFactors {
			return first
		}
		var out []string
		for _, a := range first {
			for _, b := range next {
				out = append(out, a+b)
			}
		}
		return dedupe(out)
	}
	return nil
}

// assignTemplate is how gitleaks' semi-generic rules (keyword, then an
// assignment, then the value) join keyword and value.
const (
	assignTemplate = `(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`
	// the same with a group closing before the operator
	assignTemplateClosed = `(?:[ \t\w.-]{0,20})[\s'"]{0,3})(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`
)

// assignNear is a necessary condition for assignTemplate after a keyword
// ending at end: the first byte after it that can be neither part of a
// keyword nor of the template's filler must start an operator. (Bytes of
// 0x80 and up pass: (?i)\w also matches K and ſ.)
func assignNear(text []byte, end, look int) bool {
	for i := end; i < len(text) && i < end+look; i++ {
		c := text[i]
		switch {
		case isWordByte(c), c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f',
			c == '.', c == '-', c == '\'', c == '"', c >= 0x80:
			continue
		case c == '=', c == '>', c == ':', c == '|', c == '?', c == ',':
			return true
		}
		return false
	}
	return false
}

// keywordGroupLen is the longest the part of body before the template's
// filler can be, or -1 if the filler is not found.
func keywordGroupLen(body *syntax.Regexp) int {
	if body.Op != syntax.OpConcat {
		return -1
	}
	fillers := map[string]bool{}
	for _, f := range []syntax.Flags{syntax.Perl, syntax.Perl | syntax.FoldCase} {
		if re, err := syntax.Parse(`[ \t\w.-]{0,20}`, f); err == nil {
			fillers[re.String()] = true
		}
	}
	n := 0
	for _, s := range body.Sub {
		if fillers[s.String()] {
			return n
		}
		l := asciiMaxLen(s)
		if l < 0 {
			return -1
		}
		n += l
	}
	return -1
}

// asciiMaxLen is maxLen counting a case-folded letter as one byte: the
// keyword automaton only finds ASCII spellings anyway.
func asciiMaxLen(re *syntax.Regexp) int {
	if re.Op == syntax.OpLiteral {
		return len(string(re.Rune))
	}
	if re.Op == syntax.OpCharClass {
		return 1
	}
	c := *re
	c.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, s := range re.Sub {
		if s.Op == syntax.OpLiteral {
			c.Sub[i] = &syntax.Regexp{Op: syntax.OpRepeat, Min: len(string(s.Rune)), Max: len(string(s.Rune)), Sub: []*syntax.Regexp{{Op: syntax.OpCharClass, Rune: []rune{'a', 'a'}}}}
		} else {
			c.Sub[i] = s
		}
	}
	switch re.Op {
	case syntax.OpConcat, syntax.OpAlternate, syntax.OpCapture:
		n := 0
		for _, s := range re.Sub {
			l := asciiMaxLen(s)
			if l < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				n += l
			} else {
				n = max(n, l)
			}
		}
		return n
	}
	return maxLen(&c)
}

// minAnchorLen: shorter factors would hit too often to locate anything.
const minAnchorLen = 3

func minFactorLen(fs []string) int {
	m := math.MaxInt
	for _, f := range fs {
		m = min(m, len(f))
	}
	return m
}

func allContainKeyword(factors, kws []string) bool {
	for _, f := range factors {
		if !slices.ContainsFunc(kws, func(k string) bool { return strings.Contains(f, k) }) {
			return false
		}
	}
	return true
}

const maxFactors = 64

// requiredFactors returns lowercased strings such that every match of re
// contains at least one of them, or nil if it cannot tell.
func requiredFactors(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}
	case syntax.OpCapture:
		return requiredFactors(re.Sub[0])
	case syntax.OpPlus:
		return requiredFactors(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredFactors(re.Sub[0])
		}
		return nil
	case syntax.OpCharClass:
		// A small class of single characters (like [ar]) is a set of
		// one-character factors.
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] > 8 {
				return nil
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				out = append(out, strings.ToLower(string(r)))
			}
		}
		return dedupe(out)
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			f := requiredFactors(s)
			if f == nil {
				return nil
			}
			out = append(out, f...)
		}
		if len(out) > maxFactors {
			return nil
		}
		return dedupe(out)
	case syntax.OpConcat:
		// Concatenate adjacent child factor sets into longer strings
		// (cross product) while they stay small; pick the best run.
		var best, cur []string
		score := func(fs []string) int {
			if fs == nil {
				return -1
			}
			m := math.MaxInt
			for _, f := range fs {
				m = min(m, len(f))
			}
			return m
		}
		for _, s := range re.Sub {
			f := requiredFactors(s)
			if f == nil && cur != nil {
				// An exact run followed by s: the run plus what starts s.
				if pf := prefixFactors(s); pf != nil && len(cur)*len(pf) <= maxFactors {
					var next []string
					for _, a := range cur {
						for _, b := range pf {
							next = append(next, a+b)
						}
					}
					if score(next) > score(best) {
						best = next
					}
				}
			}
			if f != nil && isExact(s) && cur != nil && len(cur)*len(f) <= maxFactors {
				var next []string
				for _, a := range cur {
					for _, b := range f {
						next = append(next, a+b)
					}
				}
				cur = next
			} else if f != nil && isExact(s) {
				cur = f
			} else {
				if score(cur) > score(best) {
					best = cur
				}
				cur = nil
				if score(f) > score(best) {
					best = f
				}
			}
		}
		if score(cur) > score(best) {
			best = cur
		}
		return best
	}
	return nil
}

// isExact reports whether re matches exactly one of its requiredFactors
// (so adjacent factors may be concatenated).
func isExact(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return true
	case syntax.OpCapture:
		return isExact(re.Sub[0])
	case syntax.OpCharClass:
		return requiredFactors(re) != nil
	case syntax.OpAlternate, syntax.OpConcat:
		return all(re.Sub, isExact)
	}
	return false
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// maxLen is the longest match of re in bytes, or -1 if unbounded.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				n += 3 // a folded letter may match a multi-byte rune (K, ſ)
			} else {
				n += len(string(r))
			}
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		return len(string(re.Rune[len(re.Rune)-1]))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 4
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return -1
	case syntax.OpRepeat:
		if re.Max < 0 {
			return -1
		}
		l := maxLen(re.Sub[0])
		if l < 0 {
			return -1
		}
		return l * re.Max
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			l := maxLen(s)
			if l < 0 {
				return -1
			}
			n += l
		}
		return n
	case syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			l := maxLen(s)
			if l < 0 {
				return -1
			}
			n = max(n, l)
		}
		return n
	}
	return -1
}
