package memory

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/storage"
)

var _ coupon.Store = (*CouponStore)(nil)

// tkey scopes an ID (template, coupon, code, user, order, distribution)
// by tenant.
type tkey struct {
	tenant storage.TenantID
	id     string
}

// couponState holds package coupon's records.
type couponState struct {
	templates map[tkey]*coupon.Template               // never changed once stored
	autos     map[storage.TenantID][]*coupon.Template // each tenant's automatic promotions, by ID
	coupons   map[storage.TenantID]*tenantCoupons     // each tenant's coupons, by ID and by code
	rows      slab[couponRow]
	byUser    map[tkey][]string // user -> coupon IDs
	byOrder   map[tkey][]string // order -> coupon IDs (one or a few)
	// audit holds the trails of coupon IDs that have no row (yet): a
	// stored coupon's trail is in log, chained from its row.
	audit     map[tkey][]coupon.AuditEntry
	log       auditLog
	dists     map[tkey]coupon.Distribution
	giftAuths map[tkey]coupon.GiftCardAuthorization // order -> authorization

	// a new user's or order's first coupon ID is carved out of this, not
	// allocated one by one
	ids arena[string]
}

// arena hands out one-element slices carved from chunks, so that the
// claim's hot path allocates a chunk now and then instead of a slice per
// claim. Each slice's capacity is its length: an append to it copies, so
// neighbours in the chunk are never overwritten.
type arena[T any] struct{ buf []T }

const arenaChunk = 256

// one returns a slice holding v alone.
func (a *arena[T]) one(v T) []T {
	if len(a.buf) == cap(a.buf) {
		a.buf = make([]T, 0, arenaChunk)
	}
	a.buf = append(a.buf, v)
	n := len(a.buf)
	return a.buf[n-1 : n : n]
}

func (c *couponState) init() {
	c.templates = make(map[tkey]*coupon.Template)
	c.autos = make(map[storage.TenantID][]*coupon.Template)
	c.coupons = make(map[storage.TenantID]*tenantCoupons)
	c.byUser = make(map[tkey][]string)
	c.byOrder = make(map[tkey][]string)
	c.audit = make(map[tkey][]coupon.AuditEntry)
	c.dists = make(map[tkey]coupon.Distribution)
	c.giftAuths = make(map[tkey]coupon.GiftCardAuthorization)
}

// couponRow is a coupon and where its audit trail ends. A store's rows
// are a slab, in append order: the index maps hold an int32 per coupon
// (cheap to grow and to scan for the collector), and growing never copies
// the coupons. Rows are removed only by undo, which runs last-in
// first-out under the store's lock, so the rows removed are always the
// last.
type couponRow struct {
	c    coupon.Coupon
	last int32 // 1 + the index in couponState.log of its newest audit entry; 0: none
}

// tenantCoupons indexes one tenant's rows: keyed by the ID or code alone,
// its maps hash one string where a key with the tenant would hash two,
// and take 24 bytes an entry (40 and 48 with the tenant in the key, and a
// code mapped to an ID), most of what a million generated codes cost. Scans of a tenant's coupons skip the
// other tenants'.
type tenantCoupons struct {
	ids   map[string]int32 // coupon ID -> its index in rows
	codes map[string]int32 // code -> its coupon's index in rows
}

// of returns tenant's indexes, made on first use.
func (c *couponState) of(tenant storage.TenantID) *tenantCoupons {
	tc := c.coupons[tenant]
	if tc == nil {
		tc = &tenantCoupons{ids: make(map[string]int32), codes: make(map[string]int32)}
		c.coupons[tenant] = tc
	}
	return tc
}

// row returns the index in rows of the stored coupon k, or false.
func (c *couponState) row(k tkey) (int32, bool) {
	tc := c.coupons[k.tenant]
	if tc == nil {
		return 0, false
	}
	i, ok := tc.ids[k.id]
	return i, ok
}

// coupon returns the stored coupon k, or false.
func (c *couponState) coupon(k tkey) (*coupon.Coupon, bool) {
	i, ok := c.row(k)
	if !ok {
		return nil, false
	}
	return &c.rows.at(i).c, true
}

