package dlp

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// chatBody is a provider request of about size bytes: a JSON chat whose
// messages alternate between a typical agent turn (prose, commands, test
// output: testdata/clean/conversation.txt) and Go code (this package's own
// source), with no secrets in it.
func chatBody(tb testing.TB, size int) []byte {
	return chatBodyFrom(tb, size, "testdata/clean/conversation.txt")
}

// denseChatBody is the same with prompt lines crowded with secret-ish
// words, curl -H commands and service names (testdata/clean/prompts.txt):
// nearly every line wakes some gitleaks rule.
func denseChatBody(tb testing.TB, size int) []byte {
	return chatBodyFrom(tb, size, "testdata/clean/prompts.txt")
}

func chatBodyFrom(tb testing.TB, size int, proseFile string) []byte {
	tb.Helper()
	prose, err := os.ReadFile(proseFile)
	if err != nil {
		tb.Fatal(err)
	}
	code, err := os.ReadFile("tokens.go")
	if err != nil {
		tb.Fatal(err)
	}
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	req := struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Messages  []msg  `json:"messages"`
	}{Model: "claude-sonnet-4-5", MaxTokens: 8192}
	n := 0
	for i := 0; n < size-200; i++ {
		c := string(prose)
		role := "user"
		if i%2 == 1 {
			c, role = "Here is the file:\n```go\n"+string(code)+"\n```", "assistant"
		}
		if rest := size - 200 - n; len(c) > rest {
			c = c[:rest]
		}
		req.Messages = append(req.Messages, msg{role, c})
		n += len(c) + 40
	}
	b, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// benchScan scans body as a JSON request; it must yield want findings.
func benchScan(b *testing.B, o *Outbound, body []byte, want int) {
	r := post(string(body), "Content-Type", "application/json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	c := cpuClock()
	for range b.N {
		res, err := o.Scan(r)
		if err != nil || len(res.Findings) != want {
			b.Fatal(err, res.Findings)
		}
	}
	reportCPU(b, c, len(body))
}

func BenchmarkOutboundClean64KiB(b *testing.B) {
	benchScan(b, knownScanner(b), chatBody(b, 64<<10), 0)
}

func BenchmarkOutboundCleanDense64KiB(b *testing.B) {
	benchScan(b, knownScanner(b), denseChatBody(b, 64<<10), 0)
}

func BenchmarkOutboundClean1MiB(b *testing.B) {
	benchScan(b, knownScanner(b), chatBody(b, 1<<20), 0)
}

func BenchmarkOutboundCleanAllDetectors64KiB(b *testing.B) {
	benchScan(b, knownScanner(b, DetectorTokenPatterns, DetectorKnownSecrets, DetectorEntropy), chatBody(b, 64<<10), 0)
}

func BenchmarkOutboundTokenPatternsOnly64KiB(b *testing.B) {
	benchScan(b, knownScanner(b, DetectorTokenPatterns), chatBody(b, 64<<10), 0)
}

func BenchmarkOutboundKnownSecretsOnly64KiB(b *testing.B) {
	benchScan(b, knownScanner(b, DetectorKnownSecrets), chatBody(b, 64<<10), 0)
}

func BenchmarkOutboundGzip64KiB(b *testing.B) {
	o := knownScanner(b)
	body := chatBody(b, 64<<10)
	r := post(string(gz(body)), "Content-Type", "application/json", "Content-Encoding", "gzip")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	c := cpuClock()
	for range b.N {
		if _, err := o.Scan(r); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c, len(body))
}

func BenchmarkOutboundWithSecret64KiB(b *testing.B) {
	body := chatBody(b, 64<<10)
	s := string(body)
	i := strings.Index(s, "retry loop")
	s = s[:i] + heldToken + " ghp_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb " + s[i:]
	benchScan(b, knownScanner(b), []byte(s), 2)
}

func BenchmarkRedact64KiB(b *testing.B) {
	body := chatBody(b, 64<<10)
	s := strings.Replace(string(body), "retry loop", heldToken, 1)
	o := knownScanner(b)
	r := post(s)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	c := cpuClock()
	for range b.N {
		if _, surv, err := o.Redact(r); err != nil || len(surv) != 0 {
			b.Fatal(err, surv)
		}
	}
	reportCPU(b, c, len(s))
}

// BenchmarkGitleaksDetector is gitleaks' own detector with its default
// rules on the same clean 64 KiB body: the baseline token_patterns beats.
func BenchmarkGitleaksDetector(b *testing.B) {
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	body := string(chatBody(b, 64<<10))
	if os.Getenv("DLP_BENCH_DENSE") == "1" {
		body = string(denseChatBody(b, 64<<10))
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	c := cpuClock()
	for range b.N {
		d.DetectString(body)
	}
	reportCPU(b, c, len(body))
}

func BenchmarkNewOutbound(b *testing.B) {
	if _, err := defaultRules(); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		knownScanner(b)
	}
}

// htmlPage is a clean web page of about size bytes: the conversation text
// as paragraphs.
func htmlPage(tb testing.TB, size int) []byte {
	prose, err := os.ReadFile("testdata/clean/conversation.txt")
	if err != nil {
		tb.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("<!doctype html><html><head><title>Docs</title></head><body>\n")
	for sb.Len() < size {
		for _, p := range strings.Split(string(prose), "\n\n") {
			sb.WriteString("<p class=\"doc\">" + p + "</p>\n")
		}
	}
	return []byte(sb.String()[:size])
}

func BenchmarkDetectInjection64KiB(b *testing.B) {
	page := htmlPage(b, 64<<10)
	if v := DetectInjection(page); v.Level != None {
		b.Fatalf("clean page flagged: %+v", v)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	c := cpuClock()
	for range b.N {
		DetectInjection(page)
	}
	reportCPU(b, c, len(page))
}

// BenchmarkSSEScanner streams 1000 provider delta events through the scanner.
func BenchmarkSSEScanner(b *testing.B) {
	var sb strings.Builder
	words := strings.Fields(string(htmlPage(b, 8<<10)))
	for i := 0; i < 1000; i++ {
		sb.WriteString(delta(words[i%len(words)] + " "))
	}
	stream := sb.String()
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	c := cpuClock()
	for range b.N {
		n, err := io.Copy(io.Discard, NewSSEScanner(strings.NewReader(stream), nil))
		if err != nil || n != int64(len(stream)) {
			b.Fatal(err, n)
		}
	}
	reportCPU(b, c, len(stream))
}
