package memory

import "syscall"

// mapChunk maps n bytes of zeroed memory outside the Go heap, advised
// into transparent huge pages (2 MiB, where the kernel allows them: one
// page fault per 2 MiB instead of one per 4 KiB). It returns nil when
// the mapping fails: the arena then makes its chunk on the heap.
func mapChunk(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) // advice only: refused, the chunk has small pages
	return b
}

// unmapChunk gives a chunk mapChunk made back to the system.
func unmapChunk(b []byte) { _ = syscall.Munmap(b) }
