package kubernetes

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// The pod's resolv.conf names only the sidecar's resolver (127.0.0.1),
// which answers nothing but the sidecar's names: right for the agent, but
// the sidecar itself must resolve the upstreams its routes allow. It gets
// a resolv.conf of its own, naming the cluster's DNS, mounted over
// /etc/resolv.conf in the sidecar container only.

const (
	sidecarDNSVolume = "sidecar-resolv"
	resolvConfKey    = "resolv.conf"
)

func sidecarDNSName(slug string) string { return "bot-bottle-" + slug + "-sidecar-dns" }

// clusterDNS are the sidecar's nameservers: Options.SidecarNameservers,
// else the kube-dns Service's cluster IP; none when the cluster has no
// DNS (upstream names then do not resolve, and egress refuses them).
func (k *Kubernetes) clusterDNS(ctx context.Context) ([]string, error) {
	if len(k.opts.SidecarNameservers) > 0 {
		for _, ns := range k.opts.SidecarNameservers {
			if _, err := netip.ParseAddr(ns); err != nil {
				return nil, fmt.Errorf("sidecar nameserver %q is not an IP address", ns)
			}
		}
		return k.opts.SidecarNameservers, nil
	}
	svc, err := k.cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking for the cluster's DNS: %w", err)
	}
	if _, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil {
		return nil, nil // headless or none
	}
	return []string{svc.Spec.ClusterIP}, nil
}

func resolvConf(nameservers []string) string {
	var b strings.Builder
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	return b.String()
}

func (k *Kubernetes) createSidecarDNS(ctx context.Context, in PodInput) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: sidecarDNSName(in.Bottle.Slug), Namespace: k.ns, Labels: labels(in, backend.RoleSidecar)},
		Data:       map[string]string{resolvConfKey: resolvConf(in.SidecarDNS)},
	}
	_, err := k.cs.CoreV1().ConfigMaps(k.ns).Create(ctx, cm, metav1.CreateOptions{})
	return err
}

func sidecarDNSMount(slug string) (corev1.Volume, corev1.VolumeMount) {
	v := corev1.Volume{Name: sidecarDNSVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: sidecarDNSName(slug)},
	}}}
	return v, corev1.VolumeMount{Name: sidecarDNSVolume, MountPath: "/etc/resolv.conf", SubPath: resolvConfKey, ReadOnly: true}
}
