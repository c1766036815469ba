// Package kubernetes runs bottles on a Kubernetes cluster through client-go.
// One bottle is one Pod: a wall init container installs the packet filter
// (docs/kubernetes.md says why a filter and not a NetworkPolicy), the
// sidecar runs as a native sidecar (an init container with restartPolicy
// Always, ready before the agent starts), and the agent runs non-root with
// no capabilities. The sidecar's tokens live in a Secret that only the
// sidecar container references. Labels carry the slug.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// Name is the backend's name.
const Name = "kubernetes"

// imageAgentID is the uid of the "agent" user the agent images create.
const imageAgentID = 1000

// gvisorClass is the RuntimeClass name used for gVisor when the cluster
// has one.
const gvisorClass = "gvisor"

// Options are the backend's settings.
type Options struct {
	// Namespace holds the bottles ("" = the kubeconfig's, else default).
	Namespace string
	// SidecarImage and AgentImage override the plan's images (they must
	// already be on the node: pods never pull).
	SidecarImage, AgentImage string
	// WallImage runs the wall init container ("" = DefaultWallImage).
	WallImage string
	// SidecarUID runs the sidecar ("" = LaunchOptions.UID, else 2000).
	SidecarUID int64
	// SidecarNameservers are the sidecar's upstream resolvers (nil: the
	// kube-dns Service's cluster IP, when there is one).
	SidecarNameservers []string
	// Exec runs a command in a container (nil: through the API server's
	// exec subresource with rest config).
	Exec Executor
}

// DefaultWallImage is the image with iptables that the wall runs.
const DefaultWallImage = "bot-bottle-wall:latest"

// defaultSidecarUID runs the sidecar when the user is root or shares the
// agent's uid: the wall needs two uids.
const defaultSidecarUID = 2000

// Executor runs cmd in one container of a pod.
type Executor func(ctx context.Context, namespace, pod, container string, spec backend.ExecSpec) (int, error)

// Kubernetes is the backend.
type Kubernetes struct {
	cs   k8s.Interface
	ns   string
	opts Options
	// hole is one more iptables rule the wall inserts first: only tests
	// set it, to open a hole on purpose and watch attestation refuse.
	hole string
	// hostAliases are more /etc/hosts lines for the pod: only tests set
	// them, to name a fixture upstream (the local cluster has no DNS).
	hostAliases []corev1.HostAlias
}

var _ backend.Backend = (*Kubernetes)(nil)

// New is a backend on clientset cs.
func New(cs k8s.Interface, o Options) *Kubernetes {
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	if o.WallImage == "" {
		o.WallImage = DefaultWallImage
	}
	return &Kubernetes{cs: cs, ns: ns, opts: o}
}

// Connect loads the kubeconfig as kubectl finds it (KUBECONFIG, else
// ~/.kube/config), for context kctx ("" = current), and checks the API
// server answers.
func Connect(ctx context.Context, kctx, namespace string) (*rest.Config, k8s.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, "", fmt.Errorf("kubernetes: reading the kubeconfig: %w", err)
	}
	if namespace == "" {
		if namespace, _, err = cc.Namespace(); err != nil {
			return nil, nil, "", fmt.Errorf("kubernetes: the kubeconfig's namespace: %w", err)
		}
	}
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("kubernetes: %w", err)
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		return nil, nil, "", fmt.Errorf("kubernetes: the API server at %s does not answer: %w", cfg.Host, err)
	}
	return cfg, cs, namespace, nil
}

// Name implements backend.Backend.
func (k *Kubernetes) Name() string { return Name }

func slugSelector(slug string) string { return backend.LabelSlug + "=" + slug }

