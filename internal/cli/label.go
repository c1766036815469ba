package cli

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/tui"
)

// maxLabel bounds --label: it is one line in list and the supervise UI.
const maxLabel = 80

// applyLabel checks --label and --color and puts them into the plan.
func applyLabel(p *plan.Bottle, o startOptions) error {
	if o.label != "" {
		if n := len([]rune(o.label)); n > maxLabel {
			return usageError(fmt.Errorf("--label: %d characters; use at most %d", n, maxLabel))
		}
		if strings.IndexFunc(o.label, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return usageError(fmt.Errorf("--label %q: use printable characters on one line", o.label))
		}
		p.Label = o.label
	}
	if o.color != "" {
		if !tui.ValidBottleColor(o.color) {
			return usageError(fmt.Errorf("--color %q: use one of %s", o.color, strings.Join(tui.BottleColors(), ", ")))
		}
		p.Color = o.color
	}
	return nil
}
