package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// change is one file a new commit adds or changes against one parent, as
// `git log --raw -m` lists it.
type change struct {
	commit string
	pass   int // one file against one parent
	status byte
	mode   string // the new mode
	blob   string // the new object id
	path   string
}

// gitlink is the mode of a submodule entry: its id names a commit that is
// not in the repository.
const gitlink = "160000"

// wholeBlob reports whether the added lines of c are the whole new object,
// so the blob itself is read instead of a diff: a new file, or a type change
// (the diff deletes the old entry and adds the new one).
func (c change) wholeBlob() bool { return c.status == 'A' || c.status == 'T' }

// listChanges lists every file each new commit adds or changes against each
// of its parents (one pass each), with the new blob ids.
func (s *scanner) listChanges(ctx context.Context) ([]change, error) {
	out, err := s.output(ctx, append([]string{"log", "-z", "--raw", "-m", "--full-history", "--no-renames",
		"--no-abbrev", "--diff-filter=AMTC", "--format=%x00%H"}, s.push.revs()...)...)
	if err != nil {
		return nil, fmt.Errorf("listing changed files: %w", err)
	}
	return s.parseChanges(out)
}

// parseChanges reads `git log -z --raw --format=%x00%H`: a commit block is
// an empty field, the commit id, then pairs of ":OLDMODE NEWMODE OLD NEW S"
// and the path. A merge has one block per parent.
func (s *scanner) parseChanges(out []byte) ([]change, error) {
	var changes []change
	commit := ""
	fields := strings.Split(string(out), "\x00")
	for i := 0; i < len(fields); i++ {
		f := strings.TrimPrefix(fields[i], "\n")
		switch {
		case f == "":
			continue
		case isHexID(f):
			commit = f
		case strings.HasPrefix(f, ":"):
			meta := strings.Fields(f[1:])
			if commit == "" || len(meta) != 5 || len(meta[4]) < 1 || i+1 >= len(fields) || !isHexID(meta[3]) {
				return nil, fmt.Errorf("unexpected git log --raw record %q", f)
			}
			i++
			changes = append(changes, change{
				commit: commit, pass: s.newPass(), status: meta[4][0],
				mode: meta[1], blob: meta[3], path: fields[i],
			})
		default:
			return nil, fmt.Errorf("unexpected git log --raw field %q", f)
		}
	}
	return changes, nil
}

// blobs reads objects from one `git cat-file --batch`, one at a time.
type blobs struct {
	in   io.WriteCloser
	out  *bufio.Reader
	wait func() error
}

func (s *scanner) openBlobs(ctx context.Context) (*blobs, error) {
	cmd := s.git(ctx, "cat-file", "--batch")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running git cat-file: %w", err)
	}
	return &blobs{in: in, out: bufio.NewReaderSize(out, 1<<20), wait: func() error {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("running git cat-file: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}}, nil
}

// read returns the content of blob id; anything else is an error.
func (b *blobs) read(id string) ([]byte, error) {
	if _, err := io.WriteString(b.in, id+"\n"); err != nil {
		return nil, fmt.Errorf("asking git cat-file for %s: %w", id, err)
	}
	header, err := b.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading %s from git cat-file: %w", id, err)
	}
	f := strings.Fields(header)
	if len(f) != 3 || f[0] != id {
		return nil, fmt.Errorf("reading %s: git cat-file said %q", id, strings.TrimSpace(header))
	}
	if f[1] != "blob" {
		return nil, fmt.Errorf("reading %s: a %s, not a blob", id, f[1])
	}
	n, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("reading %s: git cat-file said %q", id, strings.TrimSpace(header))
	}
	body := make([]byte, n+1) // and the newline after it
	if _, err := io.ReadFull(b.out, body); err != nil {
		return nil, fmt.Errorf("reading %s from git cat-file: %w", id, err)
	}
	if body[n] != '\n' {
		return nil, fmt.Errorf("reading %s from git cat-file: no newline after the content", id)
	}
	return body[:n], nil
}

// close ends git cat-file and reports how it ended.
func (b *blobs) close() error {
	return errors.Join(b.in.Close(), b.wait())
}
