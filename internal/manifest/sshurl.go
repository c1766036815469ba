package manifest

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

var (
	sshHostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
	sshUserRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// SSHURL is a parsed SSH git upstream.
type SSHURL struct {
	// User is the SSH login ("git"); may be empty.
	User string
	// Host is the server name or address (no brackets).
	Host string
	// Port is the SSH port; 0 means 22.
	Port int
	// Path is the repository path without a leading "/" (for scp form it is
	// what follows the colon), with its .git suffix if the user wrote one.
	Path string
	// AbsSCP is true for the scp form with an absolute path
	// (host:/srv/x.git): its scp spellings keep the "/".
	AbsSCP bool
}

// ParseSSHURL parses ssh://[user@]host[:port]/path or the scp form
// [user@]host:path.
func ParseSSHURL(s string) (SSHURL, error) {
	var u SSHURL
	bad := func(why string) (SSHURL, error) {
		return SSHURL{}, fmt.Errorf("%q is not an SSH URL (%s); use ssh://git@host/org/repo.git or git@host:org/repo.git", s, why)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return bad("it has spaces")
	}
	if rest, ok := strings.CutPrefix(s, "ssh://"); ok {
		hostPart, path, ok := strings.Cut(rest, "/")
		if !ok || path == "" {
			return bad("no repository path")
		}
		if strings.HasPrefix(path, "/") {
			// ssh://host//x has no scp spelling that names the same path.
			return bad("the path starts with //")
		}
		if strings.Contains(path, "://") {
			// Its scp spelling would read as a URL of another scheme.
			return bad("the path holds ://")
		}
		if user, host, ok := strings.Cut(hostPart, "@"); ok {
			if user == "" {
				return bad("empty user")
			}
			u.User, hostPart = user, host
		}
		host, portStr := hostPart, ""
		if rest, ok := strings.CutPrefix(hostPart, "["); ok {
			h, after, ok := strings.Cut(rest, "]")
			if !ok {
				return bad("unclosed [")
			}
			host = h
			if after != "" {
				p, ok := strings.CutPrefix(after, ":")
				if !ok {
					return bad("bad host")
				}
				portStr = p
			}
		} else if h, p, ok := strings.Cut(hostPart, ":"); ok {
			host, portStr = h, p
		}
		if portStr != "" {
			port, err := strconv.Atoi(portStr)
			if err != nil || port < 1 || port > 65535 {
				return bad("bad port")
			}
			if port != 22 {
				u.Port = port
			}
		}
		u.Host, u.Path = host, path
	} else {
		if strings.Contains(s, "://") {
			return bad("only ssh:// upstreams are supported")
		}
		hostPart, path, ok := strings.Cut(s, ":")
		if !ok || path == "" {
			return bad("no repository path")
		}
		if user, host, ok := strings.Cut(hostPart, "@"); ok {
			if user == "" {
				return bad("empty user")
			}
			u.User, hostPart = user, host
		}
		u.Host, u.Path = hostPart, strings.TrimPrefix(path, "/")
		u.AbsSCP = strings.HasPrefix(path, "/")
	}
	if u.Host == "" {
		return bad("no host")
	}
	if !sshHostRE.MatchString(u.Host) && net.ParseIP(u.Host) == nil {
		return bad("bad host")
	}
	if u.User != "" && !sshUserRE.MatchString(u.User) {
		return bad("bad user")
	}
	if strings.Trim(strings.TrimSuffix(u.Path, ".git"), "/") == "" {
		// "/" or "/.git" names no repository, and its scp spelling would
		// not parse back.
		return bad("no repository path")
	}
	return u, nil
}

// urlHost is the host as written in an ssh:// URL: brackets around an
// IPv6 address, :port when the port is not 22.
func (u SSHURL) urlHost() string {
	h := u.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if u.Port != 0 {
		h += ":" + strconv.Itoa(u.Port)
	}
	return h
}

// KnownHostsName is how known_hosts names this server: host, or
// [host]:port for a port other than 22.
func (u SSHURL) KnownHostsName() string {
	if u.Port == 0 {
		return u.Host
	}
	return "[" + u.Host + "]:" + strconv.Itoa(u.Port)
}

// Forms lists every spelling of this upstream a user may type: scp form
// (when the port is 22) and ssh:// form, each with and without ".git".
// git's insteadOf matches URL strings exactly, so each needs its own rule.
// The scp form keeps an absolute path's "/", as written: host:/srv/x.git.
func (u SSHURL) Forms() []string {
	base := strings.TrimSuffix(u.Path, ".git")
	userAt := ""
	if u.User != "" {
		userAt = u.User + "@"
	}
	scpPath := ""
	if u.AbsSCP {
		scpPath = "/"
	}
	var forms []string
	for _, p := range []string{base + ".git", base} {
		if u.Port == 0 && !strings.Contains(u.Host, ":") {
			forms = append(forms, userAt+u.Host+":"+scpPath+p)
		}
		forms = append(forms, "ssh://"+userAt+u.urlHost()+"/"+p)
	}
	return forms
}
