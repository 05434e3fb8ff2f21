package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

var _ settlement.Store = (*SettlementStore)(nil)

type settlementQueries struct {
	orders, entries, statements string

	insertOrder, order, updateOrder, findOrders string
	insertEntry, openEntries, openParties       string
	entriesOfOrder, entriesOfStatement          string
	insertStatement, statement, updateStatement string
	findStatements, findStatementsOfParty       string
}

func buildSettlementQueries(d Dialect, prefix string) settlementQueries {
	o, e, st := prefix+"settlement_orders", prefix+"settlement_entries", prefix+"settlement_statements"
	return settlementQueries{
		orders: o, entries: e, statements: st,
		insertOrder:        d.rebind(d.insertIgnore(o, []string{"tenant", "id", "state", "pay_by", "version", "body"}, []string{"tenant", "id"})),
		order:              d.rebind("SELECT body FROM " + o + " WHERE tenant = ? AND id = ?"),
		updateOrder:        d.rebind("UPDATE " + o + " SET state = ?, pay_by = ?, version = ?, body = ? WHERE tenant = ? AND id = ? AND version = ?"),
		findOrders:         "SELECT body FROM " + o + " WHERE tenant = ?", // completed per call
		insertEntry:        d.rebind(d.insertIgnore(e, []string{"tenant", "id", "party", "order_id", "at", "body"}, []string{"tenant", "id"})),
		openEntries:        d.rebind("SELECT body FROM " + e + " WHERE tenant = ? AND party = ? AND statement_id IS NULL AND at < ? ORDER BY at, id"),
		openParties:        d.rebind("SELECT party, MIN(at) FROM " + e + " WHERE tenant = ? AND statement_id IS NULL GROUP BY party ORDER BY party"),
		entriesOfOrder:     d.rebind("SELECT body, statement_id FROM " + e + " WHERE tenant = ? AND order_id = ? ORDER BY at, id"),
		entriesOfStatement: d.rebind("SELECT body, statement_id FROM " + e + " WHERE tenant = ? AND statement_id = ? ORDER BY at, id"),
		insertStatement: d.rebind(d.insertIgnore(st, []string{"tenant", "id", "party", "period_start", "currency", "version", "body"},
			[]string{"tenant", "party", "period_start", "currency"})),
		statement:             d.rebind("SELECT body FROM " + st + " WHERE tenant = ? AND id = ?"),
		updateStatement:       d.rebind("UPDATE " + st + " SET version = ?, body = ? WHERE tenant = ? AND id = ? AND version = ?"),
		findStatements:        d.rebind("SELECT body FROM " + st + " WHERE tenant = ? ORDER BY period_start, party, id"),
		findStatementsOfParty: d.rebind("SELECT body FROM " + st + " WHERE tenant = ? AND party = ? ORDER BY period_start, party, id"),
	}
}

// SettlementStore is the Store's implementation of settlement.Store; get
// it with Store.Settlement. Its methods join the Store's transactions.
// Orders and statements are kept as JSON bodies (amounts as exact decimal
// text) beside the columns their queries need.
type SettlementStore struct {
	s *Store
	q settlementQueries
}

// Settlement returns the store of package settlement (what
// settlement.Config.Store takes).
func (s *Store) Settlement() settlement.Store {
	return &SettlementStore{s: s, q: buildSettlementQueries(s.dialect, s.opts.TablePrefix)}
}

func encodeBody(what string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", storage.ErrInvalidArgument, what, err)
	}
	return string(b), nil
}

// InsertOrder implements settlement.Store: storage.ErrDuplicate when the
// ID exists.
func (r *SettlementStore) InsertOrder(ctx context.Context, o settlement.Order) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	body, err := encodeBody("order", o)
	if err != nil {
		return err
	}
	return r.s.write(ctx, "insert order", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.insertOrder, string(o.Tenant), o.ID, string(o.State), r.s.dialect.timeArg(o.PayBy), o.Version, body)
		if err != nil {
			return dbErr("insert order", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("insert order", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: order %s", storage.ErrDuplicate, o.ID)
		}
		return nil
	})
}

func decodeOrder(body string) (settlement.Order, error) {
	var o settlement.Order
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		return settlement.Order{}, fmt.Errorf("sqlstore: decode order: %w", err)
	}
	return o, nil
}

// Order implements settlement.Store: storage.ErrNotFound.
func (r *SettlementStore) Order(ctx context.Context, tenant storage.TenantID, id string) (settlement.Order, error) {
	if err := tenant.Validate(); err != nil {
		return settlement.Order{}, err
	}
	var body string
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.order, string(tenant), id).Scan(&body)
	if isNoRows(err) {
		return settlement.Order{}, fmt.Errorf("%w: order %s", storage.ErrNotFound, id)
	}
	if err != nil {
		return settlement.Order{}, wrap("read order", err)
	}
	return decodeOrder(body)
}

