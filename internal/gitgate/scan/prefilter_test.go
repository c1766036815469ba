package scan

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/detect/codec"
	"github.com/zricethezav/gitleaks/v8/report"
)

// tokenVectors reads internal/dlp's generated vectors: strings gitleaks
// itself reports, per rule.
func tokenVectors(t testing.TB) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../dlp/testdata/token_vectors.json")
	if err != nil {
		t.Fatalf("reading token vectors: %v", err)
	}
	var v map[string][]string
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// vectorLines embeds every vector in code-like lines, plain and encoded,
// plus generic keyword-and-value lines (generic-api-key) and near misses.
func vectorLines(t testing.TB) []string {
	t.Helper()
	v := tokenVectors(t)
	ids := make([]string, 0, len(v))
	for id := range v {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []string
	for _, id := range ids {
		for i, s := range v[id] {
			name := strings.ReplaceAll(id, "-", "_")
			out = append(out,
				s,
				fmt.Sprintf("\t%s%d := %q", name, i, s),
				fmt.Sprintf("export %s_TOKEN=%s", strings.ToUpper(name), s),
				fmt.Sprintf("%s: '%s' # config", name, s),
				fmt.Sprintf("curl -H 'Authorization: Bearer %s' https://example.com", s),
				base64.StdEncoding.EncodeToString([]byte(name+" = "+s)),
				hex.EncodeToString([]byte("key="+s)),
				url.QueryEscape("token="+s),
				// A cut vector: near misses must not matter either way.
				s[:len(s)/2],
			)
		}
	}
	out = append(out,
		`password = "Xk9vQ2mZ7pL4wR8tNb3"`,
		`api_key: "a8F3kLm9Qz2Rt7Vw4Xy1Bc6Dn5Ej0Hs"`,
		`	ClientSecret: "q9W8e7R6t5Y4u3I2o1P0aSdFgHjK",`,
		`aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8a3kT9mL`,
		"auth_token=\"dGhpcyBpcyBub3QgYSByZWFsIHRva2VuIGF0IGFsbA==\"",
		`ACCESS_KEY=ZmFrZV9rZXlfZm9yX3Rlc3RzX29ubHlfMTIzNDU2Nzg`,
		`secret := "tok_live_9aK2mQ7zX4vL8pR3nW6y"`,
		"const token = \""+secret+"\"",
		base64.StdEncoding.EncodeToString([]byte(base64.StdEncoding.EncodeToString([]byte("token: "+secret)))),
		`password = "changeme"`, // a stop word / low entropy: no finding
	)
	return out
}

// goSource returns about n bytes of Go source from GOROOT, as files.
func goSource(t testing.TB, n int) map[string]string {
	t.Helper()
	root := filepath.Join(runtime.GOROOT(), "src")
	out := map[string]string{}
	total := 0
	stop := fmt.Errorf("enough")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(b)
		if total += len(b); total >= n {
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		t.Skipf("no Go source to use as corpus: %v", err)
	}
	return out
}

// sprinkle inserts vector lines into the files, every few hundred lines.
func sprinkle(files map[string]string, lines []string) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	k := 0
	for i, n := range names {
		ls := strings.SplitAfter(files[n], "\n")
		for j := (i * 37) % 50; j < len(ls) && k < len(lines); j += 250 {
			ls[j] = "// " + lines[k] + "\n" + ls[j]
			k++
		}
		files[n] = strings.Join(ls, "")
	}
}

func corpusMB(t testing.TB) int {
	mb := 1
	if s := os.Getenv("BOT_BOTTLE_SCAN_EQUIV_MB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("BOT_BOTTLE_SCAN_EQUIV_MB: %v", err)
		}
		mb = n
	}
	return mb
}

func TestPrefilterWindowsGenericRule(t *testing.T) {
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	var whole []string
	windowed := 0
	for _, r := range rules.pre.rules {
		switch {
		case r.whole != nil:
			whole = append(whole, r.id)
		case r.relaxed != nil:
			windowed++
			if r.id == "generic-api-key" {
				t.Logf("generic-api-key: window %d bytes, relaxed %s", r.maxLen, r.relaxed)
			}
		}
		if r.id == "generic-api-key" && r.relaxed == nil {
			t.Errorf("generic-api-key runs over whole chunks")
		}
	}
	t.Logf("%d rules windowed, %d over whole chunks: %v", windowed, len(whole), whole)
}

