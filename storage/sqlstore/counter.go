package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/rewardkit/rewardkit/storage"
)

type counterQueries struct {
	table               string
	upsert, update, get string
}

// buildCounterQueries builds the counter statements. Both write
// statements end in RETURNING value, which PostgreSQL and SQLite (3.35 and
// later) share: a row comes back exactly when the delta was applied, with
// the new value, so an applied change costs one round trip and no
// read-back while the (possibly hot) row is locked. MySQL has no
// RETURNING: a MySQL dialect would run the statement without it, judge it
// by rows affected (with clientFoundRows=true) and read the value back
// with get, or use ON DUPLICATE KEY UPDATE value = LAST_INSERT_ID(...).
func buildCounterQueries(d Dialect, table string) counterQueries {
	return counterQueries{
		table: table,
		// Used when a counter that was never written (zero) may take the
		// delta: insert it, or add to the stored value if that stays in
		// bounds. The bounds arrive as a range for the stored value
		// (see counterRange), so the sum never overflows.
		upsert: d.rebind(d.upsert(table,
			[]string{"tenant", "name", "value"},
			[]string{"tenant", "name"},
			"value = "+table+".value + excluded.value",
			table+".value BETWEEN ? AND ?") + " RETURNING value"),
		// Used when zero may not take the delta: only a stored value can.
		update: d.rebind("UPDATE " + table + " SET value = value + ? WHERE tenant = ? AND name = ? AND value BETWEEN ? AND ? RETURNING value"),
		get:    d.rebind("SELECT value FROM " + table + " WHERE tenant = ? AND name = ?"),
	}
}

// MaxCounterKeyLen is the longest counter key accepted.
const MaxCounterKeyLen = 200

func validCounter(tenant storage.TenantID, key string) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if key == "" || len(key) > MaxCounterKeyLen {
		return fmt.Errorf("%w: counter key must have 1 to %d bytes", storage.ErrInvalidArgument, MaxCounterKeyLen)
	}
	return nil
}

// counterRange turns "value+delta within bounds" into "value within
// [lo, hi]", saturating instead of overflowing. ok is false when no value
// can take the delta.
func counterRange(delta int64, b storage.Bounds) (lo, hi int64, ok bool) {
	lo, hi = math.MinInt64, math.MaxInt64
	// value + delta must not overflow either.
	if delta > 0 {
		hi = math.MaxInt64 - delta
	} else if delta < 0 {
		lo = math.MinInt64 - delta
	}
	if b.Max != nil {
		// value <= max - delta
		if delta < 0 && *b.Max > math.MaxInt64+delta {
			// max - delta exceeds MaxInt64: no tighter than the overflow bound
		} else if delta > 0 && *b.Max < math.MinInt64+delta {
			return 0, 0, false
		} else {
			hi = min(hi, *b.Max-delta)
		}
	}
	if b.Min != nil {
		// value >= min - delta
		if delta > 0 && *b.Min < math.MinInt64+delta {
			// min - delta is below MinInt64: no tighter than the overflow bound
		} else if delta < 0 && *b.Min > math.MaxInt64+delta {
			return 0, 0, false
		} else {
			lo = max(lo, *b.Min-delta)
		}
	}
	return lo, hi, lo <= hi
}

// AddCounter adds delta to the counter key of tenant if the result stays
// within bounds and returns the value after the call and whether the delta
// was applied; a refused delta changes nothing. The change is one
// conditional statement (an upsert, or an UPDATE when zero itself may not
// take the delta) that returns the new value when it applied, so concurrent
// callers on many hosts never cross a bound or lose an update, and an
// applied change costs one round trip. Only a refused delta reads the
// value back. Errors: storage.ErrInvalidTenant, storage.ErrInvalidArgument
// (empty or long key, Min above Max), mapped database errors.
func (s *Store) AddCounter(ctx context.Context, tenant storage.TenantID, key string, delta int64, bounds storage.Bounds) (int64, bool, error) {
	if err := validCounter(tenant, key); err != nil {
		return 0, false, err
	}
	if bounds.Min != nil && bounds.Max != nil && *bounds.Min > *bounds.Max {
		return 0, false, fmt.Errorf("%w: counter bounds min %d above max %d", storage.ErrInvalidArgument, *bounds.Min, *bounds.Max)
	}
	lo, hi, possible := counterRange(delta, bounds)
	var (
		value   int64
		applied bool
	)
	err := s.write(ctx, "add counter", func(ctx context.Context, q querier) error {
		applied = false
		if possible {
			var row *sql.Row
			if lo <= 0 && 0 <= hi {
				row = q.QueryRowContext(ctx, s.q.counter.upsert, string(tenant), key, delta, lo, hi)
			} else {
				row = q.QueryRowContext(ctx, s.q.counter.update, delta, string(tenant), key, lo, hi)
			}
			switch err := row.Scan(&value); {
			case err == nil:
				applied = true
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return dbErr("add counter", err)
			}
		}
		// refused: report the value that refused it
		v, err := s.counter(ctx, q, tenant, key)
		value = v
		return err
	})
	if err != nil {
		return 0, false, err
	}
	return value, applied, nil
}

// Counter returns the value of the counter key of tenant, zero when it was
// never written. It reads in the transaction in ctx, or on the readers'
// pool. Errors: storage.ErrInvalidTenant, storage.ErrInvalidArgument,
// mapped database errors.
func (s *Store) Counter(ctx context.Context, tenant storage.TenantID, key string) (int64, error) {
	if err := validCounter(tenant, key); err != nil {
		return 0, err
	}
	v, err := s.counter(ctx, s.reader(ctx), tenant, key)
	return v, unwrapDB(err)
}

func (s *Store) counter(ctx context.Context, q querier, tenant storage.TenantID, key string) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, s.q.counter.get, string(tenant), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, dbErr("read counter", err)
	}
	return v, nil
}
