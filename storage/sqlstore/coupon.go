package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

var _ coupon.Store = (*CouponStore)(nil)

// couponInsertRows is the number of coupons per multi-row INSERT: 16
// columns each stays far below SQLite's 32766 parameters.
const couponInsertRows = 500

// pgCouponInsertRows is the number of coupons per INSERT on PostgreSQL,
// which sends a column as one array parameter; it bounds the statement
// (some 120 bytes a coupon) and the one SELECT that looks for the
// skipped rows (a parameter a row).
const pgCouponInsertRows = 5000

const couponCols = "tenant, id, template_id, user_id, code, state, frozen_from, valid_from, valid_until, order_id, locked_until, discount, budget_cut, issued_at, updated_at, version"

const auditCols = "tenant, event_id, coupon_id, template_id, user_id, event, from_state, to_state, actor, reason, order_id, at"

type couponQueries struct {
	templates, coupons, audit, dists string

	createTemplate, template, autoTemplates string
	coupon, byCode, updateCoupon, exists    string
	count, auditOf                          string
	createDist, dist, updateDist            string
	insertAuth, auth, updateAuth            string
	// claim and claimNoUser are IssueClaim's single statements, and
	// direct and directNoUser ClaimDirect's (PostgreSQL only; empty
	// elsewhere), with and without a per-user counter.
	claim, claimNoUser, direct, directNoUser string
	// batch and batchNoUser are claimBatch's statements (PostgreSQL only).
	batch, batchNoUser string
	// transition is WriteTransition's statement (PostgreSQL only).
	transition string
	// insertArrays is InsertCoupons' statement on PostgreSQL: the tenant
	// and then one array a column (see arrayArgs).
	insertArrays string
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
		updateCoupon: d.rebind(couponUpdate(c)),
		exists:       d.rebind("SELECT 1 FROM " + c + " WHERE tenant = ? AND id = ?"),
		count:        d.rebind("SELECT state, COUNT(*) FROM " + c + " WHERE tenant = ? AND template_id = ? GROUP BY state"),
		auditOf:      d.rebind("SELECT " + auditCols + " FROM " + a + " WHERE tenant = ? AND coupon_id = ? ORDER BY id"),
		createDist:   d.rebind(d.insertIgnore(ds, []string{"tenant", "id", "template_id", "users", "next_index", "issued", "skipped", "status", "failures", "created_at", "updated_at", "version"}, []string{"tenant", "id"})),
		dist:         d.rebind("SELECT template_id, users, next_index, issued, skipped, status, failures, created_at, updated_at, version FROM " + ds + " WHERE tenant = ? AND id = ?"),
		updateDist:   d.rebind("UPDATE " + ds + " SET next_index = ?, issued = ?, skipped = ?, status = ?, failures = ?, updated_at = ?, version = ? WHERE tenant = ? AND id = ? AND version = ?"),
		insertAuth:   d.rebind(d.insertIgnore(ga, []string{"tenant", "order_id", "coupon_id", "body", "version", "updated_at"}, []string{"tenant", "order_id"})),
		auth:         d.rebind("SELECT body FROM " + ga + " WHERE tenant = ? AND order_id = ?"),
		updateAuth:   d.rebind("UPDATE " + ga + " SET body = ?, version = ?, updated_at = ? WHERE tenant = ? AND order_id = ? AND version = ?"),
		claim:        claimStatement(d, prefix, true, false),
		claimNoUser:  claimStatement(d, prefix, false, false),
		direct:       claimStatement(d, prefix, true, true),
		directNoUser: claimStatement(d, prefix, false, true),
		batch:        batchStatement(d, prefix, true),
		batchNoUser:  batchStatement(d, prefix, false),
		transition:   transitionStatement(d, prefix),
		insertArrays: insertArraysStatement(d, c),
	}
}

// insertArraysStatement is the INSERT of arrayArgs on PostgreSQL (empty
// elsewhere). ON CONFLICT DO NOTHING skips a row whose ID or code is
// taken, also by an earlier row of the same statement.
func insertArraysStatement(d Dialect, table string) string {
	if d != Postgres {
		return ""
	}
	return "INSERT INTO " + table + " (" + couponCols + ") SELECT $1, v.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], " +
		"$6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::smallint[], " +
		"$14::timestamptz[], $15::timestamptz[], $16::bigint[]) AS v ON CONFLICT DO NOTHING"
}

// couponUpdate is the conditional write of every transition (UpdateCoupon
// and WriteTransition) on table c, with ? placeholders for updateArgs.
func couponUpdate(c string) string {
	return "UPDATE " + c + " SET user_id = ?, state = ?, frozen_from = ?, valid_from = ?, valid_until = ?, order_id = ?, " +
		"locked_until = ?, discount = ?, budget_cut = ?, updated_at = ?, version = ? WHERE tenant = ? AND id = ? AND state = ? AND version = ?"
}

