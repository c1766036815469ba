package docker

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
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

// TestStepOf: what each approved instruction becomes in a build. RUN runs
// (shell form through /bin/sh -c, exec form as given), ENV and WORKDIR are
// commit changes, and what a build cannot honour is refused with why.
func TestStepOf(t *testing.T) {
	unit := func(text string) Unit { return CapabilityUnits([]byte(text), "")[0] }
	for _, tc := range []struct {
		name, text string
		want       step
	}{
		{"shell form", "# why\nRUN apt-get update && \\\n    apt-get install -y jq\n", step{Argv: []string{"/bin/sh", "-c", "apt-get update &&     apt-get install -y jq"}}},
		{"exec form", `RUN ["touch", "/x"]` + "\n", step{Argv: []string{"touch", "/x"}}},
		{"not json is shell form", "RUN [ -e /x ] || touch /x\n", step{Argv: []string{"/bin/sh", "-c", "[ -e /x ] || touch /x"}}},
		{"lower case", "run true\n", step{Argv: []string{"/bin/sh", "-c", "true"}}},
		{"env", "ENV A=1 B=2\n", step{Changes: []string{"ENV A=1 B=2"}}},
		{"workdir", "WORKDIR /opt/x\n", step{Changes: []string{"WORKDIR /opt/x"}}},
		{"user", "USER root\n", step{Refused: "USER is not applied: approved lines run as root and the agent keeps its image's user"}},
		{"copy", "COPY a b\n", step{Refused: "COPY is not applied by a capability build (RUN, ENV and WORKDIR are)"}},
		{"run flags", "RUN --network=host curl x\n", step{Refused: "RUN flags (--mount, --network, --security) are not applied by a capability build"}},
		{"open", "RUN a \\\n", step{Refused: "this approved line ends with a backslash: it would join the lines bot-bottle adds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, stepOf(unit(tc.text))); diff != "" {
				t.Errorf("step (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCommitConfig: a commit keeps the previous image's configuration and
// never the build container's: the engine fills an empty entrypoint from
// the container (sleep infinity), so an image without one gets an empty
// one, and the proxy variables are never in it (they are the exec's).
func TestCommitConfig(t *testing.T) {
	base := &dockerspec.DockerOCIImageConfig{}
	base.User, base.Env, base.Cmd, base.Labels = "agent", []string{"PATH=/usr/bin"}, []string{"bash"}, map[string]string{"a": "1"}
	got := commitConfig(base, map[string]string{LabelCapabilities: "3:abc"})
	want := &container.Config{User: "agent", Env: []string{"PATH=/usr/bin"}, Cmd: []string{"bash"}, Entrypoint: []string{}, Labels: map[string]string{"a": "1", LabelCapabilities: "3:abc"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commit config (-want +got):\n%s", diff)
	}
	if base.Labels[LabelCapabilities] != "" {
		t.Error("the base's labels were changed")
	}
	withEntry := &dockerspec.DockerOCIImageConfig{}
	withEntry.Entrypoint = []string{"tini"}
	if got := commitConfig(withEntry, nil); !cmp.Equal(got.Entrypoint, []string{"tini"}) {
		t.Errorf("entrypoint %q", got.Entrypoint)
	}
	// The same as Dockerfile changes, for an engine that ignores the
	// configuration sent with a commit (Podman); no empty ENTRYPOINT.
	wantChanges := []string{"ENV A=1", "USER agent", `CMD ["bash"]`, `LABEL bot-bottle.capabilities="3:abc"`}
	if diff := cmp.Diff(wantChanges, commitChanges(base, []string{"ENV A=1"}, map[string]string{LabelCapabilities: "3:abc"})); diff != "" {
		t.Errorf("commit changes (-want +got):\n%s", diff)
	}
	if env := strings.Join((&buildEnv{}).proxyEnv(), " "); !strings.Contains(env, "HTTPS_PROXY=http://") || !strings.Contains(env, "SSL_CERT_FILE=") {
		t.Errorf("proxy env %s", env)
	}
}
