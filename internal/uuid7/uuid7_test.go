package uuid7

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSourceIncreases(t *testing.T) {
	var g Source
	prev := ""
	for range 5000 { // crosses many reads of the random bits
		u := uuid.UUID(g.Next())
		assert.Equal(t, uuid.Version(7), u.Version())
		assert.Equal(t, uuid.RFC4122, u.Variant())
		s := u.String()
		require.Greater(t, s, prev, "IDs of one Source increase")
		prev = s
	}
	u := uuid.MustParse(prev)
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	assert.WithinDuration(t, time.Now(), time.UnixMilli(ms), time.Minute, "the ID starts with the time")
}

func TestAppendTextIsCanonical(t *testing.T) {
	for range 100 {
		u := uuid.New()
		assert.Equal(t, u.String(), string(AppendText(nil, u)))
	}
	var g Source
	s := g.String()
	assert.Len(t, s, TextLen)
	_, err := uuid.Parse(s)
	require.NoError(t, err)
}

func TestSourceConcurrentUnique(t *testing.T) {
	var g Source
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				s := g.String()
				mu.Lock()
				assert.False(t, seen[s], "duplicate %s", s)
				seen[s] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Len(t, seen, 4000)
}

func ExampleSource() {
	var ids Source
	a, b := ids.String(), ids.String()
	fmt.Println(len(a), a < b)
	// Output: 36 true
}
