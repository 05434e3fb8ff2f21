package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

type leaseQueries struct {
	acquire, get, release string
}

func buildLeaseQueries(d Dialect, table string) leaseQueries {
	return leaseQueries{
		// One statement takes a free, expired or own lease. The token moves
		// on only when the owner changes, so a renewal keeps it.
		acquire: d.rebind(d.upsert(table,
			[]string{"name", "owner", "token", "expires_at"},
			[]string{"name"},
			"owner = excluded.owner, expires_at = excluded.expires_at, "+
				"token = CASE WHEN "+table+".owner = excluded.owner THEN "+table+".token ELSE "+table+".token + 1 END",
			table+".expires_at <= ? OR "+table+".owner = excluded.owner")),
		get: d.rebind("SELECT owner, token, expires_at FROM " + table + " WHERE name = ?"),
		// A released lease keeps its row, so the next owner's token still
		// grows (fencing), and expires at once.
		release: d.rebind("UPDATE " + table + " SET expires_at = ? WHERE name = ? AND owner = ?"),
	}
}

// MaxLeaseNameLen is the longest lease name or owner accepted.
const MaxLeaseNameLen = 200

func validLease(name, owner string) error {
	if name == "" || owner == "" || len(name) > MaxLeaseNameLen || len(owner) > MaxLeaseNameLen {
		return fmt.Errorf("%w: lease needs a name and an owner of 1 to %d bytes", storage.ErrInvalidArgument, MaxLeaseNameLen)
	}
	return nil
}

// AcquireLease takes the lease name for owner until now+ttl when it is
// free, expired at now, or already owner's (a renewal, keeping its token),
// with one conditional upsert judged by rows affected, and returns the
// lease and true; otherwise it returns the holder's lease and false. The
// token starts at 1 and grows by one whenever the lease changes hands.
// Errors: storage.ErrInvalidArgument (empty name or owner, ttl <= 0),
// mapped database errors.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (storage.Lease, bool, error) {
	if err := validLease(name, owner); err != nil {
		return storage.Lease{}, false, err
	}
	if ttl <= 0 {
		return storage.Lease{}, false, fmt.Errorf("%w: lease ttl %s is not positive", storage.ErrInvalidArgument, ttl)
	}
	var (
		l  storage.Lease
		ok bool
	)
	err := s.write(ctx, "acquire lease", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, s.q.lease.acquire, name, owner, int64(1),
			s.dialect.timeArg(now.Add(ttl)), s.dialect.timeArg(now))
		if err != nil {
			return dbErr("acquire lease", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("acquire lease", err)
		}
		ok = n == 1
		l = storage.Lease{Name: name}
		var exp dbTime
		err = q.QueryRowContext(ctx, s.q.lease.get, name).Scan(&l.Owner, &l.Token, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: acquire lease %q: %w: lease vanished", name, storage.ErrConflict)
		}
		if err != nil {
			return dbErr("read lease", err)
		}
		l.ExpiresAt = exp.Time
		return nil
	})
	if err != nil {
		return storage.Lease{}, false, err
	}
	return l, ok, nil
}

// ReleaseLease lets the lease name expire at once if owner holds it;
// otherwise it does nothing. Its token is kept, so the next owner's is
// larger. Errors: storage.ErrInvalidArgument, mapped database errors.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := validLease(name, owner); err != nil {
		return err
	}
	past := s.dialect.timeArg(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) // before any clock's now
	return s.write(ctx, "release lease", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, s.q.lease.release, past, name, owner)
		return dbErr("release lease", err)
	})
}
