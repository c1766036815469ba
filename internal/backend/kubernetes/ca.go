package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

const caVolume = "bottle-ca"

func caName(slug string) string { return "bot-bottle-" + slug + "-ca" }

// readCA is the bottle CA's certificate from the host state, nil when the
// bottle has none. Only the certificate may leave the host: a file holding
// a key is refused.
func readCA(stateDir string) ([]byte, error) {
	path := filepath.Join(stateDir, "ca", "ca.pem")
	ca, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) || bytes.Contains(ca, []byte("PRIVATE KEY")) {
		return nil, fmt.Errorf("%s is not a certificate-only PEM file", path)
	}
	return ca, nil
}

// createCA puts the certificate in a ConfigMap the agent mounts at
// plan.AgentCADir (its env points SSL_CERT_FILE and the like there), with
// the Java trust store start made beside the agent's copy, if any. It
// replaces the plan's host mount of that directory.
func (k *Kubernetes) createCA(ctx context.Context, in PodInput, ca []byte) error {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: caName(in.Bottle.Slug), Namespace: k.ns, Labels: labels(in, backend.RoleAgent)},
		Data:       map[string]string{"ca.pem": string(ca)},
	}
	ts, err := os.ReadFile(filepath.Join(in.Bottle.StateDir, "agent-ca", path.Base(plan.AgentTrustStore)))
	switch {
	case err == nil:
		cm.BinaryData = map[string][]byte{path.Base(plan.AgentTrustStore): ts}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	_, err = k.cs.CoreV1().ConfigMaps(k.ns).Create(ctx, cm, metav1.CreateOptions{})
	return err
}

func caMount(slug string) (corev1.Volume, corev1.VolumeMount) {
	v := corev1.Volume{Name: caVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: caName(slug)},
	}}}
	return v, corev1.VolumeMount{Name: caVolume, MountPath: plan.AgentCADir, ReadOnly: true}
}
