package images

import (
	"regexp"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
)

// needsNetwork matches RUN commands that fetch from the network.
var needsNetwork = regexp.MustCompile(`apt-get\s+(update|install)|npm\s+(install|i)\b|pip3?\s+install|(curl|wget)\s[^|;&]*://`)

// The claude, codex and pi images need npm and cannot be built here; this
// test is what checks them.
func TestDockerfiles(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b, err := Dockerfile(name)
			if err != nil {
				t.Fatal(err)
			}
			df, err := imagebuild.ParseDockerfile(b)
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			if err := imagebuild.CheckNoRegistry(df); err != nil {
				t.Fatalf("%s/Dockerfile: %v", name, err)
			}
			if first := df.Instructions[0]; first.Cmd != "ARG" || first.Args != "BASE="+Base(name) {
				t.Errorf("first instruction = %s %s, want ARG BASE=%s", first.Cmd, first.Args, Base(name))
			}
			if name != "sidecar" {
				if u := imagebuild.FinalUser(df); u == "" || u == "root" || u == "0" {
					t.Errorf("agent image runs as %q, want a non-root USER", u)
				}
			}
			for _, in := range df.Instructions {
				if in.Cmd != "RUN" || !Offline(name) {
					continue
				}
				if m := needsNetwork.FindString(in.Args); m != "" {
					t.Errorf("line %d: %q in an image that must build offline", in.Line, m)
				}
			}
		})
	}
}

func TestUnknownImage(t *testing.T) {
	if _, err := Dockerfile("nope"); err == nil {
		t.Fatal("Dockerfile(nope) = nil error")
	}
}
