package egress

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// contentPolicy allows the host with auth (so known_secrets holds the
// route token) and every detector at its default.
const contentPolicy = `egress:
  routes:
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: UP_TOKEN}
`

// Token-shaped values, built by concatenation so the repository holds no
// literal a secret scanner would report.
var (
	ghPAT     = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
	ghPATLow  = "ghp_" + strings.Repeat("aaaa", 9) // low entropy: gitleaks excuses it
	awsKey    = "AKIA" + "IOSFODNN7" + "EXAMPLE"   // ends in EXAMPLE: gitleaks excuses it
	slackTok  = "xoxb-" + "1234567890-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
	cardNum   = "4111 1111 " + "1111 1111"         // Luhn-valid Visa
	ibanValue = "DE89 3704 0044 " + "0532 0130 00" // mod-97-valid
)

// contentRecorder is an upstream that records what reached it, by path.
type contentRecorder struct {
	mu   sync.Mutex
	got  map[string][]byte
	resp map[string]string // path -> JSON response body
}

func (c *contentRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got[r.URL.Path] = b
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if body, ok := c.resp[r.URL.Path]; ok {
		io.WriteString(w, body)
		return
	}
	io.WriteString(w, `{"ok":true}`)
}

func (c *contentRecorder) seen(path string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.got[path]
	return b, ok
}

// TestRedTeamContentWallsThroughProxy: one request per category of the
// issue's list, through the real proxy (CONNECT, TLS to the agent, the
// route allowing the host, detectors at their defaults): each is refused
// and never reaches the upstream. Then the benign shapes the issue names
// (a lockfile body, a GitHub API response, a base64 PNG in JSON) pass
// byte for byte in both directions.
func TestRedTeamContentWallsThroughProxy(t *testing.T) {
	rec := &contentRecorder{got: map[string][]byte{}, resp: map[string]string{"/v1/gh": githubResponse()}}
	up := &upstream{seen: &seen{}}
	up.start(t, rec, true)
	p := startProxy(t, up, contentPolicy, nil)
	c := p.client(t)
	base := "https://up.example.com:" + up.port
	pct := func(s string, n int) string {
		for range n {
			s = strings.ReplaceAll(url.QueryEscape(s), "_", "%5F")
		}
		return s
	}
	hexSep := func(s, sep string) string {
		h := hex.EncodeToString([]byte(s))
		var parts []string
		for i := 0; i < len(h); i += 2 {
			parts = append(parts, h[i:i+2])
		}
		return strings.Join(parts, sep)
	}
	rev := func(s string) string {
		b := []byte(s)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Header.Comment = ghPAT
	zw.Write([]byte(`{"a":1}`))
	zw.Close()
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("upload", ghPAT+".txt")
	fw.Write([]byte("notes"))
	mw.Close()
	half := len(heldToken) / 2

	type req struct {
		name, method, path, body string
		hdr                      []string
		code                     string
	}
	cases := []req{
		// excused by gitleaks' code-scanning heuristics
		{"EXAMPLE suffix", "POST", "/v1/excused1", `{"k":"` + awsKey + `"}`, nil, "dlp"},
		{"low entropy pat", "POST", "/v1/excused2", `{"k":"` + ghPATLow + `"}`, nil, "dlp"},
		// one more encoding than a scanner undoes
		{"percent x4", "GET", "/v1/enc1?q=" + pct(ghPAT, 4), "", nil, "dlp"},
		{"hex with colons", "POST", "/v1/enc2", `{"d":"` + hexSep(ghPAT, ":") + `"}`, nil, "dlp"},
		{"base64 in percent", "GET", "/v1/enc3?d=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(slackTok))), "", nil, "dlp"},
		{"content=base64", "POST", "/v1/enc4", "content=" + base64.StdEncoding.EncodeToString([]byte("key "+ghPAT)), []string{"Content-Type", "application/x-www-form-urlencoded"}, "dlp"},
		// a place read less carefully
		{"cookie pair", "GET", "/v1/place1", "", []string{"Cookie", "a=1; t=" + ghPAT}, "dlp"},
		{"custom header", "GET", "/v1/place2", "", []string{"X-Trace", ghPAT}, "dlp"},
		{"user agent", "GET", "/v1/place3", "", []string{"User-Agent", "curl/8 " + slackTok}, "dlp"},
		{"multipart filename", "POST", "/v1/place4", mp.String(), []string{"Content-Type", mw.FormDataContentType()}, "dlp"},
		{"yaml body", "POST", "/v1/place5", "config:\n  key: " + ghPAT + "\n", []string{"Content-Type", "application/yaml"}, "dlp"},
		{"header name", "GET", "/v1/place6", "", []string{ghPAT, "1"}, "dlp"},
		{"gzip comment", "POST", "/v1/place7", gz.String(), []string{"Content-Encoding", "gzip"}, "dlp"},
		// data no token rule describes
		{"card number", "POST", "/v1/data1", `{"card":"` + cardNum + `"}`, nil, "dlp"},
		{"iban", "POST", "/v1/data2", "pay to " + ibanValue, nil, "dlp"},
		// the held token, transformed or split
		{"held reversed", "POST", "/v1/held1", rev(heldToken), nil, "dlp"},
		{"held split over headers", "GET", "/v1/held2", "", []string{"X-A", heldToken[:half], "X-B", heldToken[half:]}, "dlp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := newReq(t, tc.method, base+tc.path, body)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				r.Header[tc.hdr[i]] = append(r.Header[tc.hdr[i]], tc.hdr[i+1])
			}
			st, code, resp, err := do(t, c, r)
			if err != nil || st != 403 || code != tc.code {
				t.Fatalf("%d %q %v, want 403 %s\n%s", st, code, err, tc.code, resp)
			}
			if _, ok := rec.seen(strings.SplitN(tc.path, "?", 2)[0]); ok {
				t.Fatal("the refused request reached the upstream")
			}
		})
	}

	t.Run("benign shapes pass untouched", func(t *testing.T) {
		for path, b := range map[string][]byte{
			"/v1/lockfile": lockfileBody(),
			"/v1/png":      pngJSONBody(),
		} {
			st, code, resp, err := do(t, c, newReq(t, "POST", base+path, bytes.NewReader(b), "Content-Type", "application/json"))
			if err != nil || st != 200 {
				t.Fatalf("%s: %d %q %v\n%s", path, st, code, err, resp)
			}
			if got, _ := rec.seen(path); !bytes.Equal(got, b) {
				t.Fatalf("%s: the upstream received %d bytes, not the %d sent", path, len(got), len(b))
			}
		}
		st, code, resp, err := do(t, c, newReq(t, "GET", base+"/v1/gh", nil))
		if err != nil || st != 200 || resp != githubResponse() {
			t.Fatalf("GitHub API response: %d %q %v\n%s", st, code, err, resp)
		}
	})
}