// Launch creates the Secret and the Pod, then waits until the agent runs
// (the kubelet starts it only after the sidecar is ready).
func (k *Kubernetes) Launch(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions) (_ backend.Bottle, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	in, err := k.podInput(ctx, b, opts)
	if err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "checking the cluster", Err: err}
	}
	ca, err := readCA(b.StateDir)
	if err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "reading the bottle CA", Err: err}
	}
	in.CA = ca != nil
	if err := makeMountDirs(in); err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "creating the mount directories", Err: err}
	}
	pod, err := Pod(in)
	if err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "building the pod", Err: err}
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			k.Remove(cctx, b.Slug)
		}
	}()
	fmt.Fprintln(progress, "• creating the sidecar's secret")
	if err := k.createSecret(ctx, in, opts.Getenv); err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "creating the sidecar's secret", Err: err}
	}
	if len(in.SidecarDNS) > 0 {
		if err := k.createSidecarDNS(ctx, in); err != nil {
			return backend.Bottle{}, &backend.StepError{Step: "creating the sidecar's resolv.conf", Err: err}
		}
	}
	if in.CA {
		fmt.Fprintln(progress, "• installing the bottle CA")
		if err := k.createCA(ctx, in, ca); err != nil {
			return backend.Bottle{}, &backend.StepError{Step: "installing the bottle CA", Err: err}
		}
	}
	fmt.Fprintln(progress, "• creating the pod")
	if _, err := k.cs.CoreV1().Pods(k.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "creating the pod", Err: err}
	}
	fmt.Fprintln(progress, "• waiting for the sidecar and the agent")
	if err := k.waitRunning(ctx, b.Slug); err != nil {
		return backend.Bottle{}, &backend.StepError{Step: "waiting for the pod", Err: err}
	}
	return backend.Bottle{
		Slug: b.Slug,
		Endpoints: backend.Endpoints{
			ProxyURL:     plan.DefaultProxyURL,
			SuperviseURL: plan.SuperviseURL(),
			GitGateURL:   plan.DefaultGitGateURL,
			DNS:          fmt.Sprintf("127.0.0.1:%d", plan.DNSPort),
			NoProxy:      "localhost,127.0.0.1," + plan.SuperviseAlias + "," + plan.GitGateAlias,
		},
		AgentImage: in.AgentImage, SidecarImage: in.SidecarImage,
		AgentUID: int(in.AgentUID), AgentGID: int(in.AgentUID),
	}, nil
}

func (k *Kubernetes) podInput(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions) (PodInput, error) {
	if b.Slug == "" || len(b.Slug) > 50 {
		return PodInput{}, fmt.Errorf("bad slug %q", b.Slug)
	}
	existing, err := k.cs.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: slugSelector(b.Slug)})
	if err != nil {
		return PodInput{}, err
	}
	if len(existing.Items) > 0 {
		return PodInput{}, fmt.Errorf("bottle %s already has a pod", b.Slug)
	}
	rc, err := k.runtimeClass(ctx, b.Runtime)
	if err != nil {
		return PodInput{}, err
	}
	dns, err := k.clusterDNS(ctx)
	if err != nil {
		return PodInput{}, err
	}
	in := PodInput{
		Bottle: b, Namespace: k.ns, WallImage: k.opts.WallImage,
		SidecarImage: first(k.opts.SidecarImage, b.Images.Sidecar),
		AgentImage:   first(opts.AgentImage, k.opts.AgentImage, b.Images.Agent),
		AgentUID:     imageAgentID, SidecarUID: k.opts.SidecarUID, RuntimeClass: rc,
		Created: time.Now().UTC().Format(time.RFC3339), SidecarDNS: dns, hole: k.hole, hostAliases: k.hostAliases,
	}
	if in.SidecarUID == 0 {
		in.SidecarUID = int64(opts.UID)
	}
	if in.SidecarUID == 0 || in.SidecarUID == in.AgentUID {
		in.SidecarUID = defaultSidecarUID
	}
	if in.SidecarImage == "" || in.AgentImage == "" {
		return PodInput{}, errors.New("the plan names no sidecar or agent image")
	}
	return in, nil
}

