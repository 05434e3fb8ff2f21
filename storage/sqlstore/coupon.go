package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

var _ coupon.Store = (*CouponStore)(nil)

// couponInsertRows is the number of coupons per multi-row INSERT: 16
// columns each stays far below PostgreSQL's 65535 and SQLite's 32766
// parameters.
const couponInsertRows = 500

const couponCols = "tenant, id, template_id, user_id, code, state, frozen_from, valid_from, valid_until, order_id, locked_until, discount, budget_cut, issued_at, updated_at, version"

const auditCols = "tenant, event_id, coupon_id, template_id, user_id, event, from_state, to_state, actor, reason, order_id, at"

type couponQueries struct {
	templates, coupons, audit, dists string

	createTemplate, template, autoTemplates string
	coupon, byCode, updateCoupon, exists    string
	count, auditOf                          string
	createDist, dist, updateDist            string
	insertAuth, auth, updateAuth            string
	// claim and claimNoUser are IssueClaim's single statements (PostgreSQL
	// only; empty elsewhere), with and without a per-user counter.
	claim, claimNoUser string
}

func buildCouponQueries(d Dialect, prefix string) couponQueries {
	t, c, a, ds := prefix+"coupon_templates", prefix+"coupons", prefix+"coupon_audit", prefix+"coupon_distributions"
	ga := prefix + "coupon_giftcard_auths"
	return couponQueries{
		templates: t, coupons: c, audit: a, dists: ds,
		createTemplate: d.rebind(d.insertIgnore(t, []string{"tenant", "id", "auto", "body", "created_at"}, []string{"tenant", "id"})),
		template:       d.rebind("SELECT body FROM " + t + " WHERE tenant = ? AND id = ?"),
		autoTemplates:  d.rebind("SELECT body FROM " + t + " WHERE tenant = ? AND auto = 1 ORDER BY id"),
		coupon:         d.rebind("SELECT " + couponCols + " FROM " + c + " WHERE tenant = ? AND id = ?"),
		byCode:         d.rebind("SELECT " + couponCols + " FROM " + c + " WHERE tenant = ? AND code = ?"),
		// the conditional write of every transition: judged by rows affected
		updateCoupon: d.rebind("UPDATE " + c + " SET user_id = ?, state = ?, frozen_from = ?, valid_from = ?, valid_until = ?, order_id = ?, " +
			"locked_until = ?, discount = ?, budget_cut = ?, updated_at = ?, version = ? WHERE tenant = ? AND id = ? AND state = ? AND version = ?"),
		exists:      d.rebind("SELECT 1 FROM " + c + " WHERE tenant = ? AND id = ?"),
		count:       d.rebind("SELECT state, COUNT(*) FROM " + c + " WHERE tenant = ? AND template_id = ? GROUP BY state"),
		auditOf:     d.rebind("SELECT " + auditCols + " FROM " + a + " WHERE tenant = ? AND coupon_id = ? ORDER BY id"),
		createDist:  d.rebind(d.insertIgnore(ds, []string{"tenant", "id", "template_id", "users", "next_index", "issued", "skipped", "status", "failures", "created_at", "updated_at", "version"}, []string{"tenant", "id"})),
		dist:        d.rebind("SELECT template_id, users, next_index, issued, skipped, status, failures, created_at, updated_at, version FROM " + ds + " WHERE tenant = ? AND id = ?"),
		updateDist:  d.rebind("UPDATE " + ds + " SET next_index = ?, issued = ?, skipped = ?, status = ?, failures = ?, updated_at = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?"),
		insertAuth:  d.rebind(d.insertIgnore(ga, []string{"tenant", "order_id", "coupon_id", "body", "version", "updated_at"}, []string{"tenant", "order_id"})),
		auth:        d.rebind("SELECT body FROM " + ga + " WHERE tenant = ? AND order_id = ?"),
		updateAuth:  d.rebind("UPDATE " + ga + " SET body = ?, version = ?, updated_at = ? WHERE tenant = ? AND order_id = ? AND version = ?"),
		claim:       claimStatement(d, prefix, true),
		claimNoUser: claimStatement(d, prefix, false),
	}
}

