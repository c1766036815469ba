package dlp

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

const hostSecret = "real-upstream-token-0123456789abcdef"

// realHosts are names agents reach every day; none may be a finding.
var realHosts = []string{
	"api.github.com", "objects.githubusercontent.com", "raw.githubusercontent.com",
	"avatars.githubusercontent.com", "pkg-containers.githubusercontent.com",
	"release-assets.githubusercontent.com", "codeload.github.com",
	"github-production-release-asset-2e65be.s3.amazonaws.com",
	"d111111abcdef8.cloudfront.net", "d3m4n5o6p7q8r9.cloudfront.net", "e12345.dsce9.akamaiedge.net",
	"a1b2c3d4.akamaized.net", "dualstack.j.sni.global.fastly.net", "cdn.jsdelivr.net", "unpkg.com",
	"registry.npmjs.org", "registry.yarnpkg.com", "files.pythonhosted.org", "pypi.org", "proxy.golang.org",
	"sum.golang.org", "static.crates.io", "index.crates.io", "rubygems.org", "repo1.maven.org",
	"registry-1.docker.io", "production.cloudflare.docker.com", "ghcr.io", "quay.io",
	"my-bucket-name.s3.us-west-2.amazonaws.com", "my-company-artifacts-2024-prod.s3.eu-central-1.amazonaws.com",
	"my.bucket.example.com.s3.us-west-2.amazonaws.com", "s3.dualstack.ap-southeast-2.amazonaws.com",
	"bedrock-runtime.us-east-1.amazonaws.com", "ec2.ap-southeast-2.amazonaws.com",
	"123456789012.dkr.ecr.us-east-1.amazonaws.com", "abcdefghij.execute-api.us-east-1.amazonaws.com",
	"vpce-0a1b2c3d4e5f6a7b8-abcdefgh.ec2.us-east-1.vpce.amazonaws.com",
	"a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-1234567890.us-east-1.elb.amazonaws.com",
	"mydb.c9akciq32.us-east-1.rds.amazonaws.com", "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
	"abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com",
	"k3xq7z2mfw4bnyv5ra9tc6hd8pj0ls1e.lambda-url.us-east-1.on.aws",
	"my-app-4f3k2j1h9-myteam.vercel.app", "my-app-git-feature-branch-myteam.vercel.app",
	"my-app-git-fix-login-bug-acme-corp-projects.vercel.app",
	"64b1f0c2a3e4d5f6a7b8c9d0--mysite.netlify.app", "deploy-preview-123--mysite.netlify.app",
	"f47ac10b-58cc-4372-a567-0e02b2c3d479.example.com", "f47ac10b-58cc-4372-a567-0e02b2c3d479.preview.example.dev",
	"fuzzy-space-guacamole-5g4x7v9wp2qxp-8080.app.github.dev", "1a2b-3c4d-5e6f.ngrok-free.app",
	"a1b2c3d4.my-project.pages.dev", "myapp-1a2b3c4d5e6f.herokuapp.com", "my-service-abc123xyz-uc.a.run.app",
	"us-central1-docker.pkg.dev", "storage.googleapis.com", "lh3.googleusercontent.com",
	"mystorageaccount.blob.core.windows.net", "myendpoint-abcdefgh12345678.z01.azurefd.net",
	"abcdefghijklmnopqrst.supabase.co", "o123456.ingest.us.sentry.io", "api.anthropic.com", "api.openai.com",
	"generativelanguage.googleapis.com", "xn--bcher-kva.example", "xn--80ak6aa92e.com", "localhost", "10.0.0.5",
}

func TestRealHostNamesPass(t *testing.T) {
	h := mustHostCheck(t)
	for _, host := range realHosts {
		v, err := h.Check(host)
		if err != nil || !v.Clean() {
			t.Errorf("%s: %+v %v", host, v, err)
		}
	}
}

func mustHostCheck(t testing.TB) *HostCheck {
	t.Helper()
	h, err := NewHostCheck([]Secret{{Name: "UP_TOKEN", Value: hostSecret}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func chunk(s string, n int) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), ".")
}

