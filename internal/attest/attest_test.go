package attest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/attest/probe"
	"github.com/bot-bottle/bot-bottle/internal/backend"
)

func TestPlan(t *testing.T) {
	a := netip.MustParseAddr
	tg := Targets{
		HostAddrs: []netip.Addr{a("192.0.2.1"), a("192.0.2.1"), a("127.0.0.1"), {}},
		Gateways:  []netip.Addr{a("10.213.0.1")},
		Proxy:     "http://egress:9099",
		ExtraTCP:  []string{"192.0.2.9:22"},
	}
	cs := Plan(tg, 4242)
	names := map[string]Category{}
	ids := map[string]bool{}
	for _, c := range cs {
		names[c.Name] = c.Category
		if ids[c.Spec.ID] {
			t.Errorf("id %s used twice", c.Spec.ID)
		}
		ids[c.Spec.ID] = true
	}
	for name, cat := range map[string]Category{
		"tcp to host address 192.0.2.1:4242 (host listener)":             CatHost,
		"tcp to gateway 10.213.0.1:4242 (host listener)":                 CatHost,
		"tcp to 192.0.2.9:22":                                            CatHost,
		"dns example.com via the engine's resolver 127.0.0.11 (tcp)":     CatResolver,
		"dns example.com direct to 9.9.9.9 (udp)":                        CatRoute,
		"udp to [2606:4700:4700::1111]:443 (QUIC)":                       CatIPv6,
		"DNS-over-HTTPS https://dns.google/dns-query via the proxy":      CatProxy,
		"CONNECT to metadata 169.254.169.254:80 via the proxy":           CatProxy,
		"Host 169.254.169.254 inside a TLS tunnel to an allowed host":    CatProxy,
		"CONNECT 1.1.1.1:443 relayed inside a tunnel to an allowed host": CatProxy,
	} {
		if got, ok := names[name]; !ok || got != cat {
			t.Errorf("check %q: category %q (present %v), want %q", name, got, ok, cat)
		}
	}
	if _, ok := names["tcp to host address 127.0.0.1:4242 (host listener)"]; ok {
		t.Error("loopback is the container's own: it is no host address")
	}
	for _, c := range Plan(Targets{}, 0) {
		if c.Category == CatProxy || c.Category == CatHost {
			t.Errorf("no proxy and no listener, yet %q", c.Name)
		}
	}
}

func results(rs ...probe.Result) []byte {
	b, _ := json.Marshal(probe.Response{Results: rs})
	return b
}

func TestApply(t *testing.T) {
	plan := func() []Check {
		return []Check{{Name: "a", Spec: probe.Spec{ID: "0"}}, {Name: "b", Spec: probe.Spec{ID: "1"}}}
	}
	cs := plan()
	if err := Apply(cs, results(probe.Result{ID: "1", Got: "x\x1b[31m\ny"})); err != nil {
		t.Fatal(err)
	}
	if !cs[0].Result.Failed || cs[1].Result.Got != "x [31m y" {
		t.Errorf("missing answer must fail, output must be one line: %+v", cs)
	}
	for name, out := range map[string][]byte{
		"twice":    results(probe.Result{ID: "0"}, probe.Result{ID: "0"}),
		"extra":    results(probe.Result{ID: "0"}, probe.Result{ID: "1"}, probe.Result{ID: "2"}),
		"unknown":  []byte(`{"results":[],"all_closed":true}`),
		"garbage":  []byte("all good"),
		"trailing": []byte(`{"results":[{"id":"0"}]}0`),
	} {
		if err := Apply(plan(), out); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"results":[{"id":"0","leaked":false,"got":"refused"}]}`))
	f.Add([]byte(`{"results":[{"id":"0","leaked":true,"got":"connected"},{"id":"1","failed":true}]}`))
	f.Add([]byte(`{"results":null}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		cs := Plan(Targets{Proxy: "http://egress:9099"}, 1)
		if err := Apply(cs, out); err != nil {
			return
		}
		// Whatever the agent writes, a check without its own answer fails
		// and nothing printed spans lines.
		seen := map[string]int{}
		var resp probe.Response
		json.Unmarshal(out, &resp)
		for _, r := range resp.Results {
			seen[r.ID]++
		}
		for _, c := range cs {
			if seen[c.Spec.ID] == 0 && !c.Result.Failed {
				t.Fatalf("%s passed without an answer", c.Name)
			}
			if strings.ContainsAny(c.Got(), "\n\r") {
				t.Fatalf("multi-line result %q", c.Got())
			}
		}
	})
}

