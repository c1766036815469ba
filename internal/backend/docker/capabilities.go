package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
)

// LabelCapabilities on an agent image says how much of its bottle's
// approved.Dockerfile it already carries: "<bytes>:<sha256 of them>". A
// committed image keeps it, so a resume does not run the lines twice.
const LabelCapabilities = "bot-bottle.capabilities"

// BuildCapabilities builds the approved capability-block lines onto base,
// as root and with no network, and returns the new image; the image's user
// stays base's. Lines base already carries are not run again: with nothing
// new, base is returned as it is.
func (d *Docker) BuildCapabilities(ctx context.Context, base string, approved []byte, progress io.Writer) (string, error) {
	res, err := d.eng.ImageInspect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", base, err)
	}
	user, applied := "", ""
	if c := res.Config; c != nil {
		user, applied = c.User, c.Labels[LabelCapabilities]
	}
	df, ok, err := CapabilityDockerfile(approved, applied, user)
	if err != nil || !ok {
		return base, err
	}
	out, err := imagebuild.Ensure(ctx, d.eng, imagebuild.Spec{Repo: "bot-bottle/agent-capabilities", Dockerfile: df, Base: base}, progress)
	if err != nil {
		return "", err
	}
	return out.Ref, nil
}

// CapabilityDockerfile is the Dockerfile that appends to an image what of
// approved it does not carry yet (applied is its LabelCapabilities); ok is
// false when there is nothing new.
func CapabilityDockerfile(approved []byte, applied, user string) (df []byte, ok bool, err error) {
	rest := approved
	if n, sum, found := strings.Cut(applied, ":"); found {
		if k, err := strconv.Atoi(n); err == nil && k >= 0 && k <= len(approved) && digest(approved[:k]) == sum {
			rest = approved[k:]
		}
	}
	last := ""
	for _, l := range strings.Split(string(rest), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			last = t
		}
	}
	if last == "" {
		return nil, false, nil
	}
	if strings.HasSuffix(last, `\`) {
		return nil, false, errors.New("the last approved line ends with a backslash: it would join the lines bot-bottle adds")
	}
	if user == "" {
		user = "root"
	}
	var b strings.Builder
	b.WriteString("ARG BASE\nFROM ${BASE}\nUSER root\n")
	b.Write(rest)
	if !strings.HasSuffix(string(rest), "\n") {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "USER %s\nLABEL %s=\"%d:%s\"\n", user, LabelCapabilities, len(approved), digest(approved))
	return []byte(b.String()), true, nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
