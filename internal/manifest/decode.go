package manifest

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the work one document may ask of the decoder, aliases
// included, so a small file cannot expand into a huge one.
const maxNodes = 100_000

// decoder walks a yaml.Node tree into the wire types, strictly: unknown
// keys, removed keys, wrong types and duplicate keys each become a Problem
// naming the file and line. It records the line of every field path so
// later validation can point at the line too.
type decoder struct {
	file       string
	lineOffset int // added to yaml's line numbers (frontmatter starts at line 2)
	problems   Problems
	lines      lineMap
	budget     int
}

// lineMap holds the line of every field path a decoder saw.
type lineMap map[string]int

func newDecoder(file string, lineOffset int) *decoder {
	return &decoder{file: file, lineOffset: lineOffset, lines: lineMap{}, budget: maxNodes}
}

func (d *decoder) line(n *yaml.Node) int {
	if n == nil || n.Line == 0 {
		return 0
	}
	return n.Line + d.lineOffset
}

func (d *decoder) problemf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: d.line(n), Message: fmt.Sprintf(format, args...)})
}

// lineOf returns the line of the closest recorded path at or above path.
func (m lineMap) lineOf(path string) int {
	for {
		if l, ok := m[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return m[""]
		}
		path = path[:i]
	}
}

// fieldProblems turns validation errors into Problems at the recorded lines.
func (d *decoder) fieldProblems(prefix string, errs FieldErrors) {
	for _, e := range errs {
		p := joinPath(prefix, e.Path)
		msg := e.Message
		if p != "" {
			msg = p + ": " + msg
		}
		d.problems = append(d.problems, Problem{File: d.file, Line: d.lines.lineOf(p), Message: msg})
	}
}

// decode fills v (addressable) from n. Problems are collected, not returned:
// one bad key does not hide the next.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.problemf(n, "document too large or too deeply aliased")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.problemf(n, "%sunknown alias", at(path))
			return
		}
		d.decode(n.Alias, v, path)
		return
	}
	if _, seen := d.lines[path]; !seen {
		d.lines[path] = d.line(n)
	}
	if isNull(n) {
		return // an empty value leaves the default
	}
	t := v.Type()
	switch t {
	case reflect.TypeFor[Detectors]():
		d.decodeDetectors(n, v, path)
		return
	case reflect.TypeFor[StringList]():
		d.decodeStringList(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.problemf(n, "%s%v", at(path), cleanYAMLError(err))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if !d.expectScalar(n, "!!str", path, "a string") {
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if !d.expectScalar(n, "!!bool", path, "true or false") {
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.problemf(n, "%sexpected true or false, got %s", at(path), describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		if !d.expectScalar(n, "!!int", path, "a whole number") {
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil {
			d.problemf(n, "%sexpected a whole number, got %s", at(path), describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problemf(n, "%sexpected a list, got %s", at(path), describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		// Only reachable if a wire type gains a field kind the decoder does
		// not know; fail closed rather than skip it.
		d.problemf(n, "%scannot decode into %s", at(path), t)
	}
}

func (d *decoder) expectScalar(n *yaml.Node, tag, path, want string) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tag {
		return true
	}
	hint := ""
	if tag == "!!str" && n.Kind == yaml.ScalarNode {
		hint = fmt.Sprintf("; quote it: %q", n.Value)
	}
	d.problemf(n, "%sexpected %s, got %s%s", at(path), want, describe(n), hint)
	return false
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.problemf(n, "%sexpected a mapping (NAME: value), got %s", at(path), describe(n))
		return
	}
	if t.Key().Kind() != reflect.String {
		d.problemf(n, "%scannot decode into %s", at(path), t)
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.key(k, path, seen) {
			continue
		}
		e := reflect.New(t.Elem()).Elem()
		d.decode(val, e, joinPath(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
	}
	v.Set(m)
}

// key checks one mapping key: a plain string, not seen before.
func (d *decoder) key(k *yaml.Node, path string, seen map[string]bool) bool {
	if k.Kind != yaml.ScalarNode || (k.ShortTag() != "!!str" && k.ShortTag() != "!!merge") {
		d.problemf(k, "%sexpected a key name, got %s", at(path), describe(k))
		return false
	}
	if k.ShortTag() == "!!merge" {
		d.problemf(k, "%smerge keys (<<) are not supported; write the keys out", at(path))
		return false
	}
	if seen[k.Value] {
		d.problemf(k, "%skey %q appears twice; keep one", at(path), k.Value)
		return false
	}
	seen[k.Value] = true
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.problemf(n, "%sexpected %s (a mapping of keys), got %s", at(path), typeLabel(t), describe(n))
		return
	}
	fields := structFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.key(k, path, seen) {
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.unknownKey(k, t, path, fields)
			continue
		}
		d.lines[joinPath(path, k.Value)] = d.line(k)
		d.decode(val, v.Field(idx), joinPath(path, k.Value))
	}
}

func (d *decoder) unknownKey(k *yaml.Node, t reflect.Type, path string, fields map[string]int) {
	if hint, ok := removedKey(t, k.Value); ok {
		d.problemf(k, "%s%s", at(path), hint)
		return
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	if s := suggest(k.Value, names); s != "" {
		d.problemf(k, "%sunknown key %q in %s; did you mean %q?", at(path), k.Value, typeLabel(t), s)
		return
	}
	d.problemf(k, "%sunknown key %q in %s; allowed keys: %s", at(path), k.Value, typeLabel(t), strings.Join(names, ", "))
}

// structFields maps each yaml key of t to its field index.
func structFields(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = i
	}
	return fields
}

func (d *decoder) decodeDetectors(n *yaml.Node, v reflect.Value, path string) {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && (n.Value == "false" || n.Value == "False" || n.Value == "FALSE"):
		v.Set(reflect.ValueOf(Detectors{Off: true}))
		return
	case n.Kind == yaml.SequenceNode:
		var names []string
		ok := true
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!str" {
				d.problemf(c, "%s[%d]: expected a detector name, got %s", at(path), i, describe(c))
				ok = false
				continue
			}
			names = append(names, c.Value)
		}
		if ok {
			v.Set(reflect.ValueOf(Detectors{Names: names}))
		}
		return
	}
	d.problemf(n, "%sexpected false or a list of detector names, got %s", at(path), describe(n))
}

func (d *decoder) decodeStringList(n *yaml.Node, v reflect.Value, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if d.expectScalar(n, "!!str", path, "a name or a list of names") {
			v.Set(reflect.ValueOf(StringList{n.Value}))
		}
		return
	case yaml.SequenceNode:
		var names StringList
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!str" {
				d.problemf(c, "%s[%d]: expected a name, got %s", at(path), i, describe(c))
				continue
			}
			names = append(names, c.Value)
		}
		v.Set(reflect.ValueOf(names))
		return
	}
	d.problemf(n, "%sexpected a name or a list of names, got %s", at(path), describe(n))
}

