package imagebuild

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Instruction is one Dockerfile instruction with its continuation lines
// joined.
type Instruction struct {
	Line int    // where it starts, from 1
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

func knownCmd(cmd string) bool {
	switch cmd {
	case "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
		"HEALTHCHECK", "LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER",
		"VOLUME", "WORKDIR":
		return true
	}
	return false
}

// directive matches a parser directive such as "# syntax=...".
var directive = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*)$`)

// Dockerfile is a parsed Dockerfile: its parser directives (lower-case
// names) and its instructions.
type Dockerfile struct {
	Directives   map[string]string
	Instructions []Instruction
}

// ParseDockerfile splits a Dockerfile into instructions. It knows comments,
// parser directives, blank lines and backslash continuations; it does not
// interpret arguments.
func ParseDockerfile(b []byte) (Dockerfile, error) {
	df := Dockerfile{Directives: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	leading := true // directives are only recognised before anything else
	var cur *Instruction
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(line)
		if leading {
			if m := directive.FindStringSubmatch(trimmed); m != nil {
				df.Directives[strings.ToLower(m[1])] = m[2]
				continue
			}
			leading = false
		}
		// Blank and comment lines are skipped, also inside a continuation.
		if strings.HasPrefix(trimmed, "#") || trimmed == "" {
			continue
		}
		if cur == nil {
			cmd, args, _ := strings.Cut(trimmed, " ")
			cmd = strings.ToUpper(cmd)
			if !knownCmd(cmd) {
				return Dockerfile{}, fmt.Errorf("line %d: unknown instruction %q", n, cmd)
			}
			cur = &Instruction{Line: n, Cmd: cmd, Args: strings.TrimSpace(args)}
		} else {
			cur.Args += " " + trimmed
		}
		if strings.HasSuffix(cur.Args, `\`) {
			cur.Args = strings.TrimSpace(strings.TrimSuffix(cur.Args, `\`))
			continue
		}
		df.Instructions = append(df.Instructions, *cur)
		cur = nil
	}
	if err := sc.Err(); err != nil {
		return Dockerfile{}, fmt.Errorf("reading dockerfile: %w", err)
	}
	if cur != nil {
		return Dockerfile{}, fmt.Errorf("line %d: continuation at end of file", cur.Line)
	}
	if len(df.Instructions) == 0 {
		return Dockerfile{}, fmt.Errorf("no instructions")
	}
	return df, nil
}

// CheckNoRegistry refuses what would make the engine reach an image
// registry: a `# syntax=` directive (BuildKit frontends are images), more
// than one stage, or a FROM other than the BASE build argument.
func CheckNoRegistry(df Dockerfile) error {
	if v, ok := df.Directives["syntax"]; ok {
		return fmt.Errorf("parser directive syntax=%s pulls a frontend image", v)
	}
	froms := 0
	for _, in := range df.Instructions {
		switch in.Cmd {
		case "FROM":
			froms++
			if froms > 1 {
				return fmt.Errorf("line %d: second FROM: a multi-stage build may pull", in.Line)
			}
			if in.Args != "${BASE}" && in.Args != "$BASE" {
				return fmt.Errorf("line %d: FROM %s: start from the BASE build argument", in.Line, in.Args)
			}
		case "ADD":
			if strings.Contains(in.Args, "://") {
				return fmt.Errorf("line %d: ADD from a URL", in.Line)
			}
		case "COPY":
			if strings.Contains(in.Args, "--from") {
				return fmt.Errorf("line %d: COPY --from may pull", in.Line)
			}
		}
	}
	if froms == 0 {
		return fmt.Errorf("no FROM")
	}
	return nil
}

// FinalUser is the argument of the last USER instruction ("" if none).
func FinalUser(df Dockerfile) string {
	u := ""
	for _, in := range df.Instructions {
		if in.Cmd == "USER" {
			u = in.Args
		}
	}
	return u
}
