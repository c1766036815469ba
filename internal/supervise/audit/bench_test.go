package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// chained writes a valid n-line log without fsyncs, to set benchmarks up.
func chained(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "b.jsonl")
	var buf bytes.Buffer
	prev := ""
	var last []byte
	for i := range n {
		e := entry(i)
		e.PrevHash = prev
		line, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
		prev, last = HashLine(line), line
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := writeCheckpoint(path, checkpoint{Lines: n, Hash: HashLine(last)}); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkAppend appends to a log that already holds 1000 lines: the cost
// of one decision (flock, read to the last line, one write, fsync, the
// checkpoint's temp file and rename).
func BenchmarkAppend(b *testing.B) {
	path := chained(b, 1000)
	b.ResetTimer()
	for i := range b.N {
		if err := Append(path, entry(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify checks a 10,000-line log.
func BenchmarkVerify(b *testing.B) {
	path := chained(b, 10000)
	b.ResetTimer()
	for range b.N {
		if r, err := Verify(path); err != nil || !r.OK {
			b.Fatal(r, err)
		}
	}
}