// makeMountDirs creates the hostPath sources (the pod's volumes require
// them to exist). Run as root, each is handed to the uid of the container
// that mounts it, which could not use a root-owned 0700 directory: the
// agent's directory itself, the sidecar's with everything in it (the
// sidecar reads the CA key and its config, written by root).
func makeMountDirs(in PodInput) error {
	for _, m := range in.Bottle.Mounts {
		if err := os.MkdirAll(m.Source, 0o700); err != nil {
			return err
		}
		if os.Geteuid() != 0 {
			continue
		}
		if m.Container != backend.RoleSidecar {
			if err := os.Chown(m.Source, int(in.AgentUID), int(in.AgentUID)); err != nil {
				return err
			}
			continue
		}
		uid := int(in.SidecarUID)
		err := filepath.WalkDir(m.Source, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, uid)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// runtimeClass picks the agent's RuntimeClass: "runsc" requires gVisor,
// "runc" forbids it, "" takes gVisor when the cluster has it.
func (k *Kubernetes) runtimeClass(ctx context.Context, want string) (string, error) {
	_, err := k.cs.NodeV1().RuntimeClasses().Get(ctx, gvisorClass, metav1.GetOptions{})
	has := err == nil
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return "", fmt.Errorf("looking for RuntimeClass %s: %w", gvisorClass, err)
	}
	switch {
	case want == "runsc" && !has:
		return "", fmt.Errorf("the bottle requires gVisor and the cluster has no RuntimeClass %q", gvisorClass)
	case want == "runc" || !has:
		return "", nil
	}
	return gvisorClass, nil
}

// createSecret holds the sidecar's tokens; it exists even when empty so
// the pod's references are uniform.
func (k *Kubernetes) createSecret(ctx context.Context, in PodInput, getenv func(string) string) error {
	data := map[string][]byte{}
	for _, name := range in.Bottle.SidecarSecretEnv {
		v := getenv(name)
		if v == "" {
			return fmt.Errorf("secret env %s is empty or unset on the host", name)
		}
		data[name] = []byte(v)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName(in.Bottle.Slug), Namespace: k.ns, Labels: labels(in, backend.RoleSidecar)},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	_, err := k.cs.CoreV1().Secrets(k.ns).Create(ctx, s, metav1.CreateOptions{})
	return err
}

// waitRunning waits until the agent container runs; a container that
// terminates first (the wall failing, say) fails the launch.
func (k *Kubernetes) waitRunning(ctx context.Context, slug string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		p, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, podName(slug), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := podFailed(p); err != nil {
			return err
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == agentContainer && s.State.Running != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the agent is not running (pod phase %s): %w", p.Status.Phase, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podFailed says why a pod cannot come up, or nil.
func podFailed(p *corev1.Pod) error {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return fmt.Errorf("pod %s: %s %s", p.Name, p.Status.Phase, p.Status.Message)
	}
	for _, s := range p.Status.InitContainerStatuses {
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Errorf("container %s exited %d: %s %s", s.Name, t.ExitCode, t.Reason, t.Message)
		}
		if w := s.State.Waiting; w != nil && (w.Reason == "ErrImageNeverPull" || w.Reason == "CreateContainerConfigError") {
			return fmt.Errorf("container %s: %s: %s", s.Name, w.Reason, w.Message)
		}
	}
	return nil
}

// Stop deletes the pod and the objects made for it: a pod cannot be
// paused, the bottle's state lives on the host, and Launch (resume) makes
// them again. The agent's `sleep` ignores SIGTERM, so the grace is short.
func (k *Kubernetes) Stop(ctx context.Context, slug string) error {
	_, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, podName(slug), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("bottle %s: %w", slug, backend.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return k.removeAll(ctx, slug, stopGrace)
}

// stopGrace is the sidecar's time to flush its logs on Stop.
const stopGrace = 2

// Remove deletes everything labelled with the slug, one object at a time
// (what is already gone is not an error).
func (k *Kubernetes) Remove(ctx context.Context, slug string) error {
	return k.removeAll(ctx, slug, 0)
}

func (k *Kubernetes) removeAll(ctx context.Context, slug string, grace int64) error {
	sel := metav1.ListOptions{LabelSelector: slugSelector(slug)}
	del := metav1.DeleteOptions{GracePeriodSeconds: ptr(grace)}
	var errs []error
	gone := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	pods, err := k.cs.CoreV1().Pods(k.ns).List(ctx, sel)
	gone(err)
	if pods != nil {
		for _, p := range pods.Items {
			gone(k.cs.CoreV1().Pods(k.ns).Delete(ctx, p.Name, del))
		}
	}
	secs, err := k.cs.CoreV1().Secrets(k.ns).List(ctx, sel)
	gone(err)
	if secs != nil {
		for _, s := range secs.Items {
			gone(k.cs.CoreV1().Secrets(k.ns).Delete(ctx, s.Name, del))
		}
	}
	cms, err := k.cs.CoreV1().ConfigMaps(k.ns).List(ctx, sel)
	gone(err)
	if cms != nil {
		for _, c := range cms.Items {
			gone(k.cs.CoreV1().ConfigMaps(k.ns).Delete(ctx, c.Name, del))
		}
	}
	return errors.Join(errs...)
}

// List reports every bottle pod in the namespace.
func (k *Kubernetes) List(ctx context.Context) ([]backend.Summary, error) {
	pods, err := k.cs.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: backend.LabelSlug})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: listing pods: %w", err)
	}
	var out []backend.Summary
	for _, p := range pods.Items {
		created, _ := time.Parse(time.RFC3339, p.Annotations[backend.LabelCreated])
		s := backend.Summary{
			Slug: p.Labels[backend.LabelSlug], Agent: p.Labels[backend.LabelAgent],
			Label: p.Annotations[backend.LabelLabel], StateDir: p.Annotations[backend.LabelStateDir],
			Created: created, Backend: Name, State: "created", Sidecar: "created",
		}
		if p.Spec.RuntimeClassName != nil && *p.Spec.RuntimeClassName == gvisorClass {
			s.Runtime = "runsc"
		}
		for _, c := range p.Spec.Containers {
			if c.Name == agentContainer {
				s.Image = c.Image
			}
		}
		s.State = containerState(p.Status.ContainerStatuses, agentContainer)
		s.Sidecar = containerState(p.Status.InitContainerStatuses, sidecarContainer)
		if p.DeletionTimestamp != nil {
			s.State = "exited" // stopping: its containers are being killed
		}
		out = append(out, s)
	}
	return out, nil
}