// updateArgs are couponUpdate's arguments: c as written, if it is still
// in prevState at prevVersion; disc is discountArg(c.Discount).
func (r *CouponStore) updateArgs(c *coupon.Coupon, disc any, prevState coupon.State, prevVersion int64) []any {
	d := r.s.dialect
	return []any{c.UserID, string(c.State), string(c.FrozenFrom), d.nullTime(c.ValidFrom), d.nullTime(c.ValidUntil), c.OrderID, d.nullTime(c.LockedUntil),
		disc, boolInt(c.BudgetCut), d.timeArg(c.UpdatedAt), c.Version, string(c.Tenant), c.ID, string(prevState), prevVersion}
}

// auditArgs appends the columns of e, in auditCols' order, to args.
func (r *CouponStore) auditArgs(args []any, e *coupon.AuditEntry) []any {
	return append(args, string(e.Tenant), e.EventID, e.CouponID, e.TemplateID, e.UserID, string(e.Event), string(e.From), string(e.To),
		e.Actor, e.Reason, e.OrderID, r.s.dialect.timeArg(e.At))
}

// transitionStatement builds WriteTransition's one statement on
// PostgreSQL: the conditional write of every transition (couponUpdate),
// then, fed by it so that nothing goes in when it matched
// no row, the audit entry and the outbox message (data-modifying CTEs run
// to completion whether read or not). It returns how many coupons it
// updated (0 or 1).
//
// Parameters: $1-$15 updateArgs; $16-$27 the audit entry in auditCols'
// order (auditArgs); the message: $28 event ID, $29 tenant, $30 topic,
// $31 aggregate type, $32 aggregate ID, $33 partition, $34 payload, $35
// time.
func transitionStatement(d Dialect, prefix string) string {
	if d != Postgres {
		return ""
	}
	return d.rebind("WITH u AS ("+couponUpdate(prefix+"coupons")+" RETURNING 1),") +
		" a AS (INSERT INTO " + prefix + "coupon_audit (" + auditCols + ")" +
		" SELECT $16::text, $17::text, $18::text, $19::text, $20::text, $21::text, $22::text, $23::text, $24::text, $25::text, $26::text, $27::timestamptz FROM u RETURNING 1)," +
		" o AS (INSERT INTO " + prefix + "outbox (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)" +
		" SELECT $28::text, $29::text, $30::text, $31::text, $32::text, $33::smallint, $34::text, $35::timestamptz FROM a RETURNING 1)" +
		" SELECT count(*) FROM u"
}

// claimStatement builds a claim as one statement on PostgreSQL: data-
// modifying CTEs, each fed by the one before so that they run in this
// order, insert the coupon (nothing if its ID is taken), its audit entry,
// its outbox message, then add 1 to the per-user counter within its cap
// (with user) and, only if all that went in, 1 to the template's stock
// counter within the stock: the hot stock row is locked last, by the
// tail of the statement, and held only until its COMMIT.
//
// For IssueClaim (in a transaction) the statement returns three counts
// (coupon, user, stock; user is 1 without user) and the caller rolls back
// a refusal. For ClaimDirect (direct: run alone, in autocommit) a refusal
// must leave nothing, so the statement fails on purpose with a cast error
// carrying claimMarker and the reason ("taken", "user", "stock"), which
// aborts it whole; the cast is built from a count the statement computes,
// so the planner cannot fold it into an error of every run. The direct
// statement first reads both counters without locking (g): when its
// snapshot already shows the stock gone, it writes nothing and answers
// at once ("user" when the user is at the cap too, as the write path
// would), so that a storm of claims after a sell-out costs reads only.
//
// Parameters, shared by both (claimCall.args): $1 tenant, $2 coupon ID, $3
// template, $4 user, $5 state, $6 valid from, $7 valid until, $8 the time
// of issue (the coupon's issued and updated time, the audit entry's and
// the message's), $9 version, $10 event ID (audit and outbox), $11 event,
// $12 from state, $13 actor, $14 reason, $15 topic, $16 aggregate type,
// $17 partition, $18 payload, $19 stock key, $20 the highest stock
// counter that may still take 1; with user, $21 user key and $22 its
// highest such value. SQLite and MySQL have no data-modifying CTEs: they
// run the steps one statement each (package coupon's portable path).
func claimStatement(d Dialect, prefix string, user, direct bool) string {
	if d != Postgres {
		return ""
	}
	cnt := prefix + "counters"
	counter := func(key string) string {
		return "coalesce((SELECT value FROM " + cnt + " WHERE tenant = $1::text AND name = " + key + "::text), 0)"
	}
	q := "WITH "
	couponFrom := ""
	if direct {
		capped := "false"
		if user {
			capped = counter("$21") + " > $22::bigint"
		}
		q += "g AS (SELECT " + counter("$19") + " > $20::bigint AS sold, " + capped + " AS capped), "
		couponFrom = " FROM g WHERE NOT g.sold"
	}
	q += "c AS (INSERT INTO " + prefix + "coupons (" + couponCols + ")" +
		" SELECT $1::text, $2::text, $3::text, $4::text, NULL, $5::text, '', $6::timestamptz, $7::timestamptz, '', NULL, NULL, 0," +
		" $8::timestamptz, $8::timestamptz, $9::bigint" + couponFrom + " ON CONFLICT DO NOTHING RETURNING 1)," +
		" a AS (INSERT INTO " + prefix + "coupon_audit (" + auditCols + ")" +
		" SELECT $1::text, $10::text, $2::text, $3::text, $4::text, $11::text, $12::text, $5::text, $13::text, $14::text, '', $8::timestamptz FROM c RETURNING 1)," +
		" o AS (INSERT INTO " + prefix + "outbox (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)" +
		" SELECT $10::text, $1::text, $15::text, $16::text, $2::text, $17::smallint, $18::text, $8::timestamptz FROM a RETURNING 1),"
	stockFrom := "o"
	if user {
		q += " u AS (INSERT INTO " + cnt + " AS n (tenant, name, value) SELECT $1::text, $21::text, 1 FROM o" +
			" ON CONFLICT (tenant, name) DO UPDATE SET value = n.value + 1 WHERE n.value <= $22::bigint RETURNING 1),"
		stockFrom = "u"
	}
	q += " s AS (INSERT INTO " + cnt + " AS n (tenant, name, value) SELECT $1::text, $19::text, 1 FROM " + stockFrom +
		" ON CONFLICT (tenant, name) DO UPDATE SET value = n.value + 1 WHERE n.value <= $20::bigint RETURNING 1)"
	userCount := "1::bigint"
	if user {
		userCount = "(SELECT count(*) FROM u)"
	}
	if !direct {
		return q + " SELECT (SELECT count(*) FROM c), " + userCount + ", (SELECT count(*) FROM s)"
	}
	// s first: reading it runs the whole chain; the rest only name the
	// reason of a refusal
	q += " SELECT CASE WHEN x.s = 1 THEN 1" +
		" WHEN x.sold AND x.capped THEN CAST('" + claimMarker + "user:' || x.c AS int)" +
		" WHEN x.sold THEN CAST('" + claimMarker + "stock:' || x.c AS int)" +
		" WHEN x.c = 0 THEN CAST('" + claimMarker + "taken:' || x.c AS int)"
	if user {
		q += " WHEN x.u = 0 THEN CAST('" + claimMarker + "user:' || x.u AS int)"
	}
	return q + " ELSE CAST('" + claimMarker + "stock:' || x.s AS int) END" +
		" FROM (SELECT (SELECT count(*) FROM s) AS s, (SELECT count(*) FROM c) AS c, " + userCount + " AS u, g.sold, g.capped FROM g) x"
}

