// Package scan finds secrets in the git objects a push brings: every new
// commit's diff against each of its parents, binary files, commit messages
// and tag messages, with gitleaks' detector and default rules.
//
// It feeds the detector from its own `git log -p -m` instead of gitleaks'
// sources.Git, because sources.Git fails open: it logs a git error and stops
// yielding without returning an error, it drops the exit status of git,
// skips binary files, shows no diff for merges and never scans messages.
// Git children inherit the hook's environment, so quarantined objects are
// visible to every command here.
package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gitleaks/go-gitdiff/gitdiff"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// allowSignature is gitleaks' inline suppression marker.
const allowSignature = "gitleaks:allow"

// Pseudo file names for findings outside the tree.
const (
	CommitMessage = "(commit message)"
	TagMessage    = "(tag message)"
)

// Finding is one secret found, safe to show: the secret is redacted.
type Finding struct {
	Commit       string `json:"commit"`
	File         string `json:"file"`
	Line         int    `json:"line"`
	Rule         string `json:"rule"`
	RedactedLine string `json:"redacted_line"`
	// Suppressed is true when only a gitleaks:allow comment on the line
	// hides the finding.
	Suppressed bool `json:"-"`
}

func (f Finding) String() string {
	return fmt.Sprintf("commit %s, %s:%d, rule %s: %s", short(f.Commit), f.File, f.Line, f.Rule, f.RedactedLine)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Rules is a parsed gitleaks configuration. It is read-only and shared; each
// Scan builds a new detector from it.
type Rules struct {
	cfg config.Config
	pre *prefilter // nil: the detector reads every chunk
	// commitLists is set when an allowlist names commits: a finding then
	// depends on the commit, so a blob is scanned once per commit.
	commitLists bool
}

// DefaultRules parses gitleaks' default configuration, minus every path
// allowlist: the global one skips vendor/, lock files and the like, which
// an agent could otherwise use to carry a secret past the gate.
func DefaultRules() (*Rules, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("reading gitleaks default config: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("reading gitleaks default config: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("reading gitleaks default config: %w", err)
	}
	if cfg.Allowlists, err = withoutPaths(cfg.Allowlists); err != nil {
		return nil, err
	}
	rules := make(map[string]config.Rule, len(cfg.Rules))
	for id, r := range cfg.Rules {
		if r.Allowlists, err = withoutPaths(r.Allowlists); err != nil {
			return nil, err
		}
		rules[id] = r
	}
	cfg.Rules = rules
	return &Rules{cfg: cfg, pre: newPrefilter(cfg), commitLists: namesCommits(cfg)}, nil
}

func namesCommits(cfg config.Config) bool {
	lists := slices.Clone(cfg.Allowlists)
	for _, r := range cfg.Rules {
		lists = append(lists, r.Allowlists...)
	}
	return slices.ContainsFunc(lists, func(a *config.Allowlist) bool { return len(a.Commits) > 0 })
}

// withoutPaths rebuilds allowlists without their path conditions: a path
// is the agent's to choose (github-pat is allowed in any file named
// @octokit/auth-token/README.md). A list that needs a path AND something
// else is dropped whole; without its path it would allow more.
func withoutPaths(lists []*config.Allowlist) ([]*config.Allowlist, error) {
	var kept []*config.Allowlist
	for _, a := range lists {
		if len(a.Paths) > 0 && a.MatchCondition == config.AllowlistMatchAnd {
			continue
		}
		if len(a.Regexes) == 0 && len(a.StopWords) == 0 && len(a.Commits) == 0 {
			continue
		}
		b := &config.Allowlist{
			Description:    a.Description,
			MatchCondition: a.MatchCondition,
			Commits:        a.Commits,
			RegexTarget:    a.RegexTarget,
			Regexes:        a.Regexes,
			StopWords:      a.StopWords,
		}
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("rebuilding gitleaks allowlist: %w", err)
		}
		kept = append(kept, b)
	}
	return kept, nil
}

// decodeDepth is gitleaks' CLI default: base64/hex/percent-encoded secrets.
const decodeDepth = 3

// Push is what one push brings.
type Push struct {
	// GitDir is the repository (the hook's GIT_DIR).
	GitDir string
	// Env is the environment of git children; nil inherits the process's
	// (which carries the quarantine in a hook).
	Env []string
	// Tips are the new object ids of the updated refs (no zero ids).
	Tips []string
	// Exclude are revisions the upstream already has; nil means every ref in
	// GitDir (`--not --all`).
	Exclude []string
}