// dropFrom takes back every coupon pushed at or after row first, with its
// ID and code, as the undo of a batch insert that pushed them all. Rows
// pushed after the batch in the same transaction have been popped by their
// own undos by then, which run first.
func (c *couponState) dropFrom(first int) {
	for i := first; i < c.rows.len(); i++ {
		cp := &c.rows.at(int32(i)).c
		tc := c.coupons[cp.Tenant]
		delete(tc.ids, cp.ID)
		if cp.Code != "" {
			delete(tc.codes, cp.Code)
		}
	}
	c.rows.truncate(first)
}

// CouponStore is the memory Store's implementation of coupon.Store; get it
// with Store.Coupons. It shares the Store's lock and transactions.
type CouponStore struct{ s *Store }

// Coupons returns the store of package coupon.
func (s *Store) Coupons() coupon.Store { return &CouponStore{s} }

func (r *CouponStore) st() *couponState { return &r.s.coupon }

// CreateTemplate implements coupon.Store.
func (r *CouponStore) CreateTemplate(ctx context.Context, t coupon.Template) error {
	if err := t.Tenant.Validate(); err != nil {
		return err
	}
	t.Conditions = slices.Clone(t.Conditions)
	t.Funding = slices.Clone(t.Funding)
	t.Benefit.Tiers = slices.Clone(t.Benefit.Tiers)
	return r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		if err := insertNew(tx, st.templates, tkey{t.Tenant, t.ID}, &t, "coupon template "+t.ID); err != nil {
			return err
		}
		if t.Auto {
			old := st.autos[t.Tenant]
			i, _ := slices.BinarySearchFunc(old, t.ID, func(a *coupon.Template, id string) int { return cmp.Compare(a.ID, id) })
			st.autos[t.Tenant] = slices.Insert(slices.Clone(old), i, &t)
			tx.onUndo(func() { st.autos[t.Tenant] = old })
		}
		return nil
	})
}

// Template implements coupon.Store.
func (r *CouponStore) Template(ctx context.Context, tenant storage.TenantID, id string) (coupon.Template, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Template{}, err
	}
	var out coupon.Template
	err := r.s.do(ctx, func(*txn) error {
		t, ok := r.st().templates[tkey{tenant, id}]
		if !ok {
			return fmt.Errorf("%w: coupon template %s", storage.ErrNotFound, id)
		}
		out = *t
		return nil
	})
	return out, err
}

// AutoTemplates implements coupon.Store.
func (r *CouponStore) AutoTemplates(ctx context.Context, tenant storage.TenantID) ([]coupon.Template, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []coupon.Template
	err := r.s.do(ctx, func(*txn) error {
		autos := r.st().autos[tenant]
		if len(autos) > 0 {
			out = make([]coupon.Template, len(autos))
			for i, t := range autos {
				out[i] = *t
			}
		}
		return nil
	})
	return out, err
}

// InsertCoupons implements coupon.Store.
func (r *CouponStore) InsertCoupons(ctx context.Context, tenant storage.TenantID, cs []coupon.Coupon) ([]int, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Tenant != tenant || c.ID == "" {
			return nil, fmt.Errorf("%w: coupon %q of tenant %q inserted for %q", storage.ErrInvalidArgument, c.ID, c.Tenant, tenant)
		}
	}
	var rejected []int
	err := r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		// The batch's rows are pushed one after another, so one undo
		// takes them all back, however many there are.
		first := st.rows.len()
		tx.onUndo(func() { st.dropFrom(first) })
		tc := st.of(tenant)
		for i, c := range cs {
			if _, dup := tc.ids[c.ID]; dup {
				rejected = append(rejected, i)
				continue
			}
			if c.Code != "" {
				if _, dup := tc.codes[c.Code]; dup {
					rejected = append(rejected, i)
					continue
				}
			}
			row := st.rows.push(couponRow{c: c})
			tc.ids[c.ID] = row
			if c.Code != "" {
				tc.codes[c.Code] = row
			}
			r.index(tx, &c)
		}
		return nil
	})
	return rejected, err
}

// IssueClaim is package coupon's fast path for a claim: it checks the
// per-user cap and the stock first and then, in one step under the
// store's lock, stores the coupon, its audit entry and outbox message and
// takes both counters, with one undo for the lot. A refused limit writes
// nothing. handled is false (and nothing is done) when outbox or counters
// are not this store or an argument would be refused (the portable path
// then reports it). A taken coupon ID or event ID is storage.ErrDuplicate.
// It keeps m.Payload without a copy: the caller hands it over and must not
// change it afterwards.
func (r *CouponStore) IssueClaim(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	return r.issueClaim(ctx, outbox, counters, &c, &e, &m, userKey, perUser, stockKey, stock, false)
}

