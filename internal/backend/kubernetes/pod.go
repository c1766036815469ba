package kubernetes

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// Container names in a bottle's pod.
const (
	wallContainer    = "wall"
	sidecarContainer = "sidecar"
	agentContainer   = "agent"
)

// PodInput is what the pod of one bottle is built from.
type PodInput struct {
	Bottle       plan.Bottle
	Namespace    string
	SidecarImage string
	AgentImage   string
	// WallImage runs the wall init container: it needs iptables-restore
	// and ip6tables-restore.
	WallImage string
	// SidecarUID and AgentUID must differ: the wall tells the two apart
	// by the owner of each outbound packet.
	SidecarUID, AgentUID int64
	// RuntimeClass is the agent's RuntimeClass ("" for the cluster's
	// default).
	RuntimeClass string
	Created      string
	// CA mounts the bottle CA's ConfigMap into the agent.
	CA bool
	// SidecarDNS are the sidecar's own nameservers (none: it keeps the
	// pod's, the sidecar's resolver).
	SidecarDNS []string
	// hole and hostAliases are Kubernetes's (tests only).
	hole        string
	hostAliases []corev1.HostAlias
}

func podName(slug string) string    { return "bot-bottle-" + slug }
func secretName(slug string) string { return "bot-bottle-" + slug + "-secrets" }

// labels carry the slug so list, stop, rm and cleanup find a bottle's
// objects with a selector, with no bookkeeping of their own.
func labels(in PodInput, role string) map[string]string {
	l := map[string]string{
		backend.LabelSlug:  in.Bottle.Slug,
		backend.LabelRole:  role,
		backend.LabelAgent: in.Bottle.Agent.Name,
	}
	return l
}

// annotations hold what label values cannot (spaces, slashes, colons).
func annotations(in PodInput) map[string]string {
	return map[string]string{
		backend.LabelLabel:    in.Bottle.Label,
		backend.LabelCreated:  in.Created,
		backend.LabelStateDir: in.Bottle.StateDir,
	}
}

// Pod is the bottle's pod: the wall (an init container that installs the
// packet filter and exits), the sidecar as a native sidecar (an init
// container with restartPolicy Always, so the agent starts only once its
// readiness probe passes) and the agent.
func Pod(in PodInput) (*corev1.Pod, error) {
	if in.SidecarUID == in.AgentUID {
		return nil, fmt.Errorf("the sidecar and the agent must run as different users (both %d): the wall tells them apart by uid", in.AgentUID)
	}
	if in.AgentUID == 0 {
		return nil, fmt.Errorf("the agent must not run as root")
	}
	always := corev1.ContainerRestartPolicyAlways
	vols, sidecarMounts, agentMounts := volumes(in)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        podName(in.Bottle.Slug),
			Namespace:   in.Namespace,
			Labels:      labels(in, backend.RoleAgent),
			Annotations: annotations(in),
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr(false),
			EnableServiceLinks:           ptr(false),
			Hostname:                     in.Bottle.Agent.Name,
			// The agent's only resolver is the sidecar's, on loopback.
			DNSPolicy: corev1.DNSNone,
			DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr("0")}}},
			// The sidecar's names resolve to loopback without DNS.
			HostAliases: []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{plan.EgressAlias, plan.SuperviseAlias, plan.GitGateAlias}}},
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				// Port 53 for an unprivileged sidecar; pod-wide (one netns).
				Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
			},
			InitContainers: []corev1.Container{
				wall(in),
				{
					Name:            sidecarContainer,
					Image:           in.SidecarImage,
					ImagePullPolicy: corev1.PullNever,
					RestartPolicy:   &always,
					Env:             sidecarEnv(in.Bottle),
					VolumeMounts:    sidecarMounts,
					SecurityContext: restricted(in.SidecarUID),
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstrOf(plan.EgressPort)}},
						PeriodSeconds: 1,
					},
				},
			},
			Containers: []corev1.Container{{
				Name:            agentContainer,
				Image:           in.AgentImage,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sleep", "infinity"},
				Env:             envVars(agentEnv(in.Bottle)),
				VolumeMounts:    agentMounts,
				SecurityContext: restricted(in.AgentUID),
			}},
			Volumes: vols,
		},
	}
	p.Spec.HostAliases = append(p.Spec.HostAliases, in.hostAliases...)
	if in.RuntimeClass != "" {
		p.Spec.RuntimeClassName = ptr(in.RuntimeClass)
	}
	return p, nil
}

