package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

func TestChanges(t *testing.T) {
	old := Run{Bottles: []string{"default"}, Routes: []string{"a.example"}, Repos: []string{"app git@h:app"}, Env: []string{"A", "B"}, Template: "shell"}
	cur := Run{Bottles: []string{"default", "github"}, Routes: []string{"b.example (token $GH)"}, Env: []string{"B", "C"}, SecretEnv: []string{"GH"}, Template: "claude"}
	want := []string{
		"~ template shell → claude",
		"+ bottle github",
		"+ route b.example (token $GH)",
		"- route a.example",
		"- repo app git@h:app",
		"+ env C",
		"- env A",
		"+ secret env GH",
	}
	if diff := cmp.Diff(want, Changes(old, cur)); diff != "" {
		t.Errorf("Changes (-want +got):\n%s", diff)
	}
	if got := Changes(cur, cur); len(got) != 0 {
		t.Errorf("no change gave %v", got)
	}
}

func TestNoteRunOnResume(t *testing.T) {
	p := &plan.Bottle{StateDir: t.TempDir(), Bottles: []string{"default"}, Egress: plan.Egress{Routes: []manifest.Route{{Host: "a.example"}}}}
	var out bytes.Buffer
	if err := noteRun(p, &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("a first run printed %q", out.String())
	}
	os.MkdirAll(filepath.Join(p.StateDir, "egress"), 0o700)
	os.WriteFile(filepath.Join(p.StateDir, "egress", "approved.yaml"), []byte("egress:\n  routes:\n    - host: approved.example\n"), 0o600)
	p.Egress.Routes = append(p.Egress.Routes, manifest.Route{Host: "new.example"})
	if err := noteRun(p, &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "+ route new.example") || !strings.Contains(s, "keeping 1 route(s) approved") {
		t.Errorf("resume note:\n%s", s)
	}
}

// capBackend is a backend that builds capability images by name.
type capBackend struct {
	backend.Backend
	fail     bool
	failures []backend.BuildFailure
	builds   int
	froms    []string // the image each build started from
}

func (c *capBackend) Name() string { return "fake" }
func (c *capBackend) AgentImage(context.Context, plan.Bottle, backend.LaunchOptions, io.Writer) (string, error) {
	return "agent:base", nil
}
func (c *capBackend) BuildCapabilities(_ context.Context, cb backend.CapabilityBuild) (string, []backend.BuildFailure, error) {
	c.builds++
	c.froms = append(c.froms, cb.Base)
	if c.fail {
		return "", nil, errors.New("RUN exit 7: returned a non-zero code: 7")
	}
	return "agent:caps" + string(rune('0'+c.builds)), c.failures, nil
}

