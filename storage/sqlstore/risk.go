package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

var _ risk.Store = (*Store)(nil)

type riskQueries struct {
	hit, count, put, del, matchPrefix, pruneBuckets, pruneDeny string
}

func buildRiskQueries(d Dialect, prefix string) riskQueries {
	vel, deny := prefix+"risk_velocity", prefix+"risk_deny"
	return riskQueries{
		// One conditional upsert: a new bucket starts at one hit (limit is
		// at least one); a stored one counts another only below limit.
		hit: d.rebind(d.upsert(vel,
			[]string{"tenant", "bucket_key", "window_start", "window_end", "hits"},
			[]string{"tenant", "bucket_key", "window_start"},
			"hits = "+vel+".hits + 1",
			vel+".hits < ?")),
		count: d.rebind("SELECT hits FROM " + vel + " WHERE tenant = ? AND bucket_key = ? AND window_start = ?"),
		put: d.rebind(d.upsert(deny,
			[]string{"tenant", "list_name", "value", "reason", "created_at", "expires_at"},
			[]string{"tenant", "list_name", "value"},
			"reason = excluded.reason, created_at = excluded.created_at, expires_at = excluded.expires_at", "")),
		del: d.rebind("DELETE FROM " + deny + " WHERE tenant = ? AND list_name = ? AND value = ?"),
		// completed per call with one "(list_name = ? AND value = ?)" per key
		matchPrefix: "SELECT list_name, value, reason, created_at, expires_at FROM " + deny +
			" WHERE tenant = ? AND (expires_at IS NULL OR expires_at > ?) AND (",
		pruneBuckets: d.rebind("DELETE FROM " + vel + " WHERE window_end <= ?"),
		pruneDeny:    d.rebind("DELETE FROM " + deny + " WHERE expires_at IS NOT NULL AND expires_at <= ?"),
	}
}

// Risk returns the store as a risk.Store (what rules/risk.Config.Store
// takes). Its methods join the store's transactions.
func (s *Store) Risk() risk.Store { return s }

func validRiskBucket(tenant storage.TenantID, b risk.Bucket) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	return b.Validate()
}

// HitVelocity counts one hit in bucket b if fewer than limit are counted,
// as one conditional upsert judged by rows affected, and returns the count
// after the call and whether the hit was counted. Buckets are found by
// tenant, key and start (to the microsecond). Errors:
// storage.ErrInvalidTenant, risk.ErrInvalidBucket, mapped database errors.
func (s *Store) HitVelocity(ctx context.Context, tenant storage.TenantID, b risk.Bucket, limit int64) (int64, bool, error) {
	if err := validRiskBucket(tenant, b); err != nil {
		return 0, false, err
	}
	if err := risk.ValidateLimit(limit); err != nil {
		return 0, false, err
	}
	var (
		count   int64
		allowed bool
	)
	err := s.write(ctx, "hit velocity", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, s.q.risk.hit, string(tenant), b.Key,
			s.dialect.timeArg(b.Start), s.dialect.timeArg(b.End), int64(1), limit)
		if err != nil {
			return dbErr("hit velocity", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("hit velocity", err)
		}
		allowed = n == 1
		count, err = s.velocityCount(ctx, q, tenant, b)
		return err
	})
	if err != nil {
		return 0, false, err
	}
	return count, allowed, nil
}

// VelocityCount returns the hits counted in bucket b, zero when none.
// Errors: storage.ErrInvalidTenant, risk.ErrInvalidBucket, mapped database
// errors.
func (s *Store) VelocityCount(ctx context.Context, tenant storage.TenantID, b risk.Bucket) (int64, error) {
	if err := validRiskBucket(tenant, b); err != nil {
		return 0, err
	}
	n, err := s.velocityCount(ctx, s.reader(ctx), tenant, b)
	return n, unwrapDB(err)
}

func (s *Store) velocityCount(ctx context.Context, q querier, tenant storage.TenantID, b risk.Bucket) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, s.q.risk.count, string(tenant), b.Key, s.dialect.timeArg(b.Start)).Scan(&n)
	if isNoRows(err) {
		return 0, nil
	}
	return n, dbErr("read velocity", err)
}

