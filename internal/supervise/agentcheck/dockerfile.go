package agentcheck

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Limits on a capability proposal.
const (
	MaxDockerfileBytes        = 16 << 10
	MaxDockerfileInstructions = 64
)

// reservedEnv are variables the bottle sets itself: the proxy and the CA the
// agent must trust. An image that set them would only break the bottle, so a
// proposal may not. Compared case-insensitively.
func reservedEnv(key string) bool {
	k := strings.ToUpper(key)
	switch k {
	case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
		"CURL_CA_BUNDLE", "CODEX_CA_CERTIFICATE", "NODE_TLS_REJECT_UNAUTHORIZED",
		"GIT_SSL_NO_VERIFY", "GIT_SSL_CAINFO":
		return true
	}
	return false
}

// Dockerfile checks lines an agent proposes to append to its bottle's image
// and returns them cleaned (line endings normalised, trailing blanks
// trimmed), which is exactly what the operator sees and what is built.
//
// Only two instructions are allowed, because only they are safe to append
// to an image built for the agent:
//   - RUN in shell or exec form, without flags (--mount could bind build
//     secrets or SSH agents, --network and --security change the sandbox)
//     and without heredocs (they swallow the lines after them);
//   - ENV, for any name but the proxy and CA variables the bottle owns.
//
// FROM (replaces the image), COPY and ADD (host files, URLs), USER (root),
// ENTRYPOINT, CMD and SHELL (how the agent starts), LABEL (bot-bottle's own
// labels), ARG, WORKDIR, VOLUME, ONBUILD and the rest are refused. A
// trailing backslash is refused too: it would join the next line of the
// final Dockerfile.
func Dockerfile(text string) (string, error) {
	if len(text) > MaxDockerfileBytes {
		return "", fmt.Errorf("dockerfile is %d bytes; the limit is %d", len(text), MaxDockerfileBytes)
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	for _, c := range text {
		if c == 0 || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return "", fmt.Errorf("dockerfile contains control character %U", c)
		}
	}
	raw := strings.Split(text, "\n")
	var out []string
	count := 0
	var cur strings.Builder
	curLine := 0
	for i, l := range raw {
		l = strings.TrimRight(l, " \t")
		out = append(out, l)
		trimmed := strings.TrimLeft(l, " \t")
		if strings.HasPrefix(trimmed, "#") {
			continue // comments are dropped by docker, even inside a continuation
		}
		if trimmed == "" {
			continue // docker skips blank lines, even inside a continuation
		}
		if cur.Len() == 0 {
			curLine = i + 1
		}
		body, cont := strings.CutSuffix(l, `\`)
		cur.WriteString(body)
		if cont {
			cur.WriteByte(' ')
			continue
		}
		count++
		if count > MaxDockerfileInstructions {
			return "", fmt.Errorf("more than %d instructions", MaxDockerfileInstructions)
		}
		if err := checkInstruction(cur.String()); err != nil {
			return "", fmt.Errorf("line %d: %w", curLine, err)
		}
		cur.Reset()
	}
	if cur.Len() > 0 {
		return "", fmt.Errorf("line %d: the last instruction ends with a backslash; finish it", curLine)
	}
	if count == 0 {
		return "", errors.New("no instructions given; add RUN or ENV lines")
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n", nil
}

func checkInstruction(s string) error {
	s = strings.TrimSpace(s)
	word, args, _ := strings.Cut(s, " ")
	if w, a, ok := strings.Cut(s, "\t"); ok && len(w) < len(word) {
		word, args = w, a
	}
	args = strings.TrimSpace(args)
	switch strings.ToUpper(word) {
	case "RUN":
		switch {
		case args == "":
			return errors.New("RUN has no command")
		case strings.HasPrefix(args, "--"):
			return errors.New("RUN flags (--mount, --network, --security) are not allowed")
		case strings.HasPrefix(args, "<<"):
			return errors.New("RUN heredocs are not allowed; write the commands on RUN lines")
		}
		return nil
	case "ENV":
		return checkEnv(args)
	case "FROM":
		return errors.New("FROM is not allowed: a proposal adds to the bottle's image, it cannot replace it")
	case "COPY", "ADD":
		return fmt.Errorf("%s is not allowed: the build has no files or network to take from; fetch through an approved route at run time or install with RUN", strings.ToUpper(word))
	case "USER":
		return errors.New("USER is not allowed: the agent always runs as the bottle's user")
	}
	return fmt.Errorf("%q is not allowed; a proposal may only add RUN and ENV instructions", word)
}

func checkEnv(args string) error {
	if args == "" {
		return errors.New("ENV has no variable")
	}
	toks, err := shellWords(args)
	if err != nil {
		return fmt.Errorf("ENV: %w", err)
	}
	var keys []string
	if !strings.Contains(toks[0], "=") {
		// Legacy form: ENV KEY value...
		keys = []string{toks[0]}
	} else {
		for _, t := range toks {
			k, _, ok := strings.Cut(t, "=")
			if !ok {
				return fmt.Errorf("ENV: %q is not NAME=value", t)
			}
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !manifest.ValidEnvName(k) {
			return fmt.Errorf("ENV: %q is not a variable name", k)
		}
		if reservedEnv(k) {
			return fmt.Errorf("ENV: %s is set by the bottle (proxy and CA settings) and may not be changed", k)
		}
	}
	return nil
}

// shellWords splits s on unquoted blanks, honouring '...', "..." and
// backslash escapes, as docker does for ENV.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	esc := false
	for _, c := range s {
		switch {
		case esc:
			cur.WriteRune(c)
			esc = false
			in = true
		case c == '\\' && quote != '\'':
			esc = true
			in = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '"' || c == '\'':
			quote = c
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, errors.New("no variable")
	}
	return out, nil
}
