package main

import (
	"context"
	"os"
)

// Example runs the program; its output is deterministic.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// == earn
	// o-1  mia  120.50 USD -> 120 POINTS  rules base                   lifetime 120   tier member
	// o-2  mia  399.99 USD -> 449 POINTS  rules base,app-launch        lifetime 569   tier silver (up from member)
	// o-2  redelivered: the first result again, nothing earned
	// o-3  leo   80.00 USD -> 130 POINTS  rules base,app-launch        lifetime 130   tier member
	// o-4  mia 1000.00 USD -> 1000 POINTS rules base                   lifetime 1569  tier gold (up from silver)
	// o-5  mia   50.00 USD -> 100 POINTS  rules base,gold-x2           lifetime 1669  tier gold
	// == redeem
	// r-1  mia ten-off-for-400  -400 POINTS, coupon ten-off ACTIVATED
	// r-2  mia lounge           -300 POINTS, fulfilled by the host
	// r-3  leo ten-off-for-400  refused: not enough points
	// r-4  leo lounge           refused: not open to the member's tier
	// == 60 days later: leo earns again; 91 days after the start, the first lots lapse
	// o-6  leo   20.00 USD -> 20 POINTS   rules base                   lifetime 150   tier member
	// expiry sweep: 2 account(s)
	// == members
	// mia gold   points 0     lifetime 1669  registered 2025-09-01 last active 2025-09-01
	// leo member points 20    lifetime 150   registered 2025-09-01 last active 2025-10-31
	// == history of mia
	// 2025-09-01 transfer    120  balance 120
	// 2025-09-01 transfer    449  balance 569
	// 2025-09-01 transfer   1000  balance 1569
	// 2025-09-01 transfer    100  balance 1669
	// 2025-09-01 transfer   -400  balance 1269
	// 2025-09-01 transfer   -300  balance 969
	// 2025-12-01 expiry     -969  balance 0
	// 2025-09-01 tier member -> silver (accrual o-2)
	// 2025-09-01 tier silver -> gold (accrual o-4)
}
