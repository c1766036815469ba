package gitgate_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/bot-bottle/bot-bottle/internal/gitgate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// TestUpstreamWithAnotherHostKeyRefused: an upstream that answers with a
// host key other than the pinned one (a man in the middle, a re-pointed
// name) gets nothing: no fetch is served from it and no push reaches it.
// Turning strict host-key checking off makes this test fail.
func TestUpstreamWithAnotherHostKeyRefused(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
	f := newFixture(t, s, "pinned", func(_ *gitgate.Config, r *manifest.Repo) { r.HostKey = other })
	before := refOf(t, f.bare, "refs/heads/main")

	out, err := run(t, t.TempDir(), "clone", f.gate.url("pinned"), "c")
	if err == nil {
		t.Fatalf("clone through an upstream with another host key succeeded:\n%s", out)
	}
	if strings.Contains(out, "Receiving objects") {
		t.Errorf("the gate served objects from an unverified upstream:\n%s", out)
	}
	if got := refOf(t, f.bare, "refs/heads/main"); got != before {
		t.Errorf("upstream main moved from %s to %s", before, got)
	}
}
