package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

const token = "ghp_k8sTestTokenValue0123456789abcdef"

func testPlan() plan.Bottle {
	return plan.Bottle{
		Slug:             "shell-ab12c",
		Label:            "shell in default",
		Agent:            plan.Agent{Name: "shell"},
		Images:           plan.Images{Agent: "bot-bottle-shell:latest", Sidecar: "bot-bottle-sidecar:latest"},
		AgentEnv:         map[string]string{"TERM": "xterm"},
		SidecarEnv:       map[string]string{"EGRESS_PORT": "9099"},
		SidecarSecretEnv: []string{"GH_TOKEN"},
		StateDir:         "/home/u/.bot-bottle/state/shell-ab12c",
	}
}

// running makes every created pod look started, as a kubelet would.
func running(cs *fake.Clientset) {
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: agentContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: sidecarContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return false, nil, nil
	})
}

func launch(t *testing.T, objs ...runtime.Object) (*fake.Clientset, *corev1.Pod) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	running(cs)
	k := New(cs, Options{Namespace: "bots"})
	getenv := func(k string) string {
		if k == "GH_TOKEN" {
			return token
		}
		return ""
	}
	if _, err := k.Launch(context.Background(), testPlan(), backend.LaunchOptions{Getenv: getenv, UID: 1000, GID: 1000}); err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods("bots").Get(context.Background(), podName("shell-ab12c"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cs, p
}

func container(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func TestSidecarIsANativeSidecarStartedBeforeTheAgent(t *testing.T) {
	_, p := launch(t)
	if len(p.Spec.InitContainers) != 2 || p.Spec.InitContainers[0].Name != wallContainer || p.Spec.InitContainers[1].Name != sidecarContainer {
		t.Fatalf("init containers must be wall then sidecar: %+v", p.Spec.InitContainers)
	}
	sc := p.Spec.InitContainers[1]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("the sidecar is not a native sidecar (restartPolicy Always): the agent would wait for it to exit")
	}
	if sc.ReadinessProbe == nil || sc.ReadinessProbe.TCPSocket == nil || sc.ReadinessProbe.TCPSocket.Port.IntValue() != plan.EgressPort {
		t.Error("the sidecar has no readiness probe on the proxy: the agent could start before it listens")
	}
	if w := p.Spec.InitContainers[0]; w.RestartPolicy != nil {
		t.Error("the wall must run to completion before the sidecar and agent start")
	}
}

func TestAgentIsUnprivileged(t *testing.T) {
	_, p := launch(t)
	for _, name := range []string{agentContainer, sidecarContainer} {
		c := container(t, append(p.Spec.Containers, p.Spec.InitContainers...), name)
		sc := c.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s may run as root", name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s may escalate privileges", name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s is privileged", name)
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s keeps capabilities: %+v", name, sc.Capabilities)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s has no RuntimeDefault seccomp profile", name)
		}
	}
	if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token: the agent could talk to the API server")
	}
	a := container(t, p.Spec.Containers, agentContainer)
	s := container(t, p.Spec.InitContainers, sidecarContainer)
	if *a.SecurityContext.RunAsUser == *s.SecurityContext.RunAsUser {
		t.Error("agent and sidecar share a uid: the wall cannot tell them apart")
	}
}

