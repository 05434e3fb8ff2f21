package memory

import (
	"runtime"
	"sync/atomic"
)

// textArena keeps strings back to back in large byte chunks: one
// allocation per chunk rather than one per string, and nothing for the
// garbage collector to scan. A string is read back as a copy, or read in
// place while the arena's owner is reachable (see settlementState.encoded).
//
// Its first chunks are made on the Go heap. Once an arena has grown past
// mapAfter, its further chunks are mapped outside the Go heap where the
// platform allows (see mapChunk): a store's text is most of what it keeps
// and is never freed, and on the Go heap every byte kept also grows the
// heap target (by GOGC percent), so that the garbage of every request
// lands on pages the process has never touched: a page fault per 4 KiB,
// which on a virtual machine costs more than the work that made the
// garbage. Text outside the heap is faulted in once (in 2 MiB pages where
// Linux's transparent huge pages allow), and the heap keeps only the
// records that point into it. The mapped chunks are unmapped when the
// arena is collected.
type textArena struct {
	chunks    [][]byte // the last one is being filled; earlier ones are full
	heapBytes int      // the capacity of the chunks made on the Go heap
	mapped    *mappedChunks
}

// textChunk is the size of one chunk of a textArena made on the Go heap.
const textChunk = 64 << 10

// An arena that holds mapAfter bytes in chunks made on the Go heap makes
// its further chunks of mappedChunkSize bytes outside it (a chunk for a
// larger string is as large as the string, in whole pages).
const (
	mapAfter        = 1 << 20
	mappedChunkSize = 4 << 20
	pageSize        = 4 << 10
)

// mappedChunks are the chunks an arena mapped outside the Go heap, every
// one of them: those in use and those a truncate left spare, which the
// arena fills again before it maps more.
type mappedChunks struct {
	all   [][]byte
	spare [][]byte
	freed atomic.Bool // set by unmap
}

// unmap gives every chunk back to the system: the arena's cleanup, run
// once the arena is unreachable, and so is every chunk.
func (m *mappedChunks) unmap() {
	for _, c := range m.all {
		unmapChunk(c)
	}
	m.all, m.spare = nil, nil
	m.freed.Store(true)
}

// textRef locates bytes in a textArena.
type textRef struct{ chunk, off int32 }

// textMark is a textArena's length, to truncate back to.
type textMark struct{ chunks, used int }

func (a *textArena) mark() textMark {
	if len(a.chunks) == 0 {
		return textMark{}
	}
	return textMark{len(a.chunks), len(a.chunks[len(a.chunks)-1])}
}

// truncate drops everything added after m. Mapped chunks it drops are
// kept for reuse.
func (a *textArena) truncate(m textMark) {
	if a.mapped != nil {
		for _, c := range a.chunks[m.chunks:] {
			if a.isMapped(c) {
				a.mapped.spare = append(a.mapped.spare, c[:0])
			}
		}
	}
	clear(a.chunks[m.chunks:])
	a.chunks = a.chunks[:m.chunks]
	if m.chunks > 0 {
		a.chunks[m.chunks-1] = a.chunks[m.chunks-1][:m.used]
	}
}

// isMapped reports whether c is one of the arena's mapped chunks.
func (a *textArena) isMapped(c []byte) bool {
	for _, m := range a.mapped.all {
		if cap(c) > 0 && cap(m) > 0 && &c[:1][0] == &m[:1][0] {
			return true
		}
	}
	return false
}

// alloc makes room for n bytes and returns where they start and an empty
// slice of capacity n to append them to.
func (a *textArena) alloc(n int) (textRef, []byte) {
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < n {
		a.chunks = append(a.chunks, a.newChunk(n))
		last++
	}
	c := a.chunks[last]
	off := len(c)
	a.chunks[last] = c[:off+n]
	return textRef{int32(last), int32(off)}, c[off : off : off+n]
}

// newChunk returns an empty chunk with room for n bytes at least: a spare
// or newly mapped one once the arena has grown past mapAfter, else (or
// when mapping fails) one made on the Go heap.
func (a *textArena) newChunk(n int) []byte {
	if a.heapBytes >= mapAfter {
		if c := a.mappedChunk(n); c != nil {
			return c
		}
	}
	c := make([]byte, 0, max(textChunk, n))
	a.heapBytes += cap(c)
	return c
}

// mappedChunk returns a spare mapped chunk with room for n bytes, or maps
// a new one; nil when the platform maps none.
func (a *textArena) mappedChunk(n int) []byte {
	m := a.mapped
	if m == nil {
		m = &mappedChunks{}
		a.mapped = m
		runtime.AddCleanup(a, (*mappedChunks).unmap, m)
	}
	for i, c := range m.spare {
		if cap(c) >= n {
			m.spare = append(m.spare[:i], m.spare[i+1:]...)
			return c
		}
	}
	c := mapChunk(max(mappedChunkSize, (n+pageSize-1)/pageSize*pageSize))
	if c == nil {
		return nil
	}
	m.all = append(m.all, c)
	return c[:0]
}

// trim shortens r, the last allocation made, to its first n bytes.
func (a *textArena) trim(r textRef, n int) { a.chunks[r.chunk] = a.chunks[r.chunk][:int(r.off)+n] }

// truncateTo drops r and everything added after it.
func (a *textArena) truncateTo(r textRef) { a.truncate(textMark{int(r.chunk) + 1, int(r.off)}) }

// bytes returns the n bytes at r+off, without copying.
func (a *textArena) bytes(r textRef, off, n int32) []byte {
	return a.chunks[r.chunk][r.off+off : r.off+off+n]
}
