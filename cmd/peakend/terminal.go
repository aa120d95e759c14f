package main

import (
	"flag"
	"io"
	"os"

	"github.com/peakend/peakend/partitioner"
)

// terminal returns w if it is a terminal (a character device: never a file
// or a pipe), else nil: for progress lines, which only a person watching
// should get.
func terminal(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return w
}

// checkPartitionFlags checks replay's --partitions and --partitioner.
func checkPartitionFlags(fs *flags, partitions int, name string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["partitions"] && partitions < 1 {
		return usagef("--partitions must be at least 1, got %d", partitions)
	}
	if set["partitioner"] && !set["partitions"] {
		return usagef("--partitioner needs --partitions N")
	}
	if _, err := partitioner.ByName(name); err != nil {
		return usagef("--partitioner: unknown partitioner %q (murmur2 or crc32)", name)
	}
	return nil
}
