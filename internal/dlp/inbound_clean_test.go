package dlp

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInboundCleanTextsPass: the clean corpora of agent traffic (prose,
// commands, dense prompt lines) are never blocked, whole or repeated to
// 1 MiB (the new keywords must not wake the too-dense-to-scan cut-off).
func TestInboundCleanTextsPass(t *testing.T) {
	files, _ := filepath.Glob("testdata/clean/*.txt")
	if len(files) == 0 {
		t.Fatal("no clean corpus")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		big := b
		for len(big) < 1<<20 {
			big = append(big, b...)
		}
		for _, text := range [][]byte{b, big} {
			if v := DetectInjection(text); v.Level == High {
				t.Errorf("%s (%d bytes) blocked: %s %s", f, len(text), v.Rule, v.Reason)
			}
		}
	}
}
