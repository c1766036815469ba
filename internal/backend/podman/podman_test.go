package podman

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

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
	if !o.NoDefaultRunsc || !o.FilesBeforeStart || o.Name != "podman" {
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
	got, err := ParseInfo(strings.NewReader(`{"host":{"arch":"amd64","cgroupManager":"cgroupfs","cgroupVersion":"v1","networkBackend":"cni","ociRuntime":{"name":"runsc","path":"/usr/local/lib/bot-bottle/runsc"},"security":{"rootless":true}},"store":{"graphRoot":"/var/lib/containers/storage","runRoot":"/run/containers/storage"},"version":{"APIVersion":"4.3.1","Version":"4.3.1"}}`))
	if err != nil || got != (Info{Version: "4.3.1", NetworkBackend: "cni", Rootless: true, CgroupVersion: "v1", CgroupManager: "cgroupfs", OCIRuntime: "runsc", GraphRoot: "/var/lib/containers/storage", RunRoot: "/run/containers/storage"}) {
		t.Errorf("ParseInfo = %+v, %v", got, err)
	}
	for _, in := range []string{`{"host":{}}`, `not json`, ``} {
		if _, err := ParseInfo(strings.NewReader(in)); err == nil {
			t.Errorf("ParseInfo(%q) accepted", in)
		}
	}
}

// TestLaunchRefusesGVisor: runtime runsc, from the bottle or the engine
// option, is refused before the engine is asked anything when the
// backend has no gVisor service, or one that would not give the agent
// runsc on the backend's store; runtime runc is refused on a service
// that creates everything under runsc.
func TestLaunchRefusesGVisor(t *testing.T) {
	sealed := Info{NetworkBackend: NetworkCNI, CgroupVersion: "v1", OCIRuntime: "runc", GraphRoot: "/var/lib/containers/storage", RunRoot: "/run/containers/storage"}
	info := func(i Info) func(context.Context) (Info, error) {
		return func(context.Context) (Info, error) { return i, nil }
	}
	for _, c := range []struct {
		bottle, engine string
	}{{"runsc", ""}, {"", "runsc"}} {
		p := New(nil, info(sealed), docker.Options{Runtime: c.engine})
		_, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345", Runtime: c.bottle}, backend.LaunchOptions{})
		if !errors.Is(err, ErrNoGVisor) || !strings.Contains(err.Error(), "podman --runtime runsc system service") {
			t.Errorf("bottle runtime %q, engine runtime %q: %v, want ErrNoGVisor saying how to start the service", c.bottle, c.engine, err)
		}
	}
	gvisor := sealed
	gvisor.OCIRuntime = "runsc"
	for _, c := range []struct {
		name string
		g    func(Info) Info
		want string
	}{
		{"runc", func(i Info) Info { i.OCIRuntime = "runc"; return i }, `creates containers under "runc", not runsc`},
		{"other store", func(i Info) Info { i.GraphRoot = "/srv/other"; return i }, "is not the backend's"},
		{"netavark", func(i Info) Info { i.NetworkBackend = "netavark"; return i }, `network_backend = "cni"`},
	} {
		p := New(nil, info(sealed), docker.Options{}).WithGVisor(GVisor{Info: info(c.g(gvisor))})
		_, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345", Runtime: "runsc"}, backend.LaunchOptions{})
		if err == nil || !strings.Contains(err.Error(), "the gvisor service") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want the refusal %q", c.name, err, c.want)
		}
	}
	p := New(nil, info(gvisor), docker.Options{})
	if _, err := p.Launch(context.Background(), plan.Bottle{Slug: "x-12345", Runtime: "runc"}, backend.LaunchOptions{}); err == nil || !strings.Contains(err.Error(), "forbids runsc") {
		t.Errorf("runtime runc on a runsc service: %v, want the refusal", err)
	}
}

// fakeEngine records the containers created on it and removed from it.
type fakeEngine struct {
	docker.Engine // nil: any other call panics
	name          string
	created       []string
	removed       []string
}

func (f *fakeEngine) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.created = append(f.created, o.Name)
	return client.ContainerCreateResult{ID: f.name + "-" + o.Name}, nil
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, _ client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.removed = append(f.removed, id)
	return client.ContainerRemoveResult{}, nil
}

// TestGVisorCreatesTheAgent: a container asking for runsc is created by
// the gVisor service and kept only when Podman recorded runsc for it;
// under any other runtime it is removed and the create fails. Every
// other container goes to the backend's own service; with no gVisor
// service runsc is refused.
func TestGVisorCreatesTheAgent(t *testing.T) {
	ctx := context.Background()
	create := func(e *engine, runtime string) (client.ContainerCreateResult, error) {
		return e.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "c", HostConfig: &container.HostConfig{Runtime: runtime}})
	}
	for _, c := range []struct {
		recorded string
		ok       bool
	}{{"runsc", true}, {"runc", false}} {
		main, gv := &fakeEngine{name: "main"}, &fakeEngine{name: "gvisor"}
		e := &engine{Engine: main, gvisor: &GVisor{Engine: gv, Runtime: func(context.Context, string) (string, error) { return c.recorded, nil }}}
		res, err := create(e, "runsc")
		if c.ok && (err != nil || res.ID != "gvisor-c" || len(main.created) > 0) {
			t.Errorf("recorded runsc: %+v, %v; main created %v", res, err, main.created)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), `under "runc"`) || !slices.Equal(main.removed, []string{"gvisor-c"})) {
			t.Errorf("recorded %s: %+v, %v; removed %v, want the container removed and an error", c.recorded, res, err, main.removed)
		}
		if res, err := create(e, ""); err != nil || res.ID != "main-c" {
			t.Errorf("no runtime asked: %+v, %v, want the backend's service", res, err)
		}
	}
	if _, err := create(&engine{Engine: &fakeEngine{}}, "runsc"); !errors.Is(err, ErrNoGVisor) {
		t.Errorf("runsc without a gVisor service: %v, want ErrNoGVisor", err)
	}
}

func TestGVisorSocket(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env        map[string]string
		host, want string
	}{
		{nil, "unix:///run/podman/podman.sock", "unix:///run/podman/podman-runsc.sock"},
		{map[string]string{EnvGVisorHost: "unix:///g.sock"}, "unix:///run/podman/podman.sock", "unix:///g.sock"},
		{nil, "tcp://127.0.0.1:8080", ""},
	} {
		if got := GVisorSocket(env(c.env), c.host); got != c.want {
			t.Errorf("GVisorSocket(%v, %q) = %q, want %q", c.env, c.host, got, c.want)
		}
	}
}
