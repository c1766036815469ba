package logview

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkReadFormat: one Poll over a 10,000-line egress log and a
// 10,000-line dns log (merged by time), then Format of every line: what
// "bot-bottle logs SLUG" costs on a busy bottle.
func BenchmarkReadFormat(b *testing.B) {
	dir := b.TempDir()
	var eg, dn strings.Builder
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range 10000 {
		ts := t0.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		fmt.Fprintf(&eg, `{"time":%q,"level":"INFO","msg":"egress","daemon":"egress","decision":"allow","code":"allowed","reason":"route api.github.com allows GET /repos","method":"GET","scheme":"https","host":"api.github.com","port":443,"path":"/repos/o/r/pulls/%d","route":"api.github.com","status":200,"bytes":5120,"ms":41.5,"headers":{"Accept":["application/json"],"Authorization":["***"],"User-Agent":["curl/8"]}}`+"\n", ts, i)
		fmt.Fprintf(&dn, `{"time":%q,"name":"x%d.example.","type":"A","client":"172.18.0.3:40000","reason":"not a sidecar name"}`+"\n", ts, i)
	}
	os.WriteFile(filepath.Join(dir, "egress.jsonl"), []byte(eg.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "dns.jsonl"), []byte(dn.String()), 0o600)
	srcs := []Source{{Egress, filepath.Join(dir, "egress.jsonl")}, {DNS, filepath.Join(dir, "dns.jsonl")}}
	b.SetBytes(int64(eg.Len() + dn.Len()))
	b.ReportAllocs()
	for b.Loop() {
		lines, err := NewTail(srcs).Poll()
		if err != nil || len(lines) != 20000 {
			b.Fatalf("%d lines, %v", len(lines), err)
		}
		for _, l := range lines {
			_ = Format(l, time.UTC)
		}
	}
}
