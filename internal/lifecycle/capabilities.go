package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// CapabilityBuilder is what a backend offers to apply approved
// capability-block lines to a bottle's image.
type CapabilityBuilder interface {
	// AgentImage is the image the agent would boot from.
	AgentImage(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions, progress io.Writer) (string, error)
	// BuildCapabilities builds what of cb.Approved cb.Base has not been
	// through onto it, one instruction at a time, each with its network
	// only through a build proxy (cb.Bottle.CapabilityPolicy, DLP on) and
	// DNS only through the refusing resolver: an instruction that fails
	// is returned as a failure, the others are built. The result is
	// labelled with the slug and marked as through every line, the
	// failed ones included, so they are not run again until approved
	// again. The build sidecar's state (writeBuildState) is written
	// before.
	BuildCapabilities(ctx context.Context, cb backend.CapabilityBuild) (string, []backend.BuildFailure, error)
}

// CapabilitiesFile holds the approved capability-block lines of the bottle
// whose state is dir (the operator's side appends to it).
func CapabilitiesFile(dir string) string {
	return hoststate.Bottle(dir).Capabilities()
}

// builtFile records, per base image, the last image the approved lines
// built on it.
func builtFile(dir string) string { return hoststate.Bottle(dir).CapabilitiesBuilt() }

type built struct {
	Images map[string]string `json:"images"`
	// Through is, per base, how much of approved.Dockerfile the image in
	// Images has been through ("<bytes>:<sha256>"), failed lines included:
	// the next build starts from that image, so a failed line is not run
	// again until it is approved again.
	Through map[string]string `json:"through,omitempty"`
}

func readBuilt(dir string) built {
	var b built
	if data, err := os.ReadFile(builtFile(dir)); err == nil {
		json.Unmarshal(data, &b)
	}
	if b.Images == nil {
		b.Images = map[string]string{}
	}
	if b.Through == nil {
		b.Through = map[string]string{}
	}
	return b
}

// through is the record of how far an image has been through approved.
func through(approved []byte) string {
	sum := sha256.Sum256(approved)
	return fmt.Sprintf("%d:%s", len(approved), hex.EncodeToString(sum[:]))
}

// startFrom is the image the next build goes on: the last one built on
// base when approved still begins with what it has been through (lines
// were only added), else base.
func (b built) startFrom(base string, approved []byte) string {
	last, rec := b.Images[base], b.Through[base]
	n, _, ok := strings.Cut(rec, ":")
	k, err := strconv.Atoi(n)
	if last == "" || !ok || err != nil || k > len(approved) || through(approved[:k]) != rec {
		return base
	}
	return last
}

