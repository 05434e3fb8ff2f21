package reward_test

import (
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

const tenant storage.TenantID = "shop"

var (
	t0  = time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	pts = money.MustCurrency("POINTS", 0)
)

func points(n int64) reward.Award {
	return reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(n, pts)}
}