func (p Push) revs() []string {
	revs := append([]string{}, p.Tips...)
	revs = append(revs, "--not")
	if p.Exclude == nil {
		return append(revs, "--all")
	}
	return append(revs, p.Exclude...)
}

// Scan returns every finding in the objects p brings, including those a
// gitleaks:allow comment suppresses (marked Suppressed). One scan serves both
// verdicts: the detector's own suppression is the same substring test on
// the same line.
func (r *Rules) Scan(ctx context.Context, p Push) ([]Finding, error) {
	if len(p.Tips) == 0 {
		return nil, nil
	}
	d := detect.NewDetectorContext(ctx, r.cfg)
	d.IgnoreGitleaksAllow = true
	d.MaxDecodeDepth = decodeDepth
	s := &scanner{push: p, det: d, pre: r.pre, cfg: r.cfg, commitLists: r.commitLists, dets: map[string]*detect.Detector{}, parents: map[string]int{},
		inPass: map[string]bool{}, seen: map[string]int{}, all: map[string]Finding{}}
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// The detector stops quietly on a cancelled context.
		return nil, fmt.Errorf("scan cut short: %w", err)
	}
	return s.result(), nil
}

type scanner struct {
	push Push
	det  *detect.Detector
	pre  *prefilter
	cfg  config.Config

	commitLists bool

	detMu sync.Mutex
	dets  map[string]*detect.Detector // by rule subset and depth

	parents map[string]int // commit → number of parents

	mu     sync.Mutex
	passes int
	inPass map[string]bool    // pass and finding key → seen in that pass
	seen   map[string]int     // finding key → passes that showed it
	all    map[string]Finding // findings that count
}

func (s *scanner) run(ctx context.Context) error {
	if err := s.readParents(ctx); err != nil {
		return err
	}
	if err := s.scanTags(ctx); err != nil {
		return err
	}
	if len(s.parents) == 0 {
		return nil
	}
	if err := s.scanMessages(ctx); err != nil {
		return err
	}
	return s.scanDiffs(ctx)
}

func (s *scanner) git(ctx context.Context, args ...string) *exec.Cmd {
	base := []string{"-C", s.push.GitDir, "-c", "core.quotePath=true", "--no-pager"}
	cmd := exec.CommandContext(ctx, "git", append(base, args...)...)
	cmd.Env = s.push.Env
	return cmd
}