// claimMarker starts the text of the cast errors a direct claim fails
// with on purpose.
const claimMarker = "rk-coupon:"

// batchStatement builds claimBatch's one statement on PostgreSQL: many
// claims of one template, run alone in autocommit. Its CTEs, each fed by
// the one before: v unnests the claims; u adds 1 to each claim's per-user
// counter within its cap, in key order (the lock order of every writer;
// with user only); w keeps the claims whose user counter took it (all
// without user); c, a and o insert their coupons, audit entries and
// outbox messages, each straight from w (c's plain INSERT takes every
// claim of w or fails the statement, so a and o need not join it); s,
// last, adds their number k to the template's stock counter if it stays
// within the stock, so the hot stock row is locked once per batch, by the
// statement's tail.
//
// It returns k, the ordinals (1-based, comma separated) of the claims
// issued, whether the stock was gone already, and then the ordinals of
// the claims whose user was at the cap. It fails on purpose, writing
// nothing, with a cast error carrying claimMarker when the stock cannot
// take all k ("stock"; see claimStatement). A taken coupon ID (a claim
// sent again after its statement committed) fails it with a unique
// violation: the coupons go in with a plain INSERT, as a speculative one
// (ON CONFLICT) costs every claim of the hot statement more, and the
// claims sent alone then tell a taken ID apart. Like the direct claim it
// reads the stock counter first without locking (g): when the stock is
// gone, it writes nothing and only names the claims whose user is at the
// cap, so that every claim gets at once the answer it would get alone.
//
// Parameters: $1 tenant, $2 template, $3 state, $4 version, $5 event, $6
// from state, $7 topic, $8 aggregate type, $9 stock key, $10 the highest
// value the stock counter may reach; arrays, one element per claim: $11
// coupon IDs, $12 users, $13 valid from, $14 valid until, $15 times of
// issue, $16 event IDs, $17 actors, $18 reasons, $19 partitions, $20
// payloads; with user, $21 user keys and $22 the highest user counter
// that may still take 1.
func batchStatement(d Dialect, prefix string, user bool) string {
	if d != Postgres {
		return ""
	}
	cnt := prefix + "counters"
	q := "WITH g AS (SELECT coalesce((SELECT value FROM " + cnt + " WHERE tenant = $1::text AND name = $9::text), 0) >= $10::bigint AS sold)," +
		" v AS (SELECT v.* FROM g, unnest($11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[]," +
		" $16::text[], $17::text[], $18::text[], $19::smallint[], $20::text[]"
	capped := "NULL::text"
	if user {
		q += ", $21::text[]) WITH ORDINALITY AS v(id, usr, vfrom, vuntil, at, event_id, actor, reason, part, payload, ukey, ord) WHERE NOT g.sold),"
		q += " u AS (INSERT INTO " + cnt + " AS n (tenant, name, value) SELECT $1::text, v.ukey, 1 FROM v ORDER BY v.ukey COLLATE \"C\"" +
			" ON CONFLICT (tenant, name) DO UPDATE SET value = n.value + 1 WHERE n.value <= $22::bigint RETURNING n.name)," +
			" w AS (SELECT v.* FROM v JOIN u ON u.name = v.ukey),"
		capped = "(SELECT string_agg(k.ord::text, ',') FROM unnest($21::text[]) WITH ORDINALITY AS k(ukey, ord)" +
			" JOIN " + cnt + " n ON n.tenant = $1::text AND n.name = k.ukey WHERE n.value > $22::bigint)"
	} else {
		q += ") WITH ORDINALITY AS v(id, usr, vfrom, vuntil, at, event_id, actor, reason, part, payload, ord) WHERE NOT g.sold)," +
			" w AS (SELECT * FROM v),"
	}
	q += " c AS (INSERT INTO " + prefix + "coupons (" + couponCols + ")" +
		" SELECT $1::text, w.id, $2::text, w.usr, NULL, $3::text, '', w.vfrom, w.vuntil, '', NULL, NULL, 0, w.at, w.at, $4::bigint FROM w)," +
		" a AS (INSERT INTO " + prefix + "coupon_audit (" + auditCols + ")" +
		" SELECT $1::text, w.event_id, w.id, $2::text, w.usr, $5::text, $6::text, $3::text, w.actor, w.reason, '', w.at FROM w)," +
		" o AS (INSERT INTO " + prefix + "outbox (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)" +
		" SELECT w.event_id, $1::text, $7::text, $8::text, w.id, w.part, w.payload, w.at FROM w RETURNING 1)," +
		" s AS (INSERT INTO " + cnt + " AS n (tenant, name, value)" +
		" SELECT $1::text, $9::text, k.k FROM (SELECT count(*) AS k FROM o) k WHERE k.k > 0 AND k.k <= $10::bigint" +
		" ON CONFLICT (tenant, name) DO UPDATE SET value = n.value + excluded.value WHERE n.value <= $10::bigint - excluded.value RETURNING 1)" +
		" SELECT CASE WHEN x.k > 0 AND x.s = 0 THEN CAST('" + claimMarker + "stock:' || x.k AS int) ELSE x.k END," +
		" (SELECT string_agg(ord::text, ',') FROM w), x.sold, CASE WHEN x.sold THEN " + capped + " END" +
		" FROM (SELECT (SELECT count(*) FROM o) AS k, (SELECT count(*) FROM s) AS s, g.sold FROM g) x"
	return q
}

