package memory

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

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
	templates map[tkey]coupon.Template
	coupons   map[tkey]int // coupon -> its index in rows
	rows      couponRows
	codes     map[tkey]string              // code -> coupon ID
	byUser    map[tkey][]string            // user -> coupon IDs
	byOrder   map[tkey]map[string]struct{} // order -> coupon IDs
	// audit holds the trails of coupon IDs that have no row (yet): a
	// stored coupon keeps its trail in its row.
	audit     map[tkey][]coupon.AuditEntry
	dists     map[tkey]coupon.Distribution
	giftAuths map[tkey]coupon.GiftCardAuthorization // order -> authorization

	// the first audit entry of a claimed coupon and a new user's first
	// coupon ID are carved out of these, not allocated one by one
	trails arena[coupon.AuditEntry]
	ids    arena[string]
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
	c.templates = make(map[tkey]coupon.Template)
	c.coupons = make(map[tkey]int)
	c.codes = make(map[tkey]string)
	c.byUser = make(map[tkey][]string)
	c.byOrder = make(map[tkey]map[string]struct{})
	c.audit = make(map[tkey][]coupon.AuditEntry)
	c.dists = make(map[tkey]coupon.Distribution)
	c.giftAuths = make(map[tkey]coupon.GiftCardAuthorization)
}

// couponRows holds every coupon in append order, in fixed chunks: the
// index map stays small (an int per coupon, cheap to grow and to scan for
// the collector) and growing never copies the coupons. Rows are removed
// only by undo, which runs last-in first-out under the store's lock, so
// the row removed is always the last.
type couponRows struct {
	chunks [][]couponRow
	n      int
}

// couponRow is a coupon and its audit trail.
type couponRow struct {
	c     coupon.Coupon
	trail []coupon.AuditEntry
}

const couponChunk = 1024

func (r *couponRows) row(i int) *couponRow { return &r.chunks[i/couponChunk][i%couponChunk] }

func (r *couponRows) at(i int) *coupon.Coupon { return &r.row(i).c }

// push appends c and returns its index.
func (r *couponRows) push(c coupon.Coupon) int {
	i := r.n
	if i/couponChunk == len(r.chunks) {
		r.chunks = append(r.chunks, make([]couponRow, couponChunk))
	}
	r.row(i).c = c
	r.n++
	return i
}

// pop takes back the push that returned i, which must be the last.
func (r *couponRows) pop(i int) {
	*r.row(i) = couponRow{}
	if i == r.n-1 {
		r.n--
	}
}

// coupon returns the stored coupon k, or false.
func (c *couponState) coupon(k tkey) (*coupon.Coupon, bool) {
	i, ok := c.coupons[k]
	if !ok {
		return nil, false
	}
	return c.rows.at(i), true
}