// PutDenyEntry adds e to the tenant's deny list or replaces the entry with
// the same list and value. Errors: storage.ErrInvalidTenant,
// risk.ErrInvalidEntry, mapped database errors.
func (s *Store) PutDenyEntry(ctx context.Context, tenant storage.TenantID, e risk.Entry) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return s.write(ctx, "put deny entry", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, s.q.risk.put, string(tenant), string(e.List), e.Value, e.Reason,
			s.dialect.timeArg(e.CreatedAt), s.dialect.nullTime(e.ExpiresAt))
		return dbErr("put deny entry", err)
	})
}

// DeleteDenyEntry removes the entry and reports whether there was one.
// Errors: storage.ErrInvalidTenant, risk.ErrInvalidEntry, mapped database
// errors.
func (s *Store) DeleteDenyEntry(ctx context.Context, tenant storage.TenantID, list risk.Subject, value string) (bool, error) {
	if err := tenant.Validate(); err != nil {
		return false, err
	}
	if err := (risk.DenyKey{List: list, Value: value}).Validate(); err != nil {
		return false, err
	}
	var found bool
	err := s.write(ctx, "delete deny entry", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, s.q.risk.del, string(tenant), string(list), value)
		if err != nil {
			return dbErr("delete deny entry", err)
		}
		n, err := res.RowsAffected()
		found = n > 0
		return dbErr("delete deny entry", err)
	})
	return found, err
}

// maxDenyKeys bounds the keys of one MatchDenyEntries statement; more are
// looked up in several.
const maxDenyKeys = 200

// MatchDenyEntries returns the tenant's entries among keys that are in
// force at now, at most one per distinct key, in the order of the keys.
// Errors: storage.ErrInvalidTenant, risk.ErrInvalidEntry, mapped database
// errors.
func (s *Store) MatchDenyEntries(ctx context.Context, tenant storage.TenantID, now time.Time, keys []risk.DenyKey) ([]risk.Entry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return nil, err
		}
	}
	found := map[risk.DenyKey]risk.Entry{}
	q := s.reader(ctx)
	for start := 0; start < len(keys); start += maxDenyKeys {
		chunk := keys[start:min(start+maxDenyKeys, len(keys))]
		var b strings.Builder
		b.WriteString(s.q.risk.matchPrefix)
		args := []any{string(tenant), s.dialect.timeArg(now)}
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(list_name = ? AND value = ?)")
			args = append(args, string(k.List), k.Value)
		}
		b.WriteString(")")
		if err := s.scanDeny(ctx, q, s.dialect.rebind(b.String()), args, found); err != nil {
			return nil, err
		}
	}
	var out []risk.Entry
	for _, k := range keys {
		if e, ok := found[k]; ok {
			out = append(out, e)
			delete(found, k) // once per distinct key
		}
	}
	return out, nil
}

func (s *Store) scanDeny(ctx context.Context, q querier, query string, args []any, into map[risk.DenyKey]risk.Entry) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return wrap("match deny entries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ent              risk.Entry
			list             string
			created, expires dbTime
		)
		if err := rows.Scan(&list, &ent.Value, &ent.Reason, &created, &expires); err != nil {
			return wrap("match deny entries", err)
		}
		ent.List = risk.Subject(list)
		ent.CreatedAt = created.Time
		if expires.Valid {
			ent.ExpiresAt = expires.Time
		}
		into[ent.Key()] = ent
	}
	return wrap("match deny entries", rows.Err())
}

// PruneRisk deletes, in every tenant, the velocity buckets that ended at
// or before before and the deny-list entries that expired at or before
// before, and returns how many records it deleted. Errors:
// storage.ErrInvalidArgument for a zero time, mapped database errors.
func (s *Store) PruneRisk(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("%w: prune needs a time", storage.ErrInvalidArgument)
	}
	var total int64
	err := s.write(ctx, "prune risk", func(ctx context.Context, q querier) error {
		total = 0
		for _, query := range []string{s.q.risk.pruneBuckets, s.q.risk.pruneDeny} {
			res, err := q.ExecContext(ctx, query, s.dialect.timeArg(before))
			if err != nil {
				return dbErr("prune risk", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return dbErr("prune risk", err)
			}
			total += n
		}
		return nil
	})
	return total, err
}
