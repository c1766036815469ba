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
	// failed holds the paths where decoding found a problem; validation
	// problems at or below them are dropped as echoes.
	failed []string
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

// pathf records a problem at path, prefixed with the path.
func (d *decoder) pathf(n *yaml.Node, path, format string, args ...any) {
	d.failed = append(d.failed, path)
	d.problemf(n, "%s"+format, append([]any{at(path)}, args...)...)
}

// keyf reports the unknown key k under path; only k counts as failed, so
// the rest of path is still validated and reported in the same run.
func (d *decoder) keyf(k *yaml.Node, path, format string, args ...any) {
	d.failed = append(d.failed, joinPath(path, k.Value))
	d.problemf(k, "%s"+format, append([]any{at(path)}, args...)...)
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

// echo reports whether path is at or below a path that failed to decode.
func (d *decoder) echo(path string) bool {
	for _, f := range d.failed {
		if f == "" || path == f || strings.HasPrefix(path, f+".") || strings.HasPrefix(path, f+"[") {
			return true
		}
	}
	return false
}

// fieldProblems turns validation errors into Problems at the recorded lines.
func (d *decoder) fieldProblems(prefix string, errs FieldErrors) {
	for _, e := range errs {
		p := joinPath(prefix, e.Path)
		if d.echo(p) {
			continue
		}
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
			d.failed = append(d.failed, "")
			d.problemf(n, "document too large or too deeply aliased")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.pathf(n, path, "unknown alias")
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
			d.pathf(n, path, "%v", cleanYAMLError(err))
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
			d.pathf(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		if !d.expectScalar(n, "!!int", path, "a whole number") {
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil {
			d.pathf(n, path, "expected a whole number, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || err != nil {
			d.pathf(n, path, "expected a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.pathf(n, path, "expected a list, got %s", describe(n))
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
		d.pathf(n, path, "cannot decode into %s", t)
	}
}

func (d *decoder) expectScalar(n *yaml.Node, tag, path, want string) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tag {
		return true
	}
	hint := ""
	if tag == "!!str" && n.Kind == yaml.ScalarNode && len(n.Value) <= 24 {
		hint = fmt.Sprintf("; quote it: %q", n.Value)
	}
	d.pathf(n, path, "expected %s, got %s%s", want, describe(n), hint)
	return false
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.pathf(n, path, "expected a mapping (NAME: value), got %s", describe(n))
		return
	}
	if t.Key().Kind() != reflect.String {
		d.pathf(n, path, "cannot decode into %s", t)
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
		d.lines[joinPath(path, k.Value)] = d.line(k)
		d.decode(val, e, joinPath(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
	}
	v.Set(m)
}

// key checks one mapping key: a plain string, not seen before.
func (d *decoder) key(k *yaml.Node, path string, seen map[string]bool) bool {
	if k.Kind != yaml.ScalarNode || (k.ShortTag() != "!!str" && k.ShortTag() != "!!merge") {
		d.pathf(k, path, "expected a key name, got %s", describe(k))
		return false
	}
	if k.ShortTag() == "!!merge" {
		d.pathf(k, path, "merge keys (<<) are not supported; write the keys out")
		return false
	}
	if seen[k.Value] {
		d.pathf(k, path, "key %q appears twice; keep one", k.Value)
		return false
	}
	seen[k.Value] = true
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.pathf(n, path, "expected %s (a mapping of keys), got %s", typeLabel(t), describe(n))
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
	// Only the unknown key failed: its siblings are still validated.
	if t == reflect.TypeFor[routeProposal]() {
		d.keyf(k, path, "unknown key %q: a route proposal holds only routes", k.Value)
		return
	}
	if hint, ok := removedKey(t, k.Value); ok {
		d.keyf(k, path, "%s", hint)
		return
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		if !reservedKey(t, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if s := suggest(k.Value, names); s != "" {
		// A typo: what it meant to set would be reported missing, which misleads.
		d.pathf(k, path, "unknown key %q in %s; did you mean %q?", k.Value, typeLabel(t), s)
		return
	}
	d.keyf(k, path, "unknown key %q in %s; allowed keys: %s", k.Value, typeLabel(t), strings.Join(names, ", "))
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
				d.pathf(c, fmt.Sprintf("%s[%d]", path, i), "expected a detector name, got %s", describe(c))
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
	d.pathf(n, path, "expected false or a list of detector names, got %s", describe(n))
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
				d.pathf(c, fmt.Sprintf("%s[%d]", path, i), "expected a name, got %s", describe(c))
				continue
			}
			names = append(names, c.Value)
		}
		v.Set(reflect.ValueOf(names))
		return
	}
	d.pathf(n, path, "expected a name or a list of names, got %s", describe(n))
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
		switch n.ShortTag() {
		case "!!str":
			// A long string may be a pasted secret: do not echo it.
			if len(v) > 24 || strings.ContainsAny(v, "\n\r") {
				return "a string"
			}
			return fmt.Sprintf("the string %q", v)
		case "!!int", "!!float":
			if len(v) > 24 {
				return "a number"
			}
			return "the number " + v
		case "!!bool":
			return v
		case "!!null":
			return "nothing"
		}
		return "a value of type " + n.ShortTag()
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
	case reflect.TypeFor[routeProposal]():
		return "route proposal"
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

// reservedKey reports keys that exist only to be refused (route role):
// never offered as a suggestion.
func reservedKey(t reflect.Type, key string) bool {
	return t == reflect.TypeFor[Route]() && key == "role"
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
	limit := 3
	switch {
	case len(s) <= 3:
		limit = 1
	case len(s) <= 5:
		limit = 2
	}
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and swaps of two
// neighbours ("hots" is one edit from "host").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
