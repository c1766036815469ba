package docker

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"

	"github.com/bot-bottle/bot-bottle/images"
	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// ensureImages returns the sidecar and agent images, building what is
// missing. An image the plan names that exists (a committed agent on
// resume) is used as is; otherwise the template's Dockerfile is built.
func (d *Docker) ensureImages(ctx context.Context, b plan.Bottle, progress io.Writer) (sidecar, agent string, err error) {
	sidecar, err = d.ensure(ctx, b.Images.Sidecar, func() (imagebuild.Spec, error) {
		bin, err := d.sidecarBinary()
		if err != nil {
			return imagebuild.Spec{}, err
		}
		df, err := images.Dockerfile("sidecar")
		if err != nil {
			return imagebuild.Spec{}, err
		}
		return imagebuild.Spec{
			Repo: "bot-bottle/sidecar", Dockerfile: df, Base: d.opts.Base,
			Files: map[string]imagebuild.File{"bot-bottle": {Path: bin, Mode: 0o755}},
		}, nil
	}, progress)
	if err != nil {
		return "", "", fmt.Errorf("sidecar image: %w", err)
	}
	agent, err = d.ensure(ctx, b.Images.Agent, func() (imagebuild.Spec, error) {
		return AgentImageSpec(b.Provider, d.opts.Base)
	}, progress)
	if err != nil {
		return "", "", fmt.Errorf("agent image: %w", err)
	}
	return sidecar, agent, nil
}

func (d *Docker) ensure(ctx context.Context, named string, spec func() (imagebuild.Spec, error), progress io.Writer) (string, error) {
	if named != "" {
		if _, err := d.eng.ImageInspect(ctx, named); err == nil {
			return named, nil
		} else if !isNotFound(err) {
			return "", err
		}
	}
	s, err := spec()
	if err != nil {
		return "", err
	}
	res, err := imagebuild.Ensure(ctx, d.eng, s, progress)
	if err != nil {
		return "", err
	}
	return res.Ref, nil
}

// AgentImageSpec is how the agent image of a provider is built: the
// provider's own Dockerfile when the plan names one, else the template's.
func AgentImageSpec(p plan.Provider, base string) (imagebuild.Spec, error) {
	template := p.Template
	if template == "" {
		template = "shell"
	}
	s := imagebuild.Spec{Repo: "bot-bottle/agent-" + template, Base: base}
	if p.Dockerfile != "" {
		df, err := os.ReadFile(p.Dockerfile)
		if err != nil {
			return imagebuild.Spec{}, fmt.Errorf("reading the provider's Dockerfile: %w", err)
		}
		s.Dockerfile = df
		s.AllowNetwork = true
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
func (d *Docker) sidecarBinary() (string, error) {
	path := d.opts.SidecarBinary
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
			return fmt.Errorf("sidecar binary %s is dynamically linked: build it with CGO_ENABLED=0 (or set BOT_BOTTLE_SIDECAR_BINARY)", path)
		}
	}
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("sidecar binary %s: unsupported machine %s", path, f.Machine)
	}
	return nil
}
