package gitgate

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// upstream is one declared repo, validated.
type upstream struct {
	name       string
	url        string // as declared; git understands both forms
	khName     string // how known_hosts names the server
	keyPath    string
	hostKey    string // "TYPE BASE64"
	allowForce bool
}

func parseUpstream(name string, r manifest.Repo) (*upstream, error) {
	if err := manifest.ValidateRepo(name, r); err != nil {
		return nil, fmt.Errorf("repo %s: %w", name, err)
	}
	u, err := manifest.ParseSSHURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("repo %s: url: %w", name, err)
	}
	if strings.HasPrefix(u.Host, "-") {
		return nil, fmt.Errorf("repo %s: url %q: a host may not start with '-'", name, r.URL)
	}
	key, err := parseHostKey(r.HostKey)
	if err != nil {
		return nil, fmt.Errorf("repo %s: host_key: %w", name, err)
	}
	f, err := os.Open(r.Key.Path)
	if err != nil {
		return nil, fmt.Errorf("repo %s: reading key: %w", name, err)
	}
	f.Close()
	return &upstream{
		name: name, url: r.URL, khName: u.KnownHostsName(),
		keyPath: r.Key.Path, hostKey: key, allowForce: r.AllowForcePush,
	}, nil
}

// parseHostKey accepts a known_hosts line ("HOSTS TYPE BASE64 [comment]")
// or a bare "TYPE BASE64 [comment]" and returns "TYPE BASE64". The host
// field of a known_hosts line is replaced by the url's own host, so a
// hashed or differently spelled entry still pins the right key.
func parseHostKey(s string) (string, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", errors.New("empty: pin the upstream's public host key")
	}
	if strings.HasPrefix(f[0], "@") {
		return "", fmt.Errorf("%s entries are not supported", f[0])
	}
	if !isKeyType(f[0]) && len(f) >= 3 {
		f = f[1:]
	}
	if len(f) < 2 || !isKeyType(f[0]) {
		return "", errors.New("want a known_hosts line or \"TYPE BASE64\"")
	}
	if _, err := base64.StdEncoding.DecodeString(f[1]); err != nil {
		return "", fmt.Errorf("key is not base64: %w", err)
	}
	return f[0] + " " + f[1], nil
}

func isKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-sha2-") ||
		strings.HasPrefix(s, "sk-ssh-") || strings.HasPrefix(s, "sk-ecdsa-")
}

// knownHostsLine pins the key for the host ssh dials ([host]:port when the
// port is not 22).
func (u *upstream) knownHostsLine() string {
	return u.khName + " " + u.hostKey + "\n"
}

// sshCommand is GIT_SSH_COMMAND for this upstream: only the repo's key, the
// pinned host key, nothing from the user's ssh config or agent, no
// forwarding. With a control socket path, the refresh, the HEAD lookup and
// the forwarding push of one repo share one SSH connection (the first one
// made checks the pinned host key; the others ride on it) instead of a
// handshake each. Each repo has its own socket: two repos on one host may
// use different keys.
func (u *upstream) sshCommand(knownHosts, control string) string {
	var mux []string
	if control != "" {
		mux = []string{
			"-o", "ControlMaster=auto",
			"-o", "ControlPath=" + shellQuote(control),
			"-o", "ControlPersist=" + controlPersist,
		}
	}
	return strings.Join(append([]string{
		"ssh", "-F", "/dev/null",
		"-i", shellQuote(u.keyPath),
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "ForwardAgent=no",
		"-o", "ForwardX11=no",
		"-o", "ClearAllForwardings=yes",
		"-o", "UserKnownHostsFile=" + shellQuote(knownHosts),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=15",
		"-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=4",
	}, mux...), " ")
}

// controlPersist is how long a shared connection outlives its last use: long
// enough to span the scan of a large push between the refresh and the forward.
const controlPersist = "120s"

// shellQuote quotes s for sh: git runs GIT_SSH_COMMAND through the shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
