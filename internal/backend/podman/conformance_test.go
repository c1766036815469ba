package podman_test

import (
	"context"
	"os"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/backendtest"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman/podmantest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// newBackend is a Podman backend on a fresh rootful `podman system
// service` with the CNI network backend, whose sidecar is the test
// fixture (it answers HTTP on the sidecar ports and prints the ready line).
func newBackend(t *testing.T) (*docker.Docker, *client.Client, *podmantest.Service) {
	t.Helper()
	svc := podmantest.Start(t, "cni")
	dk := harness.Engine(t)
	eng := svc.Client(t)
	return podman.New(eng, docker.Options{
		Base:              svc.Image(t, dk, harness.Base(t, dk)),
		SidecarBase:       svc.Image(t, dk, harness.SidecarBase(t, dk)),
		SidecarBinary:     harness.BuildStatic(t, "./test/e2e/fixture"),
		SidecarEntrypoint: []string{"/usr/local/bin/bot-bottle", "fake-sidecar"},
	}), eng, svc
}

func launchOptions() backend.LaunchOptions {
	return backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()}
}

func TestConformance(t *testing.T) {
	p, eng, _ := newBackend(t)
	backendtest.Run(t, backendtest.Config{
		Backend: p,
		NewPlan: func(t *testing.T) plan.Bottle { return harness.ShellPlan(t) },
		Options: launchOptions(),
		RemoveImage: func(ref string) {
			eng.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
		},
	})
}
