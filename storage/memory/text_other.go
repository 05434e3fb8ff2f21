//go:build !linux

package memory

// mapChunk maps no memory outside the Go heap on this platform: every
// chunk of a textArena is made on the heap.
func mapChunk(int) []byte { return nil }

// unmapChunk is never called on this platform.
func unmapChunk([]byte) {}
