package gitgate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/gitgate/scan"
)

func TestListFindingsIsBounded(t *testing.T) {
	t.Parallel()
	var lines []string
	say := func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	listFindings(say, make([]scan.Finding, maxListed+5))
	if len(lines) != maxListed+1 || !strings.Contains(lines[maxListed], "and 5 more") {
		t.Errorf("listed %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestAllowTimeout(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{"": true, "1": true, "300": true, "0": false, "-5": false, "5s": false, " 5": false} {
		d, err := Hook{AllowTimeout: raw}.allowTimeout()
		if (err == nil) != ok {
			t.Errorf("allowTimeout(%q) = %v, %v", raw, d, err)
		}
	}
}