// TestPrefilterNeverHidesAFinding: every chunk in which gitleaks' detector
// finds something is a candidate.
func TestPrefilterNeverHidesAFinding(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs gitleaks' detector over every vector (not under -short or -race; scripts/test.sh runs it without -race)")
	}
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	d := detect.NewDetector(rules.cfg)
	d.IgnoreGitleaksAllow = true
	d.MaxDecodeDepth = decodeDepth
	lines := vectorLines(t)
	texts := map[string]string{"vectors.txt": strings.Join(lines, "\n") + "\n"}
	// Each line alone too: a chunk with one keyword elsewhere is the case
	// a window could miss.
	for i, l := range lines {
		if i%16 == 0 {
			texts["line"+strconv.Itoa(i)] = l
		}
	}
	texts["keystore.p12"] = "binary"
	texts["kelvin.txt"] = "\u212Aey = \"a8F3kLm9Qz2Rt7Vw4Xy1Bc6Dn5Ej0Hs\"\napi\n"
	texts["longs.txt"] = "x\n\u017Fecret = \"Zq8Wm2Xn5Rb7Tc4Vy9Ls3Kd6\"\n// token\n"
	texts["only.txt"] = "\u212Aey = \"a8F3kLm9Qz2Rt7Vw4Xy1Bc6Dn5Ej0Hs\"\n"
	s := &scanner{det: d, pre: rules.pre, cfg: rules.cfg, dets: map[string]*detect.Detector{}}
	flagged, total, found := 0, 0, 0
	for name, text := range texts {
		for _, c := range chunks(text, 1) {
			total++
			frag := detect.Fragment{Raw: c.raw, FilePath: name, StartLine: c.line}
			fs := d.Detect(frag)
			v := rules.pre.candidate(c.raw, name, decodeDepth)
			var got []report.Finding
			if v.any() {
				flagged++
				got = s.detectorFor(context.Background(), v).Detect(frag)
			}
			if len(fs) > 0 {
				found++
			}
			if diff := cmp.Diff(findingKeys(fs), findingKeys(got)); diff != "" {
				t.Errorf("%s: chunk %q: findings differ (-full detector +prefiltered):\n%s", name, c.raw, diff)
			}
		}
	}
	t.Logf("%d chunks, %d with findings, %d flagged", total, found, flagged)
}

// TestPrefilterScanEquivalent: a push of Go source with secrets sprinkled
// in reports the same findings with the prefilter as with the detector
// reading every chunk. BOT_BOTTLE_SCAN_EQUIV_MB sets the corpus size
// (default 1).
func TestPrefilterScanEquivalent(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("scans a megabyte twice with gitleaks' detector (not under -short or -race; scripts/test.sh runs it without -race)")
	}
	r := newRepo(t)
	r.branch("work")
	files := goSource(t, corpusMB(t)<<20)
	lines := vectorLines(t)
	sprinkle(files, lines)
	files["vectors/all.txt"] = strings.Join(lines, "\n") + "\n"
	for i, l := range lines {
		if i%29 == 0 {
			files["vectors/line"+strconv.Itoa(i)+".go"] = l + "\n"
		}
	}
	for n, c := range files {
		r.write(n, c)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "corpus\n\n"+lines[3])
	// A second commit changing a few lines, so diffs are partial.
	files["vectors/all.txt"] = "api_key = \"Zq8Wm2Xn5Rb7Tc4Vy9Ls3Kd6\"\n" + files["vectors/all.txt"]
	r.write("vectors/all.txt", files["vectors/all.txt"])
	r.git("commit", "-q", "-am", "more")
	tip := r.git("rev-parse", "HEAD")

	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	full := &Rules{cfg: rules.cfg}
	push := Push{GitDir: r.dir, Tips: []string{tip}, Exclude: []string{"main"}}
	want, err := full.Scan(context.Background(), push)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rules.Scan(context.Background(), push)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 100 {
		t.Errorf("only %d findings in the corpus; the test sees too little", len(want))
	}
	// Findings that share commit, file, line and rule come in any order.
	// Which chunk reports a finding first is up to the workers, and a
	// decoded secret's line can differ between overlapping chunks: the
	// redacted line is not compared.
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Errorf("findings differ (-full detector +prefiltered):\n%s", diff)
	}
	t.Logf("%d findings", len(want))
}

func keys(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%s %s:%d %s %v", f.Commit, f.File, f.Line, f.Rule, f.Suppressed)
	}
	slices.Sort(out)
	return out
}

func findingKeys(fs []report.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%s %d:%d-%d:%d %q %q %q", f.RuleID, f.StartLine, f.StartColumn, f.EndLine, f.EndColumn, f.Secret, f.Match, f.Line)
	}
	slices.Sort(out)
	return out
}

// FuzzPrefilter: on any text, the prefiltered detector reports what the
// full detector reports.
func FuzzPrefilter(f *testing.F) {
	rules, err := DefaultRules()
	if err != nil {
		f.Fatal(err)
	}
	d := detect.NewDetector(rules.cfg)
	d.IgnoreGitleaksAllow = true
	d.MaxDecodeDepth = decodeDepth
	s := &scanner{det: d, pre: rules.pre, cfg: rules.cfg, dets: map[string]*detect.Detector{}}
	for i, l := range vectorLines(f) {
		if i%50 == 0 {
			f.Add(l)
		}
	}
	f.Add("\u212Aey = \"a8F3kLm9Qz2Rt7Vw4Xy1Bc6Dn5Ej0Hs\"\n")
	f.Add(unicodeEscaped(`\u`, "x = \"", secret, "\"\n"))
	f.Fuzz(func(t *testing.T, text string) {
		frag := detect.Fragment{Raw: text, FilePath: "f.txt", StartLine: 1}
		want := d.Detect(frag)
		var got []report.Finding
		if v := rules.pre.candidate(text, frag.FilePath, decodeDepth); v.any() {
			got = s.detectorFor(context.Background(), v).Detect(frag)
		}
		if diff := cmp.Diff(findingKeys(want), findingKeys(got)); diff != "" {
			t.Errorf("findings differ (-full detector +prefiltered):\n%s", diff)
		}
	})
}

