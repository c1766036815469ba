// Package imagebuild builds Docker images through the Engine API, tagged by
// a hash of their inputs, so an image is rebuilt only when its Dockerfile,
// context files, base image or build arguments change.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Engine is the part of the Docker client a build uses.
type Engine interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageBuild(ctx context.Context, context io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
}

// Label names put on every image this package builds.
const (
	LabelInputHash = "bot-bottle.input-hash"
	LabelImage     = "bot-bottle.image"
)

// File is one file of a build context besides the Dockerfile: either Data,
// or the host file at Path (read when hashing and again when sending).
type File struct {
	Data []byte
	Path string
	Mode fs.FileMode
}

// Spec is one image to build.
type Spec struct {
	// Repo is the image name without tag, e.g. "bot-bottle/sidecar". The
	// tag is the input hash.
	Repo string
	// Dockerfile is the Dockerfile's text.
	Dockerfile []byte
	// Files are the rest of the context, by slash-separated name.
	Files map[string]File
	// Base is the image passed as build argument BASE. It must exist
	// locally: builds never pull.
	Base string
	// Args are further build arguments.
	Args map[string]string
	// AllowNetwork lets RUN steps reach the network (the npm-based agent
	// images need it). Off, steps run with network mode "none".
	AllowNetwork bool
}

// Result says which image a Spec resolved to.
type Result struct {
	// Ref is Repo:hash.
	Ref string
	// Built is true when this call built it, false when it was cached.
	Built bool
}

// ErrBaseMissing is returned when Spec.Base is not in the engine.
var ErrBaseMissing = errors.New("base image missing")

// Ensure returns the image for s, building it when no image carries its
// input hash. Build output goes to progress (nil: discarded).
func Ensure(ctx context.Context, eng Engine, s Spec, progress io.Writer) (Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	baseID := ""
	if s.Base != "" {
		base, err := eng.ImageInspect(ctx, s.Base)
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				return Result{}, fmt.Errorf("building %s: %w: %s (seed it with scripts/seed-base-image.sh)", s.Repo, ErrBaseMissing, s.Base)
			}
			return Result{}, fmt.Errorf("building %s: inspecting base image %s: %w", s.Repo, s.Base, err)
		}
		baseID = base.ID
	}
	hash, err := InputHash(s, baseID)
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", s.Repo, err)
	}
	ref := s.Repo + ":" + hash
	if _, err := eng.ImageInspect(ctx, ref); err == nil {
		return Result{Ref: ref}, nil
	} else if !cerrdefs.IsNotFound(err) {
		return Result{}, fmt.Errorf("building %s: inspecting %s: %w", s.Repo, ref, err)
	}

	fmt.Fprintf(progress, "building image %s\n", ref)
	start := time.Now()
	tarball, err := contextTar(s)
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", s.Repo, err)
	}
	args := map[string]*string{}
	for k, v := range s.Args {
		args[k] = &v
	}
	if s.Base != "" {
		args["BASE"] = &s.Base
	}
	network := "none"
	if s.AllowNetwork {
		network = ""
	}
	resp, err := eng.ImageBuild(ctx, bytes.NewReader(tarball), client.ImageBuildOptions{
		Tags:        []string{ref},
		Dockerfile:  "Dockerfile",
		BuildArgs:   args,
		Remove:      true,
		ForceRemove: true,
		NetworkMode: network,
		Version:     build.BuilderV1,
		Labels:      map[string]string{LabelInputHash: hash, LabelImage: s.Repo},
	})
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := streamProgress(resp.Body, progress); err != nil {
		return Result{}, fmt.Errorf("building %s: %w", ref, err)
	}
	// A build can end without an error message yet without the tag (a
	// cancelled context): trust only the engine's image list.
	if _, err := eng.ImageInspect(ctx, ref); err != nil {
		return Result{}, fmt.Errorf("building %s: image missing after build: %w", ref, err)
	}
	fmt.Fprintf(progress, "built image %s in %s\n", ref, time.Since(start).Round(100*time.Millisecond))
	return Result{Ref: ref, Built: true}, nil
}

// InputHash is the tag Ensure gives s when its base image has id baseID: a
// hash over every input of the build.
func InputHash(s Spec, baseID string) (string, error) {
	h := sha256.New()
	field := func(name string, v []byte) {
		fmt.Fprintf(h, "%s %d\n", name, len(v))
		h.Write(v)
	}
	field("v", []byte("bot-bottle imagebuild 1"))
	field("dockerfile", s.Dockerfile)
	field("base", []byte(s.Base))
	field("base-id", []byte(baseID))
	if s.AllowNetwork {
		field("network", []byte("allow"))
	}
	for _, k := range sortedKeys(s.Args) {
		field("arg", []byte(k+"="+s.Args[k]))
	}
	for _, name := range sortedKeys(s.Files) {
		data, err := s.Files[name].read()
		if err != nil {
			return "", fmt.Errorf("reading context file %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		field("file", []byte(fmt.Sprintf("%s %o %x", name, s.Files[name].mode(), sum)))
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

func (f File) read() ([]byte, error) {
	if f.Path != "" {
		return os.ReadFile(f.Path)
	}
	return f.Data, nil
}

func (f File) mode() fs.FileMode {
	if f.Mode == 0 {
		return 0o644
	}
	return f.Mode.Perm()
}

// contextTar packs the Dockerfile and files into a build context. Times and
// owners are fixed so the same inputs give the same bytes.
func contextTar(s Spec) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode fs.FileMode, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: int64(mode), Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add("Dockerfile", 0o644, s.Dockerfile); err != nil {
		return nil, fmt.Errorf("packing context: %w", err)
	}
	for _, name := range sortedKeys(s.Files) {
		if name == "Dockerfile" || strings.HasPrefix(name, "/") || slices.Contains(strings.Split(name, "/"), "..") {
			return nil, fmt.Errorf("packing context: bad file name %q", name)
		}
		data, err := s.Files[name].read()
		if err != nil {
			return nil, fmt.Errorf("packing context: reading %s: %w", name, err)
		}
		if err := add(name, s.Files[name].mode(), data); err != nil {
			return nil, fmt.Errorf("packing context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("packing context: %w", err)
	}
	return buf.Bytes(), nil
}

// message is one line of the engine's build output (a JSON stream).
type message struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// streamProgress copies build output to w and returns the build's error.
func streamProgress(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading build output: %w", err)
		}
		switch {
		case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
			return errors.New(strings.TrimSpace(m.ErrorDetail.Message))
		case m.Error != "":
			return errors.New(strings.TrimSpace(m.Error))
		case m.Stream != "":
			io.WriteString(w, m.Stream)
		case m.Status != "":
			fmt.Fprintln(w, m.Status)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxContext bounds a build context read from a directory.
const maxContext = 256 << 20

// DirFiles lists the regular files under dir as build context files (by
// slash-separated relative name), skipping .git. Links and special files
// are refused: a context must not reach outside its directory.
func DirFiles(dir string) (map[string]File, error) {
	files := map[string]File{}
	var total int64
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		total += info.Size()
		if total > maxContext {
			return fmt.Errorf("build context %s is larger than %d MiB", dir, maxContext>>20)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = File{Path: path, Mode: info.Mode().Perm()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading build context: %w", err)
	}
	return files, nil
}