// claimStatement builds IssueClaim's one statement on PostgreSQL: data-
// modifying CTEs insert the coupon (skipped if its ID is taken), then,
// only if it went in, its audit entry and outbox message, then add 1 to
// the per-user counter within its cap, and only if that applied, 1 to the
// template's stock counter within the stock: the hot stock row is locked
// last, by the statement that precedes COMMIT. The result counts the rows
// of each step (coupon, user, stock). Parameters: the 16 coupon columns,
// the 12 audit columns, the 8 outbox columns, then tenant, user key and
// its highest value that may still take 1 (with user), stock key and its
// highest such value. SQLite has no data-modifying CTEs and MySQL neither:
// they run the steps one statement each (the portable path of package
// coupon).
func claimStatement(d Dialect, prefix string, user bool) string {
	if d != Postgres {
		return ""
	}
	cnt := prefix + "counters"
	q := "WITH c AS (INSERT INTO " + prefix + "coupons (" + couponCols + ") VALUES (" + placeholders(16) + ") ON CONFLICT DO NOTHING RETURNING 1)" +
		", a AS (INSERT INTO " + prefix + "coupon_audit (" + auditCols + ") SELECT ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::timestamptz FROM c RETURNING 1)" +
		", o AS (INSERT INTO " + prefix + "outbox (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)" +
		" SELECT ?::text, ?::text, ?::text, ?::text, ?::text, ?::smallint, ?::text, ?::timestamptz FROM c RETURNING 1)" +
		", k AS (SELECT ?::text AS tenant)"
	stockFrom := "c"
	if user {
		q += ", u AS (INSERT INTO " + cnt + " (tenant, name, value) SELECT k.tenant, ?::text, 1 FROM c, k" +
			" ON CONFLICT (tenant, name) DO UPDATE SET value = " + cnt + ".value + 1 WHERE " + cnt + ".value <= ?::bigint RETURNING 1)"
		stockFrom = "u"
	}
	q += ", s AS (INSERT INTO " + cnt + " (tenant, name, value) SELECT k.tenant, ?::text, 1 FROM " + stockFrom + ", k" +
		" ON CONFLICT (tenant, name) DO UPDATE SET value = " + cnt + ".value + 1 WHERE " + cnt + ".value <= ?::bigint RETURNING 1)" +
		" SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM a), (SELECT count(*) FROM o), "
	if user {
		q += "(SELECT count(*) FROM u), "
	} else {
		q += "1::bigint, "
	}
	q += "(SELECT count(*) FROM s)"
	return d.rebind(q)
}

// CouponStore is the Store's implementation of coupon.Store; get it with
// Store.Coupons. Its methods join the Store's transactions.
type CouponStore struct {
	s *Store
	q couponQueries
}

// Coupons returns the store of package coupon (what coupon.Config.Store
// takes).
func (s *Store) Coupons() coupon.Store {
	return &CouponStore{s: s, q: buildCouponQueries(s.dialect, s.opts.TablePrefix)}
}

// CreateTemplate implements coupon.Store: storage.ErrDuplicate when the ID
// exists.
func (r *CouponStore) CreateTemplate(ctx context.Context, t coupon.Template) error {
	if err := t.Tenant.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("%w: coupon template: %w", storage.ErrInvalidArgument, err)
	}
	return r.s.write(ctx, "create coupon template", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.createTemplate, string(t.Tenant), t.ID, boolInt(t.Auto), string(body), r.s.dialect.timeArg(t.CreatedAt))
		if err != nil {
			return dbErr("create coupon template", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("create coupon template", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: coupon template %s", storage.ErrDuplicate, t.ID)
		}
		return nil
	})
}

func decodeTemplate(body string) (coupon.Template, error) {
	var t coupon.Template
	if err := json.Unmarshal([]byte(body), &t); err != nil {
		return coupon.Template{}, fmt.Errorf("sqlstore: decode coupon template: %w", err)
	}
	return t, nil
}

// Template implements coupon.Store: storage.ErrNotFound.
func (r *CouponStore) Template(ctx context.Context, tenant storage.TenantID, id string) (coupon.Template, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Template{}, err
	}
	var body string
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.template, string(tenant), id).Scan(&body)
	if isNoRows(err) {
		return coupon.Template{}, fmt.Errorf("%w: coupon template %s", storage.ErrNotFound, id)
	}
	if err != nil {
		return coupon.Template{}, wrap("read coupon template", err)
	}
	return decodeTemplate(body)
}