// UpdateOrder implements settlement.Store as one UPDATE conditional on
// the version: storage.ErrConflict when it moved, storage.ErrNotFound when
// there is no such order.
func (r *SettlementStore) UpdateOrder(ctx context.Context, o settlement.Order, prevVersion int64) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	body, err := encodeBody("order", o)
	if err != nil {
		return err
	}
	return r.s.write(ctx, "update order", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.updateOrder, string(o.State), r.s.dialect.timeArg(o.PayBy), o.Version, body,
			string(o.Tenant), o.ID, prevVersion)
		if err != nil {
			return dbErr("update order", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("update order", err)
		}
		if n == 1 {
			return nil
		}
		err = q.QueryRowContext(ctx, r.q.order, string(o.Tenant), o.ID).Scan(new(string))
		if isNoRows(err) {
			return fmt.Errorf("%w: order %s", storage.ErrNotFound, o.ID)
		}
		if err != nil {
			return dbErr("update order", err)
		}
		return fmt.Errorf("%w: order %s is no longer at version %d", storage.ErrConflict, o.ID, prevVersion)
	})
}

// UpdateOrderHead implements settlement.Store: the body is one column, so
// it writes the whole order as UpdateOrder does.
func (r *SettlementStore) UpdateOrderHead(ctx context.Context, o settlement.Order, prevVersion int64) error {
	return r.UpdateOrder(ctx, o, prevVersion)
}

// FindOrders implements settlement.Store.
func (r *SettlementStore) FindOrders(ctx context.Context, oq settlement.OrderQuery) ([]settlement.Order, error) {
	if err := oq.Tenant.Validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(r.q.findOrders)
	args := []any{string(oq.Tenant)}
	if len(oq.States) > 0 {
		b.WriteString(" AND state IN (" + placeholders(len(oq.States)) + ")")
		for _, st := range oq.States {
			args = append(args, string(st))
		}
	}
	if !oq.PayByBefore.IsZero() {
		b.WriteString(" AND pay_by < ?")
		args = append(args, r.s.dialect.timeArg(oq.PayByBefore))
	}
	if oq.AfterID != "" {
		b.WriteString(" AND id > ?")
		args = append(args, oq.AfterID)
	}
	b.WriteString(" ORDER BY id")
	if oq.Limit > 0 {
		b.WriteString(fmt.Sprintf(" LIMIT %d", oq.Limit))
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.s.dialect.rebind(b.String()), args...)
	if err != nil {
		return nil, wrap("find orders", err)
	}
	defer rows.Close()
	var out []settlement.Order
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, wrap("find orders", err)
		}
		o, err := decodeOrder(body)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, wrap("find orders", rows.Err())
}

// InsertEntries implements settlement.Store: storage.ErrDuplicate when an
// ID exists (the transaction must then be rolled back by the caller).
func (r *SettlementStore) InsertEntries(ctx context.Context, entries ...settlement.Entry) error {
	bodies := make([]string, len(entries))
	for i, e := range entries {
		if err := e.Tenant.Validate(); err != nil {
			return err
		}
		e.StatementID = ""
		b, err := encodeBody("clearing entry", e)
		if err != nil {
			return err
		}
		bodies[i] = b
	}
	return r.s.write(ctx, "insert clearing entries", func(ctx context.Context, q querier) error {
		for i, e := range entries {
			res, err := q.ExecContext(ctx, r.q.insertEntry, string(e.Tenant), e.ID, e.Party, e.OrderID, r.s.dialect.timeArg(e.At), bodies[i])
			if err != nil {
				return dbErr("insert clearing entry", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return dbErr("insert clearing entry", err)
			}
			if n == 0 {
				return fmt.Errorf("%w: clearing entry %s", storage.ErrDuplicate, e.ID)
			}
		}
		return nil
	})
}

func (r *SettlementStore) scanEntries(ctx context.Context, query string, withStmt bool, args ...any) ([]settlement.Entry, error) {
	rows, err := r.s.reader(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("read clearing entries", err)
	}
	defer rows.Close()
	var out []settlement.Entry
	for rows.Next() {
		var body string
		var stmt *string
		dst := []any{&body}
		if withStmt {
			dst = append(dst, &stmt)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, wrap("read clearing entries", err)
		}
		var e settlement.Entry
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("sqlstore: decode clearing entry: %w", err)
		}
		if stmt != nil {
			e.StatementID = *stmt
		}
		out = append(out, e)
	}
	return out, wrap("read clearing entries", rows.Err())
}

// OpenEntries implements settlement.Store.
func (r *SettlementStore) OpenEntries(ctx context.Context, tenant storage.TenantID, party string, before time.Time, limit int) ([]settlement.Entry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	q := r.q.openEntries
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return r.scanEntries(ctx, q, false, string(tenant), party, r.s.dialect.timeArg(before))
}

