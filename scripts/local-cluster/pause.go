// Command pause is the pod sandbox image's only binary: it holds the pod's
// namespaces open and exits on SIGTERM/SIGINT. Built static, so the image
// is one file and needs no registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
