package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

var _ settlement.Store = (*SettlementStore)(nil)

// settlementState holds package settlement's records.
type settlementState struct {
	orders     map[tkey]settlement.Order
	tenants    map[storage.TenantID]map[string]struct{} // order IDs per tenant
	entries    map[storage.TenantID][]settlement.Entry
	entryIdx   map[tkey]int                                     // entry ID -> index in entries
	byOrder    map[tkey][]int                                   // order ID -> entry indexes
	open       map[storage.TenantID]map[string]map[int]struct{} // party -> open entry indexes
	statements map[tkey]settlement.Statement                    // by ID
	periods    map[periodKey]string                             // (party, period, currency) -> statement ID
	byStmt     map[tkey][]int                                   // statement ID -> entry indexes
}

type periodKey struct {
	tenant   storage.TenantID
	party    string
	start    int64
	currency string
}

func (st *settlementState) init() {
	st.orders = make(map[tkey]settlement.Order)
	st.tenants = make(map[storage.TenantID]map[string]struct{})
	st.entries = make(map[storage.TenantID][]settlement.Entry)
	st.entryIdx = make(map[tkey]int)
	st.byOrder = make(map[tkey][]int)
	st.open = make(map[storage.TenantID]map[string]map[int]struct{})
	st.statements = make(map[tkey]settlement.Statement)
	st.periods = make(map[periodKey]string)
	st.byStmt = make(map[tkey][]int)
}

// SettlementStore is the memory Store's implementation of
// settlement.Store; get it with Store.Settlement. It shares the Store's
// lock and transactions.
type SettlementStore struct{ s *Store }

// Settlement returns the store of package settlement.
func (s *Store) Settlement() settlement.Store { return &SettlementStore{s} }

func (r *SettlementStore) st() *settlementState { return &r.s.settlement }

// InsertOrder implements settlement.Store.
func (r *SettlementStore) InsertOrder(ctx context.Context, o settlement.Order) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	// o is handed over (see settlement.Store): it is kept as it is, and
	// never changed in place.
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		k := tkey{o.Tenant, o.ID}
		if _, ok := st.orders[k]; ok {
			return fmt.Errorf("%w: order %s", storage.ErrDuplicate, o.ID)
		}
		st.orders[k] = o
		ids := st.tenants[o.Tenant]
		if ids == nil {
			ids = make(map[string]struct{})
			st.tenants[o.Tenant] = ids
		}
		ids[o.ID] = struct{}{}
		t.onUndo(func() {
			delete(st.orders, k)
			delete(ids, o.ID)
		})
		return nil
	})
}

// Order implements settlement.Store.
func (r *SettlementStore) Order(ctx context.Context, tenant storage.TenantID, id string) (settlement.Order, error) {
	if err := tenant.Validate(); err != nil {
		return settlement.Order{}, err
	}
	var out settlement.Order
	found := false
	err := r.s.do(ctx, func(*txn) error {
		out, found = r.st().orders[tkey{tenant, id}]
		return nil
	})
	if err != nil {
		return settlement.Order{}, err
	}
	if !found {
		return settlement.Order{}, fmt.Errorf("%w: order %s", storage.ErrNotFound, id)
	}
	// A stored order is replaced whole, never changed in place, so the deep
	// copy can be made after the lock is given back.
	return out.Clone(), nil
}

// UpdateOrder implements settlement.Store.
func (r *SettlementStore) UpdateOrder(ctx context.Context, o settlement.Order, prevVersion int64) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	o = o.Clone()
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		k := tkey{o.Tenant, o.ID}
		old, ok := st.orders[k]
		if !ok {
			return fmt.Errorf("%w: order %s", storage.ErrNotFound, o.ID)
		}
		if old.Version != prevVersion {
			return fmt.Errorf("%w: order %s is at version %d, not %d", storage.ErrConflict, o.ID, old.Version, prevVersion)
		}
		st.orders[k] = o
		t.onUndo(func() { st.orders[k] = old })
		return nil
	})
}

// UpdateOrderHead implements settlement.Store: the stored order's slices
// stay (they are never changed in place), o's other fields replace the
// rest, so nothing is copied but the order's head.
func (r *SettlementStore) UpdateOrderHead(ctx context.Context, o settlement.Order, prevVersion int64) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		k := tkey{o.Tenant, o.ID}
		old, ok := st.orders[k]
		if !ok {
			return fmt.Errorf("%w: order %s", storage.ErrNotFound, o.ID)
		}
		if old.Version != prevVersion {
			return fmt.Errorf("%w: order %s is at version %d, not %d", storage.ErrConflict, o.ID, old.Version, prevVersion)
		}
		o.Lines, o.Discounts, o.Coupons, o.Tenders = old.Lines, old.Discounts, old.Coupons, old.Tenders
		o.Split, o.ClearedUnits, o.Refunds = old.Split, old.ClearedUnits, old.Refunds
		st.orders[k] = o
		t.onUndo(func() { st.orders[k] = old })
		return nil
	})
}