func TestReport(t *testing.T) {
	rep := Report{Slug: "impl-abcde", Checks: []Check{
		{Name: "tcp to gateway 10.0.0.1:1", Category: CatHost, Spec: probe.Spec{Kind: probe.KindTCP, Addr: "10.0.0.1:1"}, Result: probe.Result{Leaked: true, Got: "connected"}},
		{Name: "tcp to host address 10.0.0.2:1", Category: CatHost, Result: probe.Result{Leaked: true, Got: "connected"}},
		{Name: "dns via 127.0.0.11", Category: CatResolver, Result: probe.Result{Got: "answered REFUSED"}},
		{Name: "doh", Category: CatProxy, Result: probe.Result{Failed: true, Got: "no result"}},
		{Name: "ipv6", Category: CatIPv6, Result: probe.Result{NotApplicable: true, Got: "no IPv6 address"}},
	}, hints: map[string]string{"host": "run enginectl inspect", "resolver": "never shown: nothing leaked there"}}
	var le *LeakError
	if err := rep.Err(); !errors.As(err, &le) || len(le.Bad) != 3 {
		t.Fatalf("Err() = %v, want a LeakError with 3 checks", err)
	}
	msg := rep.Err().Error()
	for _, want := range []string{"impl-abcde", "3 of 5", "tcp to gateway 10.0.0.1:1: LEAKED: connected", "doh: FAILED: no result", "fix (host):", "fix (proxy):", "on this engine: run enginectl inspect"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Count(msg, "fix (host)") != 1 || strings.Contains(msg, "fix (resolver)") || strings.Contains(msg, "never shown") {
		t.Errorf("each fix once, only for what leaked:\n%s", msg)
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "PROBE") || !strings.Contains(lines[3], "closed: answered REFUSED") || !strings.Contains(lines[5], "n/a: no IPv6") {
		t.Errorf("table:\n%s", table.String())
	}
	closedRep := Report{Slug: "s", Checks: []Check{rep.Checks[2], rep.Checks[4]}}
	if closedRep.Err() != nil {
		t.Error("a closed report is an error")
	}
	if got := closedRep.Summary(); got != "bottle s: all 2 probes stayed closed (1 not applicable)" {
		t.Errorf("summary %q", got)
	}
	if got := rep.Summary(); got != "bottle impl-abcde: 3 of 5 probes did not stay closed" {
		t.Errorf("summary %q", got)
	}

	dir := t.TempDir()
	if err := rep.Log(dir, "doctor", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, LogFile))
	ls := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(ls) != 5 {
		t.Fatalf("log has %d lines, want 5", len(ls))
	}
	var first map[string]any
	json.Unmarshal([]byte(ls[0]), &first)
	if first["bottle"] != "impl-abcde" || first["phase"] != "doctor" || first["leaked"] != true || first["target"] != "10.0.0.1:1" || first["expected"] != "closed" {
		t.Errorf("log line %v", first)
	}
}

// fakeRunner stands in for a backend: the "agent" is this process, so
// nothing walls it in. It runs only the probes aimed at this machine's own
// addresses (local delivery; nothing else may be sent from a test) and
// answers the rest as not run. forge replaces the probe program's answer.
type fakeRunner struct {
	local   netip.Addr
	mu      sync.Mutex // the probe runs of one attestation are concurrent
	tarball []byte
	copies  int
	execs   [][]string
	users   []string
	forge   func(req probe.Request) []byte
}