// restricted is the security context of the sidecar and the agent: not
// root, no capabilities, no privilege escalation, seccomp RuntimeDefault.
func restricted(uid int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsUser:                ptr(uid),
		RunAsGroup:               ptr(uid),
		RunAsNonRoot:             ptr(uid != 0),
		AllowPrivilegeEscalation: ptr(false),
		Privileged:               ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// wall installs the packet filter and exits before the sidecar and the
// agent start. It alone holds NET_ADMIN; the filter outlives it because it
// belongs to the pod's network namespace, which no later container may
// change (none has NET_ADMIN).
func wall(in PodInput) corev1.Container {
	return corev1.Container{
		Name:            wallContainer,
		Image:           in.WallImage,
		ImagePullPolicy: corev1.PullNever,
		Command:         []string{"/bin/sh", "-ec", wallScript(in)},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                ptr(int64(0)),
			AllowPrivilegeEscalation: ptr(false),
			Capabilities: &corev1.Capabilities{
				Drop: []corev1.Capability{"ALL"},
				Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"},
			},
		},
	}
}

func wallScript(in PodInput) string {
	s := WallScript(in.SidecarUID, in.AgentUID)
	if in.hole != "" {
		s += "iptables -I OUTPUT 1 " + in.hole + "\n"
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func sidecarEnv(b plan.Bottle) []corev1.EnvVar {
	env := map[string]string{}
	for k, v := range b.SidecarEnv {
		env[k] = v
	}
	env["HOME"] = "/home/bot-bottle"
	// The sidecar's own traffic goes direct: never inherit a proxy.
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		delete(env, k)
	}
	out := envVars(env)
	// Tokens come from the bottle's Secret by reference: their values are
	// never in the pod spec, and only this container names them.
	for _, name := range b.SidecarSecretEnv {
		out = append(out, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secretName(b.Slug)}, Key: name,
		}}})
	}
	return out
}

// agentEnv is the agent's environment: the plan's, then the proxy and CA.
func agentEnv(b plan.Bottle) map[string]string {
	env := map[string]string{}
	for k, v := range b.AgentEnv {
		env[k] = v
	}
	proxy := plan.DefaultProxyURL
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		env[k] = proxy
	}
	noProxy := "localhost,127.0.0.1," + plan.SuperviseAlias + "," + plan.GitGateAlias
	env["NO_PROXY"], env["no_proxy"] = noProxy, noProxy
	return env
}

func envVars(m map[string]string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for k, v := range m {
		out = append(out, corev1.EnvVar{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b corev1.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// volumes are the plan's host directories (a single-node cluster: the
// bottle's state lives on the node).
func volumes(in PodInput) (vols []corev1.Volume, sidecar, agent []corev1.VolumeMount) {
	dirType := corev1.HostPathDirectory
	for i, m := range in.Bottle.Mounts {
		if in.CA && m.Target == plan.AgentCADir {
			continue // the CA's ConfigMap takes its place
		}
		name := fmt.Sprintf("m%d-%s", i, strings.ToLower(strings.Trim(strings.ReplaceAll(path.Base(m.Target), "_", "-"), ".-")))
		if len(name) > 63 {
			name = name[:63]
		}
		name = strings.TrimRight(name, "-")
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m.Source, Type: &dirType}}})
		vm := corev1.VolumeMount{Name: name, MountPath: m.Target, ReadOnly: m.ReadOnly}
		if m.Container == backend.RoleSidecar {
			sidecar = append(sidecar, vm)
		} else {
			agent = append(agent, vm)
		}
	}
	if in.CA {
		v, m := caMount(in.Bottle.Slug)
		vols, agent = append(vols, v), append(agent, m)
	}
	if len(in.SidecarDNS) > 0 {
		v, m := sidecarDNSMount(in.Bottle.Slug)
		vols, sidecar = append(vols, v), append(sidecar, m)
	}
	return vols, sidecar, agent
}
