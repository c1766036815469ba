package docker

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCapabilityUnits(t *testing.T) {
	first := "# proposal a (x)\nRUN useradd bob\n"
	second := "# proposal b (x)\nRUN apt-get update && \\\n    apt-get install -y jq\nENV A=1\n"
	both := []byte(first + second)
	texts := func(us []Unit) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Text)
		}
		return out
	}
	want := []string{first, "# proposal b (x)\nRUN apt-get update && \\\n    apt-get install -y jq\n", "ENV A=1\n"}
	if diff := cmp.Diff(want, texts(CapabilityUnits(both, ""))); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
	// An image that has been through the first block gets only the rest.
	if diff := cmp.Diff(want[1:], texts(CapabilityUnits(both, label([]byte(first))))); diff != "" {
		t.Errorf("incremental units (-want +got):\n%s", diff)
	}
	if us := CapabilityUnits(both, label(both)); len(us) != 0 {
		t.Errorf("rebuilt what the image carries: %v", us)
	}
	// A label that does not match the file (it was edited) applies all.
	if us := CapabilityUnits(both, label([]byte("other"))); len(us) != 3 {
		t.Errorf("mismatched label: %d units", len(us))
	}
	if us := CapabilityUnits([]byte("RUN a \\\n"), ""); len(us) != 1 || !us[0].Open {
		t.Errorf("a trailing backslash would swallow USER: %+v", us)
	}
	if us := CapabilityUnits([]byte("# only comments\n\n"), ""); len(us) != 0 {
		t.Errorf("built comments: %+v", us)
	}
}

func TestUnitDockerfile(t *testing.T) {
	approved := []byte("# proposal a (x)\nRUN useradd bob\n")
	u := CapabilityUnits(approved, "")[0]
	got := string(unitDockerfile(u, "agent", "impl-k3x9q", approved))
	want := "ARG BASE\nFROM ${BASE}\nUSER root\n# proposal a (x)\nRUN useradd bob\nUSER agent\nLABEL bot-bottle.capabilities=\"" + label(approved) + "\" bot-bottle.slug=\"impl-k3x9q\"\n"
	if got != want {
		t.Errorf("dockerfile:\n%s\nwant:\n%s", got, want)
	}
	open := CapabilityUnits([]byte("RUN a \\\n"), "")[0]
	if df := string(unitDockerfile(open, "agent", "x", []byte("RUN a \\\n"))); strings.Contains(df, "RUN a") || !strings.Contains(df, "exit 1") {
		t.Errorf("an open line reached the build:\n%s", df)
	}
}
