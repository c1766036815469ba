// Command docgen writes docs/manifest.md from the doc comments of the wire
// types in internal/manifest/types.go, so the reference cannot drift from
// the code. Run from the repository root:
//
//	go run ./internal/manifest/docgen -o docs/manifest.md
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
)

func main() {
	src := flag.String("types", "internal/manifest/types.go", "the wire types")
	out := flag.String("o", "", "write here instead of stdout")
	flag.Parse()
	data, err := os.ReadFile(*src)
	if err == nil {
		data, err = Generate(data)
	}
	if err == nil && *out != "" {
		err = os.WriteFile(*out, data, 0o644)
	} else if err == nil {
		_, err = os.Stdout.Write(data)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
		os.Exit(2)
	}
}

// typeDoc is one struct's doc comment and fields.
type typeDoc struct {
	doc    string
	fields []fieldDoc
}

type fieldDoc struct {
	key  string
	typ  ast.Expr
	doc  string
	opt  bool
	name string
}

// section says where a type is documented and under what title.
type section struct {
	typ   string
	title string
}

// Generate renders the reference from the source of types.go.
func Generate(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parsing types: %w", err)
	}
	types := map[string]typeDoc{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			td := typeDoc{doc: gd.Doc.Text()}
			for _, fl := range st.Fields.List {
				if fl.Tag == nil || len(fl.Names) == 0 {
					continue
				}
				tag := reflect.StructTag(strings.Trim(fl.Tag.Value, "`")).Get("yaml")
				key, opts, _ := strings.Cut(tag, ",")
				if key == "" || key == "-" {
					continue
				}
				doc := fl.Doc.Text()
				if doc == "" {
					return nil, fmt.Errorf("field %s.%s has no doc comment: the reference is written from it", ts.Name.Name, fl.Names[0].Name)
				}
				td.fields = append(td.fields, fieldDoc{key: key, typ: fl.Type, doc: doc, opt: strings.Contains(opts, "omitempty"), name: fl.Names[0].Name})
			}
			types[ts.Name.Name] = td
		}
	}
	for _, root := range []string{"BottleFile", "AgentFile"} {
		if _, ok := types[root]; !ok {
			return nil, errors.New("types.go has no " + root)
		}
	}

	// Walk from the two roots so each type is documented once, under the
	// first key path that reaches it.
	var order []section
	seen := map[string]bool{}
	var walk func(typ, title string)
	walk = func(typ, title string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		order = append(order, section{typ, title})
		for _, fd := range types[typ].fields {
			if child, path := structOf(fd.typ, types); child != "" {
				walk(child, joinTitle(title, fd.key+path))
			}
		}
	}
	walk("BottleFile", "")
	walk("AgentFile", "")

	var b bytes.Buffer
	b.WriteString(header)
	for _, s := range order {
		td := types[s.typ]
		switch s.typ {
		case "BottleFile":
			b.WriteString("\n## Bottle manifest\n\n")
		case "AgentFile":
			b.WriteString("\n## Agent manifest\n\n")
		default:
			fmt.Fprintf(&b, "\n### <a id=\"%s\"></a>`%s`\n\n", anchor(s.typ), s.title)
		}
		b.WriteString(paragraph(stripTypeName(td.doc, s.typ)))
		b.WriteString("\n| key | type | what it does |\n|---|---|---|\n")
		for _, fd := range td.fields {
			req := ""
			if !fd.opt {
				req = " (required)"
			}
			fmt.Fprintf(&b, "| `%s`%s | %s | %s |\n", fd.key, req, typeName(fd.typ, types), cell(stripTypeName(fd.doc, fd.name)))
		}
	}
	b.WriteString(footer)
	return b.Bytes(), nil
}

