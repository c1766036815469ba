package podman

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// TestOptionsSetPodmansDifferences: every container gets explicit nofile
// and nproc limits, gVisor is not picked by default, and the backend is
// named podman.
func TestOptionsSetPodmansDifferences(t *testing.T) {
	o := Options(docker.Options{})
	lim := map[string]int64{}
	for _, u := range o.Ulimits {
		if u.Soft != u.Hard {
			t.Errorf("ulimit %s soft %d hard %d", u.Name, u.Soft, u.Hard)
		}
		lim[u.Name] = u.Hard
	}
	if lim["nofile"] != NoFile || lim["nproc"] != NProc {
		t.Errorf("ulimits %v, want nofile %d and nproc %d", lim, NoFile, NProc)
	}
	if !o.NoDefaultRunsc || o.Name != "podman" {
		t.Errorf("options %+v", o)
	}
}

func TestSocket(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		env  map[string]string
		uid  int
		want string
	}{
		{nil, 0, "unix:///run/podman/podman.sock"},
		{nil, 1000, "unix:///run/user/1000/podman/podman.sock"},
		{map[string]string{"XDG_RUNTIME_DIR": "/tmp/x"}, 1000, "unix:///tmp/x/podman/podman.sock"},
		{map[string]string{EnvHost: "unix:///s.sock"}, 1000, "unix:///s.sock"},
	} {
		if got := Socket(env(tt.env), tt.uid); got != tt.want {
			t.Errorf("Socket(%v, %d) = %q, want %q", tt.env, tt.uid, got, tt.want)
		}
	}
}

// TestLaunchRefusesAnUnsealedEngine: on any network backend but CNI the
// launch is refused with what to change, before the engine is asked for
// anything (the engine here is nil: a call would panic).
func TestLaunchRefusesAnUnsealedEngine(t *testing.T) {
	for _, info := range []Info{{Version: "4.3.1", NetworkBackend: "netavark"}, {Version: "5.0.0", NetworkBackend: "netavark", Rootless: true}} {
		p := New(nil, func(context.Context) (Info, error) { return info, nil }, docker.Options{})
		_, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345"}, backend.LaunchOptions{})
		if err == nil || !strings.Contains(err.Error(), `network_backend = "cni"`) || !strings.Contains(err.Error(), "netavark") {
			t.Errorf("launch on %+v: %v, want a refusal naming netavark and the fix", info, err)
		}
	}
	p := New(nil, func(context.Context) (Info, error) { return Info{}, errors.New("socket gone") }, docker.Options{})
	if _, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345"}, backend.LaunchOptions{}); err == nil || !strings.Contains(err.Error(), "socket gone") {
		t.Errorf("launch when info fails: %v, want that error", err)
	}
	for _, ok := range []Info{{NetworkBackend: NetworkCNI, CgroupVersion: "v1"}, {NetworkBackend: NetworkCNI, Rootless: true, CgroupVersion: "v2", CgroupManager: "systemd"}} {
		if err := Check(ok); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
}

// TestLaunchRefusesRootlessWithoutLimits: rootless Podman on cgroup v1
// drops the agent's pids and memory limits with a warning, and on v2
// needs the systemd cgroup manager to set them; Launch refuses both.
func TestLaunchRefusesRootlessWithoutLimits(t *testing.T) {
	for _, c := range []struct {
		info Info
		want string
	}{
		{Info{NetworkBackend: NetworkCNI, Rootless: true, CgroupVersion: "v1", CgroupManager: "cgroupfs"}, "rootless podman on cgroup v1 ignores the agent's pids and memory limits"},
		{Info{NetworkBackend: NetworkCNI, Rootless: true, CgroupVersion: "v2", CgroupManager: "cgroupfs"}, `set cgroup_manager = "systemd"`},
	} {
		p := New(nil, func(context.Context) (Info, error) { return c.info, nil }, docker.Options{})
		_, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345"}, backend.LaunchOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("launch on %+v: %v, want %q", c.info, err, c.want)
		}
	}
}

// TestParseInfo reads Podman 4.3's /libpod/info (cut down); an answer
// without a network backend cannot decide the seal.
func TestParseInfo(t *testing.T) {
	got, err := ParseInfo(strings.NewReader(`{"host":{"arch":"amd64","cgroupManager":"cgroupfs","cgroupVersion":"v1","networkBackend":"cni","security":{"rootless":true}},"version":{"APIVersion":"4.3.1","Version":"4.3.1"}}`))
	if err != nil || got != (Info{Version: "4.3.1", NetworkBackend: "cni", Rootless: true, CgroupVersion: "v1", CgroupManager: "cgroupfs"}) {
		t.Errorf("ParseInfo = %+v, %v", got, err)
	}
	for _, in := range []string{`{"host":{}}`, `not json`, ``} {
		if _, err := ParseInfo(strings.NewReader(in)); err == nil {
			t.Errorf("ParseInfo(%q) accepted", in)
		}
	}
}

// TestLaunchRefusesGVisor: runtime runsc, from the bottle or the engine
// option, is refused before the engine is asked anything.
func TestLaunchRefusesGVisor(t *testing.T) {
	sealed := func(context.Context) (Info, error) { return Info{NetworkBackend: NetworkCNI, CgroupVersion: "v1"}, nil }
	for _, c := range []struct {
		bottle, engine string
	}{{"runsc", ""}, {"", "runsc"}} {
		p := New(nil, sealed, docker.Options{Runtime: c.engine})
		_, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345", Runtime: c.bottle}, backend.LaunchOptions{})
		if !errors.Is(err, ErrNoGVisor) {
			t.Errorf("bottle runtime %q, engine runtime %q: %v, want ErrNoGVisor", c.bottle, c.engine, err)
		}
	}
}