// insert stores the new coupon c under k and returns its undo.
func (c *couponState) insert(k tkey, cp coupon.Coupon) (undo func()) {
	i := c.rows.push(cp)
	c.coupons[k] = i
	return func() {
		delete(c.coupons, k)
		c.rows.pop(i)
	}
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
		return insertNew(tx, r.st().templates, tkey{t.Tenant, t.ID}, t, "coupon template "+t.ID)
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
		out = t
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
		for k, t := range r.st().templates {
			if k.tenant == tenant && t.Auto {
				out = append(out, t)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b coupon.Template) int { return cmp.Compare(a.ID, b.ID) })
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
		for i, c := range cs {
			k := tkey{tenant, c.ID}
			ck := tkey{tenant, c.Code}
			if _, dup := st.coupons[k]; dup {
				rejected = append(rejected, i)
				continue
			}
			if c.Code != "" {
				if _, dup := st.codes[ck]; dup {
					rejected = append(rejected, i)
					continue
				}
				st.codes[ck] = c.ID
			}
			undo := st.insert(k, c)
			if c.Code != "" {
				drop := undo
				undo = func() {
					drop()
					delete(st.codes, ck)
				}
			}
			tx.onUndo(undo)
			r.index(tx, c, true)
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
		k := tkey{c.Tenant, c.ID}
		if _, dup := st.coupons[k]; dup {
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
		if err := r.s.appendOutboxOwned(tx, m); err != nil {
			userOK, stockOK = false, false
			return err
		}
		i := st.rows.push(*c)
		st.coupons[k] = i
		row := st.rows.row(i)
		row.trail = st.trails.one(*e)
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
			delete(st.coupons, k)
			st.rows.pop(i)
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

// index adds (add) or removes c from the user and order indexes, with undo.
func (r *CouponStore) index(tx *txn, c coupon.Coupon, add bool) {
	st := r.st()
	if c.UserID != "" {
		uk := tkey{c.Tenant, c.UserID}
		if add {
			st.byUser[uk] = append(st.byUser[uk], c.ID)
			tx.onUndo(func() { st.byUser[uk] = st.byUser[uk][:len(st.byUser[uk])-1] })
		} else {
			ids := st.byUser[uk]
			if i := slices.Index(ids, c.ID); i >= 0 {
				st.byUser[uk] = slices.Delete(slices.Clone(ids), i, i+1)
				tx.onUndo(func() { st.byUser[uk] = ids })
			}
		}
	}
	if c.OrderID != "" {
		ok := tkey{c.Tenant, c.OrderID}
		set := st.byOrder[ok]
		if add {
			if set == nil {
				set = map[string]struct{}{}
				st.byOrder[ok] = set
			}
			set[c.ID] = struct{}{}
			tx.onUndo(func() { delete(st.byOrder[ok], c.ID) })
		} else if set != nil {
			delete(set, c.ID)
			if len(set) == 0 {
				delete(st.byOrder, ok)
			}
			tx.onUndo(func() {
				if st.byOrder[ok] == nil {
					st.byOrder[ok] = map[string]struct{}{}
				}
				st.byOrder[ok][c.ID] = struct{}{}
			})
		}
	}
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
		id, ok := st.codes[tkey{tenant, code}]
		if !ok {
			return coupon.Coupon{}, false
		}
		c, ok := st.coupon(tkey{tenant, id})
		if !ok {
			return coupon.Coupon{}, false
		}
		return *c, true
	}, "code "+code)
}

// UpdateCoupon implements coupon.Store.
func (r *CouponStore) UpdateCoupon(ctx context.Context, c coupon.Coupon, prevState coupon.State, prevVersion int64) error {
	if err := c.Tenant.Validate(); err != nil {
		return err
	}
	return r.s.do(ctx, func(tx *txn) error {
		st := r.st()
		k := tkey{c.Tenant, c.ID}
		row, ok := st.coupon(k)
		if !ok {
			return fmt.Errorf("%w: coupon %s", storage.ErrNotFound, c.ID)
		}
		old := *row
		if old.State != prevState || old.Version != prevVersion {
			return fmt.Errorf("%w: coupon %s is %s v%d, not %s v%d", storage.ErrConflict, c.ID, old.State, old.Version, prevState, prevVersion)
		}
		if old.Code != c.Code {
			return fmt.Errorf("%w: a coupon's code cannot change", storage.ErrInvalidArgument)
		}
		if old.UserID != c.UserID || old.OrderID != c.OrderID {
			r.index(tx, old, false)
			r.index(tx, c, true)
		}
		*row = c
		tx.onUndo(func() { *row = old })
		return nil
	})
}

// FindCoupons implements coupon.Store.
func (r *CouponStore) FindCoupons(ctx context.Context, q coupon.Query) ([]coupon.Coupon, error) {
	if err := q.Tenant.Validate(); err != nil {
		return nil, err
	}
	var out []coupon.Coupon
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		match := func(c coupon.Coupon) bool {
			return (q.UserID == "" || c.UserID == q.UserID) &&
				(q.TemplateID == "" || c.TemplateID == q.TemplateID) &&
				(q.OrderID == "" || c.OrderID == q.OrderID) &&
				(len(q.States) == 0 || slices.Contains(q.States, c.State)) &&
				(q.LockedBefore.IsZero() || (!c.LockedUntil.IsZero() && c.LockedUntil.Before(q.LockedBefore))) &&
				(q.ValidBefore.IsZero() || (!c.ValidUntil.IsZero() && !c.ValidUntil.After(q.ValidBefore))) &&
				(q.AfterID == "" || c.ID > q.AfterID)
		}
		consider := func(id string) {
			if c, ok := st.coupon(tkey{q.Tenant, id}); ok && match(*c) {
				out = append(out, *c)
			}
		}
		switch {
		case q.UserID != "":
			for _, id := range st.byUser[tkey{q.Tenant, q.UserID}] {
				consider(id)
			}
		case q.OrderID != "":
			for id := range st.byOrder[tkey{q.Tenant, q.OrderID}] {
				consider(id)
			}
		default:
			for k, i := range st.coupons {
				if c := st.rows.at(i); k.tenant == q.Tenant && match(*c) {
					out = append(out, *c)
				}
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b coupon.Coupon) int { return cmp.Compare(a.ID, b.ID) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, err
}

// CountCoupons implements coupon.Store.
func (r *CouponStore) CountCoupons(ctx context.Context, tenant storage.TenantID, templateID string) (map[coupon.State]int64, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := map[coupon.State]int64{}
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		for k, i := range st.coupons {
			if c := st.rows.at(i); k.tenant == tenant && c.TemplateID == templateID {
				out[c.State]++
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
			if i, ok := st.coupons[k]; ok {
				row := st.rows.row(i)
				row.trail = append(row.trail, e)
				tx.onUndo(func() { row.trail = row.trail[:len(row.trail)-1] })
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
		if i, ok := st.coupons[k]; ok {
			out = append(out, st.rows.row(i).trail...)
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
