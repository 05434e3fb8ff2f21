package settlement

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/money"
)

// allocInto gives exactly money.AllocateMinor's parts, and its errors.
func TestAllocIntoMatchesAllocateMinor(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, allocSmall+3).Draw(rt, "n")
		hi := rapid.SampledFrom([]int64{3, 1000, 1 << 40, math.MaxInt64 / 70, math.MaxInt64}).Draw(rt, "hi")
		w := make([]int64, n)
		for i := range w {
			w[i] = rapid.Int64Range(0, hi).Draw(rt, "w")
		}
		if n > 0 && rapid.IntRange(0, 20).Draw(rt, "neg") == 0 {
			w[rapid.IntRange(0, n-1).Draw(rt, "at")] = -1
		}
		total := rapid.Int64Range(-5, rapid.SampledFrom([]int64{10, 1 << 20, math.MaxInt64}).Draw(rt, "tmax")).Draw(rt, "total")
		want, wantErr := money.AllocateMinor(total, w)
		got := make([]int64, n)
		err := allocInto(got, total, w)
		if wantErr != nil {
			require.EqualError(rt, err, wantErr.Error())
			return
		}
		require.NoError(rt, err)
		require.Equal(rt, want, got)
	})
}
