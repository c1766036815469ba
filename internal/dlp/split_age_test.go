package dlp

import (
	"net/url"
	"testing"
	"time"
)

// TestHistoryForgetsOldPieces: halves sent further apart than HistoryAge
// are not joined (memory is bounded in time); within it they are.
func TestHistoryForgetsOldPieces(t *testing.T) {
	o := knownScanner(t, DetectorKnownSecrets)
	a, b := heldToken[:len(heldToken)/2], heldToken[len(heldToken)/2:]
	for _, tc := range []struct {
		gap  time.Duration
		want bool
	}{{time.Minute, true}, {HistoryAge + time.Second, false}} {
		now := time.Unix(1e9, 0)
		h := History{now: func() time.Time { return now }}
		first, second := post(""), post("")
		first.URL, _ = url.Parse("https://paste.example.com/a?part=" + a)
		second.URL, _ = url.Parse("https://paste.example.com/b?part=" + b)
		if _, err := o.ScanWith(&h, first); err != nil {
			t.Fatal(err)
		}
		now = now.Add(tc.gap)
		res, err := o.ScanWith(&h, second)
		if err != nil || hasRule(res.Findings, "GITHUB_TOKEN") != tc.want {
			t.Errorf("gap %v: found=%v, want %v (%v)", tc.gap, hasRule(res.Findings, "GITHUB_TOKEN"), tc.want, err)
		}
	}
}