func (s *scanner) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := s.git(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// readParents lists the new commits and how many parents each has.
func (s *scanner) readParents(ctx context.Context) error {
	out, err := s.output(ctx, append([]string{"rev-list", "--parents"}, s.push.revs()...)...)
	if err != nil {
		return fmt.Errorf("listing new commits: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		s.parents[f[0]] = len(f) - 1
	}
	return nil
}

// scanTags scans annotated tag messages in the tips and, for a tip that
// does not lead to a commit, the tree or blob it names.
func (s *scanner) scanTags(ctx context.Context) error {
	for _, tip := range s.push.Tips {
		obj := tip
		for range 16 { // nested tags
			typ, err := s.output(ctx, "cat-file", "-t", obj)
			if err != nil {
				return fmt.Errorf("reading %s: %w", obj, err)
			}
			switch strings.TrimSpace(string(typ)) {
			case "commit":
				obj = ""
			case "tag":
				body, err := s.output(ctx, "cat-file", "tag", obj)
				if err != nil {
					return fmt.Errorf("reading tag %s: %w", obj, err)
				}
				header, msg, _ := bytes.Cut(body, []byte("\n\n"))
				s.detectOne(ctx, obj, TagMessage, string(msg))
				target, _, _ := bytes.Cut(header, []byte("\n"))
				t, ok := bytes.CutPrefix(target, []byte("object "))
				if !ok {
					return fmt.Errorf("reading tag %s: no object line", obj)
				}
				obj = string(t)
				continue
			case "blob", "tree":
				if err := s.scanObjects(ctx, obj); err != nil {
					return err
				}
				obj = ""
			default:
				return fmt.Errorf("reading %s: unexpected object type %q", obj, typ)
			}
			if obj == "" {
				break
			}
		}
	}
	return nil
}

// scanObjects scans every blob under a tree or blob a tag points at.
func (s *scanner) scanObjects(ctx context.Context, obj string) error {
	out, err := s.output(ctx, "rev-list", "--objects", "--no-walk", obj)
	if err != nil {
		return fmt.Errorf("listing objects of %s: %w", obj, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, name, _ := strings.Cut(line, " ")
		typ, err := s.output(ctx, "cat-file", "-t", id)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(typ)) != "blob" {
			continue
		}
		b, err := s.output(ctx, "cat-file", "blob", id)
		if err != nil {
			return err
		}
		if name == "" {
			name = "(blob " + id + ")"
		}
		s.detectOne(ctx, obj, name, string(b))
	}
	return nil
}

// scanMessages scans every new commit's message.
func (s *scanner) scanMessages(ctx context.Context) error {
	out, err := s.output(ctx, append([]string{"log", "-z", "--format=%H%n%B"}, s.push.revs()...)...)
	if err != nil {
		return fmt.Errorf("reading commit messages: %w", err)
	}
	for _, rec := range bytes.Split(out, []byte{0}) {
		sha, msg, ok := bytes.Cut(rec, []byte("\n"))
		if !ok {
			continue
		}
		s.detectOne(ctx, string(sha), CommitMessage, string(msg))
	}
	return nil
}

// scanDiffs scans what each new commit adds against each of its parents.
// A merge's finding counts only when it is added against every parent: what
// one parent already had is either upstream or scanned in that parent.
//
// A new file (or a type change) adds the whole blob: it is read once from
// git cat-file, not as a diff, and a blob several commits or parents add
// under one path is scanned once for all of them. Only modified files go
// through git log -p.
func (s *scanner) scanDiffs(ctx context.Context) error {
	changes, err := s.listChanges(ctx)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	// Workers scan chunks; this goroutine reads blobs and diffs.
	jobs := make(chan piece, 64)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for p := range jobs {
				s.detect(ctx, p)
			}
		})
	}
	err = s.readChanges(ctx, changes, jobs)
	close(jobs)
	wg.Wait()
	return err
}

// blobKey names one whole-blob scan: the detector's findings depend on the
// content and the path (some rules match on both), and on the commit only
// when an allowlist names commits.
type blobKey struct {
	blob, path, commit string
	gitlink            bool
}

func (s *scanner) readChanges(ctx context.Context, changes []change, jobs chan<- piece) error {
	bl, err := s.openBlobs(ctx)
	if err != nil {
		return err
	}
	var order []blobKey
	whole := map[blobKey][]target{}
	modified := map[string]change{} // commit, NUL, path
	for _, c := range changes {
		if !c.wholeBlob() {
			modified[c.commit+"\x00"+c.path] = c
			continue
		}
		k := blobKey{blob: c.blob, path: c.path, gitlink: c.mode == gitlink}
		if s.commitLists {
			k.commit = c.commit
		}
		if _, ok := whole[k]; !ok {
			order = append(order, k)
		}
		whole[k] = append(whole[k], target{pass: c.pass, commit: c.commit, need: s.need(c.commit)})
	}
	for _, k := range order {
		raw := "Subproject commit " + k.blob + "\n" // what git log -p shows for a submodule
		if !k.gitlink {
			b, err := bl.read(k.blob)
			if err != nil {
				return errors.Join(err, bl.close())
			}
			raw = string(b)
		}
		s.send(jobs, whole[k], k.path, raw, 1)
	}
	if len(modified) > 0 {
		err = s.scanModified(ctx, modified, bl, jobs)
	}
	return errors.Join(err, bl.close())
}