// FindOrders implements settlement.Store.
func (r *SettlementStore) FindOrders(ctx context.Context, q settlement.OrderQuery) ([]settlement.Order, error) {
	if err := q.Tenant.Validate(); err != nil {
		return nil, err
	}
	var out []settlement.Order
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		for id := range st.tenants[q.Tenant] {
			if q.AfterID != "" && id <= q.AfterID {
				continue
			}
			o := st.orders[tkey{q.Tenant, id}]
			if len(q.States) > 0 && !slices.Contains(q.States, o.State) {
				continue
			}
			if !q.PayByBefore.IsZero() && !o.PayBy.Before(q.PayByBefore) {
				continue
			}
			out = append(out, o)
		}
		slices.SortFunc(out, func(a, b settlement.Order) int { return cmp.Compare(a.ID, b.ID) })
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out { // outside the lock: stored orders are replaced whole
		out[i] = out[i].Clone()
	}
	return out, nil
}

// OpenHoldIDs implements settlement.Store from the ledger's records (it
// only reads them).
func (r *SettlementStore) OpenHoldIDs(ctx context.Context, tenant storage.TenantID, destination, afterID string, limit int) ([]string, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []string
	err := r.s.do(ctx, func(*txn) error {
		lt := r.s.ledger.tenants[tenant]
		if lt == nil {
			return nil
		}
		for id, h := range lt.holds {
			if h.Status == ledger.HoldOpen && h.Destination == destination && id > afterID {
				out = append(out, id)
			}
		}
		return nil
	})
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// InsertEntries implements settlement.Store.
func (r *SettlementStore) InsertEntries(ctx context.Context, entries ...settlement.Entry) error {
	for _, e := range entries {
		if err := e.Tenant.Validate(); err != nil {
			return err
		}
	}
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		for i, e := range entries {
			if _, dup := st.entryIdx[tkey{e.Tenant, e.ID}]; dup {
				return fmt.Errorf("%w: clearing entry %s", storage.ErrDuplicate, e.ID)
			}
			for _, f := range entries[:i] {
				if f.Tenant == e.Tenant && f.ID == e.ID {
					return fmt.Errorf("%w: clearing entry %s", storage.ErrDuplicate, e.ID)
				}
			}
		}
		for _, e := range entries {
			e.StatementID = ""
			tn := e.Tenant
			idx := len(st.entries[tn])
			st.entries[tn] = append(st.entries[tn], e)
			ek, ok := tkey{tn, e.ID}, tkey{tn, e.OrderID}
			st.entryIdx[ek] = idx
			st.byOrder[ok] = append(st.byOrder[ok], idx)
			parties := st.open[tn]
			if parties == nil {
				parties = make(map[string]map[int]struct{})
				st.open[tn] = parties
			}
			set := parties[e.Party]
			if set == nil {
				set = make(map[int]struct{})
				parties[e.Party] = set
			}
			set[idx] = struct{}{}
			t.onUndo(func() {
				st.entries[tn] = st.entries[tn][:idx]
				delete(st.entryIdx, ek)
				st.byOrder[ok] = st.byOrder[ok][:len(st.byOrder[ok])-1]
				delete(set, idx)
			})
		}
		return nil
	})
}

func sortEntries(es []settlement.Entry) {
	slices.SortFunc(es, func(a, b settlement.Entry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// OpenEntries implements settlement.Store.
func (r *SettlementStore) OpenEntries(ctx context.Context, tenant storage.TenantID, party string, before time.Time, limit int) ([]settlement.Entry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []settlement.Entry
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		for idx := range st.open[tenant][party] {
			if e := st.entries[tenant][idx]; e.At.Before(before) {
				out = append(out, e)
			}
		}
		sortEntries(out)
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return nil
	})
	return out, err
}

// OpenParties implements settlement.Store.
func (r *SettlementStore) OpenParties(ctx context.Context, tenant storage.TenantID) ([]settlement.OpenParty, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []settlement.OpenParty
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		for party, set := range st.open[tenant] {
			var earliest time.Time
			for idx := range set {
				if at := st.entries[tenant][idx].At; earliest.IsZero() || at.Before(earliest) {
					earliest = at
				}
			}
			if len(set) > 0 {
				out = append(out, settlement.OpenParty{Party: party, Earliest: earliest})
			}
		}
		slices.SortFunc(out, func(a, b settlement.OpenParty) int { return cmp.Compare(a.Party, b.Party) })
		return nil
	})
	return out, err
}

