//go:build !unix

package replay

func allocOffHeap(n int) []byte { return make([]byte, n) }

func freeOffHeap([]byte) {}
