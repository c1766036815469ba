package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/workspace"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// BenchmarkCopyIn measures start --cwd's copy-in of 2,000 files of 8 KiB
// (16 MiB) into a running bottle: list, tar, the engine's unpack, and the
// snapshot in the agent.
func BenchmarkCopyIn(b *testing.B) {
	e := setup(b)
	p := harness.RealPlan(b, b.TempDir())
	harness.OnlyDaemons(p, plan.DaemonDNS)
	if err := lifecycle.Prepare(p, nil); err != nil {
		b.Fatal(err)
	}
	bottle := harness.Launch(b, e.be, *p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()})
	src := b.TempDir()
	data := []byte(strings.Repeat("x", 8<<10))
	for i := range 2000 {
		f := filepath.Join(src, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%05d.go", i))
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, data, 0o644)
	}
	b.SetBytes(2000 * 8 << 10)
	for b.Loop() {
		if _, err := workspace.CopyIn(context.Background(), e.be, p.Slug, p.StateDir, src, workspace.CopyOptions{UID: bottle.AgentUID, GID: bottle.AgentGID}); err != nil {
			b.Fatal(err)
		}
	}
}
