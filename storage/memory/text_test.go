package memory

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fillText appends strings of n bytes to a until its chunks hold at least
// total bytes, and returns where each went and what it was.
func fillText(a *textArena, n, total int) ([]textRef, []string) {
	var refs []textRef
	var strs []string
	for used := 0; used < total; used += n {
		s := fmt.Sprintf("%0*d", n, len(strs))
		r, b := a.alloc(n)
		_ = append(b, s...)
		refs, strs = append(refs, r), append(strs, s)
	}
	return refs, strs
}

func TestTextArenaMapsChunksPastTheHeap(t *testing.T) {
	var a textArena
	refs, strs := fillText(&a, 1000, mapAfter+2*mappedChunkSize+5000)
	check := func(n int) {
		t.Helper()
		for i := range n {
			require.Equal(t, strs[i], string(a.bytes(refs[i], 0, 1000)), "string %d", i)
		}
	}
	check(len(strs))
	assert.Equal(t, mapAfter, a.heapBytes, "the heap chunks stop at mapAfter")
	if runtime.GOOS != "linux" {
		assert.Empty(t, a.mapped.all, "no platform mapping: heap chunks only")
		return
	}
	require.Len(t, a.mapped.all, 3, "then chunks of mappedChunkSize bytes")

	// A truncate back into the heap chunks keeps the mapped ones, which
	// the arena fills again before it maps more.
	keep := mapAfter / 1000 / 2
	a.truncateTo(refs[keep])
	check(keep)
	assert.Len(t, a.mapped.spare, 3)
	refs, strs = refs[:keep], strs[:keep]
	more, moreStrs := fillText(&a, 1000, mapAfter+mappedChunkSize)
	refs, strs = append(refs, more...), append(strs, moreStrs...)
	check(len(strs))
	assert.Len(t, a.mapped.all, 3, "reused, not mapped anew")

	// A string larger than a chunk gets a mapped chunk of its own.
	big := strings.Repeat("b", mappedChunkSize+1)
	r, b := a.alloc(len(big))
	_ = append(b, big...)
	assert.Equal(t, big, string(a.bytes(r, 0, int32(len(big)))))
	check(len(strs))
}

// An arena's mapped chunks are unmapped once the arena is collected.
func TestTextArenaUnmapsWhenCollected(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("chunks are mapped on Linux only")
	}
	a := new(textArena)
	fillText(a, 4000, mapAfter+pageSize)
	m := a.mapped
	require.NotNil(t, m)
	require.Len(t, m.all, 1)
	a = nil
	require.Eventually(t, func() bool {
		runtime.GC()
		return m.freed.Load()
	}, 10*time.Second, 10*time.Millisecond)
}