// ClaimDirect is IssueClaim for a claim made with no transaction in ctx
// (package coupon's directClaimer): the same single step under the lock,
// which is the whole transaction, so it records no undo. handled is false
// when ctx holds a transaction of this store.
func (r *CouponStore) ClaimDirect(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	if _, in := storage.CurrentTx(ctx, r.s); in {
		return false, false, false, nil
	}
	return r.issueClaim(ctx, outbox, counters, &c, &e, &m, userKey, perUser, stockKey, stock, true)
}

// issueClaim is IssueClaim and, with direct, ClaimDirect. direct is only
// for a ctx without a transaction: do then runs the step in a transaction
// of its own that rolls back only when the step fails, and the step's one
// write that can fail (the outbox append) comes first and takes itself
// back, so there is nothing to undo and no undo closure to allocate.
func (r *CouponStore) issueClaim(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c *coupon.Coupon, e *coupon.AuditEntry, m *storage.Message,
	userKey string, perUser int64, stockKey string, stock int64, direct bool) (handled, userOK, stockOK bool, err error) {
	if o, ok := outbox.(*Store); !ok || o != r.s {
		return false, false, false, nil
	}
	if k, ok := counters.(*Store); !ok || k != r.s {
		return false, false, false, nil
	}
	if c.Tenant.Validate() != nil || c.ID == "" || c.UserID == "" || c.Code != "" || c.OrderID != "" || e.Tenant != c.Tenant || e.CouponID != c.ID ||
		perUser < 0 || stock < 0 || m.Validate() != nil {
		return false, false, false, nil
	}
	err = r.s.do(ctx, func(tx *txn) error {
		st, core := r.st(), &r.s.core
		tc, id := st.of(c.Tenant), c.ID // the undo keeps id, so that c does not escape
		if _, dup := tc.ids[id]; dup {
			return fmt.Errorf("%w: new coupon ID %s taken", storage.ErrDuplicate, c.ID)
		}
		uk := counterKey{c.Tenant, userKey}
		if perUser > 0 && core.counters[uk] >= perUser {
			return nil
		}
		userOK = true
		sk := counterKey{c.Tenant, stockKey}
		sv, sExisted := core.counters[sk]
		if (stock > 0 && sv >= stock) || sv == math.MaxInt64 {
			return nil
		}
		stockOK = true
		// the outbox first: it is the one write that can still fail (a
		// taken event ID), and it undoes itself
		if err := r.s.appendOutbox(tx, m); err != nil {
			userOK, stockOK = false, false
			return err
		}
		i := st.rows.push(couponRow{c: *c, last: st.log.push(e, 0)})
		tc.ids[id] = i
		ub := tkey{c.Tenant, c.UserID}
		if ids := st.byUser[ub]; len(ids) > 0 {
			st.byUser[ub] = append(ids, c.ID)
		} else {
			st.byUser[ub] = st.ids.one(c.ID)
		}
		if perUser > 0 {
			core.counters[uk]++
		}
		core.counters[sk] = sv + 1
		if direct {
			return nil
		}
		tx.onUndo(func() {
			st.log.pop()
			delete(tc.ids, id)
			st.rows.truncate(int(i))
			st.byUser[ub] = st.byUser[ub][:len(st.byUser[ub])-1]
			if perUser > 0 {
				if core.counters[uk]--; core.counters[uk] == 0 {
					delete(core.counters, uk)
				}
			}
			if sExisted {
				core.counters[sk] = sv
			} else {
				delete(core.counters, sk)
			}
		})
		return nil
	})
	if err != nil {
		return true, false, false, err
	}
	return true, userOK, stockOK, nil
}

// index adds the new coupon c to the user and order indexes, with undo.
func (r *CouponStore) index(tx *txn, c *coupon.Coupon) {
	st := r.st()
	if c.UserID != "" {
		indexID(tx, st.byUser, &st.ids, tkey{c.Tenant, c.UserID}, c.ID, true)
	}
	if c.OrderID != "" {
		indexID(tx, st.byOrder, &st.ids, tkey{c.Tenant, c.OrderID}, c.ID, true)
	}
}