// lockfileBody is a package-lock.json as `npm install` uploads it for an
// audit: integrity hashes (long base64) and resolved URLs.
func lockfileBody() []byte {
	var deps []string
	for i, name := range []string{"left-pad", "chalk", "debug", "ms", "semver", "commander", "yargs", "minimist"} {
		sum := sha512.Sum512([]byte(name))
		deps = append(deps, fmt.Sprintf(`"node_modules/%s":{"version":"1.%d.0","resolved":"https://registry.npmjs.org/%s/-/%s-1.%d.0.tgz","integrity":"sha512-%s","license":"MIT"}`,
			name, i, name, name, i, base64.StdEncoding.EncodeToString(sum[:])))
	}
	return []byte(`{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","dependencies":{"chalk":"^5.3.0"}},` + strings.Join(deps, ",") + `}}`)
}

// pngJSONBody is a model request carrying a screenshot as a base64 PNG.
func pngJSONBody() []byte {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00")
	for i := range 3000 {
		png = append(png, byte(i*7), byte(i>>3), 0, 0xff)
	}
	img := base64.StdEncoding.EncodeToString(png)
	return []byte(`{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + img + `"}},{"type":"text","text":"What is on this screen?"}]}]}`)
}

// githubResponse is a GitHub API pull-request listing: commit ids, node
// ids, URLs and prose.
func githubResponse() string {
	var prs []string
	for i := range 5 {
		sha := sha512.Sum512([]byte{byte(i)})
		prs = append(prs, fmt.Sprintf(`{"url":"https://api.github.com/repos/acme/widgets/pulls/%d","id":%d,"node_id":"PR_kwDOAbCdEf5%dXyZ","number":%d,"state":"open","title":"Fix flaky test %d","user":{"login":"octo-dev","id":5831},"body":"Retries the network call; see the CI log.","head":{"ref":"fix-%d","sha":"%s"},"base":{"ref":"main","sha":"%s"}}`,
			i, 1000+i, i, i, i, i, hex.EncodeToString(sha[:20]), hex.EncodeToString(sha[20:40])))
	}
	return "[" + strings.Join(prs, ",") + "]"
}

// TestRedTeamCanariesNeverWritten: canary secrets in every place a
// request has (query, path, headers, a header name, a cookie, JSON and
// form bodies, a card number, the held token and its base64 and hex, a
// host label), refused under block and held under supervise at log
// level 2. No canary, in clear, reaches a log line, a refusal body or a
// proposal file (pending or answered).
func TestRedTeamCanariesNeverWritten(t *testing.T) {
	canaries := []string{ghPAT, slackTok, awsKey, strings.ReplaceAll(cardNum, " ", ""), cardNum, heldToken,
		base64.StdEncoding.EncodeToString([]byte(heldToken)), hex.EncodeToString([]byte(heldToken))}
	for _, mode := range []string{"block", "supervise"} {
		t.Run(mode, func(t *testing.T) {
			up := newUpstream(t, true)
			dir := t.TempDir()
			p := startProxy(t, up, "egress:\n  log: 2\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n      dlp: {outbound_on_match: "+mode+"}\n",
				func(c *Config) { c.QueueDir, c.BottleSlug = dir, "impl-k3x9q" })
			stop := rejectAll(t, dir)
			defer stop()
			c := p.client(t)
			base := "https://up.example.com:" + up.port
			reqs := []*http.Request{
				newReq(t, "GET", base+"/v1/q?token="+ghPAT, nil),
				newReq(t, "GET", base+"/v1/"+slackTok+"/x", nil),
				newReq(t, "GET", base+"/v1/h", nil, "X-Trace", awsKey, "Cookie", "s="+ghPAT),
				newReq(t, "POST", base+"/v1/j", strings.NewReader(`{"card":"`+cardNum+`","t":"`+heldToken+`"}`), "Content-Type", "application/json"),
				newReq(t, "POST", base+"/v1/f", strings.NewReader("a="+base64.StdEncoding.EncodeToString([]byte(heldToken))+"&b="+hex.EncodeToString([]byte(heldToken))), "Content-Type", "application/x-www-form-urlencoded"),
				newReq(t, "GET", "https://"+heldToken+".example.com/", nil),
			}
			named := newReq(t, "GET", base+"/v1/n", nil)
			named.Header[ghPAT] = []string{"1"}
			heldName := newReq(t, "GET", base+"/v1/hn", nil)
			heldName.Header[heldToken] = []string{"1"}
			reqs = append(reqs, heldName, named)
			var bodies []string
			for _, r := range reqs {
				st, _, body, _ := do(t, c, r)
				if st == 200 {
					t.Errorf("%s %s passed", r.Method, r.URL.Path)
				}
				bodies = append(bodies, body)
			}
			if !p.waitLog(`"path":"/v1/n"`) {
				t.Fatalf("no log line for the last request:\n%s", p.logText())
			}
			all := p.logText() + strings.Join(bodies, "\n") + readTree(t, dir)
			if mode == "supervise" && !strings.Contains(all, "egress-token-allow") {
				t.Fatalf("no proposal was written:\n%s", readTree(t, dir))
			}
			for _, v := range canaries {
				if strings.Contains(all, v) || strings.Contains(strings.ToLower(all), strings.ToLower(v)) {
					i := strings.Index(strings.ToLower(all), strings.ToLower(v))
					t.Errorf("canary %.8s… in clear in a log line, refusal or proposal: …%s…", v, all[max(0, i-200):i])
				}
			}
		})
	}
}

// rejectAll answers every proposal in dir with a rejection until stopped.
func rejectAll(t *testing.T, dir string) func() {
	t.Helper()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		q := queue.New(dir)
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			ps, _ := q.Pending()
			for _, pr := range ps {
				q.Respond(pr.ID, queue.Response{Status: queue.StatusRejected, Notes: "test"})
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// readTree is every file under dir, concatenated.
func readTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			raw, _ := os.ReadFile(path)
			b.Write(raw)
			b.WriteByte('\n')
		}
		return nil
	})
	return b.String()
}
