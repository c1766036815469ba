package repotrust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
)

// FileName is the store's name under ~/.bot-bottle.
const FileName = "trusted-agents.json"

// maxStore bounds what is read: the file is small, and a huge one is not ours.
const maxStore = 8 << 20

// Store is the record of confirmed repository agents, by content hash:
// ~/.bot-bottle/trusted-agents.json, 0600, rewritten atomically.
type Store struct {
	path string
	now  func() time.Time
}

// NewStore is the store under home's ~/.bot-bottle. now may be nil.
func NewStore(home string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{path: filepath.Join(hoststate.New(home).Root(), FileName), now: now}
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// storeFile is the file's shape.
type storeFile struct {
	// Agents by the SHA-256 of the file's content.
	Agents map[string]Entry `json:"agents"`
}

// Entry is one confirmation. Only the hash decides; the rest is for a
// person reading the file.
type Entry struct {
	Agent     string    `json:"agent"`
	File      string    `json:"file"`
	Confirmed time.Time `json:"confirmed"`
}

// Trusted reports whether content with this hash was confirmed. A store
// that cannot be read, does not parse, or that others may write is an
// error: it fails closed rather than trusting or forgetting silently.
func (s *Store) Trusted(hash string) (bool, error) {
	f, err := s.read()
	if err != nil {
		return false, err
	}
	_, ok := f.Agents[hash]
	return ok, nil
}

// Trust records a confirmation of the content with this hash.
func (s *Store) Trust(hash string, a Agent) error {
	f, err := s.read()
	if err != nil {
		return err
	}
	if f.Agents == nil {
		f.Agents = map[string]Entry{}
	}
	f.Agents[hash] = Entry{Agent: a.Name, File: a.File, Confirmed: s.now().UTC()}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) read() (storeFile, error) {
	var f storeFile
	st, err := os.Lstat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading %s: %w", s.path, err)
	}
	if !st.Mode().IsRegular() {
		return f, fmt.Errorf("reading %s: not a regular file; remove it", s.path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return f, fmt.Errorf("reading %s: others may write it (mode %v), so its confirmations cannot be relied on; check it, then chmod 600 it", s.path, st.Mode().Perm())
	}
	if st.Size() > maxStore {
		return f, fmt.Errorf("reading %s: larger than %d bytes", s.path, maxStore)
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return f, fmt.Errorf("reading %s: %w", s.path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return storeFile{}, fmt.Errorf("reading %s: %w; fix or remove it (every repository agent then asks again)", s.path, err)
	}
	return f, nil
}
