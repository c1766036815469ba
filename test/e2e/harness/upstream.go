package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// The e2e stand-ins for the internet run as containers on a network the
// sidecar's egress leg is on (EgressNetwork), reached by alias. They never
// leave the machine.

// UpstreamImage is the seeded image with sshd for the git upstream.
const UpstreamImage = "bot-bottle/e2e-upstream:bookworm"

// EgressNetwork is the name of a bottle's egress network on Docker.
func EgressNetwork(slug string) string { return "bot-bottle-" + slug + "-egress" }

// RunOn runs image with entrypoint on network under alias, with the host
// directory dir mounted read-only at /srv, until t ends. It returns the
// container's ID and address on network.
func RunOn(t testing.TB, eng *client.Client, image, networkName, alias, dir string, entrypoint ...string) (id, ip string) {
	t.Helper()
	ctx := context.Background()
	res, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Entrypoint: entrypoint, Labels: map[string]string{"bot-bottle.test": "1"}},
		HostConfig: &container.HostConfig{
			Mounts: []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: "/srv", ReadOnly: true}},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			networkName: {Aliases: []string{alias}},
		}},
	})
	if err != nil {
		t.Fatalf("creating %s: %v", alias, err)
	}
	t.Cleanup(func() {
		eng.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := eng.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting %s: %v", alias, err)
	}
	in, err := eng.ContainerInspect(ctx, res.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID, in.Container.NetworkSettings.Networks[networkName].IPAddress.String()
}

// TestCA is a certificate authority for the stand-in servers. The sidecar
// trusts it through SSL_CERT_FILE (see CAFile).
type TestCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	// Dir holds ca.pem; mount it into the sidecar and point SSL_CERT_FILE
	// at ca.pem there.
	Dir string
}

// NewTestCA makes a CA in a temporary directory.
func NewTestCA(t testing.TB) *TestCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bot-bottle e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &TestCA{key: key, cert: cert, Dir: t.TempDir()}
	writePEM(t, filepath.Join(ca.Dir, "ca.pem"), "CERTIFICATE", der)
	os.Chmod(ca.Dir, 0o755)
	return ca
}

// Leaf writes cert.pem and key.pem for host into a new directory and
// returns it.
func (ca *TestCA) Leaf(t testing.TB, host string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", der)
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "key.pem"), "EC PRIVATE KEY", kd)
	return dir
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// HTTPSServer runs the fixture's HTTPS echo server as host on networkName,
// with a certificate from ca, on port 443. It answers every request with
// the request as JSON (method, host, path, headers, body).
func HTTPSServer(t testing.TB, eng *client.Client, ca *TestCA, networkName, host string) string {
	t.Helper()
	return HTTPSServerOn(t, eng, ca, networkName, host, ":443")
}

// HTTPSServerOn is HTTPSServer listening on addr (":8443").
func HTTPSServerOn(t testing.TB, eng *client.Client, ca *TestCA, networkName, host, addr string) string {
	t.Helper()
	return fixtureServer(t, eng, ca, networkName, host, "https", addr, "/srv/cert.pem", "/srv/key.pem")
}

// GitHTTPSServer runs the fixture's git server as host on networkName, on
// port 443: https://HOST/project.git, one commit on main, answered only
// when the Authorization header's SHA-256 is wantAuthSHA256.
func GitHTTPSServer(t testing.TB, eng *client.Client, ca *TestCA, networkName, host, wantAuthSHA256 string) string {
	t.Helper()
	return fixtureServer(t, eng, ca, networkName, host, "git-https", ":443", "/srv/cert.pem", "/srv/key.pem", wantAuthSHA256)
}

// fixtureServer runs the fixture with args as host on networkName, with a
// certificate for host from ca in /srv.
func fixtureServer(t testing.TB, eng *client.Client, ca *TestCA, networkName, host string, args ...string) string {
	t.Helper()
	dir := ca.Leaf(t, host)
	bin := BuildStatic(t, "./test/e2e/fixture")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fixture"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, ip := RunOn(t, eng, Base(t, eng), networkName, host, dir, append([]string{"/srv/fixture"}, args...)...)
	return ip
}

// GitServer is an SSH git upstream: sshd in a container with one bare
// repository.
type GitServer struct {
	// URL is the repository's SSH URL, scp-style: root@HOST:repos/NAME.git
	// (under root's home in the container).
	URL string
	// HostKey is the server's public host key ("ssh-ed25519 AAAA...").
	HostKey string
	// KeyFile is the client's private key on the host (0600).
	KeyFile string
	// IP is the server's address on the network.
	IP   string
	eng  *client.Client
	id   string
	repo string
}

// NewGitServer seeds UpstreamImage when missing (the base plus
// openssh-server), then runs sshd as host on networkName with a bare
// repository called name.git (one commit on main). The repository lives in
// the container; Git reads it back.
func NewGitServer(t testing.TB, eng *client.Client, networkName, host, name string) *GitServer {
	t.Helper()
	seedUpstream(t, eng)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	keygen := func(file string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", file).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	keygen(filepath.Join(dir, "host_key"))
	clientDir := t.TempDir()
	keygen(filepath.Join(clientDir, "id"))
	pub, _ := os.ReadFile(filepath.Join(clientDir, "id.pub"))
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(`Port 22
HostKey /run/e2e/host_key
AuthorizedKeysFile /srv/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile none
`), 0o644))
	// sshd refuses a host key readable by others: copy it out of /srv.
	script := `set -e
mkdir -p /run/sshd /run/e2e /root/repos
install -m 600 /srv/host_key /run/e2e/host_key
git init -q --bare -b main /root/repos/` + name + `.git
git -C /root/repos/` + name + `.git config receive.denyNonFastForwards false
tmp=$(mktemp -d) && git -C $tmp init -q -b main && echo upstream > $tmp/README &&
git -C $tmp add README && git -C $tmp -c user.name=e2e -c user.email=e2e@test commit -q -m initial &&
git -C $tmp push -q /root/repos/` + name + `.git main
exec /usr/sbin/sshd -D -e -f /srv/sshd_config`
	id, ip := RunOn(t, eng, UpstreamImage, networkName, host, dir, "sh", "-c", script)
	fields := strings.Fields(string(hostPub))
	gs := &GitServer{
		URL:     "root@" + host + ":repos/" + name + ".git",
		HostKey: fields[0] + " " + fields[1],
		KeyFile: filepath.Join(clientDir, "id"),
		IP:      ip,
		eng:     eng,
		id:      id,
		repo:    "/root/repos/" + name + ".git",
	}
	return gs
}

// Git runs git with args in the server's repository and returns its
// output (stdout and stderr).
func (g *GitServer) Git(t testing.TB, args ...string) string {
	t.Helper()
	return ExecContainer(t, g.eng, g.id, append([]string{"git", "-C", g.repo}, args...)...)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seedUpstream makes UpstreamImage with the seed script when missing.
func seedUpstream(t testing.TB, eng *client.Client) {
	t.Helper()
	defer seedLock(t)()
	if _, err := eng.ImageInspect(context.Background(), UpstreamImage); err == nil {
		return
	}
	_, lookErr := exec.LookPath("debootstrap")
	testenv.Require(t, "debootstrap", lookErr == nil && os.Geteuid() == 0, UpstreamImage+" is missing and seeding it needs root and debootstrap")
	cmd := exec.Command(filepath.Join(RepoRoot(t), "scripts", "seed-base-image.sh"), "--tag", UpstreamImage, "--extra", "openssh-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seeding %s: %v\n%s", UpstreamImage, err, out)
	}
}
