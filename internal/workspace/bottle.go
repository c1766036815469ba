package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Bottle is the part of a backend a copy-in and an export use.
type Bottle interface {
	Exec(ctx context.Context, slug string, spec backend.ExecSpec) (int, error)
	CopyInto(ctx context.Context, slug, dir string, tarball io.Reader) error
}

// Files saved in StateDir when the agent exits, for export and diff after
// the containers are gone.
const (
	LastBundle = "last.bundle"
	LastPatch  = "last.mbox"
	LastDiff   = "last.diff"
)

// Limits on what is read out of a bottle.
const (
	MaxBundle = 2 << 30
	MaxPatch  = 256 << 20
	MaxDiff   = 256 << 20
)

// ErrNoCommits says the agent made no commit since the copy-in.
var ErrNoCommits = errors.New("no new commits since the copy-in")

// CopyOptions tune a copy-in.
type CopyOptions struct {
	ListOptions
	// UID and GID own the copy: the agent's user.
	UID, GID int
	// Progress gets what is being copied and, for trees of 8 MiB or more,
	// a line per tenth (nil: nothing).
	Progress io.Writer
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// baseGitDir holds the snapshot objects when the source is no repository.
const baseGitDir = "/tmp/.bot-bottle-base.git"

// CopyIn copies the host directory src into the agent's /workspace of slug
// as a tar stream (never a mount), snapshots it in the agent and records
// what was copied in stateDir.
func CopyIn(ctx context.Context, b Bottle, slug, stateDir, src string, o CopyOptions) (Base, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	tree, err := List(src, o.ListOptions)
	if err != nil {
		return Base{}, err
	}
	base := Base{Source: tree.Root, Git: tree.Git, Files: tree.Files(), Bytes: tree.Bytes, Ignored: tree.Ignored, Copied: now().UTC()}
	if tree.Git {
		if base.Head, base.Refs, err = HostRefs(tree.Root); err != nil {
			return Base{}, err
		}
	} else {
		base.GitDir = baseGitDir
	}
	what := "without git history"
	if tree.Git {
		what = "with its git history"
	}
	fmt.Fprintf(progress, "• copying %s into %s (%d files, %s, %s)\n", tree.Root, Dir, base.Files, HumanBytes(tree.Bytes), what)
	if tree.Worktree {
		fmt.Fprintf(progress, "  .git is a file (a linked worktree): its history is not copied\n")
	}
	if len(tree.Skipped) > 0 {
		fmt.Fprintf(progress, "  left out %d special files (sockets, fifos, devices), e.g. %s\n", len(tree.Skipped), tree.Skipped[0])
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(Pack(pw, tree, PackOptions{Prefix: strings.TrimPrefix(Dir, "/"), UID: o.UID, GID: o.GID, Progress: progress, ProgressMin: 8 << 20}))
	}()
	err = b.CopyInto(ctx, slug, "/", pr)
	pr.CloseWithError(errors.New("copy ended"))
	if err != nil {
		return Base{}, fmt.Errorf("copying %s into the agent: %w", tree.Root, err)
	}
	out, err := run(ctx, b, slug, snapshotScript, 1<<10, base.GitDir)
	if err != nil {
		return Base{}, fmt.Errorf("snapshotting %s in the agent: %w", Dir, err)
	}
	seen, treeID, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	base.Tree = strings.TrimSpace(treeID)
	if !shaPattern.MatchString(base.Tree) {
		return Base{}, fmt.Errorf("snapshotting %s in the agent: unexpected tree id %q", Dir, clip(base.Tree))
	}
	if n, err := strconv.Atoi(strings.TrimSpace(seen)); err != nil || n < base.Files {
		return Base{}, fmt.Errorf("copying %s into the agent: the agent sees %s of the %d files copied (does the runtime show files copied into a running container?)", tree.Root, clip(strings.TrimSpace(seen)), base.Files)
	}
	if err := WriteBase(stateDir, base); err != nil {
		return Base{}, err
	}
	return base, nil
}

// snapshotScript counts the files the agent sees in /workspace (a copy
// the sandbox does not show, as a gVisor overlay might, must fail), drops
// the identity the user's repository config names (the agent commits as
// the bottle's git-gate.user, from its global config, never as the host
// user), then
// writes the tree of /workspace as it is into the git
// objects (of /workspace/.git, or of $1 when the copy has none) through a
// throw-away index, and prints its id. The agent's own index is not
// touched.
const snapshotScript = `set -e
cd /workspace
find . \( -type f -o -type l \) | wc -l
if [ -z "$1" ]; then
	for k in user.name user.email author.name author.email committer.name committer.email; do
		git config --local --unset-all "$k" || [ $? -eq 5 ]
	done
fi
if [ -n "$1" ]; then
	git init -q --bare "$1"
	export GIT_DIR="$1" GIT_WORK_TREE=/workspace
fi
idx=$(mktemp -u)
trap 'rm -f "$idx"' EXIT
export GIT_INDEX_FILE="$idx"
git add -A
git write-tree
`

// diffScript prints the commits since the copy-in ($2) and the diff from
// the copied-in tree ($1) to /workspace as it is now, committed or not.
// $4 is --stat or --patch.
const diffScript = `set -e
cd /workspace
if [ -n "$3" ]; then export GIT_DIR="$3" GIT_WORK_TREE=/workspace; fi
export GIT_PAGER=cat
if [ -n "$2" ] && git rev-parse -q --verify HEAD >/dev/null; then
	git log --no-color --format='commit %H%n    %s%n' "$2..HEAD" --
fi
idx=$(mktemp -u)
trap 'rm -f "$idx"' EXIT
GIT_INDEX_FILE="$idx" git add -A
now=$(GIT_INDEX_FILE="$idx" git write-tree)
git diff --no-color --no-ext-diff --no-textconv "$4" "$1" "$now" --
`

// bundleScript writes a bundle of HEAD, the branches and the tags, less
// what was copied in ($@), to stdout.
const bundleScript = `cd /workspace || exit 1
if [ $# -gt 0 ]; then exec git bundle create - HEAD --branches --tags --not "$@"; fi
exec git bundle create - HEAD --branches --tags
`

// patchScript writes HEAD's commits since $1 (all of them when "") as
// format-patch output.
const patchScript = `cd /workspace || exit 1
if [ -n "$1" ]; then exec git format-patch --stdout --no-color "$1..HEAD"; fi
exec git format-patch --stdout --no-color --root HEAD
`

// run runs script with args in the agent of slug and returns its stdout,
// at most max bytes.
func run(ctx context.Context, b Bottle, slug, script string, max int64, args ...string) ([]byte, error) {
	var out bytes.Buffer
	err := runTo(ctx, b, slug, script, &out, max, args...)
	return out.Bytes(), err
}

// runTo streams the script's stdout to w, failing past max bytes.
func runTo(ctx context.Context, b Bottle, slug, script string, w io.Writer, max int64, args ...string) error {
	var stderr bytes.Buffer
	cw := &capped{w: w, left: max}
	code, err := b.Exec(ctx, slug, backend.ExecSpec{
		Cmd:    append([]string{"sh", "-c", script, "bot-bottle"}, args...),
		Stdout: cw,
		Stderr: &capped{w: &stderr, left: 64 << 10},
	})
	if cw.over {
		return fmt.Errorf("output larger than %s", HumanBytes(max))
	}
	if err != nil {
		return err
	}
	if code != 0 {
		msg := CleanText(strings.TrimSpace(stderr.String()))
		if strings.Contains(msg, "Refusing to create empty bundle") {
			return ErrNoCommits
		}
		return fmt.Errorf("exit %d: %s", code, clip(msg))
	}
	return nil
}

type capped struct {
	w    io.Writer
	left int64
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		c.over = true
		return 0, errors.New("output too large")
	}
	c.left -= int64(len(p))
	return c.w.Write(p)
}