// CouponStore is the Store's implementation of coupon.Store; get it with
// Store.Coupons. Its methods join the Store's transactions.
type CouponStore struct {
	s *Store
	q couponQueries
}

// claimLane is what direct claims group by: one template's stock in one
// tenant.
type claimLane struct {
	tenant storage.TenantID
	stock  string
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

// discountArg is a's discount column: its JSON text, or NULL for none.
func (r *CouponStore) discountArg(a money.Amount) (any, error) {
	t, err := r.discountText(a)
	if t == nil {
		return nil, err
	}
	return *t, nil
}

// discountText is discountArg's text, nil for NULL.
func (r *CouponStore) discountText(a money.Amount) (*string, error) {
	if a.Currency().IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("%w: coupon discount: %w", storage.ErrInvalidArgument, err)
	}
	t := string(b)
	return &t, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertCoupons implements coupon.Store: on PostgreSQL with one INSERT of
// column arrays for up to 5,000 rows, elsewhere with multi-row INSERTs of
// up to 500. A row whose ID or code is taken is skipped by ON CONFLICT DO
// NOTHING (no failed statement, which would abort a PostgreSQL
// transaction); when a chunk inserts fewer rows than it has, one SELECT
// finds which.
func (r *CouponStore) InsertCoupons(ctx context.Context, tenant storage.TenantID, cs []coupon.Coupon) ([]int, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Tenant != tenant || c.ID == "" {
			return nil, fmt.Errorf("%w: coupon %q of tenant %q inserted for %q", storage.ErrInvalidArgument, c.ID, c.Tenant, tenant)
		}
	}
	rows, build := couponInsertRows, r.valuesArgs
	if r.q.insertArrays != "" {
		rows, build = pgCouponInsertRows, r.arrayArgs
	}
	var rejected []int
	err := r.s.write(ctx, "insert coupons", func(ctx context.Context, q querier) error {
		rejected = nil
		for start := 0; start < len(cs); start += rows {
			chunk := cs[start:min(start+rows, len(cs))]
			query, args, err := build(tenant, chunk)
			if err != nil {
				return err
			}
			res, err := q.ExecContext(ctx, query, args...)
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

// valuesArgs is the multi-row INSERT of chunk and its arguments, 16 a row.
func (r *CouponStore) valuesArgs(_ storage.TenantID, chunk []coupon.Coupon) (string, []any, error) {
	d := r.s.dialect
	// PostgreSQL and SQLite share ON CONFLICT DO NOTHING without a
	// target (any unique key); MySQL would use INSERT IGNORE.
	query := d.rebind("INSERT INTO " + r.q.coupons + " (" + couponCols + ") VALUES " + valueRows(len(chunk), 16) + " ON CONFLICT DO NOTHING")
	args := make([]any, 0, 16*len(chunk))
	for _, c := range chunk {
		disc, err := r.discountArg(c.Discount)
		if err != nil {
			return "", nil, err
		}
		args = append(args, string(c.Tenant), c.ID, c.TemplateID, c.UserID, nullString(c.Code), string(c.State), string(c.FrozenFrom),
			d.nullTime(c.ValidFrom), d.nullTime(c.ValidUntil), c.OrderID, d.nullTime(c.LockedUntil), disc, boolInt(c.BudgetCut),
			d.timeArg(c.IssuedAt), d.timeArg(c.UpdatedAt), c.Version)
	}
	return query, args, nil
}

// arrayArgs is insertArrays and its arguments for chunk: the tenant and a
// slice a column, which the connection's sliceCodec encodes straight into
// binary arrays. Nullable columns point into chunk (nil for NULL).
func (r *CouponStore) arrayArgs(tenant storage.TenantID, chunk []coupon.Coupon) (string, []any, error) {
	n := len(chunk)
	var (
		ids, templates, users, states = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		frozen, orders                = make([]string, n), make([]string, n)
		codes, discounts              = make([]*string, n), make([]*string, n)
		from, until, locked           = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		issued, updated               = make([]time.Time, n), make([]time.Time, n)
		cuts                          = make([]int16, n)
		versions                      = make([]int64, n)
	)
	orNull := func(t *time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return t
	}
	for i := range chunk {
		c := &chunk[i]
		ids[i], templates[i], users[i], states[i] = c.ID, c.TemplateID, c.UserID, string(c.State)
		frozen[i], orders[i] = string(c.FrozenFrom), c.OrderID
		if c.Code != "" {
			codes[i] = &c.Code
		}
		var err error
		if discounts[i], err = r.discountText(c.Discount); err != nil {
			return "", nil, err
		}
		from[i], until[i], locked[i] = orNull(&c.ValidFrom), orNull(&c.ValidUntil), orNull(&c.LockedUntil)
		issued[i], updated[i] = c.IssuedAt, c.UpdatedAt
		cuts[i], versions[i] = int16(boolInt(c.BudgetCut)), c.Version
	}
	return r.q.insertArrays, []any{string(tenant), ids, templates, users, codes, states, frozen, from, until, orders, locked, discounts, cuts,
		issued, updated, versions}, nil
}

// IssueClaim is package coupon's fast path for a claim on PostgreSQL: the
// coupon, its audit entry and outbox message, the per-user counter and
// then the stock counter in one statement (see claimStatement), so that a
// claim costs one round trip between BEGIN and COMMIT and the hot stock
// row stays locked for that statement's tail and the COMMIT. handled is
// false (and nothing is done) on SQLite, when outbox or counters are not
// this store, or when the arguments are not a plain claim (see
// claimFits; the portable path then serves or reports it). userOK or
// stockOK false: a limit refused, and the caller must roll back. A taken
// coupon ID is storage.ErrDuplicate.
func (r *CouponStore) IssueClaim(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	if r.q.claim == "" {
		return false, false, false, nil
	}
	if !r.claimFits(outbox, counters, &c, &e, &m, userKey, perUser, stockKey, stock) {
		return false, false, false, nil
	}
	call := claimCall{c: c, e: e, m: m, userKey: userKey, perUser: perUser, stockKey: stockKey, stock: stock}
	args := call.args(r.s.dialect)
	query := r.q.claimNoUser
	if perUser > 0 {
		query = r.q.claim
	}
	err = r.s.write(ctx, "issue claim", func(ctx context.Context, q querier) error {
		var nc, nu, ns int64
		if err := q.QueryRowContext(ctx, query, args...).Scan(&nc, &nu, &ns); err != nil {
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

// ClaimDirect is package coupon's fast path for a claim made with no
// transaction in ctx, on PostgreSQL: the claim of IssueClaim as one
// statement in autocommit (see claimStatement), so that it costs one
// round trip and the hot stock row is locked only from the statement's
// tail to its own commit. Under load, claims of one template go to the
// database together (group commit, Options.GroupCommit): one statement
// (see batchStatement) claims them all, one round trip and one pass over
// the hot stock row for the lot, and each claim still gets exactly the
// outcome it would have had alone (see sendClaims).
//
// A refused limit leaves nothing written. handled is false (and nothing
// is done) when ctx holds a transaction of this store, on SQLite, for
// arguments IssueClaim would decline, and after a retryable failure (a
// deadlock or serialization failure: package coupon then runs the claim
// in a transaction, which retries). A taken coupon ID is
// storage.ErrDuplicate; ctx's error when it ended while the claim waited
// for its group (nothing written); other failures are mapped like every
// driver error.
func (r *CouponStore) ClaimDirect(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	if r.q.direct == "" {
		return false, false, false, nil
	}
	if _, in := storage.CurrentTx(ctx, r.s); in {
		return false, false, false, nil
	}
	if !r.claimFits(outbox, counters, &c, &e, &m, userKey, perUser, stockKey, stock) {
		return false, false, false, nil
	}
	call := claimCall{c: c, e: e, m: m, userKey: userKey, perUser: perUser, stockKey: stockKey, stock: stock}
	if r.s.claimGroup == nil {
		return r.claimOne(ctx, &call)
	}
	// one lane per template (its stock counter) within the tenant
	out, alone, err := r.s.claimGroup.do(ctx, claimLane{c.Tenant, stockKey}, call, r.sendClaims)
	switch {
	case err != nil:
		return true, false, false, err
	case alone:
		return r.claimOne(ctx, &call)
	}
	return out.handled, out.userOK, out.stockOK, out.err
}

// claimCall is one ClaimDirect call, checked, in a group commit.
type claimCall struct {
	c        coupon.Coupon
	e        coupon.AuditEntry
	m        storage.Message
	userKey  string
	perUser  int64
	stockKey string
	stock    int64
}

// claimOutcome is what ClaimDirect answers.
type claimOutcome struct {
	handled, userOK, stockOK bool
	err                      error
}

type claimGroupCall = groupCall[claimCall, claimOutcome]

// claimOne makes one claim with the direct claim statement.
func (r *CouponStore) claimOne(ctx context.Context, call *claimCall) (handled, userOK, stockOK bool, err error) {
	query := r.q.directNoUser
	if call.perUser > 0 {
		query = r.q.direct
	}
	var one int64
	err = r.s.db.QueryRowContext(ctx, query, call.args(r.s.dialect)...).Scan(&one)
	if err == nil {
		return true, true, true, nil
	}
	if msg := err.Error(); strings.Contains(msg, claimMarker) {
		switch {
		case strings.Contains(msg, claimMarker+"stock:"):
			return true, true, false, nil
		case strings.Contains(msg, claimMarker+"user:"):
			return true, false, false, nil
		case strings.Contains(msg, claimMarker+"taken:"):
			// Sent again after a group statement whose answer was lost
			// (the connection dropped after its commit), the claim finds
			// its own coupon: the ID is new per call, so a stored coupon
			// with this ID, template and user is this claim, made.
			if prior, err := r.Coupon(ctx, call.c.Tenant, call.c.ID); err == nil &&
				prior.TemplateID == call.c.TemplateID && prior.UserID == call.c.UserID {
				return true, true, true, nil
			}
			return true, false, false, fmt.Errorf("%w: new coupon ID %s taken", storage.ErrDuplicate, call.c.ID)
		}
	}
	err = wrap("claim coupon", err)
	if storage.IsRetryable(err) {
		return false, false, false, nil
	}
	return true, false, false, err
}

// sendClaims makes a group of claims of one template. One claim goes
// alone. Several are split into batches of claims with the same
// template definition (bounds) and distinct users, in call order (a
// user's second claim goes in a later batch, so that its cap is judged
// claim by claim), each batch one statement. A batch decides exactly as
// its claims one after another would whenever the stock can take all
// the claims its users' caps let through; when it cannot (the last
// coupons of the stock), or the statement fails for any reason, it has
// written nothing and each of its claims is sent again by itself.
func (r *CouponStore) sendClaims(ctx context.Context, group []*claimGroupCall) {
	if len(group) == 1 {
		c := group[0]
		o := &c.out
		o.handled, o.userOK, o.stockOK, o.err = r.claimOne(ctx, &c.in)
		return
	}
	var batches [][]*claimGroupCall
	var users []map[string]bool
	for _, c := range group {
		placed := false
		for i, b := range batches {
			if b[0].in.perUser == c.in.perUser && b[0].in.stock == c.in.stock && b[0].in.stockKey == c.in.stockKey &&
				(c.in.userKey == "" || !users[i][c.in.userKey]) {
				batches[i] = append(b, c)
				users[i][c.in.userKey] = true
				placed = true
				break
			}
		}
		if !placed {
			batches = append(batches, []*claimGroupCall{c})
			users = append(users, map[string]bool{c.in.userKey: true})
		}
	}
	for _, b := range batches {
		if len(b) == 1 {
			o := &b[0].out
			o.handled, o.userOK, o.stockOK, o.err = r.claimOne(ctx, &b[0].in)
			continue
		}
		flags, sold, err := r.claimBatch(ctx, b)
		for i, c := range b {
			switch {
			case err != nil || flags == nil:
				c.alone = true
			case sold: // flags: the user is at the cap
				c.out = claimOutcome{handled: true, userOK: !flags[i]}
			default: // flags: issued
				c.out = claimOutcome{handled: true, userOK: flags[i], stockOK: flags[i]}
			}
		}
	}
}

// claimBatch makes a batch of claims (checked by ClaimDirect and grouped
// by sendClaims) with batchStatement. It returns for each claim whether it
// was issued (its user had room); or, with sold, that the stock was gone
// and for each claim whether its user is at the cap; or nil when the
// stock could not take them all. Nothing is written then, nor on an
// error.
func (r *CouponStore) claimBatch(ctx context.Context, batch []*claimGroupCall) (flags []bool, sold bool, err error) {
	n := len(batch)
	first, e0, m0 := &batch[0].in.c, &batch[0].in.e, &batch[0].in.m
	ids, users, eventIDs, actors, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	payloads, from, until, at := make([]*string, n), make([]*time.Time, n), make([]*time.Time, n), make([]time.Time, n)
	parts := make([]int16, n)
	var userKeys []string
	if batch[0].in.perUser > 0 {
		userKeys = make([]string, n)
	}
	for i, call := range batch {
		c, e, m := &call.in.c, &call.in.e, &call.in.m
		if c.Tenant != first.Tenant || c.TemplateID != first.TemplateID || c.State != first.State || c.Version != first.Version ||
			e.Event != e0.Event || e.From != e0.From || m.Topic != m0.Topic || m.AggregateType != m0.AggregateType {
			return nil, false, fmt.Errorf("sqlstore: claim batch mixes templates or events")
		}
		ids[i], users[i], eventIDs[i], actors[i], reasons[i] = c.ID, c.UserID, e.EventID, e.Actor, e.Reason
		if m.Payload != nil {
			p := string(m.Payload)
			payloads[i] = &p
		}
		from[i], until[i], at[i] = pgTime(c.ValidFrom), pgTime(c.ValidUntil), c.IssuedAt.UTC().Truncate(time.Microsecond)
		parts[i] = int16(m.Partition())
		if userKeys != nil {
			userKeys[i] = call.in.userKey
		}
	}
	stockMax := int64(math.MaxInt64)
	if s := batch[0].in.stock; s > 0 {
		stockMax = s
	}
	args := []any{string(first.Tenant), first.TemplateID, string(first.State), first.Version, string(e0.Event), string(e0.From), m0.Topic, m0.AggregateType,
		batch[0].in.stockKey, stockMax, ids, users, from, until, at, eventIDs, actors, reasons, parts, payloads}
	query := r.q.batchNoUser
	if userKeys != nil {
		query = r.q.batch
		args = append(args, userKeys, batch[0].in.perUser-1)
	}
	var k int64
	var won, capped *string
	if err := r.s.db.QueryRowContext(ctx, query, args...).Scan(&k, &won, &sold, &capped); err != nil {
		if strings.Contains(err.Error(), claimMarker+"stock:") {
			return nil, false, nil
		}
		return nil, false, wrap("claim coupons", err)
	}
	if sold {
		atCap, _, err := ordinals(capped, n)
		return atCap, true, err
	}
	issued, count, err := ordinals(won, n)
	if err == nil && count != k {
		err = fmt.Errorf("sqlstore: claim coupons: %d issued, %d reported", k, count)
	}
	return issued, false, err
}

// ordinals reads a comma separated list of 1-based ordinals up to n (nil:
// none) as flags by index, and their number.
func ordinals(list *string, n int) ([]bool, int64, error) {
	flags := make([]bool, n)
	count := int64(0)
	if list == nil {
		return flags, 0, nil
	}
	for f := range strings.SplitSeq(*list, ",") {
		o, err := strconv.Atoi(f)
		if err != nil || o < 1 || o > n {
			return nil, 0, fmt.Errorf("sqlstore: claim coupons: bad ordinal %q", f)
		}
		flags[o-1] = true
		count++
	}
	return flags, count, nil
}

// pgTime is t as a timestamptz array element: nil for the zero time.
func pgTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// plainClaim reports whether c, e and m are one plain claim as package
// coupon makes it: no code, order, lock or discount; the entry and the
// message of that coupon, with one event ID and one time.
func plainClaim(c *coupon.Coupon, e *coupon.AuditEntry, m *storage.Message) bool {
	if c.ID == "" || c.Code != "" || c.FrozenFrom != "" || c.OrderID != "" || !c.LockedUntil.IsZero() || !c.Discount.Currency().IsZero() || c.BudgetCut {
		return false
	}
	if e.Tenant != c.Tenant || e.CouponID != c.ID || e.TemplateID != c.TemplateID || e.UserID != c.UserID || e.To != c.State || e.OrderID != "" ||
		m.Tenant != c.Tenant || m.EventID != e.EventID || m.AggregateID != c.ID {
		return false
	}
	if c.IssuedAt.IsZero() || !c.UpdatedAt.Equal(c.IssuedAt) || !e.At.Equal(c.IssuedAt) || !m.CreatedAt.Equal(c.IssuedAt) {
		return false
	}
	return m.Validate() == nil
}

// claimFits reports whether a claim fits claimStatement: outbox and
// counters are this store, the arguments are ones the portable path
// would accept (else that path reports them), and the coupon, entry and message
// are one plain claim (plainClaim).
func (r *CouponStore) claimFits(outbox storage.OutboxStore, counters storage.CounterStore, c *coupon.Coupon, e *coupon.AuditEntry, m *storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) bool {
	if o, ok := outbox.(*Store); !ok || o != r.s {
		return false
	}
	if k, ok := counters.(*Store); !ok || k != r.s {
		return false
	}
	if !plainClaim(c, e, m) || perUser < 0 || stock < 0 {
		return false
	}
	return validCounter(c.Tenant, stockKey) == nil && (perUser == 0 || validCounter(c.Tenant, userKey) == nil)
}

// args lays out claimStatement's parameters for the claim.
func (call *claimCall) args(d Dialect) []any {
	c, e, m := &call.c, &call.e, &call.m
	var payload any
	if m.Payload != nil {
		payload = string(m.Payload)
	}
	stockHi := int64(math.MaxInt64 - 1)
	if call.stock > 0 {
		stockHi = call.stock - 1
	}
	args := make([]any, 0, 22)
	args = append(args, string(c.Tenant), c.ID, c.TemplateID, c.UserID, string(c.State), d.nullTime(c.ValidFrom), d.nullTime(c.ValidUntil),
		d.timeArg(c.IssuedAt), c.Version,
		e.EventID, string(e.Event), string(e.From), e.Actor, e.Reason,
		m.Topic, m.AggregateType, int16(m.Partition()), payload,
		call.stockKey, stockHi)
	if call.perUser > 0 {
		args = append(args, call.userKey, call.perUser-1)
	}
	return args
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
		res, err := q.ExecContext(ctx, r.q.updateCoupon, r.updateArgs(&c, disc, prevState, prevVersion)...)
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
		return r.missed(ctx, q, &c, prevState, prevVersion)
	})
}

// missed tells why a conditional write of c from prevState at
// prevVersion matched no row: storage.ErrNotFound when there is no such
// coupon, storage.ErrConflict when another writer moved it first.
func (r *CouponStore) missed(ctx context.Context, q querier, c *coupon.Coupon, prevState coupon.State, prevVersion int64) error {
	var one int
	err := q.QueryRowContext(ctx, r.q.exists, string(c.Tenant), c.ID).Scan(&one)
	if isNoRows(err) {
		return fmt.Errorf("%w: coupon %s", storage.ErrNotFound, c.ID)
	}
	if err != nil {
		return dbErr("update coupon", err)
	}
	return fmt.Errorf("%w: coupon %s moved from %s v%d", storage.ErrConflict, c.ID, prevState, prevVersion)
}

// WriteTransition is package coupon's fast path for one lifecycle
// transition on PostgreSQL: UpdateCoupon's conditional write, the audit
// entry and the outbox message as one statement (transitionStatement),
// one round trip instead of three, joining the transaction in ctx.
// handled is false (and nothing is done) on SQLite, when outbox is not
// this store, or when an argument would be refused (the portable path
// then reports it). updated is false when the conditional write failed,
// with UpdateCoupon's errors (storage.ErrNotFound, storage.ErrConflict);
// a taken event ID is storage.ErrDuplicate. On error nothing is written.
func (r *CouponStore) WriteTransition(ctx context.Context, outbox storage.OutboxStore, c coupon.Coupon, prevState coupon.State, prevVersion int64,
	e coupon.AuditEntry, m storage.Message) (handled, updated bool, err error) {
	if r.q.transition == "" {
		return false, false, nil
	}
	if o, ok := outbox.(*Store); !ok || o != r.s {
		return false, false, nil
	}
	if c.Tenant.Validate() != nil || e.Tenant != c.Tenant || e.CouponID != c.ID || m.Validate() != nil {
		return false, false, nil
	}
	disc, err := r.discountArg(c.Discount)
	if err != nil {
		return false, false, nil
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = r.s.opts.Clock.Now()
	}
	var payload *string
	if m.Payload != nil {
		p := string(m.Payload)
		payload = &p
	}
	args := r.auditArgs(r.updateArgs(&c, disc, prevState, prevVersion), &e)
	args = append(args, m.EventID, string(m.Tenant), m.Topic, m.AggregateType, m.AggregateID, int16(m.Partition()), payload, r.s.dialect.timeArg(created))
	err = r.s.write(ctx, "coupon transition", func(ctx context.Context, q querier) error {
		updated = false // write may run this again
		var n int64
		if err := q.QueryRowContext(ctx, r.q.transition, args...).Scan(&n); err != nil {
			updated = true // the write did not miss: the statement failed
			return dbErr(fmt.Sprintf("coupon transition, event %q", m.EventID), err)
		}
		if n == 1 {
			updated = true
			return nil
		}
		return r.missed(ctx, q, &c, prevState, prevVersion)
	})
	return true, updated, err
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
	args := make([]any, 0, 12*len(entries))
	for i := range entries {
		args = r.auditArgs(args, &entries[i])
	}
	query := r.s.dialect.rebind("INSERT INTO " + r.q.audit + " (" + auditCols + ") VALUES " + valueRows(len(entries), 12))
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
