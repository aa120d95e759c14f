//go:build linux && cgo

package main

/*
#include <stdlib.h>
#include <malloc.h>

// Pebble allocates its block cache and memtables with C malloc. glibc gives
// every thread that mallocs its own arena (up to 8 per core), and blocks
// freed in one arena are not reused by another: measured on the replay
// benchmark, that fragmentation added ~60 MiB of RSS over what Pebble held.
// One arena is enough for Pebble's few large allocations. MALLOC_ARENA_MAX
// in the environment still wins. It runs as a constructor, at load time:
// the Go runtime's threads must not have made their arenas yet.
__attribute__((constructor)) static void peakend_malloc_arenas(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 1);
	}
#endif
}
*/
import "C"