// AutoTemplates implements coupon.Store.
func (r *CouponStore) AutoTemplates(ctx context.Context, tenant storage.TenantID) ([]coupon.Template, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.q.autoTemplates, string(tenant))
	if err != nil {
		return nil, wrap("read automatic promotions", err)
	}
	defer rows.Close()
	var out []coupon.Template
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, wrap("read automatic promotions", err)
		}
		t, err := decodeTemplate(body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, wrap("read automatic promotions", rows.Err())
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (r *CouponStore) discountArg(a money.Amount) (any, error) {
	if a.Currency().IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("%w: coupon discount: %w", storage.ErrInvalidArgument, err)
	}
	return string(b), nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertCoupons implements coupon.Store with multi-row INSERTs of up to
// 500 rows. A row whose ID or code is taken is skipped by ON CONFLICT DO
// NOTHING (no failed statement, which would abort a PostgreSQL
// transaction); when a chunk inserts fewer rows than it has, one SELECT
// finds which.
func (r *CouponStore) InsertCoupons(ctx context.Context, tenant storage.TenantID, cs []coupon.Coupon) ([]int, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	args := make([]any, 0, 16*min(len(cs), couponInsertRows))
	for _, c := range cs {
		if c.Tenant != tenant || c.ID == "" {
			return nil, fmt.Errorf("%w: coupon %q of tenant %q inserted for %q", storage.ErrInvalidArgument, c.ID, c.Tenant, tenant)
		}
	}
	var rejected []int
	err := r.s.write(ctx, "insert coupons", func(ctx context.Context, q querier) error {
		rejected = nil
		for start := 0; start < len(cs); start += couponInsertRows {
			chunk := cs[start:min(start+couponInsertRows, len(cs))]
			args = args[:0]
			var sb strings.Builder
			sb.WriteString("INSERT INTO " + r.q.coupons + " (" + couponCols + ") VALUES ")
			for i, c := range chunk {
				if i > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString("(" + placeholders(16) + ")")
				disc, err := r.discountArg(c.Discount)
				if err != nil {
					return err
				}
				d := r.s.dialect
				args = append(args, string(c.Tenant), c.ID, c.TemplateID, c.UserID, nullString(c.Code), string(c.State), string(c.FrozenFrom),
					r.s.nullTime(c.ValidFrom), r.s.nullTime(c.ValidUntil), c.OrderID, r.s.nullTime(c.LockedUntil), disc, boolInt(c.BudgetCut),
					d.timeArg(c.IssuedAt), d.timeArg(c.UpdatedAt), c.Version)
			}
			// PostgreSQL and SQLite share ON CONFLICT DO NOTHING without a
			// target (any unique key); MySQL would use INSERT IGNORE.
			sb.WriteString(" ON CONFLICT DO NOTHING")
			res, err := q.ExecContext(ctx, r.s.dialect.rebind(sb.String()), args...)
			if err != nil {
				return dbErr("insert coupons", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return dbErr("insert coupons", err)
			}
			if int(n) == len(chunk) {
				continue
			}
			missing, err := r.notInserted(ctx, q, tenant, chunk)
			if err != nil {
				return err
			}
			for _, i := range missing {
				rejected = append(rejected, start+i)
			}
		}
		return nil
	})
	return rejected, err
}

// IssueClaim is package coupon's fast path for a claim on PostgreSQL: the
// coupon, its audit entry and outbox message, the per-user counter and
// then the stock counter in one statement (see claimStatement), so that a
// claim costs one round trip between BEGIN and COMMIT and the hot stock
// row stays locked for that statement's tail and the COMMIT. handled is
// false (and nothing is done) on SQLite, when outbox or counters are not
// this store, or when an argument would be refused (the portable path
// then reports it). userOK or stockOK false: a limit refused, and the
// caller must roll back. A taken coupon ID is storage.ErrDuplicate.
func (r *CouponStore) IssueClaim(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	if r.q.claim == "" || c.ID == "" || c.Code != "" || !c.Discount.Currency().IsZero() || perUser < 0 || stock < 0 {
		return false, false, false, nil
	}
	if o, ok := outbox.(*Store); !ok || o != r.s {
		return false, false, false, nil
	}
	if k, ok := counters.(*Store); !ok || k != r.s {
		return false, false, false, nil
	}
	if validCounter(c.Tenant, stockKey) != nil || (perUser > 0 && validCounter(c.Tenant, userKey) != nil) ||
		e.Tenant != c.Tenant || m.Tenant != c.Tenant || m.Validate() != nil || m.CreatedAt.IsZero() {
		return false, false, false, nil
	}
	d := r.s.dialect
	var payload any
	if m.Payload != nil {
		payload = string(m.Payload)
	}
	stockHi := int64(math.MaxInt64 - 1)
	if stock > 0 {
		stockHi = stock - 1
	}
	tenant := string(c.Tenant)
	args := make([]any, 0, 41)
	args = append(args, tenant, c.ID, c.TemplateID, c.UserID, nil, string(c.State), string(c.FrozenFrom),
		r.s.nullTime(c.ValidFrom), r.s.nullTime(c.ValidUntil), c.OrderID, r.s.nullTime(c.LockedUntil), nil, boolInt(c.BudgetCut),
		d.timeArg(c.IssuedAt), d.timeArg(c.UpdatedAt), c.Version,
		tenant, e.EventID, e.CouponID, e.TemplateID, e.UserID, string(e.Event), string(e.From), string(e.To),
		e.Actor, e.Reason, e.OrderID, d.timeArg(e.At),
		m.EventID, tenant, m.Topic, m.AggregateType, m.AggregateID, m.Partition(), payload, d.timeArg(m.CreatedAt),
		tenant)
	query := r.q.claimNoUser
	if perUser > 0 {
		query = r.q.claim
		args = append(args, userKey, perUser-1)
	}
	args = append(args, stockKey, stockHi)
	err = r.s.write(ctx, "issue claim", func(ctx context.Context, q querier) error {
		var nc, na, no, nu, ns int64
		if err := q.QueryRowContext(ctx, query, args...).Scan(&nc, &na, &no, &nu, &ns); err != nil {
			return dbErr("issue claim", err)
		}
		if nc != 1 {
			return fmt.Errorf("%w: new coupon ID %s taken", storage.ErrDuplicate, c.ID)
		}
		userOK, stockOK = nu == 1, ns == 1
		return nil
	})
	return true, userOK, stockOK, err
}

// notInserted returns the indexes of chunk whose row is not the one just
// written (its ID is absent, or taken by a coupon with another code).
func (r *CouponStore) notInserted(ctx context.Context, q querier, tenant storage.TenantID, chunk []coupon.Coupon) ([]int, error) {
	args := make([]any, 0, len(chunk)+1)
	args = append(args, string(tenant))
	for _, c := range chunk {
		args = append(args, c.ID)
	}
	query := r.s.dialect.rebind("SELECT id, code FROM " + r.q.coupons + " WHERE tenant = ? AND id IN (" + placeholders(len(chunk)) + ")")
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr("insert coupons", err)
	}
	defer rows.Close()
	stored := make(map[string]string, len(chunk))
	for rows.Next() {
		var id string
		var code *string
		if err := rows.Scan(&id, &code); err != nil {
			return nil, dbErr("insert coupons", err)
		}
		if code != nil {
			stored[id] = *code
		} else {
			stored[id] = ""
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("insert coupons", err)
	}
	var out []int
	for i, c := range chunk {
		if code, ok := stored[c.ID]; !ok || code != c.Code {
			out = append(out, i)
		}
	}
	return out, nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanCoupon(row rowScanner) (coupon.Coupon, error) {
	var (
		c                             coupon.Coupon
		tenant, state, frozen         string
		code, discount                *string
		validFrom, validUntil, locked dbTime
		issued, updated               dbTime
		cut                           int64
	)
	if err := row.Scan(&tenant, &c.ID, &c.TemplateID, &c.UserID, &code, &state, &frozen, &validFrom, &validUntil,
		&c.OrderID, &locked, &discount, &cut, &issued, &updated, &c.Version); err != nil {
		return coupon.Coupon{}, err
	}
	c.Tenant, c.State, c.FrozenFrom = storage.TenantID(tenant), coupon.State(state), coupon.State(frozen)
	if code != nil {
		c.Code = *code
	}
	c.ValidFrom, c.ValidUntil, c.LockedUntil = validFrom.Time, validUntil.Time, locked.Time
	c.IssuedAt, c.UpdatedAt = issued.Time, updated.Time
	c.BudgetCut = cut != 0
	if discount != nil {
		if err := json.Unmarshal([]byte(*discount), &c.Discount); err != nil {
			return coupon.Coupon{}, fmt.Errorf("sqlstore: decode coupon discount: %w", err)
		}
	}
	return c, nil
}

func (r *CouponStore) one(ctx context.Context, query string, what string, args ...any) (coupon.Coupon, error) {
	c, err := scanCoupon(r.s.reader(ctx).QueryRowContext(ctx, query, args...))
	if isNoRows(err) {
		return coupon.Coupon{}, fmt.Errorf("%w: coupon %s", storage.ErrNotFound, what)
	}
	if err != nil {
		return coupon.Coupon{}, wrap("read coupon", err)
	}
	return c, nil
}

// Coupon implements coupon.Store: storage.ErrNotFound.
func (r *CouponStore) Coupon(ctx context.Context, tenant storage.TenantID, id string) (coupon.Coupon, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Coupon{}, err
	}
	return r.one(ctx, r.q.coupon, id, string(tenant), id)
}

// CouponByCode implements coupon.Store: storage.ErrNotFound.
func (r *CouponStore) CouponByCode(ctx context.Context, tenant storage.TenantID, code string) (coupon.Coupon, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Coupon{}, err
	}
	return r.one(ctx, r.q.byCode, "code "+code, string(tenant), code)
}

// UpdateCoupon implements coupon.Store with one conditional UPDATE on
// (tenant, id, state, version), judged by rows affected:
// storage.ErrConflict when another writer moved the coupon first,
// storage.ErrNotFound when there is none.
func (r *CouponStore) UpdateCoupon(ctx context.Context, c coupon.Coupon, prevState coupon.State, prevVersion int64) error {
	if err := c.Tenant.Validate(); err != nil {
		return err
	}
	disc, err := r.discountArg(c.Discount)
	if err != nil {
		return err
	}
	return r.s.write(ctx, "update coupon", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.updateCoupon, c.UserID, string(c.State), string(c.FrozenFrom),
			r.s.nullTime(c.ValidFrom), r.s.nullTime(c.ValidUntil), c.OrderID, r.s.nullTime(c.LockedUntil), disc, boolInt(c.BudgetCut),
			r.s.dialect.timeArg(c.UpdatedAt), c.Version, string(c.Tenant), c.ID, string(prevState), prevVersion)
		if err != nil {
			return dbErr("update coupon", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("update coupon", err)
		}
		if n == 1 {
			return nil
		}
		var one int
		err = q.QueryRowContext(ctx, r.q.exists, string(c.Tenant), c.ID).Scan(&one)
		if isNoRows(err) {
			return fmt.Errorf("%w: coupon %s", storage.ErrNotFound, c.ID)
		}
		if err != nil {
			return dbErr("update coupon", err)
		}
		return fmt.Errorf("%w: coupon %s moved from %s v%d", storage.ErrConflict, c.ID, prevState, prevVersion)
	})
}