func containerState(ss []corev1.ContainerStatus, name string) string {
	for _, s := range ss {
		if s.Name != name {
			continue
		}
		switch {
		case s.State.Running != nil:
			return "running"
		case s.State.Terminated != nil:
			return "exited"
		}
	}
	return "created"
}

// Commit is not supported: a cluster has no image commit; the error says
// so rather than pretending.
func (k *Kubernetes) Commit(ctx context.Context, slug, image string) (string, error) {
	return "", errors.New("kubernetes: commit is not supported (a pod's filesystem cannot be snapshotted through the API)")
}

// Targets are what the agent must not reach: the node's and the pod's
// addresses (a listener there on 0.0.0.0 must stay closed).
func (k *Kubernetes) Targets(ctx context.Context, slug string) (backend.Targets, error) {
	p, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, podName(slug), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return backend.Targets{}, fmt.Errorf("bottle %s: %w", slug, backend.ErrNotFound)
	}
	if err != nil {
		return backend.Targets{}, err
	}
	return targetsOf(p), nil
}

// Present reports whether a kubeconfig is where kubectl looks: $KUBECONFIG,
// else ~/.kube/config.
func Present(getenv func(string) string) bool {
	if getenv("KUBECONFIG") != "" {
		return true
	}
	home := getenv("HOME")
	if home == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(home, ".kube", "config"))
	return err == nil
}
