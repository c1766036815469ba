package gitgate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/gitgate/scan"
)

// ErrRefused is returned by PreReceive when the push is refused; the reason
// has been written for the client.
var ErrRefused = errors.New("push refused")

// zeroID is git's "no object" id (SHA-1 repositories).
const zeroID = "0000000000000000000000000000000000000000"

// ScanTimeout bounds the scan of one push; a push that takes longer is
// refused rather than let through unscanned.
const ScanTimeout = 15 * time.Minute

// DefaultAllowTimeout is how long a push waits for a gitleaks-allow answer.
const DefaultAllowTimeout = 300 * time.Second

// Hook is the pre-receive hook of one mirror, configured from the
// environment git http-backend passes on.
type Hook struct {
	Repo           string
	Upstream       string
	AllowForcePush bool
	QueueDir       string
	Slug           string
	// AllowTimeout is the raw SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS.
	AllowTimeout string
	// PushOptions are the client's push options, passed on upstream.
	PushOptions []string
	// Environ is the environment of git children: the hook's own, which
	// carries the quarantine and GIT_SSH_COMMAND.
	Environ []string
	// Rules are the gitleaks rules; nil loads the defaults.
	Rules *scan.Rules
	// Poll is how often the queue is checked; zero means 200ms.
	Poll time.Duration
	// Log receives one line per push decision (never a secret); nil logs
	// nothing. The client sees the reasons on its terminal either way.
	Log *slog.Logger
}

// HookFromEnv reads the hook's configuration from its environment.
func HookFromEnv(getenv func(string) string, environ []string) Hook {
	h := Hook{
		Repo:           getenv(EnvRepo),
		Upstream:       getenv(EnvUpstream),
		AllowForcePush: getenv(EnvAllowForce) == "true",
		QueueDir:       getenv(EnvQueueDir),
		Slug:           getenv(EnvSlug),
		AllowTimeout:   getenv(EnvAllowTimeout),
		Environ:        environ,
	}
	n, _ := strconv.Atoi(getenv("GIT_PUSH_OPTION_COUNT"))
	for i := range n {
		h.PushOptions = append(h.PushOptions, getenv("GIT_PUSH_OPTION_"+strconv.Itoa(i)))
	}
	return h
}

// update is one line of pre-receive input.
type update struct {
	old, new, ref string
}

func (u update) isDelete() bool { return u.new == zeroID }
func (u update) isCreate() bool { return u.old == zeroID }

// parseUpdates reads "OLD NEW REF" lines.
func parseUpdates(r io.Reader) ([]update, error) {
	var out []update
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || !isObjectID(f[0]) || !isObjectID(f[1]) || !strings.HasPrefix(f[2], "refs/") {
			return nil, fmt.Errorf("unexpected pre-receive input %q", sc.Text())
		}
		out = append(out, update{old: f[0], new: f[1], ref: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading pre-receive input: %w", err)
	}
	return out, nil
}

func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// allowTimeout parses the raw timeout; invalid values are an error.
func (h Hook) allowTimeout() (time.Duration, error) {
	if h.AllowTimeout == "" {
		return DefaultAllowTimeout, nil
	}
	n, err := strconv.Atoi(h.AllowTimeout)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid %s=%q: want a positive number of seconds", EnvAllowTimeout, h.AllowTimeout)
	}
	return time.Duration(n) * time.Second, nil
}

// PreReceive decides one push: refuse force pushes and deletions unless
// the repo allows them, scan every new object, hold gitleaks:allow for a
// human, then forward the refs upstream. It writes its reasons to out (the
// client sees them as "remote:" lines) and returns ErrRefused, or another
// error, to refuse the push. Returning nil lets git update the mirror's
// refs: only after the upstream accepted every ref.
func (h Hook) PreReceive(ctx context.Context, in io.Reader, out io.Writer) error {
	rec := &pushRecord{}
	start := time.Now()
	err := h.preReceive(ctx, in, out, rec)
	if h.Log != nil {
		outcome := "forwarded"
		if err != nil {
			outcome = "refused"
		}
		h.Log.Info("push", "repo", h.Repo, "outcome", outcome, "reason", rec.reason,
			"refs", rec.refs, "findings", rec.findings, "ms", time.Since(start).Milliseconds())
	}
	return err
}

// pushRecord is what the log keeps of one push decision.
type pushRecord struct {
	refs     []string
	findings int
	reason   string
}

