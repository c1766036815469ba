package lifecycle

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

func testPlan(t *testing.T) *plan.Bottle {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state", "impl-abcde")
	key := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(key, []byte("PRIVATE KEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &plan.Bottle{
		Slug:     "impl-abcde",
		StateDir: state,
		Egress:   plan.Egress{Routes: []manifest.Route{{Host: "api.github.com"}}, Log: 1},
		Sidecar:  plan.SidecarConfig{Slug: "impl-abcde", Daemons: []string{"egress"}},
		GitGate: plan.GitGate{Repos: []plan.Repo{{
			Name: "project", KnownHostsName: "[git.example.com]:2222", HostKey: "ssh-ed25519 AAAAkey", KeyFile: key,
		}}},
		Mounts:   []plan.Mount{{Container: "sidecar", Source: filepath.Join(state, "logs"), Target: plan.SidecarLogsDir}},
		AgentEnv: map[string]string{"HTTPS_PROXY": plan.DefaultProxyURL},
	}
}

func TestPrepare(t *testing.T) {
	p := testPlan(t)
	// A route approved in an earlier run is kept.
	approved := filepath.Join(p.StateDir, "egress", "approved.yaml")
	if err := os.MkdirAll(filepath.Dir(approved), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(approved, []byte("egress:\n  routes:\n    - host: pypi.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Prepare(p, func(dir string) ([]byte, error) {
		cert, _, err := ca.Generate("bot-bottle test", time.Now())
		if err != nil {
			return nil, err
		}
		return cert, os.WriteFile(filepath.Join(dir, "ca-key.pem"), []byte("key"), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(parts ...string) string {
		b, err := os.ReadFile(filepath.Join(append([]string{p.StateDir}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var sc plan.SidecarConfig
	if err := json.Unmarshal([]byte(read("sidecar", "sidecar.json")), &sc); err != nil || sc.Slug != "impl-abcde" {
		t.Errorf("sidecar.json = %+v, %v", sc, err)
	}
	live, err := manifest.LoadEgressFile(filepath.Join(p.StateDir, "egress", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, r := range live.Routes {
		hosts = append(hosts, r.Host)
	}
	if diff := cmp.Diff([]string{"api.github.com", "pypi.org"}, hosts); diff != "" {
		t.Errorf("live policy hosts (-want +got):\n%s", diff)
	}
	if read("supervise", "current-config", "egress.yaml") != read("egress", "policy.yaml") {
		t.Error("current-config/egress.yaml differs from the live policy")
	}
	if got := read("ssh", "known_hosts"); got != "[git.example.com]:2222 ssh-ed25519 AAAAkey\n" {
		t.Errorf("known_hosts = %q", got)
	}
	if st, err := os.Stat(filepath.Join(p.StateDir, "ssh", "project.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key copy: %v %v", st, err)
	}
	if got := read("agent-ca", "ca.pem"); !strings.HasPrefix(got, "-----BEGIN CERTIFICATE") {
		t.Errorf("agent-ca/ca.pem = %q", got)
	}
	if _, err := os.Stat(filepath.Join(p.StateDir, "agent-ca", "truststore.p12")); err != nil {
		t.Errorf("the agent's Java trust store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.StateDir, "agent-ca", "ca-key.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the CA key reached the agent's CA folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.StateDir, "logs")); err != nil {
		t.Errorf("mount source not created: %v", err)
	}
}

func TestPrepareMissingKey(t *testing.T) {
	p := testPlan(t)
	p.GitGate.Repos[0].KeyFile = filepath.Join(t.TempDir(), "nope")
	if err := Prepare(p, nil); err == nil || !strings.Contains(err.Error(), "repo project") {
		t.Fatalf("error = %v, want one naming the repo", err)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := Metadata{Slug: "a-b", Agent: "a", Bottles: []string{"default"}, Backend: "docker", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := WriteMetadata(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTarballOwnsOnlyTheHome(t *testing.T) {
	skill := t.TempDir()
	os.MkdirAll(filepath.Join(skill, "sub"), 0o755)
	os.WriteFile(filepath.Join(skill, "sub", "SKILL.md"), []byte("x"), 0o644)
	tb := newTarball(1234, 1234)
	tb.file(provider.AgentHome+"/.claude.json", []byte("{}"), 0o600)
	if err := tb.tree(skill, provider.AgentHome+"/skills/review"); err != nil {
		t.Fatal(err)
	}
	data, err := tb.bytes()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 1234 {
			t.Errorf("%s owned by %d", h.Name, h.Uid)
		}
		names = append(names, h.Name)
	}
	want := []string{"home/agent/", "home/agent/.claude.json", "home/agent/skills/", "home/agent/skills/review/", "home/agent/skills/review/sub/", "home/agent/skills/review/sub/SKILL.md"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}
