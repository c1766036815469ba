package workspace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// BundleRef is one ref a bundle carries.
type BundleRef struct {
	Name, SHA string
}

// BundleHeader is the text head of a git bundle (v2 or v3).
type BundleHeader struct {
	Version int
	// Prerequisites are commits the bundle needs and does not carry.
	Prerequisites []string
	Refs          []BundleRef
}

// ErrNotBundle marks bytes that are not a git bundle.
var ErrNotBundle = errors.New("not a git bundle")

var (
	shaPattern = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	// A ref name as git check-ref-format allows, narrowed: no control
	// characters or spaces, so a ref list printed on a terminal is safe.
	refPattern = regexp.MustCompile(`^(HEAD|refs/[A-Za-z0-9._/+@-]+)$`)
)

// maxHeader bounds the text head of a bundle.
const maxHeader = 1 << 20

// ParseBundleHeader reads a bundle's head from r. The bundle comes from
// the agent: every line is checked, and anything unexpected is an error.
func ParseBundleHeader(r io.Reader) (BundleHeader, error) {
	br := bufio.NewReader(io.LimitReader(r, maxHeader))
	line := func() (string, error) {
		s, err := br.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("%w: header cut short", ErrNotBundle)
		}
		return strings.TrimSuffix(s, "\n"), nil
	}
	var h BundleHeader
	sig, err := line()
	if err != nil {
		return h, err
	}
	switch sig {
	case "# v2 git bundle":
		h.Version = 2
	case "# v3 git bundle":
		h.Version = 3
	default:
		return h, fmt.Errorf("%w: signature %q", ErrNotBundle, clip(sig))
	}
	for {
		s, err := line()
		if err != nil {
			return h, err
		}
		switch {
		case s == "":
			if len(h.Refs) == 0 {
				return h, fmt.Errorf("%w: no refs", ErrNotBundle)
			}
			return h, nil
		case h.Version == 3 && strings.HasPrefix(s, "@"):
			if len(h.Refs) > 0 || len(h.Prerequisites) > 0 {
				return h, fmt.Errorf("%w: capability after refs", ErrNotBundle)
			}
			if s != "@object-format=sha1" && s != "@object-format=sha256" {
				return h, fmt.Errorf("%w: capability %q", ErrNotBundle, clip(s))
			}
		case strings.HasPrefix(s, "-"):
			sha, _, _ := strings.Cut(s[1:], " ")
			if !shaPattern.MatchString(sha) {
				return h, fmt.Errorf("%w: prerequisite %q", ErrNotBundle, clip(s))
			}
			h.Prerequisites = append(h.Prerequisites, sha)
		default:
			sha, name, ok := strings.Cut(s, " ")
			if !ok || !shaPattern.MatchString(sha) || !refPattern.MatchString(name) || strings.Contains(name, "..") {
				return h, fmt.Errorf("%w: ref line %q", ErrNotBundle, clip(s))
			}
			h.Refs = append(h.Refs, BundleRef{Name: name, SHA: sha})
		}
	}
}

func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// VerifyBundle checks the bundle at file on the host, never unpacking it
// into a work tree: its head parses, and `git bundle verify` passes in a
// fresh bare repository that borrows the objects of the user's repository
// (when base came from one), so the bundle's prerequisites must be
// commits the user already has, and fetching it there (every object
// checked) succeeds. No hooks, no config from the bottle.
func VerifyBundle(file string, base Base) (BundleHeader, error) {
	f, err := os.Open(file)
	if err != nil {
		return BundleHeader{}, fmt.Errorf("verifying bundle: %w", err)
	}
	h, err := ParseBundleHeader(f)
	f.Close()
	if err != nil {
		return h, fmt.Errorf("verifying bundle: %w", err)
	}
	tmp, err := os.MkdirTemp("", "bot-bottle-verify-")
	if err != nil {
		return h, fmt.Errorf("verifying bundle: %w", err)
	}
	defer os.RemoveAll(tmp)
	repo := filepath.Join(tmp, "repo.git")
	if out, err := hostGit("", "init", "-q", "--bare", repo); err != nil {
		return h, fmt.Errorf("verifying bundle: git init: %w: %s", err, out)
	}
	if len(h.Prerequisites) > 0 {
		if !base.Git {
			return h, fmt.Errorf("verifying bundle: it needs %d commits the copied-in directory (no git repository) cannot have", len(h.Prerequisites))
		}
		objects, err := hostGit(base.Source, "rev-parse", "--path-format=absolute", "--git-path", "objects")
		if err != nil {
			return h, fmt.Errorf("verifying bundle: the repository it was copied from (%s) is needed to check it: %w: %s", base.Source, err, objects)
		}
		alt := filepath.Join(repo, "objects", "info", "alternates")
		if err := os.WriteFile(alt, []byte(strings.TrimSpace(objects)+"\n"), 0o600); err != nil {
			return h, fmt.Errorf("verifying bundle: %w", err)
		}
	}
	if out, err := hostGit(repo, "bundle", "verify", "-q", file); err != nil {
		return h, fmt.Errorf("verifying bundle: git bundle verify: %w: %s", err, out)
	}
	// verify reads only the head: fetching checks every object and that
	// the history connects, into the throw-away repository.
	args := []string{"-c", "fetch.fsckObjects=true", "fetch", "-q", "--no-write-fetch-head", file}
	for i, r := range h.Refs {
		args = append(args, fmt.Sprintf("+%s:refs/bundle/%d", r.Name, i))
	}
	if out, err := hostGit(repo, args...); err != nil {
		return h, fmt.Errorf("verifying bundle: fetching it into an empty repository: %w: %s", err, out)
	}
	return h, nil
}

// hostGit runs git on the host with hooks off and the user's system and
// global config out of the way; dir "" runs it where it is.
func hostGit(dir string, args ...string) (string, error) {
	full := []string{"-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"}
	if dir != "" {
		full = append(full, "-C", dir)
	}
	cmd := exec.Command("git", append(full, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
