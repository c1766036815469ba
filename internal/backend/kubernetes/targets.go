package kubernetes

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

func targetsOf(p *corev1.Pod) backend.Targets {
	t := backend.Targets{Proxy: plan.DefaultProxyURL}
	for _, ip := range p.Status.HostIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			t.HostAddrs = append(t.HostAddrs, a)
		}
	}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			t.AgentAddrs = append(t.AgentAddrs, a)
		}
	}
	return t
}
