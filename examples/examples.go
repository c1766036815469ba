// Package examples holds the starter manifests: the files in bottles/ and
// agents/ are what "bot-bottle init" writes into ~/.bot-bottle.
package examples

import "embed"

// FS holds bottles/*.md and agents/*.md.
//
//go:embed bottles/*.md agents/*.md
var FS embed.FS
