package ort

/*
#include <stddef.h>

// glibc's malloc_trim, declared weak so the package still links against a
// libc without it (musl), where releaseMemory does nothing.
extern int malloc_trim(size_t pad) __attribute__((weak));

extern int mallopt(int param, int value) __attribute__((weak));

// M_MMAP_THRESHOLD in glibc's malloc.h.
#define GLIBC_M_MMAP_THRESHOLD -3

static void mmapLargeAllocations(int bytes) {
	if (mallopt) {
		mallopt(GLIBC_M_MMAP_THRESHOLD, bytes);
	}
}

static void releaseMemory(void) {
	if (malloc_trim) {
		malloc_trim(0);
	}
}
*/
import "C"

// ReleaseMemory hands the heap memory ORT has freed back to the OS. With the
// CPU arena off, ORT's buffers go back to malloc when a run ends, but malloc
// keeps freed chunks below its mmap threshold (up to 32 MiB once it has
// adapted) for reuse; after a large job that is hundreds of MB of resident
// memory the runner no longer needs. It takes a few milliseconds: call it
// after large jobs, not after every run.
func ReleaseMemory() { C.releaseMemory() }

// mmapThreshold is the allocation size from which malloc maps memory of
// its own, given back to the OS on free. glibc's default starts at 128 KiB
// but rises with every large block freed, up to 32 MiB, so the tens-of-MB
// activations of a sliced run ended up in malloc's heaps and, fragmented,
// grew them run after run: 1024×1024 in 64 MB slices peaked at 3× the
// slice. A fixed threshold keeps a run's big buffers out of the heap, so
// resident memory follows the live working set.
const mmapThreshold = 1 << 20

// mmapLargeAllocations fixes malloc's mmap threshold for the process.
func mmapLargeAllocations() { C.mmapLargeAllocations(C.int(mmapThreshold)) }
