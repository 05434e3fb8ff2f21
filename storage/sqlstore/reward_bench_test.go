package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// BenchmarkRewardLeaderboard reads the top 100 of 100,000 participants on
// PostgreSQL, through the rank index.
func BenchmarkRewardLeaderboard(b *testing.B) {
	ctx := context.Background()
	pg := backends[1]
	s := pg.open(b, pg.place(b), sqlstore.Options{})
	_, err := s.DB().ExecContext(ctx, "INSERT INTO "+s.TablePrefix()+"reward_progress (tenant, campaign, period, participant, value, reached_at)"+
		" SELECT 'tenant-a', 'rank', 'all', 'p' || lpad(i::text, 6, '0'), (i::bigint * 7919) % 1000, timestamptz '2025-08-01' + ((i::bigint * 104729) % 86400) * interval '1 second'"+
		" FROM generate_series(1, 100000) AS i")
	require.NoError(b, err)
	_, err = s.DB().ExecContext(ctx, "ANALYZE "+s.TablePrefix()+"reward_progress")
	require.NoError(b, err)
	rs := s.Rewards()
	b.Run("top100", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			top, err := rs.Leaderboard(ctx, tenantA, "rank", "all", 100)
			if err != nil || len(top) != 100 {
				b.Fatal(err, len(top))
			}
		}
	})
	b.Run("rank", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := rs.Rank(ctx, tenantA, reward.ProgressKey{Campaign: "rank", Period: "all", Participant: "p050000"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
