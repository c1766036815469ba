package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
)

const egressTestPolicy = `egress:
  routes:
    - host: api.example.com
      auth: {scheme: Bearer, token_ref: API_TOKEN}
      dlp: {outbound_on_match: block}
      matches:
        - paths: [{type: prefix, value: /v1/}]
`

func egressEnv(dir string, out io.Writer, vars map[string]string) Env {
	return Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: out, Home: dir, Cwd: dir,
		Getenv: func(k string) string { return vars[k] }, Environ: func() []string { return nil }}
}

func TestEgressCheck(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(egressTestPolicy), 0o600)
	os.WriteFile(filepath.Join(dir, "leak.txt"), []byte("here: held-token-value-0123456789abcdef"), 0o600)
	vars := map[string]string{"API_TOKEN": "held-token-value-0123456789abcdef"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"allowed", []string{"https://api.example.com/v1/models"}, ExitOK, "allow (allowed): route api.example.com"},
		{"no route", []string{"https://evil.example.net/"}, ExitFound, "refuse (no-route): no egress route allows host evil.example.net"},
		{"no match", []string{"-X", "DELETE", "https://api.example.com/admin"}, ExitFound, "refuse (no-match)"},
		{"doh header", []string{"-H", "Accept: application/dns-message", "https://api.example.com/v1/q"}, ExitFound, "refuse (doh)"},
		{"secret in body", []string{"--data", "@leak.txt", "https://api.example.com/v1/messages"}, ExitFound, "refuse (dlp): the request contains a secret (known_secrets API_TOKEN in body)"},
		{"json", []string{"--json", "https://api.example.com/v1/x"}, ExitOK, `"allow": true`},
		{"bad url", []string{"ftp://x"}, ExitError, "not an http or https URL"},
		{"bad header", []string{"-H", "nocolon", "https://api.example.com/v1/x"}, ExitError, "Name: value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := Run(context.Background(), append([]string{"egress", "check", "--policy", pol}, tt.args...), egressEnv(dir, &out, vars))
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, output %q; want %d with %q", code, out.String(), tt.code, tt.want)
			}
			if strings.Contains(out.String(), "held-token-value") {
				t.Error("check printed the token")
			}
		})
	}
}

func TestEgressServe(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(egressTestPolicy), 0o600)
	addr := freeAddr(t)
	var logs lockedBuffer
	env := egressEnv(dir, &logs, map[string]string{"API_TOKEN": "held-token-value-0123456789abcdef"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"egress", "serve", "--policy", pol, "--listen", addr, "--state-dir", filepath.Join(dir, "ca")}, env)
	}()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("serve exited %d: %s", code, logs.String())
		}
	}()
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr})}}
	var resp *http.Response
	var err error
	for range 100 { // the server is starting in its goroutine
		if resp, err = c.Get("http://_egress.local/allowlist"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy never answered: %v\n%s", err, logs.String())
	}
	defer resp.Body.Close()
	var table struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil || len(table.Routes) != 1 {
		t.Fatalf("allowlist: %v %+v", err, table)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca", "ca.pem")); err != nil {
		t.Errorf("ca.pem not written: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"egress listening"`) {
		t.Errorf("no JSON log line: %s", logs.String())
	}
}

func TestEgressServeUsage(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(egressTestPolicy), 0o600)
	tests := []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"no policy", []string{"--state-dir", dir}, nil, "--policy and --state-dir"},
		{"bad timeout", []string{"--policy", pol, "--state-dir", dir}, map[string]string{"API_TOKEN": "x", "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS": "soon"}, "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS"},
		{"token unset", []string{"--policy", pol, "--state-dir", dir}, nil, "token_ref API_TOKEN is not set"},
		{"timeout off", []string{"--policy", pol, "--state-dir", dir, "--body-timeout", "0s"}, map[string]string{"API_TOKEN": "x"}, "--body-timeout 0s: want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := Run(context.Background(), append([]string{"egress", "serve", "--listen", "127.0.0.1:0"}, tt.args...), egressEnv(dir, &out, tt.vars))
			if code != ExitError || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, output %q; want %d mentioning %q", code, out.String(), ExitError, tt.want)
			}
		})
	}
}

// TestEgressCheckSlugReadsTheLivePolicy: --slug decides against the policy
// the bottle's sidecar runs now, so a route the operator approved is in it,
// and a slug with no state, or one that climbs out, is refused.
func TestEgressCheckSlugReadsTheLivePolicy(t *testing.T) {
	dir := t.TempDir()
	live := hoststate.New(dir).Bottle("impl-k3x9q").Policy()
	os.MkdirAll(filepath.Dir(live), 0o700)
	os.WriteFile(live, []byte(egressTestPolicy+"    - host: approved.example.com\n"), 0o600)
	vars := map[string]string{"API_TOKEN": "held-token-value-0123456789abcdef"}
	for _, tc := range []struct {
		slug, url string
		code      int
		want      string
	}{
		{"impl-k3x9q", "https://approved.example.com/x", 0, "allow"},
		{"impl-k3x9q", "https://other.example.com/x", ExitFound, "refuse (no-route)"},
		{"gone-aaaaa", "https://approved.example.com/x", ExitError, "has no live policy"},
		{"../impl-k3x9q", "https://approved.example.com/x", ExitError, "not a bottle slug"},
	} {
		var out bytes.Buffer
		code := Run(context.Background(), []string{"egress", "check", "--slug", tc.slug, tc.url}, egressEnv(dir, &out, vars))
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("--slug %s %s: exit %d, output %q; want exit %d and %q", tc.slug, tc.url, code, out.String(), tc.code, tc.want)
		}
	}
}
