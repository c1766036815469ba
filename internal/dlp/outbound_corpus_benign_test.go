package dlp_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Benign agent traffic: the shapes a coding agent sends all day. Hashes,
// ids and images are computed, code comes from the Go distribution's own
// sources, so the corpus is real content without being stored here.

var packages = []string{"react", "lodash", "express", "typescript", "vite", "@babel/core", "@types/node", "eslint",
	"requests", "numpy", "pandas", "django", "golang.org/x/net", "github.com/stretchr/testify", "serde", "tokio"}

func sri(s string) string {
	h := sha512.Sum512([]byte(s))
	return "sha512-" + base64.StdEncoding.EncodeToString(h[:])
}

func sha256hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
func gitID(s string) string     { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

func uuidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func benignCorpus(t *testing.T) []corpusCase {
	var out []corpusCase
	add := func(cat, name string, c corpusCase) {
		c.Cat, c.Name = cat, name
		out = append(out, c)
	}
	jsonH := func() http.Header { return http.Header{"Content-Type": {"application/json"}} }
	ua := "npm/10.8.2 node/v22.11.0 linux x64 workspaces/false"
	for _, p := range packages {
		add("registry", "npm-meta "+p, req("GET", "https://registry.npmjs.org/"+strings.ReplaceAll(p, "/", "%2F"), http.Header{"Accept": {"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"}, "User-Agent": {ua}, "Npm-Session": {gitID(p)[:16]}}, ""))
		add("registry", "go-proxy "+p, req("GET", "https://proxy.golang.org/"+strings.ToLower(p)+"/@v/v1.2."+fmt.Sprint(len(p))+".zip", http.Header{"User-Agent": {"Go-http-client/1.1"}}, ""))
		add("registry", "pypi-simple "+p, req("GET", "https://pypi.org/simple/"+p+"/", http.Header{"Accept": {"application/vnd.pypi.simple.v1+json"}, "User-Agent": {"pip/24.2 {\"ci\":null,\"cpu\":\"x86_64\"}"}}, ""))
	}
	add("registry", "crates-download", req("GET", "https://crates.io/api/v1/crates/serde/1.0.210/download", nil, ""))
	add("registry", "npm-if-none-match", req("GET", "https://registry.npmjs.org/react", http.Header{"If-None-Match": {`W/"` + gitID("react") + `"`}}, ""))

	// Lockfiles: integrity hashes are long base64 and hex.
	for i := range 8 {
		deps := map[string]any{}
		for _, p := range packages[i : i+8] {
			deps["node_modules/"+p] = map[string]any{"version": "1.0." + fmt.Sprint(i), "resolved": "https://registry.npmjs.org/" + p + "/-/" + p + "-1.0.tgz", "integrity": sri(p + fmt.Sprint(i))}
		}
		add("lockfile", fmt.Sprintf("npm-audit-%d", i), req("POST", "https://registry.npmjs.org/-/npm/v1/security/audits/quick", jsonH(), jsonBody(map[string]any{"name": "app", "lockfileVersion": 3, "packages": deps})))
		var sum, cargo, poetry strings.Builder
		for _, p := range packages[i : i+8] {
			h := sha256.Sum256([]byte(p + "go"))
			fmt.Fprintf(&sum, "%s v1.%d.0 h1:%s\n%s v1.%d.0/go.mod h1:%s\n", p, i, base64.StdEncoding.EncodeToString(h[:]), p, i, base64.StdEncoding.EncodeToString(h[:])[3:]+"abc")
			fmt.Fprintf(&cargo, "[[package]]\nname = %q\nversion = \"1.%d.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = %q\n\n", p, i, sha256hex(p+"cargo"))
			fmt.Fprintf(&poetry, "[[package]]\nname = %q\nversion = \"2.%d\"\nfiles = [\n    {file = \"%s-2.%d-py3-none-any.whl\", hash = \"sha256:%s\"},\n]\n\n", p, i, p, i, sha256hex(p+"poetry"))
		}
		add("lockfile", fmt.Sprintf("go.sum-%d", i), gistOf("go.sum", sum.String()))
		add("lockfile", fmt.Sprintf("Cargo.lock-%d", i), gistOf("Cargo.lock", cargo.String()))
		add("lockfile", fmt.Sprintf("poetry.lock-%d", i), gistOf("poetry.lock", poetry.String()))
	}

	// GitHub and GitLab API requests.
	for i := range 12 {
		sha, base := gitID(fmt.Sprint("head", i)), gitID(fmt.Sprint("base", i))
		add("github-api", fmt.Sprintf("create-pr-%d", i), req("POST", "https://api.github.com/repos/acme/app/pulls", jsonH(), jsonBody(map[string]any{"title": "Fix flaky test in scheduler", "head": "fix-" + sha[:7], "base": "main", "body": "Reverts " + base + " and applies the patch from " + sha + ".\n\nCloses #" + fmt.Sprint(100+i)})))
		add("github-api", fmt.Sprintf("git-tree-%d", i), req("POST", "https://api.github.com/repos/acme/app/git/trees", jsonH(), jsonBody(map[string]any{"base_tree": base, "tree": []map[string]string{{"path": "main.go", "mode": "100644", "type": "blob", "sha": sha}, {"path": "go.sum", "mode": "100644", "type": "blob", "sha": gitID(sha)}}})))
		add("github-api", fmt.Sprintf("graphql-%d", i), req("POST", "https://api.github.com/graphql", jsonH(), jsonBody(map[string]any{"query": "query($id:ID!){node(id:$id){... on PullRequest{commits(last:1){nodes{commit{oid statusCheckRollup{state}}}}}}}", "variables": map[string]string{"id": "PR_kwDO" + base64.RawURLEncoding.EncodeToString([]byte(sha[:12]))}})))
		add("github-api", fmt.Sprintf("gitlab-mr-%d", i), req("POST", "https://gitlab.com/api/v4/projects/4242/merge_requests/"+fmt.Sprint(i)+"/notes", jsonH(), jsonBody(map[string]any{"body": "Pipeline " + fmt.Sprint(900000+i) + " passed on " + sha[:8] + "; see job artifacts."})))
	}
	// Model-provider requests full of source code.
	for i, f := range goSources(t) {
		add("model-request", filepath.Base(f), req("POST", "https://api.anthropic.com/v1/messages", http.Header{"Content-Type": {"application/json"}, "Anthropic-Version": {"2023-06-01"}}, jsonBody(map[string]any{
			"model": "claude-sonnet-4-5", "max_tokens": 4096,
			"system":   "You are a coding agent. Use the tools to edit files.",
			"messages": []map[string]any{{"role": "user", "content": fmt.Sprintf("Review %s (request %d) and explain the error handling:\n\n```go\n%s\n```", filepath.Base(f), i, readHead(t, f))}},
		})))
	}
	// Base64 images, as a model request and as a contents upload.
	for i := range 12 {
		p := pngOf(i)
		add("image", fmt.Sprintf("model-image-%d", i), req("POST", "https://api.anthropic.com/v1/messages", jsonH(), jsonBody(map[string]any{"model": "m", "messages": []map[string]any{{"role": "user", "content": []map[string]any{{"type": "image", "source": map[string]string{"type": "base64", "media_type": "image/png", "data": p}}, {"type": "text", "text": "What does this screenshot show?"}}}}})))
		add("image", fmt.Sprintf("contents-upload-%d", i), req("PUT", "https://api.github.com/repos/acme/app/contents/docs/shot.png", jsonH(), jsonBody(map[string]string{"message": "add screenshot", "content": p, "sha": gitID(p)})))
	}
	// Minified JavaScript.
	for i, js := range minifiedJS() {
		add("minified-js", fmt.Sprintf("bundle-%d", i), gistOf("bundle.min.js", js))
	}
	// Ids and hashes in headers, paths and cookies.
	for i := range 10 {
		id := uuidOf(fmt.Sprint(i))
		add("ids", fmt.Sprintf("uuid-headers-%d", i), req("GET", "https://api.anthropic.com/v1/messages/batches/msgbatch_"+strings.ReplaceAll(id, "-", ""), http.Header{"X-Request-Id": {id}, "Idempotency-Key": {uuidOf(id)}, "Cookie": {"sessionid=" + strings.ReplaceAll(uuidOf("c"+id), "-", "") + "; csrftoken=" + sha256hex(id)[:32]}}, ""))
		add("ids", fmt.Sprintf("sha-path-%d", i), req("GET", "https://api.github.com/repos/acme/app/commits/"+gitID(id)+"/check-runs?per_page=100&filter=latest", http.Header{"If-None-Match": {`"` + sha256hex(id) + `"`}, "Accept": {"application/vnd.github+json"}, "X-GitHub-Api-Version": {"2022-11-28"}}, ""))
	}
	// Security docs and prose that talk about keys without holding one.
	for i, s := range securityProse() {
		add("docs", fmt.Sprintf("prose-%d", i), req("POST", "https://api.anthropic.com/v1/messages", jsonH(), jsonBody(map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": s}}})))
	}
	return out
}

func gistOf(name, content string) corpusCase {
	return req("POST", "https://api.github.com/gists", http.Header{"Content-Type": {"application/json"}}, jsonBody(map[string]any{"public": false, "files": map[string]any{name: map[string]string{"content": content}}}))
}

// goSources lists Go distribution files; a missing one is skipped.
func goSources(t *testing.T) []string {
	names := []string{"strings/strings.go", "sort/sort.go", "encoding/json/encode.go", "encoding/json/decode.go", "net/url/url.go", "bufio/bufio.go", "fmt/print.go", "fmt/scan.go", "net/http/client.go", "net/http/transport.go", "net/http/server.go", "os/file.go", "io/io.go", "bytes/buffer.go", "crypto/tls/conn.go", "crypto/x509/verify.go", "encoding/base64/base64.go", "compress/gzip/gunzip.go", "archive/tar/reader.go", "text/template/exec.go", "regexp/regexp.go", "time/format.go", "strconv/atof.go", "path/filepath/path.go", "context/context.go", "sync/mutex.go", "mime/multipart/multipart.go", "net/http/request.go"}
	var out []string
	for _, n := range names {
		f := filepath.Join(runtime.GOROOT(), "src", n)
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d Go sources under %s", len(out), runtime.GOROOT())
	}
	return out
}

func readHead(t *testing.T, f string) string {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:min(len(b), 24<<10)])
}

// pngOf draws a deterministic screenshot-like image: flat panels and noise.
func pngOf(seed int) string {
	w, h := 64+seed*16, 48+seed*8
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 4), uint8(y * 3), uint8(seed * 20), 255}
			if (x/8+y/8)%3 == 0 {
				c = color.RGBA{uint8(corpusRand.IntN(256)), uint8(corpusRand.IntN(256)), uint8(corpusRand.IntN(256)), 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func minifiedJS() []string {
	base := []string{
		`!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t():"function"==typeof define&&define.amd?define(t):(e=e||self).dayjs=t()}(this,function(){"use strict";var e=1e3,t=6e4,n=36e5,r="millisecond",i="second",s="minute",u="hour",a="day",o="week",f="month",h="quarter",c="year",d="date",l="Invalid Date",$=/^(\d{4})[-/]?(\d{1,2})?[-/]?(\d{0,2})[Tt\s]*(\d{1,2})?:?(\d{1,2})?:?(\d{1,2})?[.:]?(\d+)?$/;return function(){}});`,
		`(()=>{var e={},t={};function n(r){var o=t[r];if(void 0!==o)return o.exports;var a=t[r]={exports:{}};return e[r](a,a.exports,n),a.exports}n.d=(e,t)=>{for(var r in t)n.o(t,r)&&!n.o(e,r)&&Object.defineProperty(e,r,{enumerable:!0,get:t[r]})},n.o=(e,t)=>Object.prototype.hasOwnProperty.call(e,t);const r="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";function o(e){let t="";for(let n=0;n<e.length;n+=3)t+=r[e[n]>>2];return t}})();`,
		`const a=document.querySelector("#app"),b=new URLSearchParams(location.search),c=b.get("token")||"",d=async()=>{const e=await fetch("/api/v1/session",{headers:{Authorization:"Bearer "+c,"X-Requested-With":"XMLHttpRequest"}});if(!e.ok)throw new Error("HTTP "+e.status);return e.json()};d().then(e=>{a.textContent=e.user.name}).catch(console.error);`,
		`var _0x3a1f=["\x6C\x6F\x67","\x48\x65\x6C\x6C\x6F"];console[_0x3a1f[0]](_0x3a1f[1]);window.__NEXT_DATA__={"props":{"pageProps":{}},"page":"/","query":{},"buildId":"` + gitID("build")[:21] + `","nextExport":true};`,
		`import{r as e,j as t}from"./vendor-` + gitID("v")[:8] + `.js";const n=e.createContext(null);function r({children:o}){const[s,i]=e.useState(()=>localStorage.getItem("theme")??"light");return t.jsx(n.Provider,{value:{theme:s,setTheme:i},children:o})}export{r as ThemeProvider,n as ThemeContext};`,
	}
	var out []string
	for i := range 12 {
		out = append(out, strings.Repeat(base[i%len(base)], 1+i%4)+`//# sourceMappingURL=data:application/json;base64,`+base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"version":3,"sources":["src/index%d.ts"],"mappings":"AAAA,SAASA,EAAE"}`, i))))
	}
	return out
}

func securityProse() []string {
	return []string{
		"AWS access key IDs start with a four-letter prefix such as AKIA (long-term) or ASIA (temporary) followed by sixteen upper-case letters and digits. Never commit them; use an IAM role.",
		"How do I rotate a GitHub personal access token? Classic tokens start with ghp_ and fine-grained ones with github_pat_; both can be revoked under Settings > Developer settings.",
		"Explain how gitleaks decides a match is a false positive: it checks entropy, stopwords such as 'example' and allowlisted paths like vendor/.",
		"Our incident report: a Slack bot token (xoxb- prefix) was pasted in a public channel. We revoked it within 10 minutes and audited the access logs.",
		"Write a regex that matches Stripe secret keys (they start with sk_live_ or sk_test_) so our pre-commit hook can block them.",
		"The IBAN format begins with a two-letter country code and two check digits; the check is mod 97. Write a validator in Go with table tests.",
		"Implement the Luhn algorithm for card numbers in TypeScript and explain why test card numbers from the payment provider pass it.",
		"What is a BIP-39 mnemonic? Explain how the checksum bits are derived from the SHA-256 of the entropy, without showing a real phrase.",
		"Summarise OWASP's guidance on secrets management: store secrets in a vault, inject at runtime, rotate regularly, and scan repositories for leaks.",
		"The server returned 401 with WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\". What does that mean and how do I refresh the OAuth token?",
		"Data exfiltration through DNS encodes data in sub-domain labels, e.g. hex or base32 chunks. How do DLP proxies detect this?",
		"Private keys in PEM begin with a BEGIN line naming the key type; explain the difference between PKCS#1 and PKCS#8 headers.",
		"Convert this config to YAML: database host db.internal, port 5432, user app, password read from the DB_PASSWORD environment variable.",
		"Percent-encoding turns a space into %20 and a slash into %2F; double encoding turns % into %25. Why do WAFs decode twice?",
		"Base32 uses A–Z and 2–7 and pads with '='; base64url swaps + and / for - and _. Write a function that detects which one a string uses.",
	}
}
