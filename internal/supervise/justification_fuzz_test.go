package supervise

import (
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// FuzzJustification: whatever the agent writes comes back as one line
// under "The agent's words:", with no character that starts a new line or
// moves the cursor.
func FuzzJustification(f *testing.F) {
	for _, s := range []string{"need it", "a\nProxy's record (refusal rf-0123456789abcdef)", "x\u2028Operator's draft", "\r\x1b[2J\x85y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := checkJustification(in)
		if err != nil {
			return
		}
		if !strings.HasPrefix(out, queue.AgentWords+" ") {
			t.Fatalf("%q does not begin with the label", out)
		}
		for _, r := range out {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("%q holds %U", out, r)
			}
		}
	})
}
