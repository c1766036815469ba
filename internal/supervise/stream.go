package supervise

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
)

// streamHeader carries the key of a request's streamWriter from the
// middleware to the tool handler. The middleware deletes any value a client
// sends.
const streamHeader = "X-Bot-Bottle-Supervise-Stream"

// streamWriter wraps the response writer of one POST so a waiting tool
// handler can write SSE comments on it between the SDK's events. The SDK
// writes each event in one Write call; the mutex makes each Write whole,
// so a comment always lands between two events.
type streamWriter struct {
	w   http.ResponseWriter
	ctx context.Context // the HTTP request's

	mu          sync.Mutex
	wroteHeader bool
	done        bool
}

func (s *streamWriter) Header() http.Header { return s.w.Header() }

func (s *streamWriter) WriteHeader(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wroteHeader {
		s.wroteHeader = true
		s.w.WriteHeader(code)
	}
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wroteHeader = true
	return s.w.Write(b)
}

// FlushError lets http.ResponseController flush through the wrapper.
func (s *streamWriter) FlushError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return http.NewResponseController(s.w).Flush()
}

func (s *streamWriter) Unwrap() http.ResponseWriter { return s.w }

// finish marks the response over: nothing more may be written.
func (s *streamWriter) finish() {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
}

// comment writes an SSE comment (": text"), which clients ignore, and
// flushes. The first one sends the response headers at once, so a client
// with a header timeout sees the call answered while it waits. It writes
// nothing unless the response is an SSE stream. The SDK has set the
// headers before it hands the request to the tool handler, which is what
// makes reading them here safe.
func (s *streamWriter) comment(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	if !s.wroteHeader {
		mt, _, _ := mime.ParseMediaType(s.w.Header().Get("Content-Type"))
		if mt != "text/event-stream" {
			return
		}
		s.wroteHeader = true
		s.w.WriteHeader(http.StatusOK)
	}
	text = strings.ReplaceAll(text, "\n", " ")
	if _, err := fmt.Fprintf(s.w, ": %s\n\n", text); err != nil {
		return
	}
	_ = http.NewResponseController(s.w).Flush()
}
