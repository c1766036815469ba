package dlp_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/egress"
)

// corpusPolicy allows every host the corpus sends to, detectors at their
// defaults; one route holds a token, so known_secrets runs everywhere.
const corpusPolicy = `egress:
  routes:
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: CORPUS_TOKEN}
    - host: api.github.com
    - host: api.anthropic.com
    - host: registry.npmjs.org
    - host: pypi.org
    - host: proxy.golang.org
    - host: crates.io
    - host: gitlab.com
`

// corpusThreshold is the recall each malicious category must reach.
// Below 1.0 only for gaps listed in docs/dlp.md ("Corpus").
var corpusThreshold = map[string]float64{
	"encoding": 0.99, // a 20-byte token as raw base64url is a 27-character run, under the 28 the base64 layer needs
	"place":    0.90,
}

// maliciousCorpus builds every malicious case, labelled by category.
func maliciousCorpus() []corpusCase {
	var out []corpusCase
	add := func(cat, name string, c corpusCase) {
		c.Cat, c.Name = cat, name
		out = append(out, c)
	}
	pls := places()
	for _, tok := range excusedTokens() {
		for _, p := range pls {
			add("excused-shape", tok.name+"@"+p.name, p.f(tok.v))
		}
	}
	toks := tokens()
	body := pls[slices.IndexFunc(pls, func(p place) bool { return p.name == "json-nested" })]
	query := pls[0]
	for i, tok := range toks {
		for j, e := range encodings() {
			// Alternate the carrier so each encoding is seen in the URL and the body.
			p := body
			if (i+j)%2 == 0 && !e.ml {
				p = query
			}
			add("encoding", tok.name+"/"+e.name+"@"+p.name, p.f(e.f(tok.v)))
		}
	}
	for _, tok := range toks {
		for _, p := range pls {
			add("place", tok.name+"@"+p.name, p.f(tok.v))
		}
	}
	// Several secrets in several headers, and repeated headers.
	for i := 0; i+1 < len(toks); i += 2 {
		h := http.Header{"X-A": {toks[i].v}, "X-B": {toks[i+1].v}, "Cookie": {"a=" + toks[i+1].v}}
		add("several-headers", toks[i].name+"+"+toks[i+1].name, req("GET", "https://api.github.com/", h, ""))
		h = http.Header{"X-Trace": {"ok", toks[i].v}}
		add("several-headers", toks[i].name+"-repeated", req("GET", "https://api.github.com/", h, ""))
	}
	for _, d := range financialData() {
		for _, p := range pls {
			if p.header && strings.Contains(d.v, "\n") {
				continue
			}
			if p.name == "query-key" || p.name == "multipart-filename" || p.name == "path-segment" {
				continue // spaces and PEM lines make no sense there
			}
			add("data", d.name+"@"+p.name, p.f(d.v))
		}
	}
	for _, v := range heldVariants() {
		for _, p := range []string{"query-value", "x-header", "cookie-pair", "json-nested", "form-field", "multipart-part", "yaml-body"} {
			pl := pls[slices.IndexFunc(pls, func(q place) bool { return q.name == p })]
			add("held", v.name+"@"+p, pl.f(v.v))
		}
	}
	a, b := heldToken[:len(heldToken)/2], heldToken[len(heldToken)/2:]
	add("held-split", "two-headers", req("GET", "https://api.github.com/", http.Header{"X-Part-1": {a}, "X-Part-2": {b}}, ""))
	add("held-split", "header-and-query", req("GET", "https://api.github.com/?p="+url.QueryEscape(b), http.Header{"X-Part": {a}}, ""))
	add("held-split", "json-fields", req("POST", "https://api.anthropic.com/v1/messages", http.Header{"Content-Type": {"application/json"}}, fmt.Sprintf(`{"a":%q,"b":%q}`, a, b)))
	add("held-split", "json-fields-reversed", req("POST", "https://api.anthropic.com/v1/messages", http.Header{"Content-Type": {"application/json"}}, fmt.Sprintf(`{"b":%q,"a":%q}`, b, a)))
	add("held-split", "form-fields", req("POST", "https://pypi.org/legacy/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "x="+url.QueryEscape(a)+"&y="+url.QueryEscape(b)))
	add("held-split", "cookie-pairs", req("GET", "https://api.github.com/", http.Header{"Cookie": {"p1=" + a + "; p2=" + b}}, ""))
	add("held-split", "path-segments", req("GET", "https://registry.npmjs.org/"+a+"/"+b, nil, ""))
	return out
}

// corpusVerdict runs c through egress.Check, the proxy's own request
// decision (policy, then outbound DLP with every default detector).
func corpusVerdict(t *testing.T, policyPath string, c corpusCase) egress.CheckResult {
	t.Helper()
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatalf("%s/%s: %v", c.Cat, c.Name, err)
	}
	getenv := func(k string) string {
		if k == "CORPUS_TOKEN" {
			return heldToken
		}
		return ""
	}
	res, err := egress.Check(policyPath, nil, getenv, c.Method, u, c.Header.Clone(), c.Body)
	if err != nil {
		t.Fatalf("%s/%s: %v", c.Cat, c.Name, err)
	}
	return res
}

// TestOutboundCorpus: every malicious case is refused by the proxy's
// request check and no benign one is, per category. The table it logs is
// the one in docs/dlp.md ("Corpus").
func TestOutboundCorpus(t *testing.T) {
	dir := t.TempDir()
	pp := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pp, []byte(corpusPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	mal, ben := maliciousCorpus(), benignCorpus(t)
	if len(mal) < 300 || len(ben) < 150 {
		t.Fatalf("corpus too small: %d malicious, %d benign", len(mal), len(ben))
	}
	type tally struct{ n, hit int }
	malT, benT := map[string]*tally{}, map[string]*tally{}
	count := func(m map[string]*tally, cat string, hit bool) {
		if m[cat] == nil {
			m[cat] = &tally{}
		}
		m[cat].n++
		if hit {
			m[cat].hit++
		}
	}
	for _, c := range mal {
		res := corpusVerdict(t, pp, c)
		if res.Allow {
			t.Logf("missed %s: %s", c.Cat, c.Name)
		}
		count(malT, c.Cat, !res.Allow)
	}
	for _, c := range ben {
		res := corpusVerdict(t, pp, c)
		if !res.Allow {
			t.Errorf("benign %s/%s refused: %s %s", c.Cat, c.Name, res.Code, res.Reason)
		}
		count(benT, c.Cat, !res.Allow)
	}
	var tab strings.Builder
	tab.WriteString("\n| kind | category | cases | refused | recall / FP |\n|---|---|---|---|---|\n")
	var nm, hm, nb, hb int
	for _, cat := range sortedCats(malT) {
		x := malT[cat]
		nm, hm = nm+x.n, hm+x.hit
		r := float64(x.hit) / float64(x.n)
		fmt.Fprintf(&tab, "| malicious | %s | %d | %d | %.1f %% |\n", cat, x.n, x.hit, 100*r)
		min, ok := corpusThreshold[cat]
		if !ok {
			min = 1
		}
		if r < min {
			t.Errorf("malicious category %s: recall %.1f %% is below %.1f %%", cat, 100*r, 100*min)
		}
	}
	for _, cat := range sortedCats(benT) {
		x := benT[cat]
		nb, hb = nb+x.n, hb+x.hit
		fmt.Fprintf(&tab, "| benign | %s | %d | %d | %d FP |\n", cat, x.n, x.hit, x.hit)
	}
	fmt.Fprintf(&tab, "| **all** | malicious | %d | %d | %.1f %% |\n", nm, hm, 100*float64(hm)/float64(nm))
	fmt.Fprintf(&tab, "| **all** | benign | %d | %d | %d FP |\n", nb, hb, hb)
	t.Log(tab.String())
}

func sortedCats[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
