package podman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// NetworkCNI is the network backend whose internal networks have a bridge
// without a host address.
const NetworkCNI = "cni"

// Info is what the backend needs from Podman's own description of itself
// (GET /libpod/info; the Docker-compatible /info does not say).
type Info struct {
	Version        string
	NetworkBackend string
	Rootless       bool
	// CgroupVersion is "v1" or "v2"; CgroupManager "systemd" or
	// "cgroupfs".
	CgroupVersion, CgroupManager string
	// OCIRuntime is the runtime the service gives every container it
	// creates (containers.conf's, or `podman --runtime`).
	OCIRuntime string
	// GraphRoot and RunRoot are the service's container store.
	GraphRoot, RunRoot string
}

// Check refuses an engine on which a wall would be weaker than on
// Docker: an unsealed network (Sealed) or limits that are not applied
// (Limited).
func Check(i Info) error {
	if err := Sealed(i); err != nil {
		return err
	}
	return Limited(i)
}

// Limited refuses rootless Podman where it cannot apply resource limits:
// on cgroup v1 it ignores every one ("Resource limits are not supported
// and ignored on cgroups V1 rootless systems"), and on cgroup v2 it needs
// the systemd cgroup manager (a delegated cgroup) to set them. The agent
// would run without its pids and memory limits.
func Limited(i Info) error {
	if !i.Rootless {
		return nil
	}
	if i.CgroupVersion != "v2" {
		return fmt.Errorf("rootless podman on cgroup %s ignores the agent's pids and memory limits; use rootful podman, or rootless on a cgroup v2 host with the systemd cgroup manager (docs/runtimes.md)", i.CgroupVersion)
	}
	if i.CgroupManager != "systemd" {
		return fmt.Errorf("rootless podman with the %s cgroup manager cannot set the agent's pids and memory limits; set cgroup_manager = \"systemd\" in containers.conf (docs/runtimes.md)", i.CgroupManager)
	}
	return nil
}

// Sealed refuses an engine on which the agent's internal network would
// reach the host: any network backend but CNI (netavark puts the gateway
// address on the bridge, on the host for rootful Podman).
func Sealed(i Info) error {
	if i.NetworkBackend == NetworkCNI {
		return nil
	}
	return fmt.Errorf("podman %s runs the %q network backend, which gives the agent's internal network a bridge address on the host (a host listener on 0.0.0.0 would be reachable from the agent); set network_backend = \"cni\" in containers.conf (docs/runtimes.md)", i.Version, i.NetworkBackend)
}

// wireInfo is the part of /libpod/info read.
type wireInfo struct {
	Host struct {
		NetworkBackend string `json:"networkBackend"`
		CgroupVersion  string `json:"cgroupVersion"`
		CgroupManager  string `json:"cgroupManager"`
		Security       struct {
			Rootless bool `json:"rootless"`
		} `json:"security"`
		OCIRuntime struct {
			Name string `json:"name"`
		} `json:"ociRuntime"`
	} `json:"host"`
	Store struct {
		GraphRoot string `json:"graphRoot"`
		RunRoot   string `json:"runRoot"`
	} `json:"store"`
	Version struct {
		Version string `json:"Version"`
	} `json:"version"`
}

// ParseInfo decodes a /libpod/info answer. A missing network backend is
// an error: the seal cannot be decided.
func ParseInfo(r io.Reader) (Info, error) {
	var w wireInfo
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&w); err != nil {
		return Info{}, fmt.Errorf("decoding podman info: %w", err)
	}
	if w.Host.NetworkBackend == "" {
		return Info{}, errors.New("podman info names no network backend")
	}
	return Info{
		Version: w.Version.Version, NetworkBackend: w.Host.NetworkBackend, Rootless: w.Host.Security.Rootless,
		CgroupVersion: w.Host.CgroupVersion, CgroupManager: w.Host.CgroupManager,
		OCIRuntime: w.Host.OCIRuntime.Name, GraphRoot: w.Store.GraphRoot, RunRoot: w.Store.RunRoot,
	}, nil
}

// InfoFrom reads Info from the Podman API at host (unix:///path only).
func InfoFrom(host string) func(context.Context) (Info, error) {
	return func(ctx context.Context) (Info, error) {
		var i Info
		err := libpodGet(ctx, host, "/info", func(r io.Reader) (err error) {
			i, err = ParseInfo(r)
			return err
		})
		if err != nil {
			return Info{}, fmt.Errorf("reading podman info: %w", err)
		}
		return i, nil
	}
}

// RuntimeFrom reads the OCI runtime Podman recorded for a container (its
// libpod inspect's OCIRuntime) from the Podman API at host.
func RuntimeFrom(host string) func(context.Context, string) (string, error) {
	return func(ctx context.Context, id string) (string, error) {
		var w struct{ OCIRuntime string }
		err := libpodGet(ctx, host, "/containers/"+url.PathEscape(id)+"/json", func(r io.Reader) error {
			return json.NewDecoder(io.LimitReader(r, 4<<20)).Decode(&w)
		})
		if err == nil && w.OCIRuntime == "" {
			err = errors.New("podman names no OCI runtime")
		}
		if err != nil {
			return "", fmt.Errorf("reading the runtime of container %s: %w", id, err)
		}
		return w.OCIRuntime, nil
	}
}

// libpodGet GETs path of Podman's own API (v4) at host, a unix socket,
// and hands an OK answer's body to read.
func libpodGet(ctx context.Context, host, path string, read func(io.Reader) error) error {
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return fmt.Errorf("only a unix socket is supported, not %s", host)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://podman/v4.0.0/libpod"+path, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errors.New(res.Status)
	}
	return read(res.Body)
}
