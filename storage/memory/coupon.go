package memory

import (
	"cmp"
	"context"
	"fmt"
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
	coupons   map[tkey]coupon.Coupon
	codes     map[tkey]string              // code -> coupon ID
	byUser    map[tkey][]string            // user -> coupon IDs
	byOrder   map[tkey]map[string]struct{} // order -> coupon IDs
	audit     map[tkey][]coupon.AuditEntry // coupon -> trail
	dists     map[tkey]coupon.Distribution
	giftAuths map[tkey]coupon.GiftCardAuthorization // order -> authorization
}

func (c *couponState) init() {
	c.templates = make(map[tkey]coupon.Template)
	c.coupons = make(map[tkey]coupon.Coupon)
	c.codes = make(map[tkey]string)
	c.byUser = make(map[tkey][]string)
	c.byOrder = make(map[tkey]map[string]struct{})
	c.audit = make(map[tkey][]coupon.AuditEntry)
	c.dists = make(map[tkey]coupon.Distribution)
	c.giftAuths = make(map[tkey]coupon.GiftCardAuthorization)
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
		k := tkey{t.Tenant, t.ID}
		if _, ok := r.st().templates[k]; ok {
			return fmt.Errorf("%w: coupon template %s", storage.ErrDuplicate, t.ID)
		}
		r.st().templates[k] = t
		tx.onUndo(func() { delete(r.st().templates, k) })
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
			st.coupons[k] = c
			r.index(tx, c, true)
			if c.Code == "" {
				tx.onUndo(func() { delete(st.coupons, k) })
			} else {
				tx.onUndo(func() {
					delete(st.coupons, k)
					delete(st.codes, ck)
				})
			}
		}
		return nil
	})
	return rejected, err
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
		c, ok := st.coupons[tkey{tenant, id}]
		return c, ok
	}, id)
}

// CouponByCode implements coupon.Store.
func (r *CouponStore) CouponByCode(ctx context.Context, tenant storage.TenantID, code string) (coupon.Coupon, error) {
	return r.get(ctx, tenant, func(st *couponState) (coupon.Coupon, bool) {
		id, ok := st.codes[tkey{tenant, code}]
		if !ok {
			return coupon.Coupon{}, false
		}
		c, ok := st.coupons[tkey{tenant, id}]
		return c, ok
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
		old, ok := st.coupons[k]
		if !ok {
			return fmt.Errorf("%w: coupon %s", storage.ErrNotFound, c.ID)
		}
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
		st.coupons[k] = c
		tx.onUndo(func() { st.coupons[k] = old })
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
			if c, ok := st.coupons[tkey{q.Tenant, id}]; ok && match(c) {
				out = append(out, c)
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
			for k, c := range st.coupons {
				if k.tenant == q.Tenant && match(c) {
					out = append(out, c)
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
		for k, c := range r.st().coupons {
			if k.tenant == tenant && c.TemplateID == templateID {
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
		out = slices.Clone(r.st().audit[tkey{tenant, couponID}])
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
		k := tkey{d.Tenant, d.ID}
		if _, ok := r.st().dists[k]; ok {
			return fmt.Errorf("%w: distribution %s", storage.ErrDuplicate, d.ID)
		}
		r.st().dists[k] = d
		tx.onUndo(func() { delete(r.st().dists, k) })
		return nil
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
		if _, ok := st.giftAuths[k]; ok {
			return fmt.Errorf("%w: gift card authorization of order %s", storage.ErrDuplicate, a.OrderID)
		}
		st.giftAuths[k] = a
		tx.onUndo(func() { delete(st.giftAuths, k) })
		return nil
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
