package imagebuild

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

const testBase = "bot-bottle/base:bookworm"

func engine(t *testing.T) *client.Client {
	t.Helper()
	c := harness.Engine(t)
	harness.Base(t, c)
	return c
}

func TestEnsureBuildsOnceAndRebuildsOnChange(t *testing.T) {
	c := engine(t)
	ctx := context.Background()
	repo := "bot-bottle-test/imagebuild"
	spec := Spec{
		Repo:       repo,
		Dockerfile: []byte("ARG BASE\nFROM ${BASE}\nCOPY hello /hello\nRUN test \"$(cat /hello)\" = \"" + t.Name() + "\"\n"),
		Files:      map[string]File{"hello": {Data: []byte(t.Name())}},
		Base:       testBase,
	}
	var out bytes.Buffer
	first, err := Ensure(ctx, c, spec, &out)
	if err != nil {
		t.Fatalf("first build: %v\n%s", err, out.String())
	}
	t.Cleanup(func() { c.ImageRemove(context.Background(), first.Ref, client.ImageRemoveOptions{Force: true}) })
	if !strings.HasPrefix(first.Ref, repo+":") {
		t.Errorf("ref = %s, want %s:<hash>", first.Ref, repo)
	}
	second, err := Ensure(ctx, c, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Built || second.Ref != first.Ref {
		t.Errorf("second Ensure = %+v, want cached %s", second, first.Ref)
	}

	spec.Files = map[string]File{"hello": {Data: []byte("changed")}}
	out.Reset()
	_, err = Ensure(ctx, c, spec, &out)
	if err == nil {
		t.Fatal("build with a failing RUN succeeded")
	}
	if !strings.Contains(err.Error(), "returned a non-zero code") {
		t.Errorf("error = %v, want the engine's RUN failure", err)
	}
}

func TestEnsureBaseMissing(t *testing.T) {
	c := engine(t)
	_, err := Ensure(context.Background(), c, Spec{
		Repo: "bot-bottle-test/nobase", Dockerfile: []byte("ARG BASE\nFROM ${BASE}\n"), Base: "bot-bottle-test/no-such-base:1",
	}, nil)
	if !errors.Is(err, ErrBaseMissing) {
		t.Fatalf("error = %v, want ErrBaseMissing", err)
	}
}

func TestInputHash(t *testing.T) {
	base := Spec{Repo: "r", Dockerfile: []byte("FROM ${BASE}\n"), Files: map[string]File{"a": {Data: []byte("1")}}, Base: "b"}
	h0, _ := InputHash(base, "id1")
	changes := map[string]func(s *Spec) string{
		"dockerfile": func(s *Spec) string { s.Dockerfile = []byte("FROM ${BASE}\nRUN x\n"); return "id1" },
		"file":       func(s *Spec) string { s.Files = map[string]File{"a": {Data: []byte("2")}}; return "id1" },
		"mode":       func(s *Spec) string { s.Files = map[string]File{"a": {Data: []byte("1"), Mode: 0o755}}; return "id1" },
		"base id":    func(s *Spec) string { return "id2" },
		"arg":        func(s *Spec) string { s.Args = map[string]string{"X": "1"}; return "id1" },
		"network":    func(s *Spec) string { s.AllowNetwork = true; return "id1" },
	}
	for name, change := range changes {
		s := base
		id := change(&s)
		h, err := InputHash(s, id)
		if err != nil {
			t.Fatal(err)
		}
		if h == h0 {
			t.Errorf("changing %s kept hash %s", name, h)
		}
	}
	again, _ := InputHash(base, "id1")
	if again != h0 {
		t.Errorf("hash not stable: %s then %s", h0, again)
	}
}