// Entries implements settlement.Store.
func (r *SettlementStore) Entries(ctx context.Context, tenant storage.TenantID, orderID, statementID string) ([]settlement.Entry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []settlement.Entry
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		idxs := st.byOrder[tkey{tenant, orderID}]
		if statementID != "" {
			idxs = st.byStmt[tkey{tenant, statementID}]
		}
		for _, idx := range idxs {
			out = append(out, st.entries[tenant][idx])
		}
		sortEntries(out)
		return nil
	})
	return out, err
}

// InsertStatement implements settlement.Store.
func (r *SettlementStore) InsertStatement(ctx context.Context, stm settlement.Statement, entryIDs []string) (bool, error) {
	if err := stm.Tenant.Validate(); err != nil {
		return false, err
	}
	stm.Items = slices.Clone(stm.Items)
	var inserted bool
	err := r.s.do(ctx, func(t *txn) error {
		st := r.st()
		pk := periodKey{stm.Tenant, stm.Party, stm.PeriodStart.UnixMicro(), stm.Currency.Code()}
		if _, ok := st.periods[pk]; ok {
			return nil
		}
		sk := tkey{stm.Tenant, stm.ID}
		if _, ok := st.statements[sk]; ok {
			return nil
		}
		idxs := make([]int, 0, len(entryIDs))
		for _, id := range entryIDs {
			idx, ok := st.entryIdx[tkey{stm.Tenant, id}]
			if !ok {
				return fmt.Errorf("%w: clearing entry %s", storage.ErrNotFound, id)
			}
			e := &st.entries[stm.Tenant][idx]
			if e.StatementID != "" || e.Party != stm.Party {
				return fmt.Errorf("%w: clearing entry %s is on statement %q", storage.ErrConflict, id, e.StatementID)
			}
			idxs = append(idxs, idx)
		}
		set := st.open[stm.Tenant][stm.Party]
		for _, idx := range idxs {
			e := &st.entries[stm.Tenant][idx]
			e.StatementID = stm.ID
			delete(set, idx)
		}
		st.statements[sk] = stm
		st.periods[pk] = stm.ID
		st.byStmt[sk] = idxs
		t.onUndo(func() {
			for _, idx := range idxs {
				st.entries[stm.Tenant][idx].StatementID = ""
				set[idx] = struct{}{}
			}
			delete(st.statements, sk)
			delete(st.periods, pk)
			delete(st.byStmt, sk)
		})
		inserted = true
		return nil
	})
	return inserted, err
}

// Statement implements settlement.Store.
func (r *SettlementStore) Statement(ctx context.Context, tenant storage.TenantID, id string) (settlement.Statement, error) {
	if err := tenant.Validate(); err != nil {
		return settlement.Statement{}, err
	}
	var out settlement.Statement
	err := r.s.do(ctx, func(*txn) error {
		stm, ok := r.st().statements[tkey{tenant, id}]
		if !ok {
			return fmt.Errorf("%w: statement %s", storage.ErrNotFound, id)
		}
		out = stm
		out.Items = slices.Clone(stm.Items)
		return nil
	})
	return out, err
}

// UpdateStatement implements settlement.Store.
func (r *SettlementStore) UpdateStatement(ctx context.Context, stm settlement.Statement, prevVersion int64) error {
	if err := stm.Tenant.Validate(); err != nil {
		return err
	}
	stm.Items = slices.Clone(stm.Items)
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		k := tkey{stm.Tenant, stm.ID}
		old, ok := st.statements[k]
		if !ok {
			return fmt.Errorf("%w: statement %s", storage.ErrNotFound, stm.ID)
		}
		if old.Version != prevVersion {
			return fmt.Errorf("%w: statement %s is at version %d, not %d", storage.ErrConflict, stm.ID, old.Version, prevVersion)
		}
		st.statements[k] = stm
		t.onUndo(func() { st.statements[k] = old })
		return nil
	})
}

// FindStatements implements settlement.Store.
func (r *SettlementStore) FindStatements(ctx context.Context, tenant storage.TenantID, party string) ([]settlement.Statement, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []settlement.Statement
	err := r.s.do(ctx, func(*txn) error {
		for k, stm := range r.st().statements {
			if k.tenant == tenant && (party == "" || stm.Party == party) {
				stm.Items = slices.Clone(stm.Items)
				out = append(out, stm)
			}
		}
		slices.SortFunc(out, func(a, b settlement.Statement) int {
			if c := a.PeriodStart.Compare(b.PeriodStart); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Party, b.Party); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		return nil
	})
	return out, err
}
