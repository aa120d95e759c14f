//go:build !unix

package state

func allocChunk(n int) []byte { return make([]byte, n) }

func freeChunk([]byte) {}
