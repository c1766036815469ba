package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// bottleSource finds a bottle by name for extends.
type bottleSource interface {
	// bottle returns the named bottle, or nil when there is none.
	bottle(name string) *Bottle
	// names lists the bottles there are, for "did you mean".
	names() []string
}

// dirBottleSource reads NAME.md from one directory, for files loaded on
// their own (LoadEgressFile) rather than through Load.
type dirBottleSource struct {
	dir  string
	home string
}

func (s dirBottleSource) bottle(name string) *Bottle {
	path := filepath.Join(s.dir, name+".md")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return readBottle(name, path, path, s.home)
}

func (s dirBottleSource) names() []string {
	var out []string
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".md"); ok && ValidName(n) {
			out = append(out, n)
		}
	}
	return out
}

// chain is one bottle with its extends folded.
type chain struct {
	spec      *BottleFile
	files     []string
	ancestors []string // every bottle folded in, parents before children
}

// resolver folds extends chains, reporting cycles, diamonds and missing or
// broken parents at the child's extends line.
type resolver struct {
	src      bottleSource
	problems Problems
	done     map[string]*chain // nil value: failed
}

func newResolver(src bottleSource) *resolver {
	return &resolver{src: src, done: map[string]*chain{}}
}

func (r *resolver) problem(b *Bottle, path, format string, args ...any) {
	line := 0
	if b.lines != nil {
		line = b.lines.lineOf(path)
	}
	p := Problem{File: b.File, Line: line, Message: fmt.Sprintf(format, args...)}
	if !slices.Contains(r.problems, p) {
		r.problems = append(r.problems, p)
	}
}

// resolve folds b's parents left to right and b on top. It returns nil when
// the chain is broken; the reasons are in r.problems.
func (r *resolver) resolve(b *Bottle, stack []string) *chain {
	if c, ok := r.done[b.Name]; ok {
		return c
	}
	if b.Spec == nil {
		return nil // its own problems are reported with it
	}
	stack = append(stack, b.Name)
	var (
		parents []*BottleFile
		files   []string
		reached = map[string]string{} // ancestor -> the parent it came through
		order   []string
		ok      = true
	)
	for i, p := range b.Spec.Extends {
		path := fmt.Sprintf("extends[%d]", i)
		if slices.Contains(stack, p) {
			cycle := append(slices.Clone(stack[slices.Index(stack, p):]), p)
			r.problem(b, path, "extends cycle: %s; remove one of these extends", strings.Join(cycle, " → "))
			ok = false
			continue
		}
		pb := r.src.bottle(p)
		if pb == nil {
			if s := suggest(p, r.src.names()); s != "" {
				r.problem(b, path, "extends %q, but there is no bottle %q; did you mean %q?", p, p, s)
			} else {
				r.problem(b, path, "extends %q, but there is no bottle %q; create %s.md beside this file or fix the name", p, p, p)
			}
			ok = false
			continue
		}
		if pb.Spec == nil {
			r.problem(b, path, "extends %q, which has problems (%s); fix it first", p, pb.File)
			ok = false
			continue
		}
		pc := r.resolve(pb, stack)
		if pc == nil {
			ok = false
			continue
		}
		for _, a := range append(slices.Clone(pc.ancestors), p) {
			if via, dup := reached[a]; dup {
				r.problem(b, path, "extends reaches %q twice (through %q and %q); extend it once so its routes are not doubled", a, via, p)
				ok = false
				continue
			}
			reached[a] = p
			order = append(order, a)
		}
		parents = append(parents, pc.spec)
		files = append(files, pc.files...)
	}
	if !ok {
		r.done[b.Name] = nil
		return nil
	}
	if !b.Builtin {
		files = append(files, b.File)
	}
	c := &chain{
		spec:      MergeBottles(append(parents, b.Spec)...),
		files:     files,
		ancestors: order,
	}
	r.done[b.Name] = c
	return c
}

// resolveBottle folds the extends chain of a bottle read on its own.
func resolveBottle(src bottleSource, b *Bottle) (*chain, Problems) {
	r := newResolver(src)
	c := r.resolve(b, nil)
	return c, r.problems
}
