// Command gendoc writes docs/configuration.md from package config's sources
// (run by `go generate ./config`).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/peakend/peakend/config/internal/confdoc"
)

func main() {
	dir := flag.String("dir", ".", "directory of package config's sources")
	out := flag.String("o", "../docs/configuration.md", "file to write")
	flag.Parse()
	b, err := confdoc.Generate(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
