package settlement

import (
	"fmt"
	"math/bits"

	"github.com/rewardkit/rewardkit/money"
)

// allocSmall is the most weights allocInto splits itself; beyond it,
// money.AllocateMinor does.
const allocSmall = 64

// allocInto splits total minor units in proportion to weights by largest
// remainder into dst (len(dst) == len(weights)), exactly as
// money.AllocateMinor does (the same parts, ties to the lower index), but
// without allocating: pricing splits a discount over the lines and each
// part among its funders many times per call. Inputs AllocateMinor would
// reject, a negative total and more than allocSmall weights go to
// AllocateMinor itself, so the errors are its own.
func allocInto(dst []int64, total int64, weights []int64) error {
	n := len(weights)
	var sum uint64
	ok := n > 0 && n <= allocSmall && total >= 0
	for _, w := range weights {
		var carry uint64
		sum, carry = bits.Add64(sum, uint64(w), 0)
		ok = ok && w >= 0 && carry == 0
	}
	if !ok || sum == 0 {
		got, err := money.AllocateMinor(total, weights)
		copy(dst, got)
		return err
	}
	var remBuf [allocSmall]uint64
	var idxBuf [allocSmall]uint8
	rem := remBuf[:n]
	mag := uint64(total)
	var given uint64
	for i, w := range weights {
		// mag*w < 2^64*sum: the high word is below sum, so Div64 cannot
		// overflow.
		hi, lo := bits.Mul64(mag, uint64(w))
		q, r := bits.Div64(hi, lo, sum)
		dst[i] = int64(q)
		rem[i] = r
		given += q
	}
	left := mag - given
	if left == 0 {
		return nil
	}
	// The units left over go one each to the largest remainders, ties to
	// the lower index: order the parts so (insertion sort, stable, as n is
	// small) and give one to each of the first left. Fewer units are left
	// than there are nonzero remainders, so a zero weight never gets one.
	idx := idxBuf[:0]
	for i := range n {
		if rem[i] == 0 {
			continue
		}
		idx = append(idx, uint8(i))
		y := len(idx) - 1
		for ; y > 0 && rem[idx[y-1]] < rem[i]; y-- {
			idx[y] = idx[y-1]
		}
		idx[y] = uint8(i)
	}
	for _, i := range idx[:left] {
		dst[i]++
	}
	return nil
}

// fundingSplit splits part among an offer's funders in proportion to
// their weights, into buf when it is long enough. It cannot fail: the
// weights are the funders' ratios, which sum to 1.
func fundingSplit(buf []int64, part int64, weights []int64) []int64 {
	var split []int64
	if k := len(weights); k <= len(buf) {
		split = buf[:k]
	} else {
		split = make([]int64, k)
	}
	if err := allocInto(split, part, weights); err != nil {
		panic(fmt.Sprintf("settlement: funding split: %v", err))
	}
	return split
}