// OpenParties implements settlement.Store.
func (r *SettlementStore) OpenParties(ctx context.Context, tenant storage.TenantID) ([]settlement.OpenParty, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.q.openParties, string(tenant))
	if err != nil {
		return nil, wrap("read open parties", err)
	}
	defer rows.Close()
	var out []settlement.OpenParty
	for rows.Next() {
		var p settlement.OpenParty
		var at dbTime
		if err := rows.Scan(&p.Party, &at); err != nil {
			return nil, wrap("read open parties", err)
		}
		p.Earliest = at.Time
		out = append(out, p)
	}
	return out, wrap("read open parties", rows.Err())
}

// Entries implements settlement.Store.
func (r *SettlementStore) Entries(ctx context.Context, tenant storage.TenantID, orderID, statementID string) ([]settlement.Entry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if statementID != "" {
		return r.scanEntries(ctx, r.q.entriesOfStatement, true, string(tenant), statementID)
	}
	return r.scanEntries(ctx, r.q.entriesOfOrder, true, string(tenant), orderID)
}

// InsertStatement implements settlement.Store: the statement by INSERT
// ... ON CONFLICT DO NOTHING on (tenant, party, period, currency), then
// its entries by one UPDATE conditional on their being open, judged by
// rows affected (storage.ErrConflict when one was taken).
func (r *SettlementStore) InsertStatement(ctx context.Context, st settlement.Statement, entryIDs []string) (bool, error) {
	if err := st.Tenant.Validate(); err != nil {
		return false, err
	}
	body, err := encodeBody("statement", st)
	if err != nil {
		return false, err
	}
	var inserted bool
	err = r.s.write(ctx, "insert statement", func(ctx context.Context, q querier) error {
		inserted = false
		res, err := q.ExecContext(ctx, r.q.insertStatement, string(st.Tenant), st.ID, st.Party, r.s.dialect.timeArg(st.PeriodStart),
			st.Currency.Code(), st.Version, body)
		if err != nil {
			return dbErr("insert statement", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("insert statement", err)
		}
		if n == 0 {
			return nil
		}
		const chunk = 500
		for start := 0; start < len(entryIDs); start += chunk {
			ids := entryIDs[start:min(start+chunk, len(entryIDs))]
			args := []any{st.ID, string(st.Tenant), st.Party}
			for _, id := range ids {
				args = append(args, id)
			}
			res, err := q.ExecContext(ctx, r.s.dialect.rebind("UPDATE "+r.q.entries+" SET statement_id = ? WHERE tenant = ? AND party = ? AND statement_id IS NULL AND id IN ("+placeholders(len(ids))+")"), args...)
			if err != nil {
				return dbErr("insert statement", err)
			}
			m, err := res.RowsAffected()
			if err != nil {
				return dbErr("insert statement", err)
			}
			if m != int64(len(ids)) {
				// mark the transaction: the statement row must not stay
				return &dbError{err: fmt.Errorf("%w: statement %s: %d of its entries were taken meanwhile", storage.ErrConflict, st.ID, int64(len(ids))-m)}
			}
		}
		inserted = true
		return nil
	})
	return inserted, err
}

// Statement implements settlement.Store: storage.ErrNotFound.
func (r *SettlementStore) Statement(ctx context.Context, tenant storage.TenantID, id string) (settlement.Statement, error) {
	if err := tenant.Validate(); err != nil {
		return settlement.Statement{}, err
	}
	var body string
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.statement, string(tenant), id).Scan(&body)
	if isNoRows(err) {
		return settlement.Statement{}, fmt.Errorf("%w: statement %s", storage.ErrNotFound, id)
	}
	if err != nil {
		return settlement.Statement{}, wrap("read statement", err)
	}
	return decodeStatement(body)
}

func decodeStatement(body string) (settlement.Statement, error) {
	var st settlement.Statement
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return settlement.Statement{}, fmt.Errorf("sqlstore: decode statement: %w", err)
	}
	return st, nil
}

// UpdateStatement implements settlement.Store: storage.ErrConflict when
// the version moved (or there is no such statement).
func (r *SettlementStore) UpdateStatement(ctx context.Context, st settlement.Statement, prevVersion int64) error {
	if err := st.Tenant.Validate(); err != nil {
		return err
	}
	body, err := encodeBody("statement", st)
	if err != nil {
		return err
	}
	return r.s.write(ctx, "update statement", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.updateStatement, st.Version, body, string(st.Tenant), st.ID, prevVersion)
		if err != nil {
			return dbErr("update statement", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("update statement", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: statement %s is no longer at version %d", storage.ErrConflict, st.ID, prevVersion)
		}
		return nil
	})
}

// FindStatements implements settlement.Store.
func (r *SettlementStore) FindStatements(ctx context.Context, tenant storage.TenantID, party string) ([]settlement.Statement, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	query, args := r.q.findStatements, []any{string(tenant)}
	if party != "" {
		query, args = r.q.findStatementsOfParty, append(args, party)
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("find statements", err)
	}
	defer rows.Close()
	var out []settlement.Statement
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, wrap("find statements", err)
		}
		st, err := decodeStatement(body)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, wrap("find statements", rows.Err())
}
