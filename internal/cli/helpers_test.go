package cli

import "github.com/bot-bottle/bot-bottle/internal/testenv"

// lockedBuffer is an io.Writer a command's goroutine and the test share.
type lockedBuffer = testenv.LockedBuffer
