// Package scripts carries the scripts the bot-bottle binary runs itself,
// so that a go-installed bot-bottle, with no checkout, can seed its base
// images.
package scripts

import _ "embed"

// SeedBaseImage is seed-base-image.sh.
//
//go:embed seed-base-image.sh
var SeedBaseImage []byte
