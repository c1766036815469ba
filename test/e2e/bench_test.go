package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// BenchmarkStartHeadless measures, with images cached, the time from a
// headless start to the agent's first command (the prompt prints the
// container's clock; host and container share it), and the sidecar's
// memory once idle.
func BenchmarkStartHeadless(b *testing.B) {
	e := setup(b)
	home := b.TempDir()
	ctx := context.Background()
	warm := harness.RealPlan(b, home) // build the images outside the timing
	if _, err := lifecycle.Start(ctx, warm, lifecycle.StartOptions{Backend: e.be, Provision: shellProvision(b, true, "true"), MakeCA: makeCA,
		Launch: backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()}, Session: lifecycle.Session{Stdout: &bytes.Buffer{}}}); err != nil {
		b.Fatal(err)
	}
	var firstTotal time.Duration
	var memTotal float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := harness.RealPlan(b, home) // egress, supervise and dns
		var out bytes.Buffer
		began := time.Now()
		_, err := lifecycle.Start(ctx, p, lifecycle.StartOptions{
			Backend:   e.be,
			Provision: shellProvision(b, true, "date +%s.%N; sleep 2"),
			MakeCA:    makeCA,
			Launch:    backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()},
			Session:   lifecycle.Session{Stdout: &out},
			Keep:      true,
		})
		if err != nil {
			b.Fatal(err)
		}
		secs, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
		if err != nil {
			b.Fatalf("prompt output %q: %v", out.String(), err)
		}
		firstTotal += time.Unix(0, int64(secs*1e9)).Sub(began)
		memTotal += sidecarMemory(b, e.eng, "bot-bottle-"+p.Slug+"-sidecar")
		e.be.Remove(ctx, p.Slug)
	}
	b.ReportMetric(float64(firstTotal.Milliseconds())/float64(b.N), "ms-to-first-command")
	b.ReportMetric(memTotal/float64(b.N), "sidecar-MiB")
}

// makeCA is what start uses: the bottle CA, made once per state dir.
func makeCA(dir string) ([]byte, error) {
	c, err := ca.LoadOrCreate(dir)
	if err != nil {
		return nil, err
	}
	return c.CertPEM(), nil
}

// sidecarMemory is a container's memory use (MiB), page cache excluded as
// `docker stats` does.
func sidecarMemory(tb testing.TB, eng *client.Client, name string) float64 {
	res, err := eng.ContainerStats(context.Background(), name, client.ContainerStatsOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		tb.Fatal(err)
	}
	used := s.MemoryStats.Usage - s.MemoryStats.Stats["cache"]
	if v, ok := s.MemoryStats.Stats["inactive_file"]; ok && v < s.MemoryStats.Usage {
		used = s.MemoryStats.Usage - v
	}
	return float64(used) / (1 << 20)
}
