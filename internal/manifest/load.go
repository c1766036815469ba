package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
)

// Bottle is one bottle manifest as loaded, before extends are folded.
type Bottle struct {
	// Name is the file name without .md.
	Name string
	// File is the path shown to the user ("~/.bot-bottle/bottles/x.md").
	File string
	// Doc is the Markdown body.
	Doc string
	// Spec is the frontmatter; nil when the file has problems.
	Spec *BottleFile
	// Problems stop this bottle (and bottles extending it) from loading.
	Problems Problems
	// Builtin is true for the built-in default bottle.
	Builtin bool

	lines lineMap
}

// Agent is one agent manifest as loaded.
type Agent struct {
	// Name is the file name without .md.
	Name string
	// File is the path shown to the user.
	File string
	// FromCwd is true when the agent comes from ./.bot-bottle/agents/.
	FromCwd bool
	// Prompt is the Markdown body: the agent's system prompt.
	Prompt string
	// Spec is the frontmatter; nil when the file has problems.
	Spec *AgentFile
	// Problems stop this agent from launching; other agents still load.
	Problems Problems
	// Builtin is true for the built-in shell agent.
	Builtin bool

	lines lineMap
}

// Set is every manifest the user has.
type Set struct {
	// Root is ~/.bot-bottle.
	Root string
	// Builtin is true when there is no ~/.bot-bottle. The built-in shell
	// agent and default bottle are in every set, unless the user has an
	// agent or bottle of that name.
	Builtin bool
	// Agents by name. A ./.bot-bottle/agents/ agent replaces the home one.
	Agents map[string]*Agent
	// Bottles by name, from ~/.bot-bottle/bottles/ only.
	Bottles map[string]*Bottle
	// Plugins are the names under ~/.bot-bottle/contrib/.
	Plugins map[string]bool
	// Warnings are said to the user but stop nothing.
	Warnings []string
	// Problems not tied to one agent or bottle (bad file names, unreadable
	// folders).
	Problems Problems
}

// Names of the built-ins: there unless the user defines the same name.
const (
	BuiltinAgent  = "shell"
	BuiltinBottle = "default"
)

// Load reads every agent and bottle. home is the user's home directory,
// cwd the working directory. Problems in files are recorded in the Set,
// never returned: a broken agent does not block the others.
func Load(home, cwd string) *Set {
	s := &Set{
		Agents:  map[string]*Agent{},
		Bottles: map[string]*Bottle{},
		Plugins: map[string]bool{},
	}
	show := displayPath(home)
	dirs := hoststate.New(home)
	if home != "" {
		s.Root = dirs.Root()
	}
	if st, err := os.Stat(s.Root); s.Root == "" || errors.Is(err, fs.ErrNotExist) {
		s.Builtin = true
	} else if err != nil {
		s.Problems = append(s.Problems, Problem{File: show(s.Root), Message: fmt.Sprintf("cannot read: %v", err)})
	} else if !st.IsDir() {
		s.Problems = append(s.Problems, Problem{File: show(s.Root), Message: "is not a folder"})
	} else {
		for name, path := range s.scan(dirs.Bottles(), show) {
			s.Bottles[name] = readBottle(name, show(path), path, home)
		}
		for name, path := range s.scan(dirs.Agents(), show) {
			s.Agents[name] = readAgent(name, show(path), path)
		}
		if entries, err := os.ReadDir(dirs.Contrib()); err == nil {
			for _, e := range entries {
				if e.IsDir() {
					s.Plugins[e.Name()] = true
				}
			}
		}
	}
	// Added after the user's own: theirs win, silently.
	if s.Agents[BuiltinAgent] == nil {
		s.Agents[BuiltinAgent] = builtinAgent()
	}
	if s.Bottles[BuiltinBottle] == nil {
		s.Bottles[BuiltinBottle] = builtinBottle()
	}
	if cwd == "" || sameDir(cwd, home) {
		return s
	}
	for _, dir := range []string{filepath.Join(cwd, "bottles"), filepath.Join(cwd, ".bot-bottle", "bottles")} {
		if st, err := os.Stat(dir); err == nil && st.IsDir() && !sameDir(dir, dirs.Bottles()) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("ignoring %s: bottles load only from ~/.bot-bottle/bottles/ so a cloned repo cannot define one; copy a bottle there if you trust it", show(dir)))
		}
	}
	agentsDir := filepath.Join(cwd, ".bot-bottle", "agents")
	if sameDir(agentsDir, dirs.Agents()) {
		return s
	}
	for name, path := range s.scan(agentsDir, show) {
		a := readAgent(name, show(path), path)
		a.FromCwd = true
		if prev, ok := s.Agents[name]; ok && !prev.Builtin {
			s.Warnings = append(s.Warnings, fmt.Sprintf("agent %q: using %s over %s", name, a.File, prev.File))
		}
		s.Agents[name] = a
	}
	return s
}