// scanModified scans the lines git log -p shows added to modified files,
// and a modified binary file (or one attributes mark binary) whole.
func (s *scanner) scanModified(ctx context.Context, modified map[string]change, bl *blobs, jobs chan<- piece) error {
	args := append([]string{"log", "-p", "-U0", "-m", "--full-history", "--no-renames",
		"--no-textconv", "--no-ext-diff", "--no-color", "--pretty=medium", "--no-abbrev-commit",
		"--diff-filter=M"}, s.push.revs()...)
	cmd := s.git(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running git log: %w", err)
	}
	files, err := gitdiff.Parse(bufio.NewReaderSize(stdout, 1<<20))
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("parsing git log: %w", err)
	}
	var readErr error
	parsed := map[string]bool{}
	for f := range files {
		if f.PatchHeader == nil || f.IsDelete || readErr != nil {
			continue // drain, so git can finish
		}
		commit, path := f.PatchHeader.SHA, f.NewName
		key := commit + "\x00" + path
		parsed[key] = true
		c, ok := modified[key]
		if !ok {
			readErr = fmt.Errorf("git log -p shows %s in commit %s, which git log --raw did not list", strconv.Quote(path), short(commit))
			continue
		}
		t := []target{{pass: s.newPass(), commit: commit, need: s.need(commit)}}
		if f.IsBinary {
			// Binary, or marked binary by attributes: scan the whole blob.
			b, err := bl.read(c.blob)
			if err != nil {
				readErr = fmt.Errorf("reading %s:%s: %w", short(commit), path, err)
				continue
			}
			s.send(jobs, t, path, string(b), 1)
			continue
		}
		for _, tf := range f.TextFragments {
			if raw := tf.Raw(gitdiff.OpAdd); raw != "" {
				s.send(jobs, t, path, raw, int(tf.NewPosition))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("running git log: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if readErr != nil {
		return readErr
	}
	return checkParsed(modified, parsed)
}

// checkParsed fails the scan when the diff parser skipped a file git lists:
// go-gitdiff passes over what it cannot parse without an error.
func checkParsed(modified map[string]change, parsed map[string]bool) error {
	for key, c := range modified {
		if !parsed[key] {
			return fmt.Errorf("the diff of %s in commit %s could not be read; refusing to pass it unscanned", strconv.Quote(c.path), short(c.commit))
		}
	}
	return nil
}

func isHexID(s string) bool {
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

// piece is one chunk of one diff, blob or message to scan, for every
// place (commit and parent) that adds it.
type piece struct {
	targets []target
	path    string
	raw     string
	line    int // line number of raw's first line
}

// target is one place a piece is added: its findings count there.
type target struct {
	pass   int // one file diff against one parent
	commit string
	need   int // parent diffs that must show a finding
}

func (s *scanner) newPass() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passes++
	return s.passes
}

func (s *scanner) send(jobs chan<- piece, targets []target, path, raw string, line int) {
	for _, c := range chunks(raw, line) {
		jobs <- piece{targets: targets, path: path, raw: c.raw, line: c.line}
	}
}

// Chunking keeps gitleaks fast: each rule whose keyword appears anywhere in
// a fragment runs its regular expression over the whole fragment, so on a
// large file nearly every rule runs over everything (one 50 MB file took
// minutes). Small chunks see few keywords. Chunks overlap so a multi-line
// secret (a PEM key up to RSA-4096) at a seam is whole in one of them;
// findings are counted once per pass. BenchmarkDetect chose the sizes.
const (
	chunkSize    = 8 << 10
	chunkOverlap = 4 << 10
)

type chunk struct {
	raw  string
	line int
}

// chunks splits raw into pieces of about chunkSize, ending at a line end
// when one is near, each starting chunkOverlap bytes (at a line start when
// one is near) before the previous end.
func chunks(raw string, line int) []chunk {
	if len(raw) <= chunkSize {
		return []chunk{{raw, line}}
	}
	var out []chunk
	start, startLine := 0, line
	for start < len(raw) {
		end := min(start+chunkSize, len(raw))
		if i := strings.IndexByte(raw[end:min(end+chunkSize, len(raw))], '\n'); i >= 0 {
			end += i + 1
		}
		out = append(out, chunk{raw[start:end], startLine})
		if end == len(raw) {
			break
		}
		next := max(start+1, end-chunkOverlap)
		if i := strings.IndexByte(raw[next:end], '\n'); i >= 0 && next+i+1 < end {
			next += i + 1
		}
		startLine += strings.Count(raw[start:next], "\n")
		start = next
	}
	return out
}

// need is how many parent diffs must show a finding for it to be new.
func (s *scanner) need(commit string) int {
	return max(1, s.parents[commit])
}

func (s *scanner) detect(ctx context.Context, p piece) {
	det := s.det
	if s.pre != nil {
		v := s.pre.candidate(p.raw, p.path, decodeDepth)
		if !v.any() {
			return
		}
		det = s.detectorFor(ctx, v)
	}
	frag := detect.Fragment{Raw: p.raw, FilePath: p.path, CommitSHA: p.targets[0].commit, StartLine: p.line}
	for _, rf := range det.DetectContext(ctx, frag) {
		for _, t := range p.targets {
			s.record(t, p.path, rf)
		}
	}
}

// record counts one finding at one place, once per pass; it counts when as
// many passes as the place needs showed it.
func (s *scanner) record(t target, path string, rf report.Finding) {
	f := Finding{
		Commit:       t.commit,
		File:         path,
		Line:         rf.StartLine,
		Rule:         rf.RuleID,
		RedactedLine: redactLine(rf),
		Suppressed:   strings.Contains(rf.Line, allowSignature),
	}
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%s", t.commit, path, rf.StartLine, rf.RuleID, rf.Secret)
	passKey := fmt.Sprintf("%d\x00%s", t.pass, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inPass[passKey] {
		s.inPass[passKey] = true
		s.seen[key]++
		if s.seen[key] == t.need {
			s.all[key] = f
		}
	}
}

// detectorFor returns a detector with only the rules the prefilter could
// not rule out, decoding only as deep as one of them could match. Its
// findings are the full detector's: the detector runs each rule on its own
// (its keywords, its matches, the allowlists) and the rules left out match
// nothing here at any layer, so they would add no finding (nor remove one
// in gitleaks' generic-versus-specific dedupe).
func (s *scanner) detectorFor(ctx context.Context, v verdict) *detect.Detector {
	var key strings.Builder
	rules := map[string]config.Rule{}
	for i, on := range v.rules {
		if !on {
			continue
		}
		id := s.pre.rules[i].id
		key.WriteString(id + ",")
		rules[id] = s.cfg.Rules[id]
		for _, req := range s.cfg.Rules[id].RequiredRules {
			if r, ok := s.cfg.Rules[req.RuleID]; ok {
				rules[req.RuleID] = r
			}
		}
	}
	key.WriteString(strconv.Itoa(v.depth))
	s.detMu.Lock()
	defer s.detMu.Unlock()
	if d, ok := s.dets[key.String()]; ok {
		return d
	}
	cfg := s.cfg
	cfg.Rules = rules
	d := detect.NewDetectorContext(ctx, cfg)
	d.IgnoreGitleaksAllow = true
	d.MaxDecodeDepth = v.depth
	s.dets[key.String()] = d
	return d
}

// detectOne scans one message or object outside the diff stream.
func (s *scanner) detectOne(ctx context.Context, commit, path, raw string) {
	t := []target{{pass: s.newPass(), commit: commit, need: 1}}
	for _, c := range chunks(raw, 1) {
		s.detect(ctx, piece{targets: t, path: path, raw: c.raw, line: c.line})
	}
}

func (s *scanner) result() []Finding {
	out := make([]Finding, 0, len(s.all))
	for _, f := range s.all {
		out = append(out, f)
	}
	sortFindings(out)
	return out
}

// maxLine bounds a redacted line in a message.
const maxLine = 160

// redactLine returns the finding's line with the secret replaced. When the
// secret does not appear as such (it was decoded from base64 or the like)
// the line is withheld: it would carry the secret in encoded form.
func redactLine(f report.Finding) string {
	line := strings.TrimSpace(f.Line)
	if f.Secret == "" || !strings.Contains(line, f.Secret) {
		return "(line withheld)"
	}
	line = strings.ReplaceAll(line, f.Secret, "REDACTED")
	if strings.Contains(line, f.Secret) { // the replacement formed it anew
		return "(line withheld)"
	}
	// A finding may span lines; a message line must not.
	line = strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(line)
	if len(line) <= maxLine {
		return line
	}
	i := strings.Index(line, "REDACTED")
	start := max(0, min(i-maxLine/2, len(line)-maxLine))
	cut := line[start : start+maxLine]
	if start > 0 {
		cut = "…" + cut
	}
	if start+maxLine < len(line) {
		cut += "…"
	}
	return cut
}

// Blocking returns the findings no suppression hides; Suppressed the ones
// only a gitleaks:allow comment hides.
func Blocking(fs []Finding) (blocking, suppressed []Finding) {
	for _, f := range fs {
		if f.Suppressed {
			suppressed = append(suppressed, f)
		} else {
			blocking = append(blocking, f)
		}
	}
	return blocking, suppressed
}

func sortFindings(fs []Finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Commit != b.Commit {
			return a.Commit < b.Commit
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Rule < b.Rule
	})
}
