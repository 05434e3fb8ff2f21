package money

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	"github.com/shopspring/decimal"
)

// Allocation uses the largest-remainder method. Each part first gets the floor of its
// exact share total*w/W in minor units; the few minor units left over go one each to
// the parts with the largest remainders, ties to the lower index. Hence:
//   - the parts sum exactly to the total;
//   - each part is within one minor unit of its exact share (floor or floor+1);
//   - a zero weight gets a zero part;
//   - the result depends only on the input (deterministic).
// A negative total is allocated by mirroring: the parts are the negated parts of
// its absolute value, so Allocate(-x, w)[i] == -Allocate(x, w)[i].

// smallN is the number of parts for which AllocateMinorInto needs no scratch memory.
const smallN = 32

// AllocateMinor splits total minor units in proportion to weights by largest remainder
// (see Allocate for the guarantees; a negative total is mirrored). It is the integer
// fast path for inner loops: one allocation (the result), exact for every int64 total
// and weight (products are taken in 128 bits).
//
// It returns an error wrapping ErrInvalidWeights if weights is empty, holds a negative
// weight or sums to zero, and ErrOverflow if the weights sum beyond 2^64-1.
func AllocateMinor(total int64, weights []int64) ([]int64, error) {
	out := make([]int64, len(weights))
	if err := AllocateMinorInto(out, total, weights); err != nil {
		return nil, err
	}
	return out, nil
}

// AllocateMinorInto is AllocateMinor writing the parts into dst, which must have one
// element per weight: for up to 32 weights it allocates nothing, for callers that
// split many amounts per call (a discount over lines, each line's part among funders).
//
// Its errors are AllocateMinor's, and ErrInvalidWeights when len(dst) != len(weights);
// on an error dst is left as it was.
func AllocateMinorInto(dst []int64, total int64, weights []int64) error {
	n := len(weights)
	if n == 0 {
		return fmt.Errorf("%w: no weights", ErrInvalidWeights)
	}
	if len(dst) != n {
		return fmt.Errorf("%w: %d parts for %d weights", ErrInvalidWeights, len(dst), n)
	}
	var sum, carry uint64
	for i, w := range weights {
		if w < 0 {
			return fmt.Errorf("%w: weight %d is negative (%d)", ErrInvalidWeights, i, w)
		}
		sum, carry = bits.Add64(sum, uint64(w), 0)
		if carry != 0 {
			return fmt.Errorf("%w: weights sum beyond 2^64-1", ErrOverflow)
		}
	}
	if sum == 0 {
		return fmt.Errorf("%w: weights sum to zero", ErrInvalidWeights)
	}
	neg := total < 0
	mag := uint64(total)
	if neg {
		mag = -mag // two's complement magnitude; right for math.MinInt64 too
	}

	var remBuf [smallN]uint64
	var rem []uint64
	if n <= smallN {
		rem = remBuf[:n]
	} else {
		rem = make([]uint64, n)
	}
	var given uint64
	for i, w := range weights {
		// mag*w < 2^64*sum, so the high word is below sum and Div64 cannot overflow.
		hi, lo := bits.Mul64(mag, uint64(w))
		q, r := bits.Div64(hi, lo, sum)
		dst[i] = int64(q) // q <= mag; the bit pattern is fixed up by the sign below
		rem[i] = r
		given += q
	}
	if left := mag - given; left > 0 {
		// left < number of nonzero remainders, so zero weights never receive a unit.
		if n <= smallN {
			for i := range n {
				if rem[i] == 0 {
					continue
				}
				rank := uint64(0)
				for j := range n {
					if rem[j] > rem[i] || rem[j] == rem[i] && j < i {
						rank++
					}
				}
				if rank < left {
					dst[i]++
				}
			}
		} else {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			slices.SortFunc(idx, func(a, b int) int {
				if c := cmp.Compare(rem[b], rem[a]); c != 0 {
					return c
				}
				return cmp.Compare(a, b)
			})
			for _, i := range idx[:left] {
				dst[i]++
			}
		}
	}
	if neg {
		for i := range dst {
			dst[i] = int64(-uint64(dst[i]))
		}
	}
	return nil
}

