package podman

import (
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
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
