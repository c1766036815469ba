package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// systemBundle is Debian's CA bundle, which OpenSSL, curl and git read.
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// tarFile is one entry written into a container.
type tarFile struct {
	name     string // relative to /
	dir      bool
	mode     int64
	uid, gid int
	data     []byte
}

func writeTar(files []tarFile) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: time.Now(), Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.dir {
			hdr.Typeflag, hdr.Size, hdr.Name = tar.TypeDir, 0, strings.TrimSuffix(f.name, "/")+"/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

// readFile reads one regular file out of a (created or running) container.
func readFile(ctx context.Context, eng Engine, id, path string) ([]byte, error) {
	res, err := eng.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(tr, 16<<20))
		}
	}
}

func copyInto(ctx context.Context, eng Engine, id string, files []tarFile) error {
	buf, err := writeTar(files)
	if err != nil {
		return fmt.Errorf("packing files: %w", err)
	}
	_, err = eng.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: buf})
	return err
}

// hasID reports whether a passwd or group file has an entry with this id
// (third field).
func hasID(file []byte, id int) bool {
	sc := bufio.NewScanner(bytes.NewReader(file))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) > 2 && f[2] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}

func appendLine(file []byte, line string) []byte {
	if len(file) > 0 && file[len(file)-1] != '\n' {
		file = append(file, '\n')
	}
	return append(file, line+"\n"...)
}

// addUser gives uid:gid a passwd and group entry (OpenSSH and git refuse
// to run for a uid without one) and a home directory it owns: on the
// sidecar before it starts, on the agent once it runs (before anything
// is run in it).
func addUser(ctx context.Context, eng Engine, id string, uid, gid int, home string) error {
	// Both reads at once: this is on the way to the sidecar's start.
	var passwd, group []byte
	if err := both(func() (err error) {
		passwd, err = readFile(ctx, eng, id, "/etc/passwd")
		return err
	}, func() (err error) {
		group, err = readFile(ctx, eng, id, "/etc/group")
		return err
	}); err != nil {
		return err
	}
	var files []tarFile
	if !hasID(passwd, uid) {
		passwd = appendLine(passwd, fmt.Sprintf("bot-bottle:x:%d:%d:bot-bottle:%s:/bin/sh", uid, gid, home))
		files = append(files, tarFile{name: "etc/passwd", mode: 0o644, data: passwd})
	}
	if !hasID(group, gid) {
		group = appendLine(group, fmt.Sprintf("bot-bottle:x:%d:", gid))
		files = append(files, tarFile{name: "etc/group", mode: 0o644, data: group})
	}
	files = append(files, tarFile{name: strings.TrimPrefix(home, "/"), dir: true, mode: 0o755, uid: uid, gid: gid})
	return copyInto(ctx, eng, id, files)
}

// installCA puts the bottle CA into the agent's system store (the bundle
// the image ships plus the CA): the agent is not root, so
// update-ca-certificates cannot run inside. ca.pem alone reaches the agent
// through the plan's read-only agent-ca mount; the CA key never does. No CA
// file (tests) installs nothing.
func installCA(ctx context.Context, eng Engine, id, caFile string) error {
	ca, err := os.ReadFile(caFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) || bytes.Contains(ca, []byte("PRIVATE KEY")) {
		return fmt.Errorf("%s is not a certificate-only PEM file", caFile)
	}
	bundle, err := readFile(ctx, eng, id, systemBundle)
	if err != nil {
		return err
	}
	bundle = appendLine(bundle, strings.TrimSpace(string(ca)))
	return copyInto(ctx, eng, id, []tarFile{
		{name: "usr/local/share/ca-certificates/bot-bottle.crt", mode: 0o644, data: ca},
		{name: strings.TrimPrefix(systemBundle, "/"), mode: 0o644, data: bundle},
	})
}