// FindCoupons implements coupon.Store.
func (r *CouponStore) FindCoupons(ctx context.Context, qy coupon.Query) ([]coupon.Coupon, error) {
	if err := qy.Tenant.Validate(); err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + couponCols + " FROM " + r.q.coupons + " WHERE tenant = ?")
	args := []any{string(qy.Tenant)}
	eq := func(col, v string) {
		if v != "" {
			sb.WriteString(" AND " + col + " = ?")
			args = append(args, v)
		}
	}
	eq("user_id", qy.UserID)
	eq("template_id", qy.TemplateID)
	eq("order_id", qy.OrderID)
	if len(qy.States) > 0 {
		sb.WriteString(" AND state IN (" + placeholders(len(qy.States)) + ")")
		for _, st := range qy.States {
			args = append(args, string(st))
		}
	}
	if !qy.LockedBefore.IsZero() {
		sb.WriteString(" AND locked_until < ?")
		args = append(args, r.s.dialect.timeArg(qy.LockedBefore))
	}
	if !qy.ValidBefore.IsZero() {
		sb.WriteString(" AND valid_until <= ?")
		args = append(args, r.s.dialect.timeArg(qy.ValidBefore))
	}
	if qy.AfterID != "" {
		sb.WriteString(" AND id > ?")
		args = append(args, qy.AfterID)
	}
	sb.WriteString(" ORDER BY id")
	if qy.Limit > 0 {
		sb.WriteString(fmt.Sprintf(" LIMIT %d", qy.Limit))
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.s.dialect.rebind(sb.String()), args...)
	if err != nil {
		return nil, wrap("find coupons", err)
	}
	defer rows.Close()
	var out []coupon.Coupon
	for rows.Next() {
		c, err := scanCoupon(rows)
		if err != nil {
			return nil, wrap("find coupons", err)
		}
		out = append(out, c)
	}
	return out, wrap("find coupons", rows.Err())
}

