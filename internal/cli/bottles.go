package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
)

// Environment variables that tune the Docker backend.
const (
	// envBaseImage replaces the base image the Dockerfiles start FROM.
	envBaseImage = "BOT_BOTTLE_BASE_IMAGE"
	// envSidecarBaseImage replaces the sidecar image's base.
	envSidecarBaseImage = "BOT_BOTTLE_SIDECAR_BASE_IMAGE"
	// envSidecarBinary is a static bot-bottle for the sidecar image when
	// the running one is not static.
	envSidecarBinary = "BOT_BOTTLE_SIDECAR_BINARY"
)

// openDocker connects to the engine the environment names.
func openDocker(ctx context.Context, env Env) (*docker.Docker, func(), error) {
	c, err := docker.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	d := docker.New(c, docker.Options{
		Base:          env.Getenv(envBaseImage),
		SidecarBase:   env.Getenv(envSidecarBaseImage),
		SidecarBinary: env.Getenv(envSidecarBinary),
	})
	return d, func() { c.Close() }, nil
}

// stateRoot is ~/.bot-bottle/state.
func stateRootDir(env Env) (string, error) {
	if env.Home == "" {
		return "", fmt.Errorf("no home directory: bottle state lives in ~/.bot-bottle/state")
	}
	return hoststate.New(env.Home).StateRoot(), nil
}

// ids are the uid and gid the sidecar runs as: the invoking user's.
func ids() (int, int) { return os.Getuid(), os.Getgid() }