func TestApplyCapabilities(t *testing.T) {
	p := &plan.Bottle{StateDir: t.TempDir(), Slug: "impl-k3x9q",
		Egress:       plan.Egress{Routes: []manifest.Route{{Host: "api.github.com"}}},
		Capabilities: plan.Capabilities{Routes: manifest.DefaultCapabilityRoutes()}}
	be := &capBackend{}
	var progress, warn bytes.Buffer
	img, err := applyCapabilities(context.Background(), be, p, backend.LaunchOptions{AgentImage: "committed"}, &progress, &warn)
	if err != nil || img != "committed" || be.builds != 0 {
		t.Fatalf("no approved lines: %q %v builds=%d", img, err, be.builds)
	}
	file := CapabilitiesFile(p.StateDir)
	os.MkdirAll(filepath.Dir(file), 0o700)
	os.WriteFile(file, []byte("# proposal 1 (x)\nRUN useradd bob\n"), 0o600)
	img, err = applyCapabilities(context.Background(), be, p, backend.LaunchOptions{}, &progress, &warn)
	if err != nil || img != "agent:caps1" {
		t.Fatalf("build: %q %v", img, err)
	}
	if !strings.Contains(progress.String(), "    RUN useradd bob\n") || strings.Contains(progress.String(), "# proposal") {
		t.Errorf("the lines were not shown as they are built:\n%s", progress.String())
	}
	if !strings.Contains(progress.String(), "only a build proxy (DLP on, DNS refused) that may reach: api.github.com, deb.debian.org, security.debian.org\n") {
		t.Errorf("what the build may reach was not shown:\n%s", progress.String())
	}
	// The build sidecar's policy: the bottle's routes, then the allowance.
	pol, err := os.ReadFile(filepath.Join(p.StateDir, "capabilities", "build", "egress", "policy.yaml"))
	if err != nil || !regexp.MustCompile(`(?s)api\.github\.com.*deb\.debian\.org.*security\.debian\.org`).Match(pol) {
		t.Errorf("build policy %v:\n%s", err, pol)
	}
	if sc, err := os.ReadFile(filepath.Join(p.StateDir, "capabilities", "build", "sidecar", "sidecar.json")); err != nil || !strings.Contains(string(sc), `"egress",
    "dns"`) || strings.Contains(string(sc), "supervise\",") {
		t.Errorf("build sidecar.json %v:\n%s", err, sc)
	}
	be.fail = true
	img, err = applyCapabilities(context.Background(), be, p, backend.LaunchOptions{}, &progress, &warn)
	if err != nil || img != "agent:caps1" {
		t.Errorf("failing build: %q %v, want the previous image agent:caps1", img, err)
	}
	if !strings.Contains(warn.String(), "did not build: RUN exit 7") || !strings.Contains(warn.String(), file) {
		t.Errorf("no clear message:\n%s", warn.String())
	}
	// One failing instruction: shown with its log, the image the others
	// built is used.
	be.fail, be.failures = false, []backend.BuildFailure{{Lines: "RUN apt-get install -y jq\n", Log: "E: Unable to locate package jq", Err: errors.New("exit 100")}}
	warn.Reset()
	os.WriteFile(file, []byte("# proposal 1 (x)\nRUN useradd bob\n# proposal 2 (x)\nRUN apt-get install -y jq\n"), 0o600)
	be.froms = nil
	img, err = applyCapabilities(context.Background(), be, p, backend.LaunchOptions{}, &progress, &warn)
	if err != nil || img == "agent:caps1" || !slices.Equal(be.froms, []string{"agent:caps1"}) {
		t.Errorf("partial build: %q %v from %v, want a new image built on the last one, agent:caps1", img, err, be.froms)
	}
	// The next start builds on what the partial build made (it has been
	// through the failed line), so the failed line is not run again.
	last := img
	be.froms, be.failures = nil, nil
	applyCapabilities(context.Background(), be, p, backend.LaunchOptions{}, &progress, io.Discard)
	if !slices.Equal(be.froms, []string{last}) {
		t.Errorf("the next start built from %v, want %s (the image through the failed line)", be.froms, last)
	}
	// An edited file (not only appended to) starts again from the base.
	os.WriteFile(file, []byte("RUN true\n"), 0o600)
	be.froms = nil
	applyCapabilities(context.Background(), be, p, backend.LaunchOptions{}, &progress, io.Discard)
	if !slices.Equal(be.froms, []string{"agent:base"}) {
		t.Errorf("after an edit the build started from %v, want agent:base", be.froms)
	}
	for _, want := range []string{"did not build (exit 100); the others were built without it", "    RUN apt-get install -y jq\n", "    | E: Unable to locate package jq\n", "not run again at the next start; approve it again"} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("the failure message lacks %q:\n%s", want, warn.String())
		}
	}
}

// TestResumeNoticesAChangedEnvValue: an env value edited in the manifests
// is reported by name, never by value; a sentinel, fresh every run, is not.
func TestResumeNoticesAChangedEnvValue(t *testing.T) {
	p := &plan.Bottle{StateDir: t.TempDir(),
		AgentEnv:   map[string]string{"MODE": "old-value-1", "API_KEY": "sentinel-1"},
		SidecarEnv: map[string]string{manifest.SentinelEnvPrefix + "API_KEY": "sentinel-1"},
	}
	var out bytes.Buffer
	if err := noteRun(p, &out); err != nil {
		t.Fatal(err)
	}
	p.AgentEnv["API_KEY"], p.SidecarEnv[manifest.SentinelEnvPrefix+"API_KEY"] = "sentinel-2", "sentinel-2"
	if err := noteRun(p, &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "manifests unchanged") {
		t.Errorf("a fresh sentinel alone was reported as a change:\n%s", s)
	}
	out.Reset()
	p.AgentEnv["MODE"] = "new-value-2"
	if err := noteRun(p, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, "unchanged") || !strings.Contains(s, "~ env MODE (value changed)") {
		t.Errorf("a changed env value was not reported by name:\n%s", s)
	}
	if strings.Contains(s, "value-") {
		t.Errorf("the note shows an env value:\n%s", s)
	}
	rec, _ := os.ReadFile(filepath.Join(p.StateDir, RunFile))
	if strings.Contains(string(rec), "value-") {
		t.Errorf("%s holds an env value:\n%s", RunFile, rec)
	}
}
