package scan

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// benchData is n bytes of seeded random data: raw, or base64 text lines.
func benchData(n int, text bool) string {
	rng := rand.New(rand.NewPCG(7, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if !text {
		return string(b)
	}
	s := base64.StdEncoding.EncodeToString(b)[:n]
	out := make([]byte, 0, n+n/76)
	for i := 0; i < len(s); i += 76 {
		out = append(out, s[i:min(i+76, len(s))]...)
		out = append(out, '\n')
	}
	return string(out)
}

// benchSize is the data each BenchmarkDetect case scans.
const benchSize = 1 << 20

// BenchmarkDetect measures the detector on 1 MiB, chunked as Scan does,
// at the decode depths the gate uses for text and for binary blobs.
func BenchmarkDetect(b *testing.B) {
	rules, err := DefaultRules()
	if err != nil {
		b.Fatal(err)
	}
	for _, text := range []bool{true, false} {
		for _, depth := range []int{0, 1, 3} {
			name := map[bool]string{true: "text", false: "binary"}[text] + "/decode" + strconv.Itoa(depth)
			b.Run(name, func(b *testing.B) {
				data := benchData(benchSize, text)
				d := detect.NewDetector(rules.cfg)
				d.IgnoreGitleaksAllow = true
				d.MaxDecodeDepth = depth
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					for _, c := range chunks(data, 1) {
						d.DetectContext(context.Background(), detect.Fragment{Raw: c.raw, FilePath: "f", StartLine: c.line})
					}
				}
			})
		}
	}
}
