package docker

import (
	"strings"
	"testing"
)

// TestFixHintsNameTheEngine: attestation's fix text names no engine; the
// backend's hints name the CLI of the engine that runs the bottle.
func TestFixHintsNameTheEngine(t *testing.T) {
	for _, name := range []string{"docker", "podman"} {
		h := (&Docker{opts: Options{Name: name}}).fixHints()
		if !strings.Contains(h["host"], name+" inspect") || !strings.Contains(h["route"], name+" network disconnect") {
			t.Errorf("%s hints: %v", name, h)
		}
	}
}
