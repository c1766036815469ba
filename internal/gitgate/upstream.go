package gitgate

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// namePattern is what a repo name may be: it becomes a URL path segment and
// a directory name.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// upstream is one declared repo, validated.
type upstream struct {
	name       string
	url        string // as declared; git understands both forms
	host, port string
	keyPath    string
	hostKey    string // "TYPE BASE64"
	allowForce bool
}

func parseUpstream(name string, r manifest.Repo) (*upstream, error) {
	if !namePattern.MatchString(name) || strings.HasSuffix(name, ".git") {
		return nil, fmt.Errorf("repo name %q: use letters, digits, '.', '_' and '-', without a .git suffix", name)
	}
	host, port, err := parseSSHURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("repo %s: url: %w", name, err)
	}
	key, err := parseHostKey(r.HostKey)
	if err != nil {
		return nil, fmt.Errorf("repo %s: host_key: %w", name, err)
	}
	if r.Key.Provider != "static" {
		return nil, fmt.Errorf("repo %s: key.provider %q: only \"static\" exists", name, r.Key.Provider)
	}
	if r.Key.Path == "" {
		return nil, fmt.Errorf("repo %s: key.path is empty", name)
	}
	f, err := os.Open(r.Key.Path)
	if err != nil {
		return nil, fmt.Errorf("repo %s: reading key: %w", name, err)
	}
	f.Close()
	return &upstream{
		name: name, url: r.URL, host: host, port: port,
		keyPath: r.Key.Path, hostKey: key, allowForce: r.AllowForcePush,
	}, nil
}

// parseSSHURL accepts ssh://[user@]host[:port]/path and the scp form
// [user@]host:path, and returns the host and port ssh will dial.
func parseSSHURL(s string) (host, port string, err error) {
	if s == "" {
		return "", "", errors.New("empty")
	}
	if strings.ContainsAny(s, " \t\r\n'\"\\") {
		return "", "", fmt.Errorf("%q has white space or quotes", s)
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", "", err
		}
		if u.Scheme != "ssh" && u.Scheme != "git+ssh" {
			return "", "", fmt.Errorf("%q: only ssh:// or user@host:path upstreams are supported", s)
		}
		host, port = u.Hostname(), u.Port()
		if port == "" {
			port = "22"
		}
		if u.Path == "" || u.Path == "/" {
			return "", "", fmt.Errorf("%q has no repository path", s)
		}
	} else {
		hostPart, path, ok := strings.Cut(s, ":")
		if !ok || path == "" || strings.Contains(hostPart, "/") {
			return "", "", fmt.Errorf("%q is neither ssh://host/path nor user@host:path", s)
		}
		if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
			hostPart = hostPart[i+1:]
		}
		host, port = strings.Trim(hostPart, "[]"), "22"
	}
	if host == "" || strings.HasPrefix(host, "-") {
		return "", "", fmt.Errorf("%q has no valid host", s)
	}
	return host, port, nil
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
	h := u.host
	if u.port != "22" {
		h = "[" + u.host + "]:" + u.port
	}
	return h + " " + u.hostKey + "\n"
}

// sshCommand is GIT_SSH_COMMAND for this upstream: only the repo's key, the
// pinned host key, nothing from the user's ssh config or agent, no
// forwarding.
func (u *upstream) sshCommand(knownHosts string) string {
	return strings.Join([]string{
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
	}, " ")
}

// shellQuote quotes s for sh: git runs GIT_SSH_COMMAND through the shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
