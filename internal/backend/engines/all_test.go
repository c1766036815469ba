package engines

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// fakeEngine is one engine's bottles; each call for a slug is recorded.
type fakeEngine struct {
	backend.Backend // nil: an unexpected call panics
	name            string
	slugs           []string
	calls           []string
}

func (f *fakeEngine) Name() string { return f.name }

func (f *fakeEngine) List(context.Context) ([]backend.Summary, error) {
	var out []backend.Summary
	for _, s := range f.slugs {
		out = append(out, backend.Summary{Slug: s, Backend: f.name})
	}
	return out, nil
}

func (f *fakeEngine) Exec(_ context.Context, slug string, _ backend.ExecSpec) (int, error) {
	f.calls = append(f.calls, "exec "+slug)
	return 0, nil
}

func (f *fakeEngine) Stop(_ context.Context, slug string) error {
	f.calls = append(f.calls, "stop "+slug)
	return nil
}

func (f *fakeEngine) Remove(_ context.Context, slug string) error {
	f.calls = append(f.calls, "remove "+slug)
	f.slugs = slices.DeleteFunc(f.slugs, func(s string) bool { return s == slug })
	return nil
}

// TestAllRoutesBySlug: list shows both engines' bottles with their
// engine's name; a slug's calls go to the engine that runs it only;
// remove asks every engine; an unknown slug is ErrNotFound.
func TestAllRoutesBySlug(t *testing.T) {
	dk := &fakeEngine{name: "docker", slugs: []string{"a-11111"}}
	pm := &fakeEngine{name: "podman", slugs: []string{"b-22222"}}
	a := &All{backends: []backend.Backend{dk, pm}}
	ctx := context.Background()
	list, err := a.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.Summary{{Slug: "a-11111", Backend: "docker"}, {Slug: "b-22222", Backend: "podman"}}
	if !slices.Equal(list, want) {
		t.Errorf("List = %+v, want %+v", list, want)
	}
	if _, err := a.Exec(ctx, "b-22222", backend.ExecSpec{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(ctx, "a-11111"); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, "b-22222"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dk.calls, []string{"stop a-11111", "remove b-22222"}) || !slices.Equal(pm.calls, []string{"exec b-22222", "remove b-22222"}) {
		t.Errorf("docker got %v, podman got %v", dk.calls, pm.calls)
	}
	if _, err := a.Exec(ctx, "c-33333", backend.ExecSpec{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Exec on an unknown slug: %v, want ErrNotFound", err)
	}
	if a.Name() != "docker+podman" {
		t.Errorf("Name = %q", a.Name())
	}
}
