package docker

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

func TestHasID(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\nagent:x:1000:1000::/home/agent:/bin/bash")
	for id, want := range map[int]bool{0: true, 1000: true, 100: false, 10: false} {
		if got := hasID(passwd, id); got != want {
			t.Errorf("hasID(%d) = %v", id, got)
		}
	}
	if got := string(appendLine(passwd, "x:x:5:5::/:/bin/sh")); got != string(passwd)+"\nx:x:5:5::/:/bin/sh\n" {
		t.Errorf("appendLine = %q", got)
	}
}

// FuzzHasID: on resume the agent's /etc/passwd comes from an image the
// agent could have changed.
func FuzzHasID(f *testing.F) {
	f.Add([]byte("root:x:0:0::/root:/bin/sh\n"), 0)
	f.Add([]byte(":::\n\n::1000"), 1000)
	f.Fuzz(func(t *testing.T, file []byte, id int) {
		out := appendLine(file, "bot-bottle:x:1:1::/:/bin/sh")
		if !hasID(out, 1) {
			t.Fatalf("appended entry not found in %q", out)
		}
		hasID(file, id)
	})
}

func TestFreeSubnet(t *testing.T) {
	pool := netip.MustParsePrefix("10.213.0.0/16")
	used := []netip.Prefix{netip.MustParsePrefix("10.213.0.0/28"), netip.MustParsePrefix("10.213.0.16/28")}
	p, ok := freeSubnet(pool, used, 0)
	if !ok || p.String() != "10.213.0.32/28" {
		t.Errorf("freeSubnet = %v, %v; want 10.213.0.32/28", p, ok)
	}
	// A pool entirely inside a used network has no room.
	if _, ok := freeSubnet(netip.MustParsePrefix("10.213.0.0/27"), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 7); ok {
		t.Error("freeSubnet found room in a used pool")
	}
	if _, ok := freeSubnet(netip.MustParsePrefix("10.213.0.0/29"), nil, 0); ok {
		t.Error("a /29 pool has no /28")
	}
}

// infoEngine answers Info only; every other call would panic.
type infoEngine struct {
	Engine
	runtimes []string
}

func (e infoEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	var r client.SystemInfoResult
	r.Info.Runtimes = map[string]system.RuntimeWithStatus{}
	for _, n := range e.runtimes {
		r.Info.Runtimes[n] = system.RuntimeWithStatus{}
	}
	return r, nil
}

func TestRuntimePicksGVisor(t *testing.T) {
	for _, tt := range []struct {
		runtimes []string
		opt      string
		key      string // the bottle's runtime key
		want     string
		refused  string
	}{
		{runtimes: []string{"runc"}, want: ""},
		{runtimes: []string{"runc", "runsc"}, want: "runsc"},
		{runtimes: []string{"runc", "runsc"}, opt: "kata", want: "kata"},
		{runtimes: []string{"runc", "runsc"}, key: "runsc", want: "runsc"},
		{runtimes: []string{"runc"}, key: "runsc", refused: "requires runtime runsc"},
		{runtimes: []string{"runc", "runsc"}, key: "runc", want: "runc"},
		{runtimes: []string{"runsc"}, key: "runc", refused: "forbids runsc"},
		{runtimes: []string{"runc", "runsc"}, opt: "runsc", key: "runc", refused: "engine is set"},
		{runtimes: []string{"runc"}, key: "kata", refused: "unknown runtime"},
	} {
		d := New(infoEngine{runtimes: tt.runtimes}, Options{Runtime: tt.opt})
		got, err := d.runtime(context.Background(), tt.key)
		if tt.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tt.refused) {
				t.Errorf("runtimes %v, option %q, key %q: got %q, %v; want refused (%s)", tt.runtimes, tt.opt, tt.key, got, err, tt.refused)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("runtimes %v, option %q, key %q: got %q, %v; want %q", tt.runtimes, tt.opt, tt.key, got, err, tt.want)
		}
	}
}