// Bundle writes the agent's new commits as a git bundle to file (created,
// never overwritten), reading from the running agent of slug, or from the
// bundle saved when its agent last exited. The bundle is verified before
// it is kept. fromSaved reports the fallback.
func Bundle(ctx context.Context, b Bottle, slug, stateDir, file string) (h BundleHeader, fromSaved bool, err error) {
	base, err := readBaseOrZero(stateDir)
	if err != nil {
		return h, false, err
	}
	tmp, err := tempBeside(file)
	if err != nil {
		return h, false, err
	}
	defer os.Remove(tmp.Name())
	liveErr := runTo(ctx, b, slug, bundleScript, tmp, MaxBundle, base.Tips()...)
	if errors.Is(liveErr, ErrNoCommits) {
		tmp.Close()
		return h, false, liveErr
	}
	if liveErr != nil {
		fromSaved = true
		if err := copySaved(tmp, filepath.Join(StateDir(stateDir), LastBundle), liveErr); err != nil {
			tmp.Close()
			return h, true, err
		}
	}
	if err := tmp.Close(); err != nil {
		return h, fromSaved, err
	}
	if h, err = VerifyBundle(tmp.Name(), base); err != nil {
		return h, fromSaved, err
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		return h, fromSaved, fmt.Errorf("writing %s: %w", file, err)
	}
	return h, fromSaved, nil
}