// applyCapabilities returns the agent image to launch: lo.AgentImage when
// the bottle has no approved image changes, else that image with the
// changes built on. The lines are shown before the build. A failing build
// is not fatal: the previous image (the last one the approved lines built
// on the same base, else the base) is used and the failure is said loudly.
func applyCapabilities(ctx context.Context, be backend.Backend, p *plan.Bottle, lo backend.LaunchOptions, progress, warn io.Writer) (string, error) {
	if warn == nil {
		warn = io.Discard
	}
	// Written at every start, so the operator sees at approval time what
	// a build may reach.
	if err := writeBuildState(p); err != nil {
		return "", err
	}
	file := CapabilitiesFile(p.StateDir)
	approved, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return lo.AgentImage, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading approved image changes: %w", err)
	}
	lines := instructions(approved)
	if len(lines) == 0 {
		return lo.AgentImage, nil
	}
	cb, ok := be.(CapabilityBuilder)
	if !ok {
		fmt.Fprintf(warn, "bot-bottle: warning: the %s backend cannot apply the approved image changes in %s; starting without them\n", be.Name(), file)
		return lo.AgentImage, nil
	}
	fmt.Fprintf(progress, "• approved image changes (%s), built as root:\n", file)
	for _, l := range lines {
		fmt.Fprintf(progress, "    %s\n", l)
	}
	fmt.Fprintf(progress, "  their network is only a build proxy (DLP on, DNS refused) that may reach: %s\n", reachable(p))
	base, err := cb.AgentImage(ctx, *p, lo, progress)
	if err != nil {
		return "", err
	}
	record := readBuilt(p.StateDir)
	from := record.startFrom(base, approved)
	build := backend.CapabilityBuild{Bottle: *p, Base: from, Approved: approved, Launch: lo}
	img, fails, err := cb.BuildCapabilities(ctx, build)
	if err != nil && from != base {
		// The last image is gone (cleanup, rmi): build again from base.
		build.Base = base
		img, fails, err = cb.BuildCapabilities(ctx, build)
	}
	if err != nil {
		prev := base
		if last := record.Images[base]; last != "" {
			prev = last
		}
		fmt.Fprintf(warn, "bot-bottle: the approved image changes did not build: %v\n", err)
		fmt.Fprintf(warn, "bot-bottle: starting from the previous image %s; fix or remove the failing lines in %s\n", prev, file)
		return prev, nil
	}
	sayFailures(warn, fails, file)
	if img == base {
		return img, nil // it carries every line already
	}
	record.Images[base], record.Through[base] = img, through(approved)
	data, _ := json.MarshalIndent(record, "", "  ")
	if err := atomicfile.Write(builtFile(p.StateDir), append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("recording the image build: %w", err)
	}
	return img, nil
}

// reachable names what a capability build of p may reach, for a person.
func reachable(p *plan.Bottle) string {
	hosts := p.CapabilityHosts()
	if len(hosts) == 0 {
		return "nothing (no egress routes, capabilities.routes empty)"
	}
	return strings.Join(hosts, ", ")
}

// writeBuildState writes the build sidecar's sidecar.json and policy (the
// bottle's routes, then the build allowance) under
// state/<slug>/capabilities/build/, and makes its logs directory.
func writeBuildState(p *plan.Bottle) error {
	dir := hoststate.Bottle(hoststate.Bottle(p.StateDir).CapabilityBuild())
	for _, d := range []string{dir.Sidecar(), dir.Egress(), dir.Logs()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("preparing the capability build: %w", err)
		}
	}
	sc, err := json.MarshalIndent(p.CapabilitySidecar(), "", "  ")
	if err != nil {
		return fmt.Errorf("writing the build's sidecar.json: %w", err)
	}
	if err := atomicfile.Write(dir.SidecarConfig(), append(sc, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the build's sidecar.json: %w", err)
	}
	e := p.CapabilityPolicy()
	pol, err := manifest.MarshalPolicy(&manifest.Egress{Routes: e.Routes, Log: &e.Log})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(dir.Policy(), pol, 0o600); err != nil {
		return fmt.Errorf("writing the build's policy: %w", err)
	}
	return nil
}

// sayFailures shows each approved instruction that did not build, once:
// the image is marked as through it, so later starts do not run it again.
func sayFailures(warn io.Writer, fails []backend.BuildFailure, file string) {
	for _, f := range fails {
		fmt.Fprintf(warn, "bot-bottle: an approved image change did not build (%v); the others were built without it:\n", f.Err)
		for _, l := range strings.Split(strings.TrimRight(f.Lines, "\n"), "\n") {
			fmt.Fprintf(warn, "    %s\n", l)
		}
		if f.Log != "" {
			fmt.Fprintln(warn, "  its build log ended:")
			for _, l := range strings.Split(f.Log, "\n") {
				fmt.Fprintf(warn, "    | %s\n", l)
			}
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(warn, "bot-bottle: a failed line is not run again at the next start; approve it again (or edit %s) to retry it\n", file)
	}
}

// instructions are the lines of a Dockerfile that are not blank or
// comments.
func instructions(df []byte) []string {
	var out []string
	for _, l := range strings.Split(string(df), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, strings.TrimRight(l, " \t\r"))
		}
	}
	return out
}