// CountCoupons implements coupon.Store.
func (r *CouponStore) CountCoupons(ctx context.Context, tenant storage.TenantID, templateID string) (map[coupon.State]int64, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.q.count, string(tenant), templateID)
	if err != nil {
		return nil, wrap("count coupons", err)
	}
	defer rows.Close()
	out := map[coupon.State]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, wrap("count coupons", err)
		}
		out[coupon.State(st)] = n
	}
	return out, wrap("count coupons", rows.Err())
}

// AppendAudit implements coupon.Store.
func (r *CouponStore) AppendAudit(ctx context.Context, entries ...coupon.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if err := e.Tenant.Validate(); err != nil {
			return err
		}
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + r.q.audit + " (" + auditCols + ") VALUES ")
	args := make([]any, 0, 12*len(entries))
	for i, e := range entries {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(" + placeholders(12) + ")")
		args = append(args, string(e.Tenant), e.EventID, e.CouponID, e.TemplateID, e.UserID, string(e.Event), string(e.From), string(e.To),
			e.Actor, e.Reason, e.OrderID, r.s.dialect.timeArg(e.At))
	}
	query := r.s.dialect.rebind(sb.String())
	return r.s.write(ctx, "append coupon audit", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, query, args...)
		return dbErr("append coupon audit", err)
	})
}