// scan lists NAME.md files in dir. Names that break the file-name rule
// become problems; other files are ignored.
func (s *Set) scan(dir string, show func(string) string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	if err != nil {
		s.Problems = append(s.Problems, Problem{File: show(dir), Message: fmt.Sprintf("cannot read: %v", err)})
		return out
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".md")
		if !ok || e.IsDir() {
			continue
		}
		if !ValidName(name) {
			s.Problems = append(s.Problems, Problem{
				File:    show(filepath.Join(dir, e.Name())),
				Message: fmt.Sprintf("%q is not a valid name: use lower case letters, digits and -, starting with a letter; rename the file", name),
			})
			continue
		}
		out[name] = filepath.Join(dir, e.Name())
	}
	return out
}

// readBottle reads and checks one bottle file. label is the path shown.
// A .md file has frontmatter; any other file is plain YAML.
func readBottle(name, label, path, home string) *Bottle {
	b := &Bottle{Name: name, File: label}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Problems = Problems{{File: label, Message: fmt.Sprintf("cannot read: %v", err)}}
		return b
	}
	front, offset := data, 0
	if strings.EqualFold(filepath.Ext(path), ".md") {
		front, b.Doc, offset, err = splitFrontmatter(data)
		if err != nil {
			b.Problems = Problems{{File: label, Line: 1, Message: err.Error()}}
			return b
		}
	}
	spec, d := parseBottleYAML(label, front, offset)
	b.lines = d.lines
	if spec != nil {
		resolvePaths(spec, filepath.Dir(path), home)
		d.fieldProblems("", checkPaths(spec, displayPath(home)))
	}
	if len(d.problems) > 0 {
		b.Problems = d.problems
		return b
	}
	b.Spec = spec
	return b
}

// resolvePaths makes a bottle's file paths absolute: ~/ against home, a
// relative path against the bottle's folder.
func resolvePaths(b *BottleFile, dir, home string) {
	abs := func(p string) string {
		switch {
		case p == "" || filepath.IsAbs(p):
			return p
		case p == "~" && home != "":
			return home
		case strings.HasPrefix(p, "~/") && home != "":
			return filepath.Join(home, p[2:])
		}
		return filepath.Join(dir, p)
	}
	if b.AgentProvider != nil {
		b.AgentProvider.Dockerfile = abs(b.AgentProvider.Dockerfile)
	}
	if b.GitGate != nil {
		for name, r := range b.GitGate.Repos {
			r.Key.Path = abs(r.Key.Path)
			b.GitGate.Repos[name] = r
		}
	}
}

// checkPaths checks that the files a bottle names exist. It reads no
// content: a key is a secret and is only ever copied at launch.
func checkPaths(b *BottleFile, show func(string) string) FieldErrors {
	var errs FieldErrors
	check := func(path, p, what string) {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf("%s %s does not exist", what, show(p))})
		case st.IsDir():
			errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf("%s %s is a folder, not a file", what, show(p))})
		}
	}
	if ap := b.AgentProvider; ap != nil && ap.Dockerfile != "" {
		check("agent_provider.dockerfile", ap.Dockerfile, "Dockerfile")
	}
	if g := b.GitGate; g != nil {
		for _, name := range sortedKeys(g.Repos) {
			if p := g.Repos[name].Key.Path; p != "" {
				check("git-gate.repos."+name+".key.path", p, "key file")
			}
		}
	}
	return errs
}

// readAgent reads and checks one agent file.
func readAgent(name, label, path string) *Agent {
	a := &Agent{Name: name, File: label}
	data, err := os.ReadFile(path)
	if err != nil {
		a.Problems = Problems{{File: label, Message: fmt.Sprintf("cannot read: %v", err)}}
		return a
	}
	spec, body, d := parseAgent(label, data)
	a.lines = d.lines
	if spec == nil {
		a.Problems = d.problems
		return a
	}
	a.Spec, a.Prompt = spec, body
	return a
}

func builtinAgent() *Agent {
	return &Agent{
		Name:    BuiltinAgent,
		File:    "(built-in)",
		Builtin: true,
		Spec:    &AgentFile{Bottle: BuiltinBottle},
	}
}

func builtinBottle() *Bottle {
	return &Bottle{
		Name:    BuiltinBottle,
		File:    "(built-in)",
		Builtin: true,
		Doc:     "The built-in bottle: a shell, supervised, with no egress routes.\n",
		Spec:    &BottleFile{AgentProvider: &AgentProvider{Template: "shell"}},
	}
}

// displayPath returns ShortPath bound to home.
func displayPath(home string) func(string) string {
	return func(p string) string { return ShortPath(home, p) }
}

// ShortPath shows a path under home as ~/..., for messages.
func ShortPath(home, p string) string {
	if home == "" || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(home, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return filepath.Join("~", rel)
	}
	return p
}

