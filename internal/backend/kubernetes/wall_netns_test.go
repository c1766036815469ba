package kubernetes

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

const (
	netnsHelper = "BOT_BOTTLE_K8S_WALL_HELPER"
	testSidecar = 2000
	testAgent   = 1000
)

// TestWallInANetworkNamespace loads WallScript into a fresh network
// namespace (what a pod has) and probes it as the agent's and the
// sidecar's uids, with real listeners on loopback and on another address.
func TestWallInANetworkNamespace(t *testing.T) {
	_, err := exec.LookPath("iptables-restore")
	testenv.Require(t, "root and iptables", os.Getuid() == 0 && err == nil, "the wall test needs root (a network namespace) and iptables-restore")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWallHelper$", "-test.v")
	cmd.Env = append(os.Environ(), netnsHelper+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWallHelper") {
		t.Fatalf("wall probes in a network namespace: %v\n%s", err, out)
	}
}

// TestWallHelper runs inside the namespace only.
func TestWallHelper(t *testing.T) {
	if os.Getenv(netnsHelper) != "1" {
		t.Skip("runs inside TestWallInANetworkNamespace")
	}
	run(t, "ip", "link", "set", "lo", "up")
	// Another address of the namespace stands for the node and the
	// internet: the wall is by destination too, not only by interface.
	run(t, "ip", "addr", "add", "10.250.0.1/32", "dev", "lo")
	if os.Getenv("BOT_BOTTLE_K8S_NO_WALL") != "1" {
		run(t, "sh", "-ec", WallScript(testSidecar, testAgent))
	}
	egress := fmt.Sprintf("127.0.0.1:%d", plan.EgressPort)
	for _, a := range []string{egress, "127.0.0.1:8081", "10.250.0.1:8082", "10.250.0.1:" + fmt.Sprint(plan.EgressPort)} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	for _, p := range []struct {
		uid  uint32
		addr string
		open bool
	}{
		{testAgent, egress, true},
		{testAgent, "127.0.0.1:8081", false},  // a loopback port that is not the sidecar's
		{testAgent, "10.250.0.1:8082", false}, // anything off loopback (the node, the internet)
		{testAgent, "10.250.0.1:" + fmt.Sprint(plan.EgressPort), false},
		{0, "10.250.0.1:8082", false}, // another uid, even root
		{testSidecar, "10.250.0.1:8082", true},
	} {
		if got := connects(p.uid, p.addr); got != p.open {
			t.Errorf("uid %d to %s: open = %v, want %v", p.uid, p.addr, got, p.open)
		}
	}
	if connects(testAgent, "[::1]:9099") {
		t.Error("the agent reaches IPv6 loopback")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// connects opens a TCP connection to addr as uid, through bash's /dev/tcp
// (a real process with that uid, so the owner match sees it).
func connects(uid uint32, addr string) bool {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("timeout", "3", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd.Run() == nil
}
