package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

type outboxQueries struct {
	table, insert, pending, mark string
}

func buildOutboxQueries(d Dialect, table string) outboxQueries {
	return outboxQueries{
		table: table,
		insert: d.rebind("INSERT INTO " + table +
			" (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		pending: d.rebind("SELECT id, event_id, tenant, topic, aggregate_type, aggregate_id, payload, created_at FROM " + table +
			" WHERE partition_no = ? AND published_at IS NULL ORDER BY id LIMIT ?"),
		// mark is completed with an IN list per call; see
		// MarkOutboxPublished. It finds its rows by the pending index
		// (partition_no, id), the outbox's only index on id.
		mark: "UPDATE " + table + " SET published_at = ? WHERE partition_no = ? AND published_at IS NULL AND id IN (",
	}
}

// MaxOutboxBatch caps the messages one PendingOutbox call returns (a
// larger limit is lowered to it) and the IDs one MarkOutboxPublished call
// takes.
const MaxOutboxBatch = 10_000

// AppendOutbox stores msgs in the transaction in ctx (or in one of its own),
// so they commit or roll back with the state change, and sets each
// message's ID (and a zero CreatedAt, from the store's clock) in msgs.
// Each message's partition is msg.Partition(). Errors:
// storage.ErrInvalidArgument or storage.ErrInvalidTenant for a message
// that fails Validate (nothing is stored), storage.ErrDuplicate for an
// event ID already stored for the tenant, mapped database errors.
func (s *Store) AppendOutbox(ctx context.Context, msgs ...storage.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var errs []error
	for i := range msgs {
		if err := msgs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("message %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlstore: append outbox: %w", err)
	}
	now := s.opts.Clock.Now()
	return s.write(ctx, "append outbox", func(ctx context.Context, q querier) error {
		for i := range msgs {
			m := &msgs[i]
			created := m.CreatedAt
			if created.IsZero() {
				created = now
			}
			var payload sql.NullString
			if m.Payload != nil {
				payload = sql.NullString{String: string(m.Payload), Valid: true}
			}
			id, err := s.dialect.insertID(ctx, q, s.q.outbox.insert, m.EventID, string(m.Tenant), m.Topic,
				m.AggregateType, m.AggregateID, m.Partition(), payload, s.dialect.timeArg(created))
			if err != nil {
				return dbErr(fmt.Sprintf("append outbox event %q", m.EventID), err)
			}
			m.ID = id
			m.CreatedAt = created.UTC().Truncate(time.Microsecond)
		}
		return nil
	})
}

// PendingOutbox returns up to limit unpublished messages of partition,
// lowest ID first, across tenants (the relay serves them all). It reads in
// the transaction in ctx, or on the readers' pool. Errors:
// storage.ErrInvalidArgument for a partition outside [0,
// storage.OutboxPartitions) or a limit below 1, mapped database errors.
func (s *Store) PendingOutbox(ctx context.Context, partition, limit int) ([]storage.Message, error) {
	if partition < 0 || partition >= storage.OutboxPartitions {
		return nil, fmt.Errorf("%w: outbox partition %d outside [0,%d)", storage.ErrInvalidArgument, partition, storage.OutboxPartitions)
	}
	if limit < 1 {
		return nil, fmt.Errorf("%w: outbox limit %d is below 1", storage.ErrInvalidArgument, limit)
	}
	limit = min(limit, MaxOutboxBatch)
	rows, err := s.reader(ctx).QueryContext(ctx, s.q.outbox.pending, partition, limit)
	if err != nil {
		return nil, wrap("pending outbox", err)
	}
	defer rows.Close()
	var out []storage.Message
	for rows.Next() {
		var (
			m       storage.Message
			tenant  string
			payload sql.NullString
			created dbTime
		)
		if err := rows.Scan(&m.ID, &m.EventID, &tenant, &m.Topic, &m.AggregateType, &m.AggregateID, &payload, &created); err != nil {
			return nil, wrap("pending outbox", err)
		}
		m.Tenant = storage.TenantID(tenant)
		if payload.Valid {
			m.Payload = []byte(payload.String)
		}
		m.CreatedAt = created.Time
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("pending outbox", err)
	}
	return out, nil
}

// MarkOutboxPublished marks the messages of partition with ids as
// published at at. Messages already marked keep their first time; IDs not
// in the partition are ignored. Errors: storage.ErrInvalidArgument for a
// partition outside [0, storage.OutboxPartitions) or more than
// MaxOutboxBatch IDs, mapped database errors.
func (s *Store) MarkOutboxPublished(ctx context.Context, at time.Time, partition int, ids ...int64) error {
	if partition < 0 || partition >= storage.OutboxPartitions {
		return fmt.Errorf("%w: outbox partition %d outside [0,%d)", storage.ErrInvalidArgument, partition, storage.OutboxPartitions)
	}
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > MaxOutboxBatch {
		return fmt.Errorf("%w: %d outbox IDs in one call, at most %d", storage.ErrInvalidArgument, len(ids), MaxOutboxBatch)
	}
	query := s.dialect.rebind(s.q.outbox.mark + placeholders(len(ids)) + ")")
	args := make([]any, 0, len(ids)+2)
	args = append(args, s.dialect.timeArg(at), partition)
	for _, id := range ids {
		args = append(args, id)
	}
	return s.write(ctx, "mark outbox published", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, query, args...)
		return dbErr("mark outbox published", err)
	})
}