// reindex moves c from old's entries in the user and order indexes to its
// own, touching only the index whose key changed (a lock or a release
// changes the order, never the user).
func (r *CouponStore) reindex(tx *txn, old, c *coupon.Coupon) {
	st := r.st()
	if old.UserID != c.UserID {
		if old.UserID != "" {
			indexID(tx, st.byUser, &st.ids, tkey{old.Tenant, old.UserID}, old.ID, false)
		}
		if c.UserID != "" {
			indexID(tx, st.byUser, &st.ids, tkey{c.Tenant, c.UserID}, c.ID, true)
		}
	}
	if old.OrderID != c.OrderID {
		if old.OrderID != "" {
			indexID(tx, st.byOrder, &st.ids, tkey{old.Tenant, old.OrderID}, old.ID, false)
		}
		if c.OrderID != "" {
			indexID(tx, st.byOrder, &st.ids, tkey{c.Tenant, c.OrderID}, c.ID, true)
		}
	}
}

// indexID adds id to (add) or removes it from the list of k in idx, with
// undo. A list is never changed in place but by an append past its end
// (a one-element list is carved from ids): the undo puts the old list
// back, and nobody holds a list past the lock.
func indexID(tx *txn, idx map[tkey][]string, ids *arena[string], k tkey, id string, add bool) {
	old, had := idx[k]
	if add {
		if len(old) == 0 {
			idx[k] = ids.one(id)
		} else {
			idx[k] = append(old, id)
		}
	} else {
		i := slices.Index(old, id)
		if i < 0 {
			return
		}
		if len(old) == 1 {
			delete(idx, k)
		} else {
			idx[k] = slices.Delete(slices.Clone(old), i, i+1)
		}
	}
	tx.onUndo(func() {
		if had {
			idx[k] = old
		} else {
			delete(idx, k)
		}
	})
}

func (r *CouponStore) get(ctx context.Context, tenant storage.TenantID, find func(st *couponState) (coupon.Coupon, bool), what string) (coupon.Coupon, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Coupon{}, err
	}
	var out coupon.Coupon
	err := r.s.do(ctx, func(*txn) error {
		c, ok := find(r.st())
		if !ok {
			return fmt.Errorf("%w: coupon %s", storage.ErrNotFound, what)
		}
		out = c
		return nil
	})
	return out, err
}

// Coupon implements coupon.Store.
func (r *CouponStore) Coupon(ctx context.Context, tenant storage.TenantID, id string) (coupon.Coupon, error) {
	return r.get(ctx, tenant, func(st *couponState) (coupon.Coupon, bool) {
		c, ok := st.coupon(tkey{tenant, id})
		if !ok {
			return coupon.Coupon{}, false
		}
		return *c, true
	}, id)
}

// CouponByCode implements coupon.Store.
func (r *CouponStore) CouponByCode(ctx context.Context, tenant storage.TenantID, code string) (coupon.Coupon, error) {
	return r.get(ctx, tenant, func(st *couponState) (coupon.Coupon, bool) {
		tc := st.coupons[tenant]
		if tc == nil {
			return coupon.Coupon{}, false
		}
		i, ok := tc.codes[code]
		if !ok {
			return coupon.Coupon{}, false
		}
		return st.rows.at(i).c, true
	}, "code "+code)
}

// UpdateCoupon implements coupon.Store.
func (r *CouponStore) UpdateCoupon(ctx context.Context, c coupon.Coupon, prevState coupon.State, prevVersion int64) error {
	if err := c.Tenant.Validate(); err != nil {
		return err
	}
	return r.s.do(ctx, func(tx *txn) error {
		row, err := r.st().writable(&c, prevState, prevVersion)
		if err != nil {
			return err
		}
		old := row.c
		r.reindex(tx, &old, &c)
		row.c = c
		tx.onUndo(func() { row.c = old })
		return nil
	})
}