// Audit implements coupon.Store.
func (r *CouponStore) Audit(ctx context.Context, tenant storage.TenantID, couponID string) ([]coupon.AuditEntry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.q.auditOf, string(tenant), couponID)
	if err != nil {
		return nil, wrap("read coupon audit", err)
	}
	defer rows.Close()
	var out []coupon.AuditEntry
	for rows.Next() {
		var e coupon.AuditEntry
		var tn, ev, from, to string
		var at dbTime
		if err := rows.Scan(&tn, &e.EventID, &e.CouponID, &e.TemplateID, &e.UserID, &ev, &from, &to, &e.Actor, &e.Reason, &e.OrderID, &at); err != nil {
			return nil, wrap("read coupon audit", err)
		}
		e.Tenant, e.Event, e.From, e.To, e.At = storage.TenantID(tn), coupon.Event(ev), coupon.State(from), coupon.State(to), at.Time
		out = append(out, e)
	}
	return out, wrap("read coupon audit", rows.Err())
}

// CreateDistribution implements coupon.Store: storage.ErrDuplicate.
func (r *CouponStore) CreateDistribution(ctx context.Context, d coupon.Distribution) error {
	if err := d.Tenant.Validate(); err != nil {
		return err
	}
	users, err := json.Marshal(d.Users)
	if err != nil {
		return fmt.Errorf("%w: distribution users: %w", storage.ErrInvalidArgument, err)
	}
	failures, err := json.Marshal(d.Failures)
	if err != nil {
		return fmt.Errorf("%w: distribution failures: %w", storage.ErrInvalidArgument, err)
	}
	return r.s.write(ctx, "create distribution", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.createDist, string(d.Tenant), d.ID, d.TemplateID, string(users), int64(d.Next), int64(d.Issued),
			int64(d.Skipped), string(d.Status), string(failures), r.s.dialect.timeArg(d.CreatedAt), r.s.dialect.timeArg(d.UpdatedAt), d.Version)
		if err != nil {
			return dbErr("create distribution", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("create distribution", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: distribution %s", storage.ErrDuplicate, d.ID)
		}
		return nil
	})
}

// Distribution implements coupon.Store: storage.ErrNotFound.
func (r *CouponStore) Distribution(ctx context.Context, tenant storage.TenantID, id string) (coupon.Distribution, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Distribution{}, err
	}
	d := coupon.Distribution{Tenant: tenant, ID: id}
	var users, failures, status string
	var next, issued, skipped int64
	var created, updated dbTime
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.dist, string(tenant), id).Scan(&d.TemplateID, &users, &next, &issued, &skipped,
		&status, &failures, &created, &updated, &d.Version)
	if isNoRows(err) {
		return coupon.Distribution{}, fmt.Errorf("%w: distribution %s", storage.ErrNotFound, id)
	}
	if err != nil {
		return coupon.Distribution{}, wrap("read distribution", err)
	}
	if err := json.Unmarshal([]byte(users), &d.Users); err != nil {
		return coupon.Distribution{}, fmt.Errorf("sqlstore: decode distribution users: %w", err)
	}
	if err := json.Unmarshal([]byte(failures), &d.Failures); err != nil {
		return coupon.Distribution{}, fmt.Errorf("sqlstore: decode distribution failures: %w", err)
	}
	d.Next, d.Issued, d.Skipped, d.Status = int(next), int(issued), int(skipped), coupon.DistributionStatus(status)
	d.CreatedAt, d.UpdatedAt = created.Time, updated.Time
	return d, nil
}