func joinTitle(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// structOf returns the struct type a field leads to (through pointers,
// lists and maps) and the suffix its path takes ("[]" or ".NAME").
func structOf(e ast.Expr, types map[string]typeDoc) (string, string) {
	switch t := e.(type) {
	case *ast.StarExpr:
		return structOf(t.X, types)
	case *ast.ArrayType:
		s, p := structOf(t.Elt, types)
		return s, "[]" + p
	case *ast.MapType:
		s, p := structOf(t.Value, types)
		return s, ".NAME" + p
	case *ast.Ident:
		if td, ok := types[t.Name]; ok && len(td.fields) > 0 {
			return t.Name, ""
		}
	}
	return "", ""
}

// typeName is how the reference names a field's type.
func typeName(e ast.Expr, types map[string]typeDoc) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return typeName(t.X, types)
	case *ast.ArrayType:
		return "list of " + typeName(t.Elt, types)
	case *ast.MapType:
		return "map of NAME: " + typeName(t.Value, types)
	case *ast.Ident:
		switch t.Name {
		case "string":
			return "string"
		case "bool":
			return "true or false"
		case "int", "float64":
			return "number"
		case "any":
			return "any"
		case "StringList":
			return "name or list of names"
		case "Detectors":
			return "`false` or list of names"
		}
		if td, ok := types[t.Name]; ok && len(td.fields) > 0 {
			return fmt.Sprintf("[mapping](#%s)", anchor(t.Name))
		}
		return t.Name
	case *ast.InterfaceType:
		return "any"
	}
	return "value"
}

func anchor(typ string) string { return strings.ToLower(typ) }

// stripTypeName drops the Go name a doc comment starts with ("Host is the
// host" becomes "The host"), so the reference reads in YAML terms.
func stripTypeName(doc, name string) string {
	doc = strings.TrimSpace(doc)
	for _, verb := range []string{" is ", " are ", " may ", " declares ", " picks ", " names ", " injects ", " narrows ", " configures ", " allows ", " lets ", " scan ", " selects ", " says ", " replaces ", " pins ", " matches "} {
		if rest, ok := strings.CutPrefix(doc, name+verb); ok {
			v := strings.TrimSpace(verb)
			switch v {
			case "is", "are":
				return upperFirst(rest)
			}
			return upperFirst(v) + " " + rest
		}
	}
	if rest, ok := strings.CutPrefix(doc, name+": "); ok {
		return upperFirst(rest)
	}
	return doc
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func paragraph(s string) string {
	if s == "" {
		return ""
	}
	return strings.Join(strings.Fields(s), " ") + "\n"
}

func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", "\\|")
}

