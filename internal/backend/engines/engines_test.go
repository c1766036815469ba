package engines

import (
	"slices"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvBackend {
				return v
			}
			return ""
		}
	}
	for _, tt := range []struct {
		flag, env, want string
	}{
		{"", "", "docker"},
		{"", "podman", "podman"},
		{"docker", "podman", "docker"},
		{"kubernetes", "", "kubernetes"},
		{"", "kubernetes", "kubernetes"},
	} {
		if got, err := Choose(tt.flag, env(tt.env)); err != nil || got != tt.want {
			t.Errorf("Choose(%q) with %s=%q = %q, %v; want %q", tt.flag, EnvBackend, tt.env, got, err, tt.want)
		}
	}
	if _, err := Choose("lxc", nil); err == nil || !strings.Contains(err.Error(), "docker, kubernetes, podman") {
		t.Errorf("unknown backend: %v", err)
	}
	if !slices.Contains(Names(), "podman") || !slices.Contains(Names(), "docker") {
		t.Errorf("names %v", Names())
	}
}
