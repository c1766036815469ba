package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// The pod-like namespace: the agent's uid, an "outside" resolver that
// answers everything (a TEST-NET address on the namespace's own loopback,
// so nothing ever leaves it) and an outside address with nothing behind it.
const (
	podHelper  = "BOT_BOTTLE_ATTEST_POD_HELPER"
	podAgent   = 1000
	podOutside = "203.0.113.53"
	podNowhere = "198.51.100.1"
)

// podWall is a pod's wall reduced to what matters here (the Kubernetes
// backend's WallRules): the agent's uid is rejected, every other uid may
// go out.
var podWall = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n" +
	"-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n" +
	fmt.Sprintf("-A OUTPUT -m owner ! --uid-owner %d -j ACCEPT\n", podAgent) +
	"-A OUTPUT -j REJECT\nCOMMIT\n"

// podSpecs are the outside probes start plans (attest.Plan), aimed at the
// namespace's own stand-ins.
func podSpecs() []Spec {
	out := func(k Kind, addr, network string) Spec {
		return Spec{ID: string(k) + " " + network + " " + addr, Kind: k, Addr: addr, Net: network, Name: "example.com", Outside: true}
	}
	return []Spec{
		out(KindTCP, podOutside+":443", ""),
		out(KindTCP, podOutside+":853", ""),
		out(KindUDP, podOutside+":443", ""),
		out(KindDNS, podOutside+":53", "udp"),
		out(KindDNS, podOutside+":53", "tcp"),
		out(KindTCP, podNowhere+":443", ""),
	}
}

// TestPodLikeTarget runs the outside probes as the agent's uid in a fresh
// network namespace built like a pod's: a default route through a
// gateway whose neighbour entry is complete, and an outside resolver that
// answers. Behind the pod's wall every probe stays closed; with the wall
// gone (a hole) every probe that has something to reach leaks.
func TestPodLikeTarget(t *testing.T) {
	_, err := exec.LookPath("iptables-restore")
	testenv.Require(t, "root and iptables", os.Getuid() == 0 && err == nil, "the pod test needs root (a network namespace) and iptables-restore")
	// The probes run as the agent's uid, which must be able to run this
	// binary: a copy in a directory it can enter.
	dir, err := os.MkdirTemp("", "attest-pod-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "probe.test")
	if err := copyExe(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)

	for _, tc := range []struct {
		name string
		wall bool
	}{{"wall", true}, {"hole", false}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestPodHelper$", "-test.v")
			cmd.Env = append(os.Environ(), podHelper+"="+tc.name, "BOT_BOTTLE_ATTEST_POD_BIN="+bin)
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			out, err := cmd.CombinedOutput()
			var res Response
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if j, ok := strings.CutPrefix(sc.Text(), "RESULTS "); ok {
					json.Unmarshal([]byte(j), &res)
				}
			}
			if err != nil || len(res.Results) != len(podSpecs()) {
				t.Fatalf("probes in the pod-like namespace: %v\n%s", err, out)
			}
			for _, r := range res.Results {
				want := !tc.wall && !strings.Contains(r.ID, podNowhere)
				if r.Leaked != want || r.Failed {
					t.Errorf("%s: %+v; want leaked=%v", r.ID, r, want)
				}
				t.Logf("%s: leaked=%v %s", r.ID, r.Leaked, r.Got)
			}
		})
	}
}

// TestPodHelper runs inside TestPodLikeTarget's namespace only: as root it
// builds the pod's network and its outside stand-ins, then runs the probes
// as the agent's uid.
func TestPodHelper(t *testing.T) {
	mode := os.Getenv(podHelper)
	switch mode {
	case "":
		t.Skip("runs inside TestPodLikeTarget")
	case "probe":
		if err := Serve(context.Background(), os.Stdin, os.Stdout); err != nil {
			t.Fatal(err)
		}
		return
	}
	sh(t, "ip link set lo up")
	// The pod's interface, its address and a default route through a
	// gateway that is there (a permanent neighbour entry) but leads
	// nowhere: veth1 has no address and nothing behind it.
	sh(t, "ip link add veth0 type veth peer name veth1")
	sh(t, "ip addr add 10.251.0.2/24 dev veth0")
	sh(t, "ip link set veth0 up")
	sh(t, "ip link set veth1 up")
	sh(t, "ip route add default via 10.251.0.1 dev veth0")
	sh(t, "ip neigh replace 10.251.0.1 lladdr 02:00:00:00:00:01 dev veth0 nud permanent")
	sh(t, "ip addr add "+podOutside+"/32 dev lo")
	if mode == "wall" {
		sh(t, "printf '%s' '"+podWall+"' | iptables-restore")
	}
	for _, port := range []string{"443", "853"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(podOutside, port))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	pc, err := net.ListenPacket("udp", podOutside+":443")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			pc.WriteTo(b[:n], from)
		}
	}()
	dnsServerAt(t, podOutside+":53", dns.RcodeSuccess)

	req, _ := json.Marshal(Request{TimeoutMS: 500, Probes: podSpecs()})
	cmd := exec.Command(os.Getenv("BOT_BOTTLE_ATTEST_POD_BIN"), "-test.run=^TestPodHelper$")
	cmd.Env = append(os.Environ(), podHelper+"=probe")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: podAgent, Gid: podAgent}}
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	if err := cmd.Run(); err != nil {
		t.Fatalf("the probes as uid %d: %v\n%s", podAgent, err, stderr.String())
	}
	// The test binary's own output follows the JSON (PASS): the first line
	// is the response.
	line, _, _ := strings.Cut(stdout.String(), "\n")
	fmt.Println("RESULTS " + line)
}

func sh(t *testing.T, script string) {
	t.Helper()
	if out, err := exec.Command("sh", "-ec", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

func copyExe(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
