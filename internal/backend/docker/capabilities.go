package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
)

// LabelCapabilities on an agent image says how much of its bottle's
// approved.Dockerfile it has been through: "<bytes>:<sha256 of them>",
// lines that failed included (they are not run again until approved
// again). A committed image keeps it, so a resume does not run the lines
// twice.
const LabelCapabilities = "bot-bottle.capabilities"

// capabilityRepo names the images capability builds make; each carries its
// bottle's slug label, so rm and cleanup find them.
const capabilityRepo = "bot-bottle/agent-capabilities"

// BuildCapabilities builds the approved capability-block lines of bottle
// slug onto base, as root and with no network, one instruction per image
// so that a failing one drops no other: it is reported in the failures
// (with the tail of its build log) and the build goes on from the last
// good image. The result's user stays base's. Lines base has been through
// are not run again: with nothing new, base is returned as it is.
func (d *Docker) BuildCapabilities(ctx context.Context, slug, base string, approved []byte, progress io.Writer) (string, []backend.BuildFailure, error) {
	res, err := d.eng.ImageInspect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("inspecting %s: %w", base, err)
	}
	user, applied := "", ""
	if c := res.Config; c != nil {
		user, applied = c.User, c.Labels[LabelCapabilities]
	}
	units := CapabilityUnits(approved, applied)
	cur, lastFailed := base, false
	var fails []backend.BuildFailure
	for _, u := range units {
		var log bytes.Buffer
		img, err := d.buildUnit(ctx, cur, unitDockerfile(u, user, slug, approved), &log)
		lastFailed = err != nil
		if err != nil {
			fails = append(fails, backend.BuildFailure{Lines: u.Text, Log: logTail(log.String(), 20), Err: err})
			continue
		}
		fmt.Fprintf(progress, "    built %s\n", firstLine(u.Text))
		cur = img
	}
	if lastFailed {
		// The image must still say it went through the failing line, or
		// every start would run it again.
		df := fmt.Sprintf("ARG BASE\nFROM ${BASE}\nLABEL %s=%q %s=%q\n", LabelCapabilities, label(approved), backend.LabelSlug, slug)
		if cur, err = d.buildUnit(ctx, cur, []byte(df), io.Discard); err != nil {
			return "", fails, err
		}
	}
	return cur, fails, nil
}

func (d *Docker) buildUnit(ctx context.Context, base string, df []byte, log io.Writer) (string, error) {
	out, err := imagebuild.Ensure(ctx, d.eng, imagebuild.Spec{Repo: capabilityRepo, Dockerfile: df, Base: base}, log)
	if err != nil {
		return "", err
	}
	return out.Ref, nil
}

// Unit is one instruction of approved.Dockerfile, its continuation lines
// and the comments before it; End is the offset just past it.
type Unit struct {
	Text string
	End  int
	// Open is true when its last line ends with a backslash: it would join
	// the lines bot-bottle adds, so it is refused.
	Open bool
}

// CapabilityUnits splits what of approved an image has not been through
// yet (applied is its LabelCapabilities; one that does not match a prefix
// of approved means none) into instructions.
func CapabilityUnits(approved []byte, applied string) []Unit {
	start := 0
	if n, sum, found := strings.Cut(applied, ":"); found {
		if k, err := strconv.Atoi(n); err == nil && k >= 0 && k <= len(approved) && digest(approved[:k]) == sum {
			start = k
		}
	}
	var units []Unit
	var cur strings.Builder
	hasInstr, open := false, false
	off := start
	for _, l := range strings.SplitAfter(string(approved[start:]), "\n") {
		if l == "" {
			break
		}
		off += len(l)
		cur.WriteString(l)
		t := strings.TrimSpace(l)
		if !open && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		hasInstr, open = true, strings.HasSuffix(t, `\`)
		if !open {
			units = append(units, Unit{Text: cur.String(), End: off})
			cur.Reset()
			hasInstr = false
		}
	}
	if hasInstr {
		units = append(units, Unit{Text: cur.String(), End: off, Open: true})
	}
	return units
}

// unitDockerfile builds u onto BASE as root, back to user after, with the
// labels that say how far through approved the image is and whose it is.
func unitDockerfile(u Unit, user, slug string, approved []byte) []byte {
	if user == "" {
		user = "root"
	}
	text := u.Text
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if u.Open {
		// Refused by the build itself, so it is reported like any failure.
		text = "RUN echo 'this approved line ends with a backslash: it would join the lines bot-bottle adds' >&2; exit 1\n"
	}
	return []byte(fmt.Sprintf("ARG BASE\nFROM ${BASE}\nUSER root\n%sUSER %s\nLABEL %s=%q %s=%q\n",
		text, user, LabelCapabilities, label(approved[:u.End]), backend.LabelSlug, slug))
}

func label(b []byte) string { return fmt.Sprintf("%d:%s", len(b), digest(b)) }

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// firstLine is the first instruction line of a unit (comments left out).
func firstLine(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return t
		}
	}
	return ""
}

// logTail is the last n lines of a build log.
func logTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
