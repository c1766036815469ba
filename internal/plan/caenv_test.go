package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// A bottle's env must not point a toolchain at another CA: every CA
// variable but JAVA_TOOL_OPTIONS (which carries other JVM options too) is
// reserved, and the plan sets each one.
func TestCAEnvIsReservedAndPlanned(t *testing.T) {
	env := agentEnv(map[string]string{"JAVA_TOOL_OPTIONS": "-Xmx1g"}, "s")
	for k, v := range CAEnv() {
		if k == "JAVA_TOOL_OPTIONS" {
			if got := env[k]; !strings.HasPrefix(got, v) || !strings.HasSuffix(got, " -Xmx1g") {
				t.Errorf("JAVA_TOOL_OPTIONS = %q, want the trust store then the bottle's own options", got)
			}
			continue
		}
		if !slices.Contains(manifest.ReservedEnv(), k) {
			t.Errorf("%s is not in manifest.ReservedEnv: a bottle could point it at its own CA", k)
		}
		if env[k] != v {
			t.Errorf("agent env %s = %q, want %q", k, env[k], v)
		}
	}
}
