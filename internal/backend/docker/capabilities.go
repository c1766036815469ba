package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/backend"
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

// BuildCapabilities builds the approved capability-block lines of
// cb.Bottle onto cb.Base, one instruction per image so that a failing one
// drops no other: it is reported in the failures (with the tail of its
// output, and what the build proxy refused while it ran) and the build
// goes on from the last good image. A RUN runs as root in a container the
// backend makes from the previous image, on a network whose only other
// member is a build sidecar: its network is the sidecar's proxy (the
// bottle's routes and the build allowance, DLP on) and its DNS the
// sidecar's refusing resolver; the container is committed with the
// previous image's configuration (the user stays base's). ENV and WORKDIR
// are commit changes. Lines base has been through are not run again: with
// nothing new, base is returned as it is.
func (d *Docker) BuildCapabilities(ctx context.Context, cb backend.CapabilityBuild) (string, []backend.BuildFailure, error) {
	progress := cb.Launch.Progress
	if progress == nil {
		progress = io.Discard
	}
	slug, approved := cb.Bottle.Slug, cb.Approved
	res, err := d.eng.ImageInspect(ctx, cb.Base)
	if err != nil {
		return "", nil, fmt.Errorf("inspecting %s: %w", cb.Base, err)
	}
	applied := ""
	if c := res.Config; c != nil {
		applied = c.Labels[LabelCapabilities]
	}
	units := CapabilityUnits(approved, applied)
	if len(units) == 0 {
		return cb.Base, nil, nil
	}
	fmt.Fprintf(progress, "    starting the build sidecar (egress and DNS only)\n")
	env, stop, err := d.startBuild(ctx, cb, progress)
	if err != nil {
		return "", nil, err
	}
	defer stop()
	cur, lastFailed := cb.Base, false
	var fails []backend.BuildFailure
	for _, u := range units {
		labels := map[string]string{LabelCapabilities: label(approved[:u.End]), backend.LabelSlug: slug}
		s := stepOf(u)
		if s.Refused != "" {
			fails = append(fails, backend.BuildFailure{Lines: u.Text, Log: s.Refused, Err: errors.New("not applied")})
			lastFailed = true
			continue
		}
		var log bytes.Buffer
		offset := env.logSize()
		img, err := env.runStep(ctx, cur, capabilityRef(slug, cur, approved[:u.End]), s, labels, &log)
		lastFailed = err != nil
		if err != nil {
			if le := (*lineError)(nil); !errors.As(err, &le) {
				// The engine failed, not the line: nothing is recorded, so
				// the next start runs it again.
				return "", fails, fmt.Errorf("building %s: %w", firstLine(u.Text), err)
			}
			tail := logTail(log.String(), 20)
			if r := env.refusals(offset); len(r) > 0 {
				tail = strings.TrimLeft(tail+"\n"+strings.Join(r, "\n"), "\n")
			}
			fails = append(fails, backend.BuildFailure{Lines: u.Text, Log: tail, Err: err})
			continue
		}
		fmt.Fprintf(progress, "    built %s\n", firstLine(u.Text))
		cur = img
	}
	if lastFailed {
		// The image must still say it went through the failing line, or
		// every start would run it again.
		labels := map[string]string{LabelCapabilities: label(approved), backend.LabelSlug: slug}
		if cur, err = env.runStep(ctx, cur, capabilityRef(slug, cur, approved), step{}, labels, io.Discard); err != nil {
			return "", fails, err
		}
	}
	return cur, fails, nil
}

// capabilityRef tags a capability image: the bottle's slug and a digest of
// what it was built from and through, so nothing prunes it as dangling.
func capabilityRef(slug, from string, through []byte) string {
	return capabilityRepo + ":" + slug + "-" + digest(append([]byte(from+"\n"), through...))[:12]
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
