package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// ToolchainsImage is a base with every toolchain Debian packages that the CA
// matrix covers (scripts/ci-setup.d/40-toolchains.sh seeds it).
const ToolchainsImage = "bot-bottle/test-toolchains:bookworm"

// ToolchainPackages are the packages on top of the base set.
const ToolchainPackages = "wget python3 python3-requests python3-pip nodejs npm golang-go default-jdk-headless ruby php-cli php-curl cargo"

// caMatrix is docs/ca-trust.md's table: each toolchain's ordinary client,
// with no flag, fetching https://api.e2e.test/t/NAME through the proxy.
// Some fixtures answer what the client cannot use (git and pip want a
// repository); the proof is the proxy's own log: it decrypted the request,
// so the client trusted the bottle CA.
var caMatrix = []struct{ name, cmd string }{
	{"curl", "curl -fsS https://api.e2e.test/t/curl"},
	{"wget", "wget -qO- https://api.e2e.test/t/wget"},
	{"git", "git ls-remote https://api.e2e.test/t/git/repo.git"},
	{"python-requests", `python3 -c "import requests; print(requests.get('https://api.e2e.test/t/python-requests').text)"`},
	{"python-urllib", `python3 -c "import urllib.request; print(urllib.request.urlopen('https://api.e2e.test/t/python-urllib').read().decode())"`},
	{"pip", "pip download --no-deps --no-cache-dir -d /tmp/pip --index-url https://api.e2e.test/t/pip/simple bot-bottle-none"},
	{"npm", "npm view --cache /tmp/npm --registry https://api.e2e.test/t/npm/ bot-bottle-none"},
	{"go", `mkdir -p /tmp/g && cd /tmp/g && printf 'package main\nimport ("fmt";"io";"net/http")\nfunc main(){r,err:=http.Get("https://api.e2e.test/t/go");if err!=nil{panic(err)};b,_:=io.ReadAll(r.Body);fmt.Println(string(b))}\n' > main.go && GOCACHE=/tmp/g/cache GOFLAGS=-mod=mod go run main.go`},
	{"java", `mkdir -p /tmp/j && cd /tmp/j && printf 'public class F{public static void main(String[] a)throws Exception{var c=java.net.http.HttpClient.newBuilder().proxy(java.net.ProxySelector.getDefault()).build();System.out.println(c.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("https://api.e2e.test/t/java")).build(),java.net.http.HttpResponse.BodyHandlers.ofString()).body());}}\n' > F.java && java F.java`},
	{"ruby", `ruby -rnet/http -e 'puts Net::HTTP.get(URI("https://api.e2e.test/t/ruby"))'`},
	{"php", `php -r '$c=curl_init("https://api.e2e.test/t/php"); curl_setopt($c, CURLOPT_RETURNTRANSFER, true); $r=curl_exec($c); if ($r===false) { fwrite(STDERR, curl_error($c)); exit(1);} echo $r;'`},
	{"cargo", "CARGO_HOME=/tmp/cargo cargo search --limit 1 --registry e2e bot-bottle-none; true"}, // Debian's cargo fetches a git index (sparse needs -Z)
}

// TestCATrustPerToolchain: every toolchain row reaches a TLS upstream
// through the proxy with its ordinary client: the variables plan.CAEnv sets
// and the CA installed in the image's system store are enough.
func TestCATrustPerToolchain(t *testing.T) {
	eng := harness.Engine(t)
	base := harness.Seeded(t, eng, ToolchainsImage, "--apt", ToolchainPackages)
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")
	be := docker.New(eng, docker.Options{Base: base, SidecarBase: harness.SidecarBase(t, eng), SidecarBinary: bin})
	ctx := context.Background()
	home := t.TempDir()
	netName := "bot-bottle-test-" + harness.Slug("ca")
	if _, err := eng.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	testCA := harness.NewTestCA(t)
	harness.HTTPSServer(t, eng, testCA, netName, "api.e2e.test")
	writeFile(t, filepath.Join(home, ".bot-bottle", "bottles", "ca.md"), "---\negress:\n  routes:\n    - host: api.e2e.test\n      git: {fetch: true}\n      unsafe_allow_private: true\n---\nThe CA matrix bottle.\n")
	writeFile(t, filepath.Join(home, ".bot-bottle", "agents", "ca.md"), "---\nbottle: ca\n---\nThe CA matrix agent.\n")
	res, err := manifest.Load(home, home).Resolve("ca", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, Slug: harness.Slug("ca"), Rand: rand.Reader, StateRoot: filepath.Join(home, ".bot-bottle", "state")})
	if err != nil {
		t.Fatal(err)
	}
	p.Mounts = append(p.Mounts, plan.Mount{Container: backend.RoleSidecar, Source: testCA.Dir, Target: "/run/e2e-ca", ReadOnly: true})
	p.SidecarEnv["SSL_CERT_FILE"] = "/run/e2e-ca/ca.pem"
	if err := lifecycle.Prepare(p, makeCA); err != nil {
		t.Fatal(err)
	}
	harness.Launch(t, be, *p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()})
	if _, err := eng.NetworkConnect(ctx, netName, client.NetworkConnectOptions{Container: "bot-bottle-" + p.Slug + "-sidecar"}); err != nil {
		t.Fatal(err)
	}
	// cargo takes a registry only from its configuration.
	harness.Sh(t, be, p.Slug, `mkdir -p /tmp/cargo && printf '[registries.e2e]\nindex = "https://api.e2e.test/t/cargo/index"\n' > /tmp/cargo/config.toml`)

	outputs := map[string]string{}
	for _, row := range caMatrix {
		r := harness.Sh(t, be, p.Slug, row.cmd+" 2>&1")
		outputs[row.name] = r.String()
		if low := strings.ToLower(r.Stdout); strings.Contains(low, "certificate") && (strings.Contains(low, "verify") || strings.Contains(low, "unknown") || strings.Contains(low, "problem")) {
			t.Errorf("%s does not trust the bottle CA:\n%s", row.name, r)
		}
	}
	seen := decryptedPaths(t, filepath.Join(p.StateDir, "logs", "egress.jsonl"))
	for _, row := range caMatrix {
		if !seen["/t/"+row.name] {
			t.Errorf("%s: the proxy never read its request, so its TLS to the proxy failed:\n%s", row.name, outputs[row.name])
		}
	}
}

// decryptedPaths is the set of first two path segments ("/t/NAME") of the
// https requests the proxy read and forwarded to api.e2e.test.
func decryptedPaths(t *testing.T, logFile string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct{ Host, Scheme, Path, Decision string }
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Host != "api.e2e.test" || l.Scheme != "https" || l.Decision != "allow" {
			continue
		}
		parts := strings.SplitN(l.Path, "/", 4)
		if len(parts) >= 3 {
			seen["/"+parts[1]+"/"+parts[2]] = true
		}
	}
	return seen
}