// at prefixes a message with the field path, when there is one.
func at(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what the user wrote, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", v)
		case "!!int", "!!float":
			return "the number " + v
		case "!!bool":
			return v
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("%q", v)
	}
	return "something else"
}

// typeLabel is how the user calls a wire type.
func typeLabel(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[BottleFile]():
		return "bottle"
	case reflect.TypeFor[AgentFile]():
		return "agent"
	case reflect.TypeFor[AgentProvider]():
		return "agent_provider"
	case reflect.TypeFor[GitGate](), reflect.TypeFor[AgentGitGate]():
		return "git-gate"
	case reflect.TypeFor[GitUser]():
		return "git-gate user"
	case reflect.TypeFor[Repo]():
		return "repo"
	case reflect.TypeFor[RepoKey]():
		return "repo key"
	case reflect.TypeFor[Egress]():
		return "egress"
	case reflect.TypeFor[Route]():
		return "egress route"
	case reflect.TypeFor[Auth]():
		return "auth"
	case reflect.TypeFor[Match]():
		return "match"
	case reflect.TypeFor[PathMatch]():
		return "path match"
	case reflect.TypeFor[HeaderMatch]():
		return "header match"
	case reflect.TypeFor[DLP]():
		return "dlp"
	case reflect.TypeFor[GitAccess]():
		return "route git"
	}
	return strings.ToLower(t.Name())
}

// removedKey returns the migration hint for a key that used to exist.
func removedKey(t reflect.Type, key string) (string, bool) {
	switch {
	case key == "supervise" && (t == reflect.TypeFor[BottleFile]() || t == reflect.TypeFor[AgentFile]()):
		return `"supervise" was removed: every bottle is supervised now; delete the key`, true
	case key == "git" && (t == reflect.TypeFor[BottleFile]() || t == reflect.TypeFor[AgentFile]()):
		return `"git" was renamed "git-gate": move user and repos under git-gate (see docs/manifest.md)`, true
	}
	return "", false
}

// suggest returns the candidate closest to s, if it is close enough to be
// what the user meant.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), c)
		if best == "" || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := max(1, min(3, len(s)/3))
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
