package imagebuild

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDockerfile(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\n# comment\nARG BASE=x\nFROM ${BASE}\n\nRUN a \\\n  b \\\n\n  c\nuser agent\n"
	df, err := ParseDockerfile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Dockerfile{
		Directives: map[string]string{"syntax": "docker/dockerfile:1"},
		Instructions: []Instruction{
			{Line: 3, Cmd: "ARG", Args: "BASE=x"},
			{Line: 4, Cmd: "FROM", Args: "${BASE}"},
			{Line: 6, Cmd: "RUN", Args: "a b c"},
			{Line: 10, Cmd: "USER", Args: "agent"},
		},
	}
	if diff := cmp.Diff(want, df); diff != "" {
		t.Errorf("parse (-want +got):\n%s", diff)
	}
}

func TestCheckNoRegistry(t *testing.T) {
	tests := []struct {
		name, src, wantErr string
	}{
		{"ok", "ARG BASE=b\nFROM ${BASE}\nRUN true\n", ""},
		{"syntax directive", "# syntax=docker/dockerfile:1\nFROM ${BASE}\n", "syntax"},
		{"registry image", "FROM debian:bookworm\n", "BASE build argument"},
		{"multi-stage", "FROM ${BASE}\nFROM ${BASE}\n", "second FROM"},
		{"copy from stage", "FROM ${BASE}\nCOPY --from=golang:1 /x /x\n", "COPY --from"},
		{"add url", "FROM ${BASE}\nADD https://example.com/x /x\n", "URL"},
		{"no from", "RUN true\n", "no FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := ParseDockerfile([]byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckNoRegistry(df)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "FRM x\n", "RUN a \\\n"} {
		if _, err := ParseDockerfile([]byte(src)); err == nil {
			t.Errorf("ParseDockerfile(%q) = nil error", src)
		}
	}
}

// FuzzParseDockerfile: capability-block proposals carry Dockerfile lines
// written by the agent.
func FuzzParseDockerfile(f *testing.F) {
	f.Add([]byte("FROM ${BASE}\nRUN a \\\n b\n"))
	f.Add([]byte("# syntax=x\n#escape=`\nfrom x\n"))
	f.Add([]byte("RUN \\\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		df, err := ParseDockerfile(b)
		if err != nil {
			return
		}
		for _, in := range df.Instructions {
			if !knownCmd(in.Cmd) || in.Line < 1 {
				t.Fatalf("bad instruction %+v", in)
			}
		}
		_ = CheckNoRegistry(df)
	})
}