func TestTokenIsOnlyInTheSidecarsSecret(t *testing.T) {
	cs, p := launch(t)
	sec, err := cs.CoreV1().Secrets("bots").Get(context.Background(), secretName("shell-ab12c"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["GH_TOKEN"]) != token {
		t.Error("the secret does not hold the token")
	}
	spec, _ := json.Marshal(p)
	if strings.Contains(string(spec), token) {
		t.Error("the token's value is in the pod spec")
	}
	for _, c := range append(p.Spec.Containers, p.Spec.InitContainers...) {
		refs := false
		for _, e := range c.Env {
			refs = refs || e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
		}
		for _, ef := range c.EnvFrom {
			refs = refs || ef.SecretRef != nil
		}
		if refs != (c.Name == sidecarContainer) {
			t.Errorf("container %s: references a secret = %v", c.Name, refs)
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil || v.Projected != nil {
			t.Errorf("volume %s could put a secret in the agent's reach", v.Name)
		}
	}
}

func TestAgentsOnlyResolverIsTheSidecar(t *testing.T) {
	_, p := launch(t)
	if p.Spec.DNSPolicy != corev1.DNSNone || p.Spec.DNSConfig == nil || len(p.Spec.DNSConfig.Nameservers) != 1 || p.Spec.DNSConfig.Nameservers[0] != "127.0.0.1" {
		t.Errorf("the agent's resolver is not only the sidecar on loopback: %v %+v", p.Spec.DNSPolicy, p.Spec.DNSConfig)
	}
	if p.Spec.HostNetwork {
		t.Error("the pod shares the node's network")
	}
}

// TestSidecarResolvesThroughTheClusterDNS: the sidecar alone gets a
// resolv.conf naming the cluster's DNS (the pod's names only the
// sidecar's resolver, which answers no upstream name).
func TestSidecarResolvesThroughTheClusterDNS(t *testing.T) {
	dns := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	cs, p := launch(t, dns)
	cm, err := cs.CoreV1().ConfigMaps("bots").Get(context.Background(), sidecarDNSName("shell-ab12c"), metav1.GetOptions{})
	if err != nil || cm.Data[resolvConfKey] != "nameserver 10.96.0.10\n" {
		t.Fatalf("sidecar resolv.conf: %+v, %v", cm, err)
	}
	mounted := func(c corev1.Container) bool {
		return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/etc/resolv.conf" })
	}
	if !mounted(container(t, p.Spec.InitContainers, sidecarContainer)) {
		t.Error("the sidecar does not mount its resolv.conf")
	}
	if mounted(container(t, p.Spec.Containers, agentContainer)) {
		t.Error("the agent mounts the sidecar's resolv.conf")
	}
	if p.Spec.DNSConfig.Nameservers[0] != "127.0.0.1" {
		t.Errorf("pod nameservers %v", p.Spec.DNSConfig.Nameservers)
	}
	// Without a cluster DNS the sidecar keeps the pod's.
	_, p = launch(t)
	if mounted(container(t, p.Spec.InitContainers, sidecarContainer)) {
		t.Error("a resolv.conf for the sidecar on a cluster without DNS")
	}
}

func TestWallIsInstalledBeforeTheAgent(t *testing.T) {
	_, p := launch(t)
	w := p.Spec.InitContainers[0]
	script := strings.Join(w.Command, " ")
	for _, want := range []string{"iptables-restore", "ip6tables-restore", ":OUTPUT DROP", "--uid-owner 2000 -j ACCEPT"} {
		if !strings.Contains(script, want) {
			t.Errorf("the wall's script lacks %q", want)
		}
	}
	if !strings.Contains(script, "-set -e") && w.Command[1] != "-ec" {
		t.Error("the wall script does not stop at its first failure: a half-loaded filter would let the pod start")
	}
}

func TestWallRulesLetTheAgentReachOnlyTheSidecarsPorts(t *testing.T) {
	r := WallRules(2000, 1000)
	if !strings.Contains(r, ":OUTPUT DROP") || !strings.HasSuffix(r, "-A OUTPUT -j REJECT\nCOMMIT\n") {
		t.Error("outbound traffic is not refused by default")
	}
	for _, line := range strings.Split(r, "\n") {
		if strings.Contains(line, "--uid-owner 1000") && !strings.Contains(line, "-o lo -d 127.0.0.1/32") {
			t.Errorf("the agent may go beyond loopback: %s", line)
		}
		if strings.HasPrefix(line, "-A OUTPUT") && strings.HasSuffix(line, "ACCEPT") && !strings.Contains(line, "--uid-owner") && !strings.Contains(line, "ESTABLISHED") {
			t.Errorf("a rule accepts traffic from anyone: %s", line)
		}
	}
}

func TestRuntimeClassForGVisor(t *testing.T) {
	_, p := launch(t, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: gvisorClass}, Handler: "runsc"})
	if p.Spec.RuntimeClassName == nil || *p.Spec.RuntimeClassName != gvisorClass {
		t.Error("the cluster has gVisor and the agent does not run under it")
	}
	_, p = launch(t)
	if p.Spec.RuntimeClassName != nil {
		t.Error("a RuntimeClass the cluster does not have")
	}
	k := New(fake.NewClientset(), Options{})
	b := testPlan()
	b.Runtime = "runsc"
	if _, err := k.Launch(context.Background(), b, backend.LaunchOptions{Getenv: func(string) string { return token }}); err == nil {
		t.Error("a bottle requiring gVisor launched on a cluster without it")
	}
}

func TestLabelsCarryTheSlugForListAndRemove(t *testing.T) {
	cs, p := launch(t)
	if p.Labels[backend.LabelSlug] != "shell-ab12c" {
		t.Fatalf("labels: %v", p.Labels)
	}
	k := New(cs, Options{Namespace: "bots"})
	list, err := k.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Slug != "shell-ab12c" || list[0].State != "running" || list[0].Backend != Name || list[0].StateDir != testPlan().StateDir {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if err := k.Remove(context.Background(), "shell-ab12c"); err != nil {
		t.Fatal(err)
	}
	pods, _ := cs.CoreV1().Pods("bots").List(context.Background(), metav1.ListOptions{})
	secs, _ := cs.CoreV1().Secrets("bots").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items)+len(secs.Items) != 0 {
		t.Errorf("remove left %d pods and %d secrets", len(pods.Items), len(secs.Items))
	}
}

