package dlp

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

var update = flag.Bool("update", false, "regenerate testdata")

const vectorsFile = "testdata/token_vectors.json"

// genMatch appends a random string matching re.
func genMatch(re *syntax.Regexp, r *rand.Rand, b []byte) []byte {
	reps := func(lo, hi int) int {
		if hi < 0 {
			hi = lo + 8
		}
		if re.Flags&syntax.NonGreedy != 0 {
			hi = min(hi, lo+2)
		}
		return lo + r.IntN(hi-lo+1)
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			b = utf8.AppendRune(b, c)
		}
	case syntax.OpCharClass:
		b = utf8.AppendRune(b, pickRune(re.Rune, r))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b = append(b, "abcdefghijklmnopqrstuvwxyz0123456789"[r.IntN(36)])
	case syntax.OpCapture:
		b = genMatch(re.Sub[0], r, b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			b = genMatch(s, r, b)
		}
	case syntax.OpAlternate:
		b = genMatch(re.Sub[r.IntN(len(re.Sub))], r, b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, -1
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
		}
		for range reps(lo, hi) {
			b = genMatch(re.Sub[0], r, b)
		}
	}
	return b
}

// pickRune picks from a char class, preferring printable ASCII.
func pickRune(ranges []rune, r *rand.Rand) rune {
	var ascii []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for c := max(ranges[i], 0x21); c <= min(ranges[i+1], 0x7e); c++ {
			ascii = append(ascii, c)
		}
	}
	if len(ascii) > 0 {
		return ascii[r.IntN(len(ascii))]
	}
	i := 2 * r.IntN(len(ranges)/2)
	return ranges[i] + rune(r.IntN(int(ranges[i+1]-ranges[i]+1)))
}

// oracle answers with gitleaks itself, one single-rule detector per rule.
type oracle struct {
	c  config.Config
	ds map[string]*detect.Detector
}

// finds reports whether gitleaks, with only rule id, reports id in text.
func (o *oracle) finds(id, text string) bool {
	d, ok := o.ds[id]
	if !ok {
		one := o.c
		one.Rules = map[string]config.Rule{id: o.c.Rules[id]}
		one.Keywords = map[string]struct{}{}
		for _, k := range o.c.Rules[id].Keywords {
			one.Keywords[strings.ToLower(k)] = struct{}{}
		}
		d = detect.NewDetector(one)
		o.ds[id] = d
	}
	for _, f := range d.DetectString(text) {
		if f.RuleID == id {
			return true
		}
	}
	return false
}

func generateVectors(t *testing.T, rs *ruleSet, gl *oracle) map[string][]string {
	out := map[string][]string{}
	for _, tr := range rs.rules {
		id := tr.rule.RuleID
		re, err := syntax.Parse(tr.rule.Regex.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(len(id)), 42))
		for try := 0; try < 400 && len(out[id]) < 3; try++ {
			v := string(genMatch(re, r, nil))
			if !utf8.ValidString(v) {
				continue
			}
			if !gl.finds(id, "x "+v+" x") {
				// Rules whose keyword need not be in the match: say it.
				v = tr.rule.Keywords[0] + " " + v
				if !gl.finds(id, "x "+v+" x") {
					continue
				}
			}
			out[id] = append(out[id], v)
		}
	}
	return out
}

func loadVectors(t *testing.T) map[string][]string {
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string][]string
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTokenVectors: for every selected gitleaks rule, strings that gitleaks
// itself reports (generated from the rule's regex, kept in testdata) must
// be reported by our detector, under that rule, in several wrappings.
func TestTokenVectors(t *testing.T) {
	rs, err := defaultRules()
	if err != nil {
		t.Fatal(err)
	}
	c, err := gitleaksConfig()
	if err != nil {
		t.Fatal(err)
	}
	gl := &oracle{c: c, ds: map[string]*detect.Detector{}}
	if *update {
		v := generateVectors(t, rs, gl)
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vectors := loadVectors(t)
	o, err := NewOutbound(OutboundConfig{Detectors: []string{DetectorTokenPatterns}})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, tr := range rs.rules {
		id := tr.rule.RuleID
		vs := vectors[id]
		if len(vs) == 0 {
			missing = append(missing, id)
			continue
		}
		for _, v := range vs {
			if !gl.finds(id, "x "+v+" x") {
				t.Errorf("%s: gitleaks no longer finds vector %q", id, v)
				continue
			}
			checked := 0
			filler := strings.Repeat("Please refactor the handler so it retries. ", 8)
			for _, wrap := range []string{
				"%s",
				"x %s x",
				filler + "\n%s\n" + filler,
				`{"messages":[{"role":"user","content":"here: %s"}]}`,
			} {
				body := strings.Replace(wrap, "%s", v, 1)
				if !gl.finds(id, body) {
					continue // not a finding by gitleaks' definition either
				}
				checked++
				res, err := o.Scan(Request{Method: "POST", Body: []byte(body)})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(res.Findings, func(f Finding) bool { return f.Rule == id }) {
					t.Errorf("%s (%v): not found in %.80q; got %v", id, tr.mode, body, res.Findings)
				}
				for _, f := range res.Findings {
					if strings.Contains(f.Redacted, v) || f.Fingerprint == "" {
						t.Errorf("%s: finding shows the value or has no fingerprint: %+v", id, f)
					}
				}
			}
			if checked == 0 {
				t.Errorf("%s: vector %q found by gitleaks in no wrapping", id, v)
			}
		}
	}
	if len(missing) > 0 {
		t.Logf("rules without a generated vector (%d): %v", len(missing), missing)
	}
	if len(missing) > len(rs.rules)/10 {
		t.Errorf("too many rules without vectors: %d", len(missing))
	}
}
