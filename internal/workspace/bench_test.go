package workspace

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchTree is n files of size bytes in 20 folders.
func benchTree(b *testing.B, n, size int) string {
	b.Helper()
	dir := b.TempDir()
	data := []byte(strings.Repeat("x", size))
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%05d.go", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkListPack: listing and packing 2,000 files of 8 KiB (16 MiB),
// what start --cwd does on the host before the engine unpacks it.
func BenchmarkListPack(b *testing.B) {
	dir := benchTree(b, 2000, 8<<10)
	b.SetBytes(2000 * 8 << 10)
	for b.Loop() {
		tree, err := List(dir, ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Pack(io.Discard, tree, PackOptions{Prefix: "workspace"}); err != nil {
			b.Fatal(err)
		}
	}
}
