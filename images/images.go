// Package images holds bot-bottle's Dockerfiles: the sidecar and one agent
// image per provider template. They are embedded so the binary can build
// them on a machine without this repository.
package images

import (
	"embed"
	"fmt"
)

//go:embed */Dockerfile
var files embed.FS

// DefaultBase is the base image every Dockerfile starts FROM (build
// argument BASE). scripts/seed-base-image.sh makes it without a registry.
const DefaultBase = "bot-bottle/base:bookworm"

// SidecarBase is the sidecar's own, smaller base (build argument BASE of
// sidecar/Dockerfile): ca-certificates, git and openssh-client only, so the
// image holding every secret carries no curl, less or procps.
// `scripts/seed-base-image.sh --sidecar` makes it without a registry.
const SidecarBase = "bot-bottle/base-sidecar:bookworm"

// Base is the default base image of image name.
func Base(name string) string {
	if name == "sidecar" {
		return SidecarBase
	}
	return DefaultBase
}

// Names returns the image names this package has a Dockerfile for.
func Names() []string { return []string{"claude", "codex", "pi", "shell", "sidecar"} }

// Offline reports whether image name builds with no network (everything it
// needs is in the seeded base). The npm-based agents do not.
func Offline(name string) bool { return name == "shell" || name == "sidecar" }

// Dockerfile returns the Dockerfile of image name.
func Dockerfile(name string) ([]byte, error) {
	b, err := files.ReadFile(name + "/Dockerfile")
	if err != nil {
		return nil, fmt.Errorf("no Dockerfile for image %q", name)
	}
	return b, nil
}
