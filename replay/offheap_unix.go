//go:build unix

package replay

import "syscall"

// allocOffHeap maps n bytes of anonymous memory outside the Go heap, which
// the GC neither scans nor counts toward its heap goal (or, should the
// mapping fail, allocates them on the heap).
func allocOffHeap(n int) []byte {
	if n == 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// freeOffHeap returns memory from allocOffHeap.
func freeOffHeap(b []byte) {
	if len(b) == 0 {
		return
	}
	if err := syscall.Munmap(b); err != nil {
		_ = err // memory from make (the fallback above): the GC takes it
	}
}
