//go:build unix

package state

import "syscall"

// allocChunk maps n bytes of anonymous memory outside the Go heap: the GC
// neither scans it nor counts it toward its heap goal.
func allocChunk(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

func freeChunk(b []byte) {
	if err := syscall.Munmap(b); err != nil {
		_ = err // memory from make (the fallback above): the GC takes it
	}
}