// UpdateDistribution implements coupon.Store: storage.ErrConflict when the
// stored version is not prevVersion. The user list is never rewritten.
func (r *CouponStore) UpdateDistribution(ctx context.Context, d coupon.Distribution, prevVersion int64) error {
	if err := d.Tenant.Validate(); err != nil {
		return err
	}
	failures, err := json.Marshal(d.Failures)
	if err != nil {
		return fmt.Errorf("%w: distribution failures: %w", storage.ErrInvalidArgument, err)
	}
	return r.s.write(ctx, "update distribution", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.updateDist, int64(d.Next), int64(d.Issued), int64(d.Skipped), string(d.Status), string(failures),
			r.s.dialect.timeArg(d.UpdatedAt), d.Version, string(d.Tenant), d.ID, prevVersion)
		if err != nil {
			return dbErr("update distribution", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("update distribution", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: distribution %s is not at version %d", storage.ErrConflict, d.ID, prevVersion)
		}
		return nil
	})
}

// InsertGiftCardAuth implements coupon.Store: storage.ErrDuplicate when
// the order has an authorization (an INSERT that ignores the conflict, so
// the transaction goes on).
func (r *CouponStore) InsertGiftCardAuth(ctx context.Context, a coupon.GiftCardAuthorization) error {
	if err := a.Tenant.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: gift card authorization: %w", storage.ErrInvalidArgument, err)
	}
	return r.s.write(ctx, "insert gift card authorization", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.insertAuth, string(a.Tenant), a.OrderID, a.CouponID, string(body), a.Version, r.s.dialect.timeArg(a.UpdatedAt))
		if err != nil {
			return dbErr("insert gift card authorization", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("insert gift card authorization", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: gift card authorization of order %s", storage.ErrDuplicate, a.OrderID)
		}
		return nil
	})
}

// GiftCardAuth implements coupon.Store: storage.ErrNotFound.
func (r *CouponStore) GiftCardAuth(ctx context.Context, tenant storage.TenantID, orderID string) (coupon.GiftCardAuthorization, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.GiftCardAuthorization{}, err
	}
	var body string
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.auth, string(tenant), orderID).Scan(&body)
	if isNoRows(err) {
		return coupon.GiftCardAuthorization{}, fmt.Errorf("%w: gift card authorization of order %s", storage.ErrNotFound, orderID)
	}
	if err != nil {
		return coupon.GiftCardAuthorization{}, wrap("read gift card authorization", err)
	}
	var a coupon.GiftCardAuthorization
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return coupon.GiftCardAuthorization{}, fmt.Errorf("sqlstore: decode gift card authorization: %w", err)
	}
	return a, nil
}

// UpdateGiftCardAuth implements coupon.Store: storage.ErrConflict when the
// stored version is not prevVersion, storage.ErrNotFound when there is no
// authorization.
func (r *CouponStore) UpdateGiftCardAuth(ctx context.Context, a coupon.GiftCardAuthorization, prevVersion int64) error {
	if err := a.Tenant.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: gift card authorization: %w", storage.ErrInvalidArgument, err)
	}
	return r.s.write(ctx, "update gift card authorization", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, r.q.updateAuth, string(body), a.Version, r.s.dialect.timeArg(a.UpdatedAt), string(a.Tenant), a.OrderID, prevVersion)
		if err != nil {
			return dbErr("update gift card authorization", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("update gift card authorization", err)
		}
		if n > 0 {
			return nil
		}
		err = q.QueryRowContext(ctx, r.q.auth, string(a.Tenant), a.OrderID).Scan(new(string))
		if isNoRows(err) {
			return fmt.Errorf("%w: gift card authorization of order %s", storage.ErrNotFound, a.OrderID)
		}
		if err != nil {
			return dbErr("update gift card authorization", err)
		}
		return fmt.Errorf("%w: gift card authorization of order %s is not at version %d", storage.ErrConflict, a.OrderID, prevVersion)
	})
}