// writable returns the row of the stored coupon that c may be written
// over: the one with c's ID, still in prevState at prevVersion, with c's
// code. Errors: storage.ErrNotFound, storage.ErrConflict,
// storage.ErrInvalidArgument (a changed code).
func (st *couponState) writable(c *coupon.Coupon, prevState coupon.State, prevVersion int64) (*couponRow, error) {
	i, ok := st.row(tkey{c.Tenant, c.ID})
	if !ok {
		return nil, fmt.Errorf("%w: coupon %s", storage.ErrNotFound, c.ID)
	}
	row := st.rows.at(i)
	if row.c.State != prevState || row.c.Version != prevVersion {
		return nil, fmt.Errorf("%w: coupon %s is %s v%d, not %s v%d", storage.ErrConflict, c.ID, row.c.State, row.c.Version, prevState, prevVersion)
	}
	if row.c.Code != c.Code {
		return nil, fmt.Errorf("%w: a coupon's code cannot change", storage.ErrInvalidArgument)
	}
	return row, nil
}

// WriteTransition is package coupon's fast path for one lifecycle
// transition: in one step under the store's lock (joining the
// transaction in ctx) it appends the outbox message, writes c over the
// stored coupon if that one is still in prevState at prevVersion, and
// appends the audit entry, with one undo for the coupon and its trail.
// handled is false (and nothing is done) when outbox is not this store or
// an argument would be refused (the portable path then reports it).
// updated is false when the conditional write failed: storage.ErrNotFound,
// storage.ErrConflict, or storage.ErrInvalidArgument for a changed code;
// a taken event ID is storage.ErrDuplicate. On error nothing is written.
// The outbox keeps a copy of m.Payload.
func (r *CouponStore) WriteTransition(ctx context.Context, outbox storage.OutboxStore, c coupon.Coupon, prevState coupon.State, prevVersion int64,
	e coupon.AuditEntry, m storage.Message) (handled, updated bool, err error) {
	if o, ok := outbox.(*Store); !ok || o != r.s {
		return false, false, nil
	}
	if c.Tenant.Validate() != nil || e.Tenant != c.Tenant || e.CouponID != c.ID || m.Validate() != nil {
		return false, false, nil
	}
	err = r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		row, err := st.writable(&c, prevState, prevVersion)
		if err != nil {
			return err
		}
		updated = true
		// the outbox first: it is the one write that can still fail (a
		// taken event ID), and it undoes itself
		if err := r.s.appendOutbox(tx, &m); err != nil {
			return err
		}
		r.reindex(tx, &row.c, &c)
		tx.onUndoer(&transitionUndo{st: st, row: row, old: row.c, last: row.last})
		row.c = c
		row.last = st.log.push(&e, row.last)
		return nil
	})
	return true, updated, err
}

// transitionUndo takes back WriteTransition's write of a coupon and its
// audit entry (the last of the log).
type transitionUndo struct {
	st   *couponState
	row  *couponRow
	old  coupon.Coupon
	last int32
}

func (u *transitionUndo) undo() {
	u.st.log.pop()
	u.row.c, u.row.last = u.old, u.last
}

// FindCoupons implements coupon.Store.
func (r *CouponStore) FindCoupons(ctx context.Context, q coupon.Query) ([]coupon.Coupon, error) {
	if err := q.Tenant.Validate(); err != nil {
		return nil, err
	}
	var out []coupon.Coupon
	err := r.s.do(ctx, func(*txn) error {
		out = r.st().find(&q)
		return nil
	})
	return sortCoupons(out, q.Limit), err
}

// find returns the coupons matching q, unsorted.
func (st *couponState) find(q *coupon.Query) []coupon.Coupon {
	var out []coupon.Coupon
	match := func(c *coupon.Coupon) bool {
		return (q.UserID == "" || c.UserID == q.UserID) &&
			(q.TemplateID == "" || c.TemplateID == q.TemplateID) &&
			(q.OrderID == "" || c.OrderID == q.OrderID) &&
			(len(q.States) == 0 || slices.Contains(q.States, c.State)) &&
			(q.LockedBefore.IsZero() || (!c.LockedUntil.IsZero() && c.LockedUntil.Before(q.LockedBefore))) &&
			(q.ValidBefore.IsZero() || (!c.ValidUntil.IsZero() && !c.ValidUntil.After(q.ValidBefore))) &&
			(q.AfterID == "" || c.ID > q.AfterID)
	}
	consider := func(ids []string) {
		for _, id := range ids {
			if c, ok := st.coupon(tkey{q.Tenant, id}); ok && match(c) {
				if out == nil {
					out = make([]coupon.Coupon, 0, len(ids))
				}
				out = append(out, *c)
			}
		}
	}
	switch {
	case q.UserID != "":
		consider(st.byUser[tkey{q.Tenant, q.UserID}])
	case q.OrderID != "":
		consider(st.byOrder[tkey{q.Tenant, q.OrderID}])
	default:
		if tc := st.coupons[q.Tenant]; tc != nil {
			for _, i := range tc.ids {
				if c := &st.rows.at(i).c; match(c) {
					out = append(out, *c)
				}
			}
		}
	}
	return out
}

