package dnsguard

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

const netnsChild = "BOT_BOTTLE_TEST_DNS_NETNS"

// TestWildcardListenerAnswersPerNetwork runs the resolver the way the
// sidecar does, on 0.0.0.0 with one address per network, inside a network
// namespace of its own (so nothing outside can reach it). A wildcard UDP
// socket does not say which address a query came in on; the answer must be
// the resolver's address on the asking client's network.
func TestWildcardListenerAnswersPerNetwork(t *testing.T) {
	if os.Getenv(netnsChild) == "1" {
		wildcardChild(t)
		return
	}
	// One address per "network", on the namespace's loopback device:
	// what matters is the interface address table the resolver reads.
	script := `set -e
ip link set lo up
ip addr add 10.89.0.2/24 dev lo
ip addr add 10.90.0.2/24 dev lo
exec "$0" -test.run='^TestWildcardListenerAnswersPerNetwork$' -test.v`
	cmd := exec.Command("unshare", "--net", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	probe := exec.Command("unshare", "--net", "true")
	testenv.Require(t, "unshare --net", probe.Run() == nil, "a network namespace of the test's own (root or CAP_SYS_ADMIN, util-linux, iproute2)")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func wildcardChild(t *testing.T) {
	// Safe on all addresses: the namespace is the test's own.
	_, addr := start(t, Config{Listen: "0.0.0.0:0"})
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct{ from, to, want string }{
		{"10.89.0.2", "10.89.0.2", "10.89.0.2"},
		{"10.90.0.2", "10.90.0.2", "10.90.0.2"},
		{"127.0.0.1", "127.0.0.1", "127.0.0.1"},
	} {
		for _, proto := range []string{"udp", "tcp"} {
			c := &dns.Client{Net: proto, Timeout: 5 * time.Second, Dialer: &net.Dialer{}}
			if proto == "udp" {
				c.Dialer.LocalAddr = &net.UDPAddr{IP: net.ParseIP(tt.from)}
			} else {
				c.Dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(tt.from)}
			}
			m := new(dns.Msg)
			m.SetQuestion("egress.", dns.TypeA)
			r, _, err := c.Exchange(m, net.JoinHostPort(tt.to, port))
			if err != nil {
				t.Fatalf("%s from %s: %v", proto, tt.from, err)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != tt.want {
				t.Errorf("%s from %s: answer %v, want %s", proto, tt.from, r.Answer, tt.want)
			}
		}
	}
}