// TestHostNameCarriesSecret: the held secret and token patterns, in the
// labels as sent, hex, base32 and base64url, in one label or chunked.
func TestHostNameCarriesSecret(t *testing.T) {
	h := mustHostCheck(t)
	const ghp = "ghp_k3Xq7Z2mFw4BnYv5Ra9Tc6Hd8Pj0Ls1EuQ2w"
	const aws = "AKIAZ3MHQW5YKB2XJ4NT"
	hx := hex.EncodeToString([]byte(hostSecret))
	b32 := strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString([]byte(hostSecret)), "="))
	b64 := base64.RawURLEncoding.EncodeToString([]byte(hostSecret))
	for name, host := range map[string]string{
		"raw":                 hostSecret + ".x.example.com",
		"raw split":           "real-upstream-tok.en-0123456789abcdef.x.example.com",
		"hex chunked":         chunk(hx, 36) + ".x.example.com",
		"hex upper":           chunk(strings.ToUpper(hx), 40) + ".x.example.com",
		"hex with dashes":     chunk(hx[:36], 8) + "-" + hx[36:] + ".example.com",
		"base32":              b32 + ".x.example.com",
		"base32 chunked":      chunk(b32, 20) + ".x.example.com",
		"base64url":           b64 + ".x.example.com",
		"base64url chunked":   chunk(b64, 16) + ".x.example.com",
		"github token":        strings.ToLower(ghp) + ".evil.example",
		"github token in hex": chunk(hex.EncodeToString([]byte(ghp)), 40) + ".evil.example",
		"aws key in hex":      hex.EncodeToString([]byte(aws)) + ".evil.example",
		"aws key base32":      strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString([]byte(aws)), "=")) + ".evil.example",
		"aws key raw":         strings.ToLower(aws) + ".evil.example",
	} {
		v, err := h.Check(host)
		if err != nil || len(v.Secrets) == 0 {
			t.Errorf("%s (%s): not found: %+v %v", name, host, v, err)
			continue
		}
		for _, f := range v.Secrets {
			if !strings.HasPrefix(f.Where, "host") || strings.Contains(f.Redacted, hostSecret) || strings.Contains(f.Redacted, hx) {
				t.Errorf("%s: finding %+v", name, f)
			}
		}
	}
}

// TestHostNameLooksEncoded: data that is no token, chunked into labels
// the way DNS tunnels do.
func TestHostNameLooksEncoded(t *testing.T) {
	data := []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
	hx := hex.EncodeToString(data)
	b32 := strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(data), "="))
	b64 := base64.RawURLEncoding.EncodeToString(data)
	for name, host := range map[string]string{
		"hex 63":        hx[:63] + ".t.example.com",
		"hex chunked":   chunk(hx[:120], 30) + ".t.example.com",
		"base32 63":     b32[:63] + ".t.example.com",
		"base32 chunks": chunk(b32[:96], 24) + ".t.example.com",
		"base64url":     b64[:60] + ".t.example.com",
		"deep":          "a.b.c.d.e.f.g.h.i.j.k.example.com",
		"consonants":    "xkcdqrstvwxzbcdfghjklmnpqrstvwx.bcdfghjklmnpqrstvwxzxkcdqrstvwx.example.com",
	} {
		if fs := HostLooksEncoded(host); len(fs) == 0 {
			t.Errorf("%s (%s): not found", name, host)
		}
	}
}

func BenchmarkHostCheck(b *testing.B) {
	h := mustHostCheck(b)
	for _, host := range []string{"objects.githubusercontent.com", "my-bucket-name.s3.us-west-2.amazonaws.com"} {
		b.Run(host, func(b *testing.B) {
			for b.Loop() {
				h.Check(host)
			}
		})
	}
}

// FuzzHostCheck: any name, any bytes: no panic, and no finding repeats
// the held secret.
func FuzzHostCheck(f *testing.F) {
	h := mustHostCheck(f)
	for _, s := range append(realHosts[:8], hex.EncodeToString([]byte(hostSecret)), "..", "a..b", "[::1]", "x.") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if len(host) > 300 {
			return
		}
		v, err := h.Check(host)
		if err != nil {
			return
		}
		for _, f := range append(v.Secrets, v.Encoded...) {
			if strings.Contains(f.Redacted, hostSecret) {
				t.Fatalf("finding shows the secret: %+v", f)
			}
		}
	})
}
