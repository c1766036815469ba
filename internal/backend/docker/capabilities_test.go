package docker

import (
	"fmt"
	"strings"
	"testing"
)

func TestCapabilityDockerfile(t *testing.T) {
	first := []byte("# proposal a (x)\nRUN useradd bob\n")
	df, ok, err := CapabilityDockerfile(first, "", "agent")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	want := "ARG BASE\nFROM ${BASE}\nUSER root\n# proposal a (x)\nRUN useradd bob\nUSER agent\nLABEL bot-bottle.capabilities=\"" + label(first) + "\"\n"
	if string(df) != want {
		t.Errorf("dockerfile:\n%s\nwant:\n%s", df, want)
	}
	// An image that carries the first block gets only what was added.
	both := append(append([]byte{}, first...), "# proposal b (x)\nENV A=1\n"...)
	df, ok, _ = CapabilityDockerfile(both, label(first), "")
	if !ok || strings.Contains(string(df), "useradd") || !strings.Contains(string(df), "ENV A=1\nUSER root\n") {
		t.Errorf("incremental dockerfile:\n%s", df)
	}
	if _, ok, _ := CapabilityDockerfile(both, label(both), "agent"); ok {
		t.Error("rebuilt what the image carries")
	}
	// A label that does not match the file (it was edited) applies all.
	if df, _, _ := CapabilityDockerfile(both, label([]byte("other")), "agent"); !strings.Contains(string(df), "useradd") {
		t.Errorf("mismatched label:\n%s", df)
	}
	if _, _, err := CapabilityDockerfile([]byte("RUN a \\\n"), "", "agent"); err == nil {
		t.Error("a trailing backslash would swallow USER")
	}
	if _, ok, _ := CapabilityDockerfile([]byte("# only comments\n\n"), "", "agent"); ok {
		t.Error("built comments")
	}
}

func label(b []byte) string { return fmt.Sprintf("%d:%s", len(b), digest(b)) }