// Patches writes the agent's new commits on HEAD as a patch series into
// dir (made when missing; existing files are never overwritten) and
// returns the file names.
func Patches(ctx context.Context, b Bottle, slug, stateDir, dir string) (names []string, fromSaved bool, err error) {
	base, err := readBaseOrZero(stateDir)
	if err != nil {
		return nil, false, err
	}
	var mbox bytes.Buffer
	liveErr := runTo(ctx, b, slug, patchScript, &mbox, MaxPatch, base.Head)
	if liveErr != nil {
		fromSaved = true
		mbox.Reset()
		if err := copySaved(&mbox, filepath.Join(StateDir(stateDir), LastPatch), liveErr); err != nil {
			return nil, true, err
		}
	}
	if mbox.Len() == 0 {
		return nil, fromSaved, ErrNoCommits
	}
	patches, err := SplitPatches(mbox.Bytes())
	if err != nil {
		return nil, fromSaved, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fromSaved, fmt.Errorf("writing patches: %w", err)
	}
	for _, p := range patches {
		path := filepath.Join(dir, p.Name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return names, fromSaved, fmt.Errorf("writing patches: %w", err)
		}
		_, werr := f.Write(p.Data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return names, fromSaved, fmt.Errorf("writing %s: %w", path, werr)
		}
		names = append(names, p.Name)
	}
	return names, fromSaved, nil
}

// Diff writes what changed in /workspace since the copy-in (commits, then
// the diff of committed and uncommitted work) to w, cleaned of control
// characters. stat prints a summary instead of the patch.
func Diff(ctx context.Context, b Bottle, slug, stateDir string, w io.Writer, stat bool) (fromSaved bool, err error) {
	base, err := ReadBase(stateDir)
	if err != nil {
		return false, fmt.Errorf("nothing was copied into %s (start --cwd copies the working directory): %w", slug, err)
	}
	mode := "--patch"
	if stat {
		mode = "--stat"
	}
	var out bytes.Buffer
	liveErr := runTo(ctx, b, slug, diffScript, &out, MaxDiff, base.Tree, base.Head, base.GitDir, mode)
	if liveErr != nil {
		if stat {
			return false, fmt.Errorf("%w (a saved diff has no --stat)", liveErr)
		}
		out.Reset()
		if err := copySaved(&out, filepath.Join(StateDir(stateDir), LastDiff), liveErr); err != nil {
			return true, err
		}
		fromSaved = true
	}
	_, err = io.WriteString(w, CleanText(out.String()))
	return fromSaved, err
}

// SaveLast keeps the agent's bundle, patches and diff in the bottle's
// state before its containers go, so export and diff still work. What
// cannot be saved is reported, not fatal: the agent's run is over.
func SaveLast(ctx context.Context, b Bottle, slug, stateDir string) []error {
	base, err := ReadBase(stateDir)
	if err != nil {
		return nil // nothing was copied in: nothing to compare with
	}
	dir := StateDir(stateDir)
	var errs []error
	// Each is streamed to a temp file (a bundle may be large) and renamed
	// into place once complete.
	save := func(name, script string, max int64, args ...string) {
		tmp, err := os.CreateTemp(dir, "."+name+"-*")
		if err != nil {
			errs = append(errs, fmt.Errorf("saving %s: %w", name, err))
			return
		}
		defer os.Remove(tmp.Name())
		err = runTo(ctx, b, slug, script, tmp, max, args...)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		switch {
		case errors.Is(err, ErrNoCommits):
			os.Remove(filepath.Join(dir, name))
		case err != nil:
			errs = append(errs, fmt.Errorf("saving %s: %w", name, err))
		default:
			if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
				errs = append(errs, fmt.Errorf("saving %s: %w", name, err))
			}
		}
	}
	save(LastBundle, bundleScript, MaxBundle, base.Tips()...)
	save(LastPatch, patchScript, MaxPatch, base.Head)
	save(LastDiff, diffScript, MaxDiff, base.Tree, base.Head, base.GitDir, "--patch")
	return errs
}

func readBaseOrZero(stateDir string) (Base, error) {
	base, err := ReadBase(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return Base{}, nil
	}
	return base, err
}

func tempBeside(file string) (*os.File, error) {
	if _, err := os.Lstat(file); err == nil {
		return nil, fmt.Errorf("writing %s: %w", file, fs.ErrExist)
	}
	f, err := os.CreateTemp(filepath.Dir(file), ".bot-bottle-export-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", file, err)
	}
	return f, nil
}

// copySaved copies a saved file into w, or returns the live error when
// there is none.
func copySaved(w io.Writer, saved string, liveErr error) error {
	f, err := os.Open(saved)
	if err != nil {
		return fmt.Errorf("the agent did not answer (%w) and nothing was saved when it last exited", liveErr)
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// CleanText replaces control characters other than newline and tab, and
// bidi overrides, with U+FFFD: the text comes from the agent and may be
// printed on a terminal.
func CleanText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20, r >= 0x7f && r < 0xa0, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return '\uFFFD'
		}
		return r
	}, s)
}
