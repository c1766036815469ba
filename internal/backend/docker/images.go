package docker

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/images"
	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// ensureImages returns the sidecar and agent images, building what is
// missing. Images are always built from their recipe (tags are content
// hashes) unless opts names an agent image to run (a commit, on resume):
// a name in the plan may be stale.
func (d *Docker) ensureImages(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions, progress io.Writer) (sidecar, agent string, err error) {
	if sidecar, err = d.sidecarImage(ctx, b, progress); err != nil {
		return "", "", err
	}
	agent, err = d.AgentImage(ctx, b, opts, progress)
	return sidecar, agent, err
}

// sidecarImage is the sidecar image, built if missing.
func (d *Docker) sidecarImage(ctx context.Context, b plan.Bottle, progress io.Writer) (string, error) {
	bin, err := d.sidecarBinary()
	if err != nil {
		return "", fmt.Errorf("sidecar image: %w", err)
	}
	df, err := images.Dockerfile("sidecar")
	if err != nil {
		return "", err
	}
	res, err := imagebuild.Ensure(ctx, d.eng, imagebuild.Spec{
		Repo: "bot-bottle/sidecar", Dockerfile: df, Base: d.opts.SidecarBase,
		Files: map[string]imagebuild.File{"bot-bottle": {Path: bin, Mode: 0o755}},
	}, progress)
	if errors.Is(err, imagebuild.ErrBaseMissing) {
		return "", fmt.Errorf("sidecar image: %w (the sidecar has its own base: scripts/seed-base-image.sh --sidecar)", err)
	}
	if err != nil {
		return "", fmt.Errorf("sidecar image: %w", err)
	}
	if err := d.alias(ctx, res.Ref, b.Images.Sidecar); err != nil {
		return "", fmt.Errorf("sidecar image: %w", err)
	}
	return res.Ref, nil
}

// AgentImage is the image the agent of b boots from: opts.AgentImage when
// set (it must exist), else the template's or plugin's, built if missing.
func (d *Docker) AgentImage(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions, progress io.Writer) (string, error) {
	if opts.AgentImage != "" {
		if _, err := d.eng.ImageInspect(ctx, opts.AgentImage); err != nil {
			return "", fmt.Errorf("agent image %s: %w", opts.AgentImage, err)
		}
		return opts.AgentImage, nil
	}
	dockerfile, contextDir := opts.AgentDockerfile, opts.AgentContext
	if dockerfile == "" {
		dockerfile = b.Provider.Dockerfile
	}
	spec, err := AgentImageSpec(b.Provider.Template, dockerfile, contextDir, d.opts.Base)
	if err != nil {
		return "", fmt.Errorf("agent image: %w", err)
	}
	res, err := imagebuild.Ensure(ctx, d.eng, spec, progress)
	if err != nil {
		return "", fmt.Errorf("agent image: %w", err)
	}
	if err := d.alias(ctx, res.Ref, b.Images.Agent); err != nil {
		return "", fmt.Errorf("agent image: %w", err)
	}
	return res.Ref, nil
}

// alias tags ref with the name the plan shows (bot-bottle/agent-shell:latest),
// so that name is the image the last start built. The bottle runs ref, the
// content-hash tag, whatever the alias later points to.
func (d *Docker) alias(ctx context.Context, ref, name string) error {
	if name == "" || name == ref {
		return nil
	}
	if _, err := d.eng.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: name}); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", ref, name, err)
	}
	return nil
}

// AgentImageSpec is how an agent image is built: from dockerfile (a host
// path, with the files under contextDir) when given, else from the
// template's embedded Dockerfile.
func AgentImageSpec(template, dockerfile, contextDir, base string) (imagebuild.Spec, error) {
	if template == "" {
		template = "shell"
	}
	s := imagebuild.Spec{Repo: "bot-bottle/agent-" + template, Base: base}
	if dockerfile != "" {
		df, err := os.ReadFile(dockerfile)
		if err != nil {
			return imagebuild.Spec{}, fmt.Errorf("reading %s: %w", dockerfile, err)
		}
		s.Dockerfile = df
		// A user's Dockerfile installs things: it may need the network.
		s.AllowNetwork = true
		if contextDir != "" {
			files, err := imagebuild.DirFiles(contextDir)
			if err != nil {
				return imagebuild.Spec{}, err
			}
			delete(files, "Dockerfile")
			s.Files = files
		}
		return s, nil
	}
	df, err := images.Dockerfile(template)
	if err != nil {
		return imagebuild.Spec{}, err
	}
	s.Dockerfile = df
	s.AllowNetwork = !images.Offline(template)
	return s, nil
}

// sidecarBinary is the static bot-bottle copied into the sidecar image.
func (d *Docker) sidecarBinary() (string, error) { return SidecarBinary(d.opts.SidecarBinary) }

// ErrNotStatic is returned (wrapped) for a dynamically linked sidecar
// binary.
var ErrNotStatic = errors.New("dynamically linked")

// SidecarBinary returns the bot-bottle binary the sidecar image carries:
// path, or the running executable when path is "". It must be static; a
// caller can check this before making anything.
func SidecarBinary(path string) (string, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding the bot-bottle binary: %w", err)
		}
		path = exe
	}
	if err := checkStatic(path); err != nil {
		return "", err
	}
	return path, nil
}

// checkStatic refuses a dynamically linked binary: the image's libc need
// not match the host's. Build with CGO_ENABLED=0.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading sidecar binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("sidecar binary %s is %w: build it with CGO_ENABLED=0 (or set BOT_BOTTLE_SIDECAR_BINARY)", path, ErrNotStatic)
		}
	}
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("sidecar binary %s: unsupported machine %s", path, f.Machine)
	}
	return nil
}