// unicodeEscaped writes s as escapes (\uXXXX or \\uXXXX) between pre and post.
func unicodeEscaped(esc, pre, s, post string) string {
	var b strings.Builder
	b.WriteString(pre)
	for _, r := range s {
		fmt.Fprintf(&b, "%s%04x", esc, r)
	}
	return b.String() + post
}

// TestRedTeamUnicodeEscapedSecret: a token written as \uXXXX escapes is
// found by gitleaks' decoder, so the prefilter must pass it on. It did not:
// it looked for the four hex digits one byte too far.
func TestRedTeamUnicodeEscapedSecret(t *testing.T) {
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, esc := range []string{`\u`, `\\u`, `\U`} {
		text := unicodeEscaped(esc, "x = \"", secret, "\"\n")
		d := detect.NewDetector(rules.cfg)
		d.IgnoreGitleaksAllow = true
		d.MaxDecodeDepth = decodeDepth
		if len(d.Detect(detect.Fragment{Raw: text, FilePath: "f"})) == 0 {
			t.Fatalf("%s: gitleaks' detector finds nothing in %q", esc, text)
		}
		if !rules.pre.candidate(text, "f", decodeDepth).any() {
			t.Errorf("%s: the prefilter rules out %q", esc, text)
		}
	}
}

// TestFoldingRunesComplete: looking only at unicode.CaseRanges finds every
// rune that a look at all of Unicode finds.
func TestFoldingRunesComplete(t *testing.T) {
	slow := map[rune]byte{}
	for c := rune(0); c < utf8.RuneSelf; c++ {
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if r >= utf8.RuneSelf {
				slow[r] = byte(unicode.ToLower(c))
			}
		}
	}
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		for _, a := range []rune{unicode.ToLower(r), unicode.ToUpper(r)} {
			if a < utf8.RuneSelf {
				slow[r] = byte(unicode.ToLower(a))
			}
		}
	}
	fast := foldingRunes()
	if len(fast) != len(slow) {
		t.Fatalf("fast %v slow %v", fast, slow)
	}
	for r, b := range slow {
		if fast[r] != b {
			t.Fatalf("rune %q: fast %q slow %q", r, fast[r], b)
		}
	}
	t.Logf("%d runes: %v", len(fast), fast)
}

// mayDecodeHolds fails t when gitleaks' decoder finds a segment in text
// that mayDecode says it cannot.
func mayDecodeHolds(t *testing.T, text string) {
	t.Helper()
	if mayDecode(text) {
		return
	}
	if _, segs := codec.NewDecoder().Decode(text, nil); len(segs) > 0 {
		t.Fatalf("mayDecode(%q) = false, but gitleaks decodes %d segment(s)", text, len(segs))
	}
}

// TestMayDecodeNeverMissesASegment: on random texts made of what the
// decoder's expression cares about (percent escapes, hex, base64 runs,
// unicode escapes, newlines, control and high bytes), "cannot decode" is
// never wrong.
func TestMayDecodeNeverMissesASegment(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	atoms := []string{"%", "%4", "%41", "%7e", "%0a", "%ff", "%2F", "A", "z", "0", "9", "f", "+", "/", "-", "_", "=",
		"\n", "\r", " ", "\x00", "\x01", "\xff", "\xc3\xa9", "u", "U", "\\", "U+0041", "\\u0041", "ZGVjb2Rl", "aGVsbG8gd29ybGQhIQ=="}
	for _, text := range []string{
		"%ffaGVsbG8gd29ybGQhIQ==",            // base64 resumed after a percent match that decodes to nothing
		"x%41y%00z\n%41aGVsbG8gd29ybGQhIQ==", // one empty percent match, one that decodes
		"%4%41", "%%41", "\x00%7e\xff",
	} {
		mayDecodeHolds(t, text)
	}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for range n {
		var b strings.Builder
		for range 1 + rng.IntN(40) {
			b.WriteString(atoms[rng.IntN(len(atoms))])
		}
		mayDecodeHolds(t, b.String())
	}
}

func FuzzMayDecode(f *testing.F) {
	f.Add("x %41%42 y\n")
	f.Add("%41" + strings.Repeat("Zm9v", 5) + "\n%ff%41\n")
	f.Add(benchData(512, false))
	f.Fuzz(mayDecodeHolds)
}