// sortCoupons orders found coupons by ID and keeps the first limit (0:
// all).
func sortCoupons(out []coupon.Coupon, limit int) []coupon.Coupon {
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b coupon.Coupon) int { return cmp.Compare(a.ID, b.ID) })
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// UsableSnapshot is package coupon's fast path for Usable: in one step
// under the store's lock, what FindCoupons(q) and AutoTemplates(q.Tenant)
// return, and the template of each coupon found (templates[i] of
// coupons[i], nil when it is missing). The templates are the stored ones,
// shared rather than copied (a template never changes once stored): the
// caller must not modify them.
func (r *CouponStore) UsableSnapshot(ctx context.Context, q coupon.Query) (coupons []coupon.Coupon, templates, autos []*coupon.Template, err error) {
	if err := q.Tenant.Validate(); err != nil {
		return nil, nil, nil, err
	}
	err = r.s.do(ctx, func(*txn) error {
		st := r.st()
		coupons = sortCoupons(st.find(&q), q.Limit)
		if len(coupons) > 0 {
			templates = make([]*coupon.Template, len(coupons))
			for i := range coupons {
				templates[i] = st.templates[tkey{q.Tenant, coupons[i].TemplateID}]
			}
		}
		autos = st.autos[q.Tenant] // replaced, never changed in place
		return nil
	})
	return coupons, templates, autos, err
}

// CountCoupons implements coupon.Store.
func (r *CouponStore) CountCoupons(ctx context.Context, tenant storage.TenantID, templateID string) (map[coupon.State]int64, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := map[coupon.State]int64{}
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		if tc := st.coupons[tenant]; tc != nil {
			for _, i := range tc.ids {
				if c := &st.rows.at(i).c; c.TemplateID == templateID {
					out[c.State]++
				}
			}
		}
		return nil
	})
	return out, err
}

// AppendAudit implements coupon.Store.
func (r *CouponStore) AppendAudit(ctx context.Context, entries ...coupon.AuditEntry) error {
	for _, e := range entries {
		if err := e.Tenant.Validate(); err != nil {
			return err
		}
	}
	return r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		for _, e := range entries {
			k := tkey{e.Tenant, e.CouponID}
			if i, ok := st.row(k); ok {
				row := st.rows.at(i)
				last := row.last
				row.last = st.log.push(&e, last)
				tx.onUndo(func() {
					st.log.pop()
					row.last = last
				})
				continue
			}
			st.audit[k] = append(st.audit[k], e)
			tx.onUndo(func() { st.audit[k] = st.audit[k][:len(st.audit[k])-1] })
		}
		return nil
	})
}

// Audit implements coupon.Store.
func (r *CouponStore) Audit(ctx context.Context, tenant storage.TenantID, couponID string) ([]coupon.AuditEntry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []coupon.AuditEntry
	err := r.s.do(ctx, func(*txn) error {
		// entries appended before the coupon was stored come first
		st, k := r.st(), tkey{tenant, couponID}
		out = slices.Clone(st.audit[k])
		if i, ok := st.row(k); ok {
			out = st.log.trail(out, couponID, st.rows.at(i).last)
		}
		return nil
	})
	return out, err
}

// CreateDistribution implements coupon.Store.
func (r *CouponStore) CreateDistribution(ctx context.Context, d coupon.Distribution) error {
	if err := d.Tenant.Validate(); err != nil {
		return err
	}
	d.Users = slices.Clone(d.Users)
	d.Failures = slices.Clone(d.Failures)
	return r.s.do(ctx, func(tx *txn) error {
		return insertNew(tx, r.st().dists, tkey{d.Tenant, d.ID}, d, "distribution "+d.ID)
	})
}

