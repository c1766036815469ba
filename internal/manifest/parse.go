package manifest

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// splitFrontmatter cuts a Markdown manifest into its YAML frontmatter and
// its body. offset is the number of lines before the YAML starts.
func splitFrontmatter(data []byte) (front []byte, body string, offset int, err error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	first, rest, ok := cutLine(data)
	if strings.TrimRight(string(first), " \t\r") != "---" {
		return nil, "", 0, errors.New(`no frontmatter: a manifest starts with a line "---", then YAML, then "---"`)
	}
	if !ok {
		return nil, "", 0, errors.New(`frontmatter is not closed: add a line "---" after the YAML`)
	}
	start := len(data) - len(rest)
	pos := start
	for pos < len(data) {
		line, next, _ := cutLine(data[pos:])
		l := strings.TrimRight(string(line), " \t\r")
		if l == "---" || l == "..." {
			front = data[start:pos]
			body = string(data[len(data)-len(next):])
			return front, body, 1, nil
		}
		pos = len(data) - len(next)
		if len(next) == 0 {
			break
		}
	}
	return nil, "", 0, errors.New(`frontmatter is not closed: add a line "---" after the YAML`)
}

// cutLine returns the first line of data (without its newline) and the rest.
func cutLine(data []byte) (line, rest []byte, found bool) {
	return bytes.Cut(data, []byte("\n"))
}

// tabIndent finds the first line indented with a tab: go-yaml reports
// those at the line of the enclosing block, which misleads.
func tabIndent(data []byte) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		if bytes.ContainsRune(indent, '\t') && len(bytes.TrimSpace(line)) > 0 {
			return i + 1
		}
	}
	return 0
}

// yamlLineRE finds the line number in go-yaml's error messages.
var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parseYAML parses one YAML document. Syntax errors become a Problem at the
// right file line.
func parseYAML(file string, data []byte, offset int) (*yaml.Node, Problems) {
	root, ps := parseYAMLAny(file, data, offset)
	if root != nil && root.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: root.Line + offset, Message: "expected a mapping of keys at the top, got " + describe(root)}}
	}
	return root, ps
}

// parseYAMLAny parses exactly one YAML document whose top may be any node;
// nil for an empty document.
func parseYAMLAny(file string, data []byte, offset int) (*yaml.Node, Problems) {
	if l := tabIndent(data); l > 0 {
		return nil, Problems{{File: file, Line: l + offset, Message: "invalid YAML: indented with a tab; YAML indents with spaces"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty document
		}
		return nil, Problems{yamlProblem(file, err, offset)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 0
		if err == nil {
			line = extra.Line + offset
		}
		return nil, Problems{{File: file, Line: line, Message: "more than one YAML document; keep one"}}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}

func yamlProblem(file string, err error, offset int) Problem {
	msg := cleanYAMLError(err)
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: n + offset, Message: "invalid YAML: " + m[2]}
	}
	return Problem{File: file, Message: "invalid YAML: " + msg}
}

func cleanYAMLError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	if i := strings.Index(msg, "unmarshal errors:\n"); i >= 0 {
		msg = strings.TrimSpace(msg[i+len("unmarshal errors:\n"):])
	}
	return msg
}

// decodeInto strictly decodes root into out (a pointer to a wire type).
func decodeInto(d *decoder, root *yaml.Node, out any) {
	if root == nil {
		return
	}
	d.decode(root, reflect.ValueOf(out).Elem(), "")
}

// ParseBottle parses a bottle manifest (Markdown with YAML frontmatter).
// file names the source in messages. It checks the shape and every value
// that needs no other file; extends is not followed.
func ParseBottle(file string, data []byte) (*BottleFile, string, error) {
	front, body, offset, err := splitFrontmatter(data)
	if err != nil {
		return nil, "", Problems{{File: file, Line: 1, Message: err.Error()}}
	}
	b, d := parseBottleYAML(file, front, offset)
	return b, body, d.problems.err()
}

// parseBottleYAML decodes and validates a bottle's YAML and returns the
// decoder so callers can place later problems on its lines.
func parseBottleYAML(file string, data []byte, offset int) (*BottleFile, *decoder) {
	d := newDecoder(file, offset)
	root, ps := parseYAML(file, data, offset)
	if ps != nil {
		d.problems = ps
		return nil, d
	}
	var b BottleFile
	decodeInto(d, root, &b)
	d.fieldProblems("", validateBottle(&b))
	if len(d.problems) > 0 {
		return nil, d
	}
	return &b, d
}

// ParseAgent parses an agent manifest (Markdown with YAML frontmatter). The
// body is the agent's system prompt.
func ParseAgent(file string, data []byte) (*AgentFile, string, error) {
	a, body, d := parseAgent(file, data)
	if err := d.problems.err(); err != nil {
		return nil, "", err
	}
	return a, body, nil
}

func parseAgent(file string, data []byte) (*AgentFile, string, *decoder) {
	front, body, offset, err := splitFrontmatter(data)
	d := newDecoder(file, offset)
	if err != nil {
		d.problems = Problems{{File: file, Line: 1, Message: err.Error()}}
		return nil, "", d
	}
	root, ps := parseYAML(file, front, offset)
	if ps != nil {
		d.problems = ps
		return nil, "", d
	}
	var a AgentFile
	decodeInto(d, root, &a)
	d.fieldProblems("", validateAgent(&a))
	if len(d.problems) > 0 {
		return nil, "", d
	}
	return &a, body, d
}

// routeProposal is the mapping form of ParseRoutes' input: routes only (no
// log level or other egress keys).
type routeProposal struct {
	Routes []Route `yaml:"routes"`
}

// ParseRoutes strictly parses egress routes proposed as YAML: a list of
// routes, or a mapping with a "routes" list. Each route is validated with
// ValidateRoute. name labels the input in messages.
func ParseRoutes(name string, data []byte) ([]Route, error) {
	root, ps := parseYAMLAny(name, data, 0)
	if ps != nil {
		return nil, ps
	}
	if root == nil {
		return nil, Problems{{File: name, Message: "no routes given"}}
	}
	d := newDecoder(name, 0)
	var routes []Route
	prefix := ""
	if root.Kind == yaml.MappingNode {
		var e routeProposal
		d.decode(root, reflect.ValueOf(&e).Elem(), "")
		routes, prefix = e.Routes, "routes"
	} else {
		d.decode(root, reflect.ValueOf(&routes).Elem(), "")
	}
	if len(d.problems) == 0 && len(routes) == 0 {
		return nil, Problems{{File: name, Message: "no routes given"}}
	}
	d.fieldProblems(prefix, validateRoutes(routes, ""))
	sortProblems(d.problems)
	if len(d.problems) > 0 {
		return nil, d.problems
	}
	return routes, nil
}