func (f *fakeRunner) CopyInto(_ context.Context, _, dir string, tb io.Reader) error {
	if dir != "/" {
		return errors.New("copied somewhere else than /")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tarball, _ = io.ReadAll(tb)
	f.copies++
	return nil
}

func (f *fakeRunner) Exec(ctx context.Context, _ string, spec backend.ExecSpec) (int, error) {
	f.mu.Lock()
	f.execs = append(f.execs, spec.Cmd)
	f.users = append(f.users, spec.User)
	f.mu.Unlock()
	if len(spec.Cmd) == 2 && spec.Cmd[1] == ProbeCommand {
		if f.forge != nil {
			var req probe.Request
			json.NewDecoder(spec.Stdin).Decode(&req)
			spec.Stdout.Write(f.forge(req))
			return 0, nil
		}
		var req probe.Request
		if err := json.NewDecoder(spec.Stdin).Decode(&req); err != nil {
			return 1, nil
		}
		var rs []probe.Result
		for _, s := range req.Probes {
			if s.Kind == probe.KindTCP && strings.HasPrefix(s.Addr, f.local.String()+":") {
				r := probe.Run(ctx, s)
				r.ID = s.ID
				rs = append(rs, r)
				continue
			}
			rs = append(rs, probe.Result{ID: s.ID, Got: "not run in this test"})
		}
		spec.Stdout.Write(results(rs...))
	}
	return 0, nil
}

// hostAddr is a non-loopback IPv4 address of this machine.
func hostAddr(t *testing.T) netip.Addr {
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ia := range ifs {
		n, ok := ia.(*net.IPNet)
		if !ok {
			continue
		}
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap().Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			return a.Unmap()
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return netip.Addr{}
}

// TestRunWithoutWalls runs the probes with no bottle around them: the
// host listener must be reached and reported.
func TestRunWithoutWalls(t *testing.T) {
	host := hostAddr(t)
	f := &fakeRunner{local: host}
	bin := filepath.Join(t.TempDir(), "bot-bottle")
	os.WriteFile(bin, []byte("#!binary"), 0o755)
	logs := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, f, "x-abcde", Targets{HostAddrs: []netip.Addr{host}}, Options{Binary: bin, Phase: "start", LogsDir: logs, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var hostRow *Check
	for i, c := range rep.Checks {
		if c.Category == CatHost {
			hostRow = &rep.Checks[i]
		}
	}
	if hostRow == nil || !hostRow.Result.Leaked {
		t.Fatalf("host listener row: %+v", hostRow)
	}
	if rep.Err() == nil {
		t.Error("an unwalled run passed")
	}

	// The binary went in root-owned and read-only, was run as the
	// container's user, and removed by root.
	tr := tar.NewReader(bytes.NewReader(f.tarball))
	var dir string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeDir {
			dir = "/" + strings.TrimSuffix(h.Name, "/")
		}
		if h.Uid != 0 || h.Mode&0o222 != 0 && h.Typeflag == tar.TypeReg {
			t.Errorf("tar entry %s: uid %d mode %o", h.Name, h.Uid, h.Mode)
		}
	}
	// Two runs of the probe program (the walls, then resolver and proxy),
	// then the removal.
	if len(f.execs) != 3 || f.copies != 1 ||
		f.execs[0][0] != dir+"/bot-bottle" || f.users[0] != "" || f.execs[1][0] != dir+"/bot-bottle" || f.users[1] != "" ||
		strings.Join(f.execs[2], " ") != "rm -rf "+dir || f.users[2] != "0:0" {
		t.Errorf("execs %q as %q (dir %s), %d copies", f.execs, f.users, dir, f.copies)
	}
	if _, err := os.Stat(filepath.Join(logs, LogFile)); err != nil {
		t.Errorf("no log: %v", err)
	}
}

// TestCanaryBeatsALyingProbe: a probe program that reaches the host but
// reports everything closed is caught by the host listener.
func TestCanaryBeatsALyingProbe(t *testing.T) {
	host := hostAddr(t)
	f := &fakeRunner{forge: func(req probe.Request) []byte {
		var rs []probe.Result
		for _, s := range req.Probes {
			if s.Kind == probe.KindTCP && strings.HasPrefix(s.Addr, host.String()+":") {
				if c, err := net.Dial("tcp", s.Addr); err == nil {
					c.Close()
				}
			}
			rs = append(rs, probe.Result{ID: s.ID, Got: "all quiet"})
		}
		return results(rs...)
	}}
	bin := filepath.Join(t.TempDir(), "bot-bottle")
	os.WriteFile(bin, nil, 0o755)
	// The gateway row's address was never dialled: it stays as reported.
	tg := Targets{HostAddrs: []netip.Addr{host}, Gateways: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}
	rep, err := Run(context.Background(), f, "x-abcde", tg, Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	bad := rep.Bad()
	if len(bad) != 1 || !strings.Contains(bad[0].Result.Got, "the host listener saw a connection") || !strings.Contains(bad[0].Name, host.String()) {
		t.Errorf("bad = %+v", bad)
	}
}

// TestRunWhenTheProbesFail: a probe program that answers garbage fails the
// run, and every check lands in the log as failed.
func TestRunWhenTheProbesFail(t *testing.T) {
	f := &fakeRunner{forge: func(probe.Request) []byte { return []byte("all good, trust me") }}
	bin := filepath.Join(t.TempDir(), "bot-bottle")
	os.WriteFile(bin, nil, 0o755)
	logs := t.TempDir()
	rep, err := Run(context.Background(), f, "x-abcde", Targets{}, Options{Binary: bin, LogsDir: logs})
	if err == nil {
		t.Fatal("garbage from the probe program passed")
	}
	data, _ := os.ReadFile(filepath.Join(logs, LogFile))
	if n := strings.Count(string(data), `"failed":true`); n != len(rep.Checks) || n == 0 {
		t.Errorf("%d failed lines logged for %d checks", n, len(rep.Checks))
	}
}

// TestRunWithTheMountedBinary: with the probe binary already in the agent
// (mounted read-only at launch), nothing is copied in or removed, and the
// probes still find the host listener.
func TestRunWithTheMountedBinary(t *testing.T) {
	host := hostAddr(t)
	f := &fakeRunner{local: host}
	const mounted = "/usr/local/libexec/bot-bottle/bot-bottle"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, f, "x-abcde", Targets{HostAddrs: []netip.Addr{host}}, Options{InAgent: mounted, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() == nil {
		t.Error("an unwalled run passed")
	}
	if f.copies != 0 || len(f.execs) != 2 || f.execs[0][0] != mounted || f.execs[1][0] != mounted {
		t.Errorf("%d copies, execs %q; want the mounted binary run twice, nothing copied or removed", f.copies, f.execs)
	}
}