// Allocate splits total in proportion to weights by largest remainder: the parts sum
// exactly to total, each is within one minor unit of its exact share, a zero weight gets
// a zero part, and ties go to the lower index. A negative total is mirrored (parts are
// the negated parts of its absolute value). Every part is at the total's currency scale.
//
// It returns an error wrapping ErrPrecision if total has nonzero digits beyond its
// currency's scale, and ErrInvalidWeights if weights is empty, holds a negative weight,
// or sums to zero.
func Allocate(total Amount, weights []decimal.Decimal) ([]Amount, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("%w: no weights", ErrInvalidWeights)
	}
	minExp := int32(0)
	nonzero := false
	for i, w := range weights {
		switch w.Sign() {
		case -1:
			return nil, fmt.Errorf("%w: weight %d is negative (%s)", ErrInvalidWeights, i, w.StringFixed(-min(w.Exponent(), 0)))
		case 1:
			nonzero = true
			minExp = min(minExp, w.Exponent())
		}
	}
	if !nonzero {
		return nil, fmt.Errorf("%w: weights sum to zero", ErrInvalidWeights)
	}
	scale := total.cur.scale
	if parts, ok := allocateFast(total, weights, minExp); ok {
		out := make([]Amount, len(parts))
		for i, p := range parts {
			out[i] = Amount{minor: p, cur: total.cur}
		}
		return out, nil
	}
	units, err := total.minorBig()
	if err != nil {
		return nil, err
	}
	// Scale every weight to an integer at the common exponent minExp.
	ints := make([]*big.Int, len(weights))
	for i, w := range weights {
		if w.Sign() == 0 {
			ints[i] = new(big.Int)
			continue
		}
		v := w.Coefficient()
		if d := w.Exponent() - minExp; d > 0 {
			v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil))
		}
		ints[i] = v
	}
	parts := allocateBig(units, ints)
	out := make([]Amount, len(parts))
	for i, p := range parts {
		out[i] = fromDecimal(decimal.NewFromBigInt(p, -scale), total.cur)
	}
	return out, nil
}

// allocateFast runs AllocateMinor when the total's minor units and every weight
// scaled to exponent minExp fit an int64; ok is false when they do not (or the total is
// inexact: the big path then reports ErrPrecision).
func allocateFast(total Amount, weights []decimal.Decimal, minExp int32) (parts []int64, ok bool) {
	if total.value != nil {
		return nil, false
	}
	var buf [smallN]int64
	var ws []int64
	if len(weights) <= smallN {
		ws = buf[:len(weights)]
	} else {
		ws = make([]int64, len(weights))
	}
	for i, w := range weights {
		if w.Sign() == 0 {
			ws[i] = 0
			continue
		}
		d := w.Exponent() - minExp
		if w.NumDigits() > 18 || d > 18 {
			return nil, false
		}
		hi, lo := bits.Mul64(uint64(w.CoefficientInt64()), pow10u64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return nil, false
		}
		ws[i] = int64(lo)
	}
	parts, err := AllocateMinor(total.minor, ws)
	return parts, err == nil
}

// pow10u64 returns 10^d for 0 <= d <= 19.
func pow10u64(d int32) uint64 {
	p := uint64(1)
	for ; d > 0; d-- {
		p *= 10
	}
	return p
}

// allocateBig is the largest-remainder method on big integers; weights are
// non-negative and not all zero.
func allocateBig(total *big.Int, weights []*big.Int) []*big.Int {
	n := len(weights)
	neg := total.Sign() < 0
	mag := new(big.Int).Abs(total)
	sum := new(big.Int)
	for _, w := range weights {
		sum.Add(sum, w)
	}
	parts := make([]*big.Int, n)
	rems := make([]*big.Int, n)
	given := new(big.Int)
	for i, w := range weights {
		q, r := new(big.Int), new(big.Int)
		q.QuoRem(new(big.Int).Mul(mag, w), sum, r)
		parts[i], rems[i] = q, r
		given.Add(given, q)
	}
	left := new(big.Int).Sub(mag, given).Int64() // < n
	if left > 0 {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			if c := rems[b].Cmp(rems[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		one := big.NewInt(1)
		for _, i := range idx[:left] {
			parts[i].Add(parts[i], one)
		}
	}
	if neg {
		for _, p := range parts {
			p.Neg(p)
		}
	}
	return parts
}

// Split divides total by ratios that are each at least 0 and sum to exactly 1, such as
// 0.10/0.85/0.05 for a platform/merchant/agent split. It is Allocate with the ratios as
// weights, with the same guarantees.
//
// It returns an error wrapping ErrInvalidRatios if ratios is empty, holds a negative
// ratio or does not sum to exactly 1, and ErrPrecision if total is not exact at its
// currency's scale.
func Split(total Amount, ratios []decimal.Decimal) ([]Amount, error) {
	sum := decimal.Zero
	for i, r := range ratios {
		if r.Sign() < 0 {
			return nil, fmt.Errorf("%w: ratio %d is negative", ErrInvalidRatios, i)
		}
		sum = sum.Add(r)
	}
	if !sum.Equal(decimal.NewFromInt(1)) {
		return nil, fmt.Errorf("%w: ratios sum to %s, not 1", ErrInvalidRatios, sum.StringFixed(-min(sum.Exponent(), 0)))
	}
	return Allocate(total, ratios)
}
