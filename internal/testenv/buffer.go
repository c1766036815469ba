package testenv

import (
	"bytes"
	"sync"
)

// LockedBuffer is an io.Writer a command's goroutine and the test share:
// a bytes.Buffer behind a mutex.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