const header = `# Manifest reference

<!-- Generated by "go run ./internal/manifest/docgen -o docs/manifest.md"
from the doc comments in internal/manifest/types.go. Do not edit by hand:
change the comments and regenerate (a test fails while this file is stale). -->

Bottles and agents are Markdown files with YAML frontmatter: a line ` + "`---`" + `,
YAML, a line ` + "`---`" + `, then Markdown. The body of an agent is its system
prompt; the body of a bottle is documentation. ` + "`bot-bottle init`" + ` writes a
commented starter; ` + "`bot-bottle manifest check`" + ` reports every problem as
` + "`FILE:LINE: what is wrong; what to do`" + `.

## Where manifests come from

- **Bottles** come only from ` + "`~/.bot-bottle/bottles/NAME.md`" + `. A bottle decides
  which hosts the agent reaches, which tokens are injected and where pushes
  go, so a repository you clone must never be able to define one: a
  ` + "`bottles/`" + ` or ` + "`.bot-bottle/bottles/`" + ` folder under the working directory is
  warned about and ignored.
- **Agents** come from ` + "`~/.bot-bottle/agents/NAME.md`" + ` and
  ` + "`./.bot-bottle/agents/NAME.md`" + `. When both have the same name, the working
  directory's copy wins, and bot-bottle says so.
- **Names** are file names without ` + "`.md`" + `: lower case letters, digits and ` + "`-`" + `,
  starting with a letter (` + "`^[a-z][a-z0-9-]*$`" + `).
  Repo names under ` + "`git-gate.repos`" + ` may also use upper case, ` + "`.`" + ` and ` + "`_`" + `,
  without a ` + "`.git`" + ` suffix: the agent clones ` + "`http://git-gate:9420/NAME.git`" + `.
- A broken agent does not stop the others from loading; it fails when it is
  started. A broken bottle fails every bottle that extends it.
- A built-in ` + "`shell`" + ` agent and a built-in ` + "`default`" + ` bottle (shell template,
  supervised, no egress routes) are always there, so ` + "`bot-bottle start`" + ` works
  with no manifests at all. An agent or bottle of yours with the same name
  replaces it. An agent that names no bottle runs in ` + "`default`" + `.

## Strictness

- Unknown keys are errors, with the file, the line and a "did you mean".
- A value of the wrong type is an error naming the type expected. Strings
  that look like numbers or booleans must be quoted (` + "`PORT: \"8080\"`" + `).
- Removed keys fail with a migration hint: ` + "`supervise`" + ` (every bottle is
  supervised now), ` + "`git`" + ` (renamed ` + "`git-gate`" + `), and ` + "`role`" + ` on a route with
  any value (reserved).
- Token values are never read at load: ` + "`token_ref`" + ` and ` + "`auth_token`" + ` name the
  host env var that holds the token. A missing variable is an error when
  the bottle is planned (` + "`bot-bottle start`" + `), naming the variable and route.
- YAML anchors and aliases work; merge keys (` + "`<<`" + `) do not.

## extends and merging

` + "`extends`" + ` names one parent or a list. Parents fold left to right and the
child goes on top. Cycles, a parent reached twice (a diamond) and missing or
broken parents are errors. Several ` + "`--bottle`" + ` flags at start merge in the
same way, in the order given, and a bottle reached twice among them is an
error too.

| key | merge |
|---|---|
| ` + "`env`" + ` | dict-merged; a later value for a name wins |
| ` + "`agent_provider`" + ` | each scalar last-wins where set; ` + "`settings`" + ` dict-merged; ` + "`forward_host_credentials`" + ` stays true once set |
| ` + "`git-gate.user`" + ` | per field (` + "`name`" + `, ` + "`email`" + `); an agent's ` + "`git-gate.user`" + ` goes on top |
| ` + "`git-gate.repos`" + ` | union by name; a later repo of the same name replaces the earlier |
| ` + "`egress.routes`" + ` | concatenated, parents first |
| ` + "`egress.log`" + ` | last wins |

Relative paths (` + "`dockerfile`" + `, ` + "`key.path`" + `) are relative to the file that
names them; ` + "`~/`" + ` is your home.
`

const footer = `
## Routes in detail

- A route allows one exact host (or IP literal), or ` + "`*.suffix`" + ` (one or more
  labels under suffix, never the suffix itself; no auth on a wildcard).
  Ports are 443 for https and 80 for http unless the route lists ` + "`ports`" + `.
- ` + "`paths[].type`" + ` defaults to ` + "`prefix`" + `.
- ` + "`auth`" + ` puts the value where the service reads it (` + "`scheme`" + `, ` + "`header`" + `,
  ` + "`basic_user`" + `, ` + "`query`" + `, or a ` + "`placeholder`" + ` sentinel swapped on the way
  out); docs/egress.md, "Token placements", shows what the upstream gets.
- A bottle route for a host the provider template provisions narrows the
  provider's route (takes its auth, keeps its own matches); it never
  silently loses to it.
- With no ` + "`matches`" + `, every request to the host is allowed. With
  ` + "`matches`" + `, a request must satisfy at least one entry; within an entry,
  every part given (paths, methods, headers) must match.
- Path and header regular expressions are RE2 and anchored.
- An agent proposing a route through supervise may not set ` + "`auth`" + `,
  ` + "`unsafe_allow_private`" + `, ` + "`git`" + ` or anything that weakens ` + "`dlp`" + `; only the
  operator can, by editing the bottle or modifying the proposal.
`
