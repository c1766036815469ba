package engines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// All is every configured engine seen as one backend: List merges their
// bottles (each Summary names its Backend), and a call for a slug goes to
// the engine that has that bottle. Launch goes to the first engine; start
// opens the one it was asked for with Open instead.
type All struct {
	backends []backend.Backend
	// Unreachable are the configured engines that did not answer.
	Unreachable []error
}

var _ backend.Backend = (*All)(nil)

// Name lists the engines behind it, e.g. "docker+podman".
func (a *All) Name() string {
	var names []string
	for _, b := range a.backends {
		names = append(names, b.Name())
	}
	return strings.Join(names, "+")
}

// Backends are the engines that answered, in Names order.
func (a *All) Backends() []backend.Backend { return slices.Clone(a.backends) }

// owner is the engine that has a bottle called slug.
func (a *All) owner(ctx context.Context, slug string) (backend.Backend, error) {
	var errs []error
	for _, b := range a.backends {
		list, err := b.List(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if slices.ContainsFunc(list, func(s backend.Summary) bool { return s.Slug == slug }) {
			return b, nil
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("finding the engine of %s: %w", slug, errors.Join(errs...))
	}
	return nil, fmt.Errorf("bottle %s: %w", slug, backend.ErrNotFound)
}

// Launch starts b on the first engine.
func (a *All) Launch(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions) (backend.Bottle, error) {
	return a.backends[0].Launch(ctx, b, opts)
}

func (a *All) Exec(ctx context.Context, slug string, spec backend.ExecSpec) (int, error) {
	b, err := a.owner(ctx, slug)
	if err != nil {
		return -1, err
	}
	return b.Exec(ctx, slug, spec)
}

func (a *All) CopyInto(ctx context.Context, slug, dir string, tarball io.Reader) error {
	b, err := a.owner(ctx, slug)
	if err != nil {
		return err
	}
	return b.CopyInto(ctx, slug, dir, tarball)
}

func (a *All) Stop(ctx context.Context, slug string) error {
	b, err := a.owner(ctx, slug)
	if err != nil {
		return fmt.Errorf("stopping %s: %w", slug, err)
	}
	return b.Stop(ctx, slug)
}

// Remove removes slug's parts from every engine (nothing there is not an
// error).
func (a *All) Remove(ctx context.Context, slug string) error {
	var errs []error
	for _, b := range a.backends {
		errs = append(errs, b.Remove(ctx, slug))
	}
	return errors.Join(errs...)
}

// List is every engine's bottles.
func (a *All) List(ctx context.Context) ([]backend.Summary, error) {
	var out []backend.Summary
	for _, b := range a.backends {
		list, err := b.List(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

var _ backend.ImageRemover = (*All)(nil)

// RemoveImages removes slug's images from every engine that can.
func (a *All) RemoveImages(ctx context.Context, slug string, committed bool) ([]string, error) {
	var out []string
	var errs []error
	for _, b := range a.backends {
		if r, ok := b.(backend.ImageRemover); ok {
			refs, err := r.RemoveImages(ctx, slug, committed)
			out = append(out, refs...)
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (a *All) Commit(ctx context.Context, slug, image string) (string, error) {
	b, err := a.owner(ctx, slug)
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", slug, err)
	}
	return b.Commit(ctx, slug, image)
}

func (a *All) Targets(ctx context.Context, slug string) (backend.Targets, error) {
	b, err := a.owner(ctx, slug)
	if err != nil {
		return backend.Targets{}, err
	}
	return b.Targets(ctx, slug)
}
