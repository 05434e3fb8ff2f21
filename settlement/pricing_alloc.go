package settlement

import (
	"fmt"

	"github.com/rewardkit/rewardkit/money"
)

// fundingSplitBuf is the size of the buffer fillOrder keeps on its stack
// for fundingSplit (fund keeps one of 8): an offer with more funders than
// the buffer holds gets a slice of its own.
const fundingSplitBuf = 16

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
	if err := money.AllocateMinorInto(split, part, weights); err != nil {
		panic(fmt.Sprintf("settlement: funding split: %v", err))
	}
	return split
}
