package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDocIsCurrent fails when docs/manifest.md was not regenerated after a
// change to the wire types' comments.
func TestDocIsCurrent(t *testing.T) {
	src, err := os.ReadFile("../types.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../docs/manifest.md")
	if err != nil {
		t.Fatalf("%v; run: go run ./internal/manifest/docgen -o docs/manifest.md", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("docs/manifest.md is stale; run: go run ./internal/manifest/docgen -o docs/manifest.md\n(-generated +file):\n%s", diff)
	}
}

func TestEveryKeyIsDocumented(t *testing.T) {
	src, err := os.ReadFile("../types.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"extends", "env", "agent_provider", "git-gate", "egress", "template", "dockerfile", "auth_token",
		"forward_host_credentials", "settings", "user", "repos", "url", "host_key", "key", "provider", "path", "allow_force_push",
		"routes", "log", "host", "auth", "scheme", "token_ref", "matches", "paths", "methods", "headers", "dlp",
		"outbound_detectors", "inbound_detectors", "outbound_on_match", "git", "fetch", "unsafe_allow_private", "role",
		"bottle", "skills", "name", "description", "model", "color", "memory", "tools"} {
		if !strings.Contains(string(doc), "| `"+key+"`") {
			t.Errorf("key %q has no row in the reference", key)
		}
	}
}

func TestUndocumentedFieldFails(t *testing.T) {
	src := []byte("package manifest\n// BottleFile x.\ntype BottleFile struct {\n\tEnv string `yaml:\"env\"`\n}\ntype AgentFile struct{}\n")
	if _, err := Generate(src); err == nil || !strings.Contains(err.Error(), "BottleFile.Env has no doc comment") {
		t.Errorf("err = %v", err)
	}
}