func (h Hook) preReceive(ctx context.Context, in io.Reader, out io.Writer, rec *pushRecord) error {
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "git-gate: "+format+"\n", args...)
	}
	refuse := func(format string, args ...any) error {
		say(format, args...)
		rec.reason = fmt.Sprintf(format, args...)
		return ErrRefused
	}
	if h.Upstream == "" {
		return refuse("no upstream configured for this repo; refusing push")
	}
	timeout, err := h.allowTimeout()
	if err != nil {
		return refuse("%v; refusing push", err)
	}
	updates, err := parseUpdates(in)
	if err != nil {
		return refuse("%v; refusing push", err)
	}
	if len(updates) == 0 {
		return nil
	}
	for _, u := range updates {
		rec.refs = append(rec.refs, u.ref)
	}

	// Force pushes and deletions can lose work upstream.
	forced := map[string]bool{}
	for _, u := range updates {
		switch {
		case u.isDelete():
			forced[u.ref] = true
		case !u.isCreate():
			ff, err := h.isAncestor(ctx, u.old, u.new)
			if err != nil {
				return refuse("checking %s: %v; refusing push", u.ref, err)
			}
			forced[u.ref] = !ff
		}
		if forced[u.ref] && !h.AllowForcePush {
			what := "force push to"
			if u.isDelete() {
				what = "deletion of"
			}
			return refuse("%s %s refused: repo %s does not set allow_force_push", what, u.ref, h.Repo)
		}
	}

	// Scan what the push brings that the upstream does not have.
	rules := h.Rules
	if rules == nil {
		if rules, err = scan.DefaultRules(); err != nil {
			return refuse("loading gitleaks rules: %v; refusing push", err)
		}
	}
	var tips []string
	for _, u := range updates {
		if !u.isDelete() {
			tips = append(tips, u.new)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, ScanTimeout)
	findings, err := rules.Scan(sctx, scan.Push{GitDir: ".", Env: h.Environ, Tips: tips})
	cancel()
	if err != nil {
		return refuse("scanning the push failed: %v; refusing push", err)
	}
	rec.findings = len(findings)
	blocking, suppressed := scan.Blocking(findings)
	if len(blocking) > 0 {
		say("push refused: gitleaks found %d secret(s):", len(blocking))
		listFindings(say, blocking)
		say("remove each secret from every commit that adds it (rewrite the commits, e.g. git rebase -i), then push again")
		rec.reason = fmt.Sprintf("gitleaks found %d secret(s)", len(blocking))
		return ErrRefused
	}
	if len(suppressed) > 0 {
		say("%d finding(s) are hidden only by # gitleaks:allow; asking the supervisor:", len(suppressed))
		listFindings(say, suppressed)
		if err := h.askSupervisor(ctx, updates, suppressed, timeout); err != nil {
			return refuse("%v; refusing push", err)
		}
		say("supervisor approved # gitleaks:allow")
	}
	if err := h.forward(ctx, updates, forced, say); err != nil {
		rec.reason = "not every ref reached the upstream"
		return err
	}
	if len(suppressed) > 0 {
		rec.reason = "supervisor approved # gitleaks:allow"
	}
	return nil
}

// maxListed bounds the findings a refusal lists.
const maxListed = 20

func listFindings(say func(string, ...any), fs []scan.Finding) {
	for i, f := range fs {
		if i == maxListed {
			say("  … and %d more", len(fs)-maxListed)
			return
		}
		say("  %s", f)
	}
}

func (h Hook) git(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = h.Environ
	return cmd
}

func (h Hook) isAncestor(ctx context.Context, a, b string) (bool, error) {
	err := h.git(ctx, "merge-base", "--is-ancestor", a, b).Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, nil
	}
	return false, err
}

// refResult is the upstream's verdict on one ref.
type refResult struct {
	ok     bool
	status string
}

// forward pushes every update upstream, one refspec per ref, and reports
// each ref's fate.
func (h Hook) forward(ctx context.Context, updates []update, forced map[string]bool, say func(string, ...any)) error {
	args := []string{"push", "--porcelain", "--no-progress", "--no-verify"}
	for _, o := range h.PushOptions {
		args = append(args, "--push-option="+o)
	}
	var specs []string
	for _, u := range updates {
		if forced[u.ref] {
			// Forced only if the upstream still has what the mirror had.
			args = append(args, "--force-with-lease="+u.ref+":"+u.old)
		}
		if u.isDelete() {
			specs = append(specs, ":"+u.ref)
		} else {
			specs = append(specs, u.new+":"+u.ref)
		}
	}
	args = append(args, "--", h.Upstream)
	args = append(args, specs...)
	cmd := h.git(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	results := parsePorcelain(stdout.String())
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			say("upstream: %s", l)
		}
	}
	allOK := runErr == nil
	say("forwarded to %s:", h.Upstream)
	for _, u := range updates {
		r, ok := results[u.ref]
		switch {
		case !ok:
			allOK = false
			say("  %s: not confirmed by the upstream", u.ref)
		case r.ok:
			say("  %s: %s", u.ref, r.status)
		default:
			allOK = false
			say("  %s: REJECTED %s", u.ref, r.status)
		}
	}
	if !allOK {
		say("push refused: not every ref reached the upstream; refs the upstream accepted show up on the next fetch")
		return ErrRefused
	}
	return nil
}

// parsePorcelain reads `git push --porcelain` lines: FLAG\tFROM:TO\tSUMMARY.
func parsePorcelain(s string) map[string]refResult {
	out := map[string]refResult{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 || len(f[0]) != 1 {
			continue
		}
		_, to, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		switch f[0] {
		case " ", "+", "-", "*", "=":
			out[to] = refResult{ok: true, status: "ok " + f[2]}
		default:
			out[to] = refResult{status: f[2]}
		}
	}
	return out
}