// TestStopLeavesNothingInTheNamespace: Stop deletes the pod, its Secret
// and its CA (Launch makes them again on resume), so cleanup, which
// removes only the state of a stopped bottle, leaves the namespace empty.
func TestStopLeavesNothingInTheNamespace(t *testing.T) {
	cs, _ := launch(t)
	k := New(cs, Options{Namespace: "bots"})
	if err := k.Stop(context.Background(), "shell-ab12c"); err != nil {
		t.Fatal(err)
	}
	pods, _ := cs.CoreV1().Pods("bots").List(context.Background(), metav1.ListOptions{})
	secs, _ := cs.CoreV1().Secrets("bots").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items)+len(secs.Items) != 0 {
		t.Errorf("stop left %d pods and %d secrets", len(pods.Items), len(secs.Items))
	}
	if err := k.Stop(context.Background(), "shell-ab12c"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("second Stop = %v, want not found", err)
	}
}

func TestMissingTokenRefusesTheLaunch(t *testing.T) {
	cs := fake.NewClientset()
	k := New(cs, Options{})
	if _, err := k.Launch(context.Background(), testPlan(), backend.LaunchOptions{}); err == nil || !strings.Contains(err.Error(), "GH_TOKEN") {
		t.Fatalf("err = %v", err)
	}
	pods, _ := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Error("a failed launch left a pod")
	}
}

func TestPodRefusesUidsTheWallCannotTellApart(t *testing.T) {
	in := PodInput{Bottle: testPlan(), SidecarImage: "s", AgentImage: "a", WallImage: "w"}
	for _, ids := range [][2]int64{{1000, 1000}, {2000, 0}} {
		in.SidecarUID, in.AgentUID = ids[0], ids[1]
		if _, err := Pod(in); err == nil {
			t.Errorf("sidecar uid %d, agent uid %d: pod built", ids[0], ids[1])
		}
	}
}

func TestAgentGetsTheCACertificateOnly(t *testing.T) {
	b := testPlan()
	b.StateDir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(b.StateDir, "ca"), 0o700); err != nil {
		t.Fatal(err)
	}
	cert := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	caFile := filepath.Join(b.StateDir, "ca", "ca.pem")
	os.WriteFile(caFile, []byte(cert), 0o600)
	// start's plan mounts the agent's copy (with the Java trust store)
	// there; the ConfigMap replaces that host mount.
	agentCA := filepath.Join(b.StateDir, "agent-ca")
	os.MkdirAll(agentCA, 0o755)
	os.WriteFile(filepath.Join(agentCA, "truststore.p12"), []byte("p12"), 0o644)
	b.Mounts = []plan.Mount{{Container: backend.RoleAgent, Source: agentCA, Target: plan.AgentCADir, ReadOnly: true}}
	cs := fake.NewClientset()
	running(cs)
	k := New(cs, Options{})
	getenv := func(string) string { return token }
	if _, err := k.Launch(context.Background(), b, backend.LaunchOptions{Getenv: getenv}); err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps("default").Get(context.Background(), caName(b.Slug), metav1.GetOptions{})
	if err != nil || cm.Data["ca.pem"] != cert || string(cm.BinaryData["truststore.p12"]) != "p12" {
		t.Fatalf("the CA and trust store are not in a ConfigMap: %v", err)
	}
	p, _ := cs.CoreV1().Pods("default").Get(context.Background(), podName(b.Slug), metav1.GetOptions{})
	a := container(t, p.Spec.Containers, agentContainer)
	if !slices.ContainsFunc(a.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == caVolume && m.MountPath == plan.AgentCADir && m.ReadOnly
	}) {
		t.Errorf("the agent does not mount the CA at %s: %+v", plan.AgentCADir, a.VolumeMounts)
	}
	if n := len(a.VolumeMounts); n != 1 {
		t.Errorf("the agent has %d mounts, want the CA's only: %+v", n, a.VolumeMounts)
	}
	k.Remove(context.Background(), b.Slug)

	os.WriteFile(caFile, []byte(cert+"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"), 0o600)
	if _, err := k.Launch(context.Background(), b, backend.LaunchOptions{Getenv: getenv}); err == nil {
		t.Error("a CA file holding a private key was given to the agent")
	}
}