// Distribution implements coupon.Store. The user list is shared with the
// store: callers must not modify it.
func (r *CouponStore) Distribution(ctx context.Context, tenant storage.TenantID, id string) (coupon.Distribution, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.Distribution{}, err
	}
	var out coupon.Distribution
	err := r.s.do(ctx, func(*txn) error {
		d, ok := r.st().dists[tkey{tenant, id}]
		if !ok {
			return fmt.Errorf("%w: distribution %s", storage.ErrNotFound, id)
		}
		out = d
		out.Failures = slices.Clone(d.Failures)
		return nil
	})
	return out, err
}

// UpdateDistribution implements coupon.Store. The user list never changes
// after creation and is kept as stored.
func (r *CouponStore) UpdateDistribution(ctx context.Context, d coupon.Distribution, prevVersion int64) error {
	if err := d.Tenant.Validate(); err != nil {
		return err
	}
	return r.s.do(ctx, func(tx *txn) error {
		k := tkey{d.Tenant, d.ID}
		old, ok := r.st().dists[k]
		if !ok {
			return fmt.Errorf("%w: distribution %s", storage.ErrNotFound, d.ID)
		}
		if old.Version != prevVersion {
			return fmt.Errorf("%w: distribution %s is at version %d, not %d", storage.ErrConflict, d.ID, old.Version, prevVersion)
		}
		d.Users = old.Users
		d.Failures = slices.Clone(d.Failures)
		r.st().dists[k] = d
		tx.onUndo(func() { r.st().dists[k] = old })
		return nil
	})
}

// cloneAuth copies what an authorization shares with its caller.
func cloneAuth(a coupon.GiftCardAuthorization) coupon.GiftCardAuthorization {
	a.Captures = slices.Clone(a.Captures)
	a.Refunds = slices.Clone(a.Refunds)
	for i := range a.Refunds {
		a.Refunds[i].TxIDs = slices.Clone(a.Refunds[i].TxIDs)
	}
	return a
}

// InsertGiftCardAuth implements coupon.Store.
func (r *CouponStore) InsertGiftCardAuth(ctx context.Context, a coupon.GiftCardAuthorization) error {
	if err := a.Tenant.Validate(); err != nil {
		return err
	}
	a = cloneAuth(a)
	return r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		k := tkey{a.Tenant, a.OrderID}
		return insertNew(tx, st.giftAuths, k, a, "gift card authorization of order "+a.OrderID)
	})
}

// GiftCardAuth implements coupon.Store.
func (r *CouponStore) GiftCardAuth(ctx context.Context, tenant storage.TenantID, orderID string) (coupon.GiftCardAuthorization, error) {
	if err := tenant.Validate(); err != nil {
		return coupon.GiftCardAuthorization{}, err
	}
	var out coupon.GiftCardAuthorization
	err := r.s.do(ctx, func(*txn) error {
		a, ok := r.st().giftAuths[tkey{tenant, orderID}]
		if !ok {
			return fmt.Errorf("%w: gift card authorization of order %s", storage.ErrNotFound, orderID)
		}
		out = cloneAuth(a)
		return nil
	})
	return out, err
}

// UpdateGiftCardAuth implements coupon.Store.
func (r *CouponStore) UpdateGiftCardAuth(ctx context.Context, a coupon.GiftCardAuthorization, prevVersion int64) error {
	if err := a.Tenant.Validate(); err != nil {
		return err
	}
	a = cloneAuth(a)
	return r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		k := tkey{a.Tenant, a.OrderID}
		old, ok := st.giftAuths[k]
		if !ok {
			return fmt.Errorf("%w: gift card authorization of order %s", storage.ErrNotFound, a.OrderID)
		}
		if old.Version != prevVersion {
			return fmt.Errorf("%w: gift card authorization of order %s is at version %d, not %d", storage.ErrConflict, a.OrderID, old.Version, prevVersion)
		}
		st.giftAuths[k] = a
		tx.onUndo(func() { st.giftAuths[k] = old })
		return nil
	})
}

// auditStrings is the number of strings of an audit entry kept as text:
// event ID, user ID, actor, reason, order ID. The coupon ID and the tenant
// are the coupon's own (an entry is chained from its coupon), the
// template ID and the names are interned.
const auditStrings = 5

// auditRow is a stored audit entry without pointers: its strings back to
// back in the log's text (an event ID that is a UUID in its 16 bytes), its
// tenant, template, event and states as indexes in the log's names, its
// time packed.
type auditRow struct {
	text                           textRef
	lens                           [auditStrings]int32
	tenant, template, ev, from, to int32
	at                             memTime
	prev                           int32 // 1 + the index of the coupon's previous entry; 0: none
	uuid                           bool  // the event ID is kept as the 16 bytes of a UUID
}