func sameDir(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// bottle and names implement bottleSource.
func (s *Set) bottle(name string) *Bottle { return s.Bottles[name] }
func (s *Set) names() []string            { return s.BottleNames() }

// AgentNames lists the agents, sorted.
func (s *Set) AgentNames() []string { return sortedKeys(s.Agents) }

// BottleNames lists the bottles, sorted.
func (s *Set) BottleNames() []string { return sortedKeys(s.Bottles) }

// ResolvedBottle is one bottle with its extends folded.
type ResolvedBottle struct {
	// Name is the bottle's name.
	Name string
	// Files are the manifests folded, parents first.
	Files []string
	// Spec is the merged result; Extends is empty.
	Spec *BottleFile
}

// Resolved is one agent and the bottle(s) it runs in: what plan.Make takes.
type Resolved struct {
	Agent *Agent
	// Bottles in the order given; each already folded along its extends.
	Bottles []ResolvedBottle
}

// Resolve picks an agent and its bottles. bottles, when given (--bottle),
// replace the agent's own bottle key and merge in order; otherwise the
// agent's bottle, else "default" (the user's, or the built-in one). The error is Problems (a
// user mistake) or a plain error.
func (s *Set) Resolve(agent string, bottles []string) (*Resolved, error) {
	a, ok := s.Agents[agent]
	if !ok {
		return nil, Problems{{Message: fmt.Sprintf("no agent %q; %s", agent, s.available("agents", s.AgentNames(), agent))}}
	}
	if len(a.Problems) > 0 {
		return nil, a.Problems
	}
	if len(bottles) == 0 {
		// "default" is the user's or the built-in one: always there.
		bottles = []string{BuiltinBottle}
		if a.Spec.Bottle != "" {
			bottles = []string{a.Spec.Bottle}
		}
	}
	r := newResolver(s)
	out := &Resolved{Agent: a}
	var ps Problems
	reached := map[string]string{} // bottle -> the --bottle it came through
	for _, name := range bottles {
		b, ok := s.Bottles[name]
		if !ok {
			ps = append(ps, Problem{Message: fmt.Sprintf("no bottle %q; %s", name, s.available("bottles", s.BottleNames(), name))})
			continue
		}
		if len(b.Problems) > 0 {
			ps = append(ps, b.Problems...)
			continue
		}
		c := r.resolve(b, nil)
		if c == nil {
			continue
		}
		// Like extends: each bottle folds in once, or its routes double.
		for _, a := range append(slices.Clone(c.ancestors), name) {
			if via, dup := reached[a]; dup {
				ps = append(ps, Problem{Message: fmt.Sprintf("--bottle: %q is reached twice (through %q and %q); give it once", a, via, name)})
			}
			reached[a] = name
		}
		ps = append(ps, s.checkTemplate(b, c.spec)...)
		out.Bottles = append(out.Bottles, ResolvedBottle{Name: name, Files: c.files, Spec: c.spec})
	}
	ps = append(ps, r.problems...)
	if len(ps) > 0 {
		return nil, ps
	}
	return out, nil
}

// checkTemplate reports a provider template that is neither built in nor
// an installed plugin.
func (s *Set) checkTemplate(b *Bottle, merged *BottleFile) Problems {
	ap := merged.AgentProvider
	if ap == nil || ap.Template == "" || BuiltinTemplate(ap.Template) || s.Plugins[ap.Template] {
		return nil
	}
	line := 0
	if own := b.Spec.AgentProvider; own != nil && own.Template == ap.Template {
		line = b.lines.lineOf("agent_provider.template")
	}
	return Problems{{File: b.File, Line: line, Message: fmt.Sprintf("agent_provider.template: %q is not claude, codex, pi or shell, and there is no plugin ~/.bot-bottle/contrib/%s/", ap.Template, ap.Template)}}
}

// available lists the names there are, or says there are none; with a
// wanted name close to one of them, it asks "did you mean".
func (s *Set) available(what string, names []string, wanted ...string) string {
	if len(wanted) == 1 {
		if m := suggest(wanted[0], names); m != "" {
			return fmt.Sprintf("did you mean %q?", m)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("there are no %s yet; run bot-bottle init or add ~/.bot-bottle/%s/NAME.md", what, what)
	}
	return "known " + what + ": " + strings.Join(names, ", ")
}

// Check returns every problem in the set: files that do not load, broken
// extends chains, unknown templates, agents naming missing bottles.
// Problems are sorted by file and line.
func (s *Set) Check() Problems {
	ps := slicesClone(s.Problems)
	r := newResolver(s)
	for _, name := range s.BottleNames() {
		b := s.Bottles[name]
		ps = append(ps, b.Problems...)
		if c := r.resolve(b, nil); c != nil {
			ps = append(ps, s.checkTemplate(b, c.spec)...)
		}
	}
	ps = append(ps, r.problems...)
	for _, name := range s.AgentNames() {
		a := s.Agents[name]
		ps = append(ps, a.Problems...)
		if a.Spec != nil && a.Spec.Bottle != "" && s.Bottles[a.Spec.Bottle] == nil {
			ps = append(ps, Problem{File: a.File, Line: a.lines.lineOf("bottle"), Message: fmt.Sprintf("bottle %q does not exist; %s", a.Spec.Bottle, s.available("bottles", s.BottleNames()))})
		}
	}
	sortProblems(ps)
	return dedupe(ps)
}

func slicesClone(ps Problems) Problems { return append(Problems(nil), ps...) }

func dedupe(ps Problems) Problems {
	var out Problems
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}
