package kubernetes

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/bot-bottle/bot-bottle/internal/plan"
)

func intstrOf(port int) intstr.IntOrString { return intstr.FromInt32(int32(port)) }

// sidecarPorts are the loopback ports the agent may open: the sidecar's
// proxy, supervise, git gate and resolver (DESIGN.md, the sidecar
// contract).
var sidecarPorts = []int{plan.EgressPort, plan.SupervisePort, plan.GitGatePort, plan.DNSPort}

// WallRules is the IPv4 filter table of a bottle's pod, for
// iptables-restore. Every container shares the pod's network namespace, so
// the wall is drawn by the packet's owner: the sidecar's uid may go out,
// the agent's uid may reach only the sidecar's ports on loopback, and
// everything else (another uid, a raw socket, forwarded traffic) is
// dropped. Replies to connections the sidecar accepted pass as ESTABLISHED.
func WallRules(sidecarUID, agentUID int64) string {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n")
	b.WriteString("-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n")
	fmt.Fprintf(&b, "-A OUTPUT -m owner --uid-owner %d -j ACCEPT\n", sidecarUID)
	for _, p := range sidecarPorts {
		for _, proto := range []string{"tcp", "udp"} {
			if proto == "udp" && p != plan.DNSPort {
				continue
			}
			fmt.Fprintf(&b, "-A OUTPUT -o lo -d 127.0.0.1/32 -p %s --dport %d -m owner --uid-owner %d -j ACCEPT\n", proto, p, agentUID)
		}
	}
	b.WriteString("-A OUTPUT -j REJECT\nCOMMIT\n")
	return b.String()
}

// wall6Rules drops every IPv6 packet but loopback replies: the sidecar
// listens on IPv4 only, so the agent needs no IPv6 at all.
const wall6Rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n"

// WallScript is the wall container's shell script: load both tables and
// fail (so the pod never starts) if either cannot be loaded.
func WallScript(sidecarUID, agentUID int64) string {
	return "printf '%s' '" + WallRules(sidecarUID, agentUID) + "' | iptables-restore\n" +
		"printf '%s' '" + wall6Rules + "' | ip6tables-restore\n"
}