// auditLog keeps the audit trails of stored coupons: every entry in one
// slab, each coupon's entries chained newest first from its row. Nothing
// in it holds a pointer, so the collector never scans it however long the
// trails grow, and an append allocates nothing but a chunk now and then.
// Entries are removed only by undo, last first.
type auditLog struct {
	rows slab[auditRow]
	text textArena
	// a table per kind of name, so that each one's memo of its last name
	// answers most look-ups without the map
	tenants, templates, events, states names
	locs                               locations
}

// push appends e, an entry of the coupon the row of prev (1 + its index,
// 0: none) chains, and returns 1 + its index.
func (l *auditLog) push(e *coupon.AuditEntry, prev int32) int32 {
	var id [16]byte
	r := auditRow{tenant: l.tenants.of(string(e.Tenant)), template: l.templates.of(e.TemplateID), ev: l.events.of(string(e.Event)),
		from: l.states.of(string(e.From)), to: l.states.of(string(e.To)), at: l.locs.pack(e.At), prev: prev, uuid: parseUUID(&id, e.EventID)}
	strs := [auditStrings]string{e.EventID, e.UserID, e.Actor, e.Reason, e.OrderID}
	if r.uuid {
		strs[0] = ""
	}
	n := 0
	for i, s := range strs {
		r.lens[i] = int32(len(s))
		n += len(s)
	}
	if r.uuid {
		n += len(id)
	}
	var b []byte
	r.text, b = l.text.alloc(n)
	if r.uuid {
		b = append(b, id[:]...)
	}
	for _, s := range strs {
		b = append(b, s...)
	}
	return l.rows.push(r) + 1
}

// pop removes the last entry.
func (l *auditLog) pop() {
	n := l.rows.len() - 1
	r := l.rows.at(int32(n))
	l.text.truncateTo(r.text)
	*r = auditRow{}
	l.rows.truncate(n)
}

// trail appends the entries of coupon's chain ending at last (1 + an
// index), oldest first, to out.
func (l *auditLog) trail(out []coupon.AuditEntry, couponID string, last int32) []coupon.AuditEntry {
	start := len(out)
	for i := last; i > 0; i = l.rows.at(i - 1).prev {
		out = append(out, l.entry(l.rows.at(i-1), couponID))
	}
	slices.Reverse(out[start:])
	return out
}

// entry returns the entry r keeps, its strings cut from one copy.
func (l *auditLog) entry(r *auditRow, couponID string) coupon.AuditEntry {
	n := int32(0)
	for _, v := range r.lens {
		n += v
	}
	var id [36]byte
	if r.uuid {
		formatUUID(&id, l.text.bytes(r.text, 0, 16))
		n += 16
	}
	raw := l.text.bytes(r.text, 0, n)
	if r.uuid {
		raw = raw[16:]
	}
	text := string(raw)
	var strs [auditStrings]string
	for i, v := range r.lens {
		strs[i], text = text[:v], text[v:]
	}
	if r.uuid {
		strs[0] = string(id[:])
	}
	return coupon.AuditEntry{Tenant: storage.TenantID(l.tenants.all[r.tenant]), EventID: strs[0], CouponID: couponID, TemplateID: l.templates.all[r.template],
		UserID: strs[1], Event: coupon.Event(l.events.all[r.ev]), From: coupon.State(l.states.all[r.from]), To: coupon.State(l.states.all[r.to]),
		Actor: strs[2], Reason: strs[3], OrderID: strs[4], At: l.locs.unpack(r.at)}
}

// parseUUID reads s into id when s is a UUID in its canonical text form,
// lower case (formatUUID gives it back byte for byte).
func parseUUID(id *[16]byte, s string) bool {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return false
	}
	var text [36]byte
	if formatUUID(&text, u[:]); string(text[:]) != s { // upper case, say
		return false
	}
	*id = u
	return true
}

// lowerHex is the value of a lower-case hex digit.
func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// formatUUID writes the canonical text form of the UUID in b (16 bytes).
func formatUUID(dst *[36]byte, b []byte) {
	const digits = "0123456789abcdef"
	j := 0
	for i, v := range b[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = digits[v>>4], digits[v&0x0f]
		j += 2
	}
}
