package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/storage"
)

var _ ledger.TotalStore = (*LedgerStore)(nil)

// LedgerStore is the memory implementation of ledger.Store; get it with
// Store.Ledger. Its methods join the Store's transactions.
type LedgerStore struct{ s *Store }

// Ledger returns the store's ledger.Store.
func (s *Store) Ledger() ledger.Store { return &LedgerStore{s} }

// ledgerState holds the ledger's records, per tenant.
type ledgerState struct {
	tenants map[storage.TenantID]*ledgerTenant
	spare   *txn // the undo log of CommitTxDirect, used under the lock only
}

func (l *ledgerState) init() { l.tenants = make(map[storage.TenantID]*ledgerTenant) }

type ledgerTenant struct {
	accounts  map[string]*memAccount
	txByID    map[string]*memTx
	txByKey   map[string]*memTx
	holds     map[string]*ledger.HoldRow
	holdByKey map[string]*ledger.HoldRow
	seq       int64 // entries
	lotSeq    int64
}

type memAccount struct {
	acc     ledger.Account
	bals    map[string]*memBalance // by asset
	entries []entryRef             // every asset, Seq ascending
}

// memTx is a stored transaction. Its row, lines included, never changes
// once stored, so it is shared with readers; what later reversals took
// lives beside it.
type memTx struct {
	row      ledger.TxRow
	reversed []int64 // per line; nil until the first reversal
}

// entryRef is one side of a posting in an account's history, kept small:
// the rest is read from the transaction.
type entryRef struct {
	tx      *memTx
	seq     int64
	balance int64
	line    int32
	credit  bool
}

func (e *entryRef) row(account string) ledger.EntryRow {
	ln := &e.tx.row.Lines[e.line]
	r := ledger.EntryRow{Seq: e.seq, TxID: e.tx.row.ID, Kind: e.tx.row.Kind, Line: int(e.line), Account: account,
		Asset: ln.Asset, Balance: e.balance, At: e.tx.row.At}
	if e.credit {
		r.Other, r.Amount = ln.Source, ln.Amount
	} else {
		r.Other, r.Amount = ln.Destination, -ln.Amount
	}
	return r
}

func (e *entryRef) asset() string { return e.tx.row.Lines[e.line].Asset }

type memBalance struct {
	posted, held int64
	lots         []ledger.LotRow // open lots, earliest expiry (then ID) first
}

// tenantLedger returns the tenant's records, creating them when create.
func (s *Store) tenantLedger(tenant storage.TenantID, create bool) *ledgerTenant {
	lt := s.ledger.tenants[tenant]
	if lt == nil && create {
		lt = &ledgerTenant{
			accounts: map[string]*memAccount{}, txByID: map[string]*memTx{}, txByKey: map[string]*memTx{},
			holds: map[string]*ledger.HoldRow{}, holdByKey: map[string]*ledger.HoldRow{},
		}
		s.ledger.tenants[tenant] = lt // an empty tenant needs no undo
	}
	return lt
}

// inTx runs fn in the transaction in ctx, or in one of its own, so that
// nested store calls (the outbox) join it.
func (s *Store) ledgerInTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := storage.CurrentTx(ctx, s); ok {
		return fn(ctx)
	}
	return s.InTx(ctx, fn)
}

// account returns the account, creating it with the default policy.
func (s *Store) ledgerAccount(t *txn, lt *ledgerTenant, id string, at time.Time) *memAccount {
	a := lt.accounts[id]
	if a != nil {
		return a
	}
	a = &memAccount{acc: ledger.Account{ID: id, Overdraft: ledger.DefaultOverdraft(id), CreatedAt: at}, bals: map[string]*memBalance{}}
	lt.accounts[id] = a
	t.onUndo(func() { delete(lt.accounts, id) })
	return a
}

func (a *memAccount) balance(t *txn, asset string) *memBalance {
	b := a.bals[asset]
	if b == nil {
		b = &memBalance{}
		a.bals[asset] = b
		t.onUndo(func() { delete(a.bals, asset) })
	}
	return b
}

// touched is one balance a transaction changes, with what it was before.
type ledgerTouched struct {
	acc        *memAccount
	asset      string
	b          *memBalance
	posted     int64
	held       int64
	lots       []ledger.LotRow // saved on the first change to lots
	lotsSaved  bool
	entries    int
	debited    bool
	heldChange bool
}

// CommitTx implements ledger.Store.
func (ls *LedgerStore) CommitTx(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow) ([]ledger.Committed, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := make([]ledger.Committed, len(txs))
	err := s.ledgerInTx(ctx, func(ctx context.Context) error {
		return s.do(ctx, func(t *txn) error {
			lt := s.tenantLedger(tenant, true)
			for i := range txs {
				row, replayed, err := s.ledgerCommitOne(t, lt, &txs[i])
				if err != nil {
					if len(txs) > 1 {
						return fmt.Errorf("memory: transaction %d (key %q): %w", i, txs[i].Key, err)
					}
					return err
				}
				out[i] = ledger.Committed{Row: row, Replayed: replayed}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var _ ledger.DirectStore = (*LedgerStore)(nil)

// CommitTxDirect implements ledger.DirectStore: with no transaction in
// ctx it takes the store's lock and commits the batch in a transaction of
// its own, without the context and bookkeeping of InTx; a replayed key
// with another fingerprint rolls the batch back with ledger.ErrKeyReused.
// Inside a transaction it declines.
func (ls *LedgerStore) CommitTxDirect(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow) ([]ledger.Committed, bool, error) {
	s := ls.s
	if _, in := storage.CurrentTx(ctx, s); in {
		return nil, false, nil
	}
	if err := tenant.Validate(); err != nil {
		return nil, false, err
	}
	if err := s.acquire(ctx); err != nil {
		return nil, false, err
	}
	// The lock is ours: reuse the store's spare undo log, keeping its
	// capacity across calls.
	t := s.ledger.spare
	if t == nil {
		t = &txn{s: s}
		t.undo = t.buf[:0]
		s.ledger.spare = t
	}
	out := make([]ledger.Committed, len(txs))
	lt := s.tenantLedger(tenant, true)
	for i := range txs {
		row, replayed, err := s.ledgerCommitOne(t, lt, &txs[i])
		if err == nil && replayed && row.Fingerprint != txs[i].Fingerprint {
			err = fmt.Errorf("%w: %w: key %q", ledger.ErrKeyReused, storage.ErrIdempotencyMismatch, txs[i].Key)
		}
		if err != nil {
			t.rollbackTo(0)
			s.release()
			if len(txs) > 1 {
				return nil, false, fmt.Errorf("memory: transaction %d (key %q): %w", i, txs[i].Key, err)
			}
			return nil, false, err
		}
		out[i] = ledger.Committed{Row: row, Replayed: replayed}
	}
	t.reset()
	s.release()
	return out, true, nil
}

func ledgerCloneTx(r *ledger.TxRow) ledger.TxRow {
	c := *r
	c.Lines = slices.Clone(r.Lines)
	c.Taken = slices.Clone(r.Taken)
	c.Lots = slices.Clone(r.Lots)
	c.Event = nil
	return c
}

// read returns a copy of the stored transaction with Reversed filled in.
func (m *memTx) read() ledger.TxRow {
	c := m.row
	c.Lines = slices.Clone(m.row.Lines)
	for i, r := range m.reversed {
		c.Lines[i].Reversed = r
	}
	return c
}

func (s *Store) ledgerCommitOne(t *txn, lt *ledgerTenant, in *ledger.TxRow) (ledger.TxRow, bool, error) {
	if prior := lt.txByKey[in.Key]; prior != nil {
		return prior.read(), true, nil
	}
	if _, dup := lt.txByID[in.ID]; dup {
		return ledger.TxRow{}, false, fmt.Errorf("%w: transaction ID %q", storage.ErrDuplicate, in.ID)
	}
	// Checks that need no write come first.
	var hold *ledger.HoldRow
	if in.Hold != "" {
		hold = lt.holds[in.Hold]
		if err := ledgerCheckCapture(hold, in); err != nil {
			return ledger.TxRow{}, false, err
		}
	}
	var orig *memTx
	if in.Reverses != "" {
		orig = lt.txByID[in.Reverses]
		if orig == nil {
			return ledger.TxRow{}, false, fmt.Errorf("%w: %s", ledger.ErrTransactionNotFound, in.Reverses)
		}
		for _, tk := range in.Taken {
			if tk.Index < 0 || tk.Index >= int64(len(orig.row.Lines)) {
				return ledger.TxRow{}, false, fmt.Errorf("%w: posting %d of %s", ledger.ErrInvalidRequest, tk.Index, orig.row.ID)
			}
			amount, done := orig.row.Lines[tk.Index].Amount, int64(0)
			if orig.reversed != nil {
				done = orig.reversed[tk.Index]
			}
			if tk.Amount <= 0 || done+tk.Amount > amount {
				return ledger.TxRow{}, false, fmt.Errorf("%w: posting %d of %s has %d left, %d asked", ledger.ErrOverReversal, tk.Index, orig.row.ID, amount-done, tk.Amount)
			}
		}
	}

	stored := &memTx{row: ledgerCloneTx(in)}
	row := &stored.row
	// u is everything the undo needs, in one allocation with room for the
	// balances of a transfer between two accounts.
	u := &ledgerUndo{lt: lt, stored: stored, seq0: lt.seq, lotSeq0: lt.lotSeq}
	u.tt = u.buf[:0]
	// find returns the index in u.tt of the balance, adding it; pointers
	// into u.tt would not survive its growth.
	find := func(id, asset string) int {
		for k := range u.tt {
			if u.tt[k].acc.acc.ID == id && u.tt[k].asset == asset {
				return k
			}
		}
		a := s.ledgerAccount(t, lt, id, row.At)
		b := a.balance(t, asset)
		u.tt = append(u.tt, ledgerTouched{acc: a, asset: asset, b: b, posted: b.posted, held: b.held, entries: len(a.entries)})
		return len(u.tt) - 1
	}
	saveLots := func(x *ledgerTouched) {
		if !x.lotsSaved {
			x.lots, x.lotsSaved = slices.Clone(x.b.lots), true
		}
	}
	// Undo is registered before the writes, so that a failure halfway is
	// taken back by the op's own mark in do.
	t.onUndoer(u)

	explicit := len(row.Lots) > 0
	for li := range row.Lines {
		ln := &row.Lines[li]
		si := find(ln.Source, ln.Asset)
		di := find(ln.Destination, ln.Asset)
		src, dst := &u.tt[si], &u.tt[di]
		src.b.posted -= ln.Amount
		src.debited = true
		dst.b.posted += ln.Amount
		lt.seq++
		src.acc.entries = append(src.acc.entries, entryRef{tx: stored, seq: lt.seq, balance: src.b.posted, line: int32(li)})
		lt.seq++
		dst.acc.entries = append(dst.acc.entries, entryRef{tx: stored, seq: lt.seq, balance: dst.b.posted, line: int32(li), credit: true})
		if !explicit && len(src.b.lots) > 0 {
			saveLots(src)
			src.b.lots = ledgerConsumeLots(src.b.lots, ln.Amount)
		}
		if !ln.ExpiresAt.IsZero() {
			saveLots(dst)
			lt.lotSeq++
			dst.b.lots = ledgerInsertLot(dst.b.lots, ledger.LotRow{ID: lt.lotSeq, Account: ln.Destination, Asset: ln.Asset,
				Amount: ln.Amount, Remaining: ln.Amount, ExpiresAt: ln.ExpiresAt, TxID: row.ID})
		}
	}
	if explicit {
		for _, tk := range row.Lots {
			found := false
			for k := range u.tt {
				x := &u.tt[k]
				i := slices.IndexFunc(x.b.lots, func(l ledger.LotRow) bool { return l.ID == tk.Index })
				if i < 0 {
					continue
				}
				found = true
				if x.b.lots[i].Remaining < tk.Amount {
					return ledger.TxRow{}, false, fmt.Errorf("%w: lot %d has %d left, %d taken", storage.ErrConflict, tk.Index, x.b.lots[i].Remaining, tk.Amount)
				}
				saveLots(x)
				x.b.lots[i].Remaining -= tk.Amount
				if x.b.lots[i].Remaining == 0 {
					x.b.lots = slices.Delete(x.b.lots, i, i+1)
				}
				break
			}
			if !found {
				return ledger.TxRow{}, false, fmt.Errorf("%w: lot %d is gone", storage.ErrConflict, tk.Index)
			}
		}
	}
	if hold != nil {
		src := &u.tt[find(hold.Account, hold.Asset)]
		src.b.held -= row.Lines[0].Amount
		src.heldChange = true
		old := *hold
		hold.Captured += row.Lines[0].Amount
		if hold.Captured == hold.Amount {
			hold.Status, hold.ClosedAt = ledger.HoldCaptured, row.At
		}
		t.onUndo(func() { *hold = old })
	}
	for k := range u.tt {
		x := &u.tt[k]
		if !x.debited && !x.heldChange {
			continue
		}
		if floor, ok := x.acc.acc.Overdraft.Floor(x.asset); ok && x.b.posted-x.b.held < floor && x.b.posted-x.b.held < x.posted-x.held {
			return ledger.TxRow{}, false, fmt.Errorf("%w: %s has %d %s available, floor %d", ledger.ErrInsufficientFunds,
				x.acc.acc.ID, x.posted-x.held, x.asset, floor)
		}
	}
	if orig != nil {
		old := orig.reversed
		next := slices.Clone(old)
		if next == nil {
			next = make([]int64, len(orig.row.Lines))
		}
		for _, tk := range row.Taken {
			next[tk.Index] += tk.Amount
		}
		orig.reversed = next
		t.onUndo(func() { orig.reversed = old })
	}
	lt.txByID[row.ID] = stored
	lt.txByKey[row.Key] = stored
	u.indexed = true
	if in.Event != nil {
		if err := in.Event.Validate(); err != nil {
			return ledger.TxRow{}, false, err
		}
		if err := s.appendOutbox(t, []storage.Message{*in.Event}); err != nil {
			return ledger.TxRow{}, false, err
		}
	}
	return *row, false, nil
}

// ledgerUndo takes back every write of one committed transaction: the
// balances, entries and lots it touched, the counters, and (once stored)
// its place in the indexes. One per transaction, registered as one undo
// step.
type ledgerUndo struct {
	lt            *ledgerTenant
	stored        *memTx
	seq0, lotSeq0 int64
	indexed       bool
	tt            []ledgerTouched
	buf           [2]ledgerTouched
}

func (u *ledgerUndo) undo() {
	if u.indexed {
		delete(u.lt.txByID, u.stored.row.ID)
		delete(u.lt.txByKey, u.stored.row.Key)
	}
	for k := range u.tt {
		x := &u.tt[k]
		x.b.posted, x.b.held = x.posted, x.held
		x.acc.entries = x.acc.entries[:x.entries]
		if x.lotsSaved {
			x.b.lots = x.lots
		}
	}
	u.lt.seq, u.lt.lotSeq = u.seq0, u.lotSeq0
}

func ledgerCheckCapture(h *ledger.HoldRow, in *ledger.TxRow) error {
	switch {
	case h == nil:
		return fmt.Errorf("%w: %s", ledger.ErrHoldNotFound, in.Hold)
	case h.Status != ledger.HoldOpen:
		return fmt.Errorf("%w: hold %s is %s", ledger.ErrHoldClosed, h.ID, h.Status)
	case !h.ExpiresAt.IsZero() && !in.At.Before(h.ExpiresAt):
		return fmt.Errorf("%w: hold %s expired at %s", ledger.ErrHoldExpired, h.ID, h.ExpiresAt)
	case len(in.Lines) != 1 || in.Lines[0].Source != h.Account || in.Lines[0].Asset != h.Asset:
		return fmt.Errorf("%w: a capture of hold %s must move its asset from its account", ledger.ErrInvalidRequest, h.ID)
	case in.Lines[0].Amount > h.Amount-h.Captured:
		return fmt.Errorf("%w: hold %s has %d left, %d asked", ledger.ErrOverCapture, h.ID, h.Amount-h.Captured, in.Lines[0].Amount)
	}
	return nil
}

// ledgerConsumeLots takes amount from lots, earliest expiry first, and returns
// the open lots left (a new slice: the caller saved the old one).
func ledgerConsumeLots(lots []ledger.LotRow, amount int64) []ledger.LotRow {
	out := make([]ledger.LotRow, 0, len(lots))
	for _, l := range lots {
		if amount > 0 {
			n := min(amount, l.Remaining)
			l.Remaining -= n
			amount -= n
		}
		if l.Remaining > 0 {
			out = append(out, l)
		}
	}
	return out
}

func ledgerLotLess(a, b ledger.LotRow) int {
	if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func ledgerInsertLot(lots []ledger.LotRow, l ledger.LotRow) []ledger.LotRow {
	i, _ := slices.BinarySearchFunc(lots, l, ledgerLotLess)
	out := make([]ledger.LotRow, 0, len(lots)+1)
	out = append(out, lots[:i]...)
	out = append(out, l)
	return append(out, lots[i:]...)
}

// TxByID implements ledger.Store.
func (ls *LedgerStore) TxByID(ctx context.Context, tenant storage.TenantID, id string) (ledger.TxRow, error) {
	s := ls.s
	return s.ledgerReadTx(ctx, tenant, func(lt *ledgerTenant) *memTx { return lt.txByID[id] }, id)
}

// TxByKey implements ledger.Store.
func (ls *LedgerStore) TxByKey(ctx context.Context, tenant storage.TenantID, key string) (ledger.TxRow, error) {
	s := ls.s
	return s.ledgerReadTx(ctx, tenant, func(lt *ledgerTenant) *memTx { return lt.txByKey[key] }, "key "+key)
}

func (s *Store) ledgerReadTx(ctx context.Context, tenant storage.TenantID, get func(*ledgerTenant) *memTx, what string) (ledger.TxRow, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.TxRow{}, err
	}
	var out ledger.TxRow
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		var r *memTx
		if lt != nil {
			r = get(lt)
		}
		if r == nil {
			return fmt.Errorf("%w: %s", ledger.ErrTransactionNotFound, what)
		}
		out = r.read()
		return nil
	})
	return out, err
}

// PutAccount implements ledger.Store.
func (ls *LedgerStore) PutAccount(ctx context.Context, tenant storage.TenantID, a ledger.Account, event storage.Message) (ledger.Account, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return ledger.Account{}, err
	}
	var out ledger.Account
	err := s.ledgerInTx(ctx, func(ctx context.Context) error {
		return s.do(ctx, func(t *txn) error {
			lt := s.tenantLedger(tenant, true)
			if m := lt.accounts[a.ID]; m != nil {
				old := m.acc
				m.acc.Metadata, m.acc.Overdraft = a.Metadata, a.Overdraft
				t.onUndo(func() { m.acc = old })
				out = m.acc
			} else {
				m := &memAccount{acc: a, bals: map[string]*memBalance{}}
				lt.accounts[a.ID] = m
				t.onUndo(func() { delete(lt.accounts, a.ID) })
				out = a
			}
			if event.EventID != "" {
				return s.AppendOutbox(ctx, event)
			}
			return nil
		})
	})
	return out, err
}

// Account implements ledger.Store.
func (ls *LedgerStore) Account(ctx context.Context, tenant storage.TenantID, id string) (ledger.Account, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return ledger.Account{}, err
	}
	var out ledger.Account
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil || lt.accounts[id] == nil {
			return fmt.Errorf("%w: %s", ledger.ErrUnknownAccount, id)
		}
		out = lt.accounts[id].acc
		return nil
	})
	return out, err
}

func (s *Store) ledgerReadBalance(tenant storage.TenantID, account, asset string) *memBalance {
	lt := s.tenantLedger(tenant, false)
	if lt == nil {
		return nil
	}
	a := lt.accounts[account]
	if a == nil {
		return nil
	}
	return a.bals[asset]
}

// Balance implements ledger.Store.
func (ls *LedgerStore) Balance(ctx context.Context, tenant storage.TenantID, account, asset string) (ledger.BalanceRow, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return ledger.BalanceRow{}, err
	}
	var out ledger.BalanceRow
	err := s.do(ctx, func(*txn) error {
		if b := s.ledgerReadBalance(tenant, account, asset); b != nil {
			out = ledger.BalanceRow{Posted: b.posted, Held: b.held}
		}
		return nil
	})
	return out, err
}

// TotalPosted implements ledger.TotalStore: the sum of the posted
// balances of the tenant's accounts in asset. Errors:
// storage.ErrInvalidTenant; an error when the sum leaves int64.
func (ls *LedgerStore) TotalPosted(ctx context.Context, tenant storage.TenantID, asset string) (int64, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var out int64
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil {
			return nil
		}
		for id, a := range lt.accounts {
			b := a.bals[asset]
			if b == nil {
				continue
			}
			sum := out + b.posted
			if (b.posted > 0 && sum < out) || (b.posted < 0 && sum > out) {
				return fmt.Errorf("memory: total of %s overflows at account %s", asset, id)
			}
			out = sum
		}
		return nil
	})
	return out, err
}

// BalanceAt implements ledger.Store. Entries are stamped by the ledger's
// clock in commit order, so their times do not decrease.
func (ls *LedgerStore) BalanceAt(ctx context.Context, tenant storage.TenantID, account, asset string, at time.Time) (int64, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var out int64
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil || lt.accounts[account] == nil {
			return nil
		}
		es := lt.accounts[account].entries
		i := sort.Search(len(es), func(i int) bool { return es[i].tx.row.At.After(at) })
		for i--; i >= 0; i-- {
			if es[i].asset() == asset {
				out = es[i].balance
				break
			}
		}
		return nil
	})
	return out, err
}

// History implements ledger.Store.
func (ls *LedgerStore) History(ctx context.Context, tenant storage.TenantID, account, asset string, before int64, limit int) ([]ledger.EntryRow, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	var out []ledger.EntryRow
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil || lt.accounts[account] == nil {
			return nil
		}
		es := lt.accounts[account].entries
		end := len(es)
		if before > 0 {
			end = sort.Search(len(es), func(i int) bool { return es[i].seq >= before })
		}
		for i := end - 1; i >= 0 && len(out) < limit; i-- {
			if asset == "" || es[i].asset() == asset {
				out = append(out, es[i].row(account))
			}
		}
		return nil
	})
	return out, err
}

// PlaceHold implements ledger.Store.
func (ls *LedgerStore) PlaceHold(ctx context.Context, tenant storage.TenantID, h ledger.HoldRow, event storage.Message) (ledger.HoldRow, bool, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return ledger.HoldRow{}, false, err
	}
	var out ledger.HoldRow
	var replayed bool
	err := s.ledgerInTx(ctx, func(ctx context.Context) error {
		return s.do(ctx, func(t *txn) error {
			lt := s.tenantLedger(tenant, true)
			if prior := lt.holdByKey[h.Key]; prior != nil {
				out, replayed = *prior, true
				return nil
			}
			if _, dup := lt.holds[h.ID]; dup {
				return fmt.Errorf("%w: hold ID %q", storage.ErrDuplicate, h.ID)
			}
			a := lt.accounts[h.Account]
			if a == nil {
				return fmt.Errorf("%w: %s", ledger.ErrUnknownAccount, h.Account)
			}
			b := a.balance(t, h.Asset)
			if floor, ok := a.acc.Overdraft.Floor(h.Asset); ok && b.posted-b.held-h.Amount < floor {
				return fmt.Errorf("%w: %s has %d %s available, floor %d", ledger.ErrInsufficientFunds, h.Account, b.posted-b.held, h.Asset, floor)
			}
			b.held += h.Amount
			t.onUndo(func() { b.held -= h.Amount })
			stored := h
			lt.holds[h.ID] = &stored
			lt.holdByKey[h.Key] = &stored
			t.onUndo(func() { delete(lt.holds, h.ID); delete(lt.holdByKey, h.Key) })
			out = h
			if event.EventID != "" {
				return s.AppendOutbox(ctx, event)
			}
			return nil
		})
	})
	return out, replayed, err
}

// Hold implements ledger.Store.
func (ls *LedgerStore) Hold(ctx context.Context, tenant storage.TenantID, id string) (ledger.HoldRow, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return ledger.HoldRow{}, err
	}
	var out ledger.HoldRow
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil || lt.holds[id] == nil {
			return fmt.Errorf("%w: %s", ledger.ErrHoldNotFound, id)
		}
		out = *lt.holds[id]
		return nil
	})
	return out, err
}

// ReleaseHold implements ledger.Store.
func (ls *LedgerStore) ReleaseHold(ctx context.Context, tenant storage.TenantID, id string, status ledger.HoldStatus, at time.Time, event storage.Message) (ledger.HoldRow, bool, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return ledger.HoldRow{}, false, err
	}
	if status != ledger.HoldVoided && status != ledger.HoldExpired {
		return ledger.HoldRow{}, false, fmt.Errorf("%w: release with status %s", storage.ErrInvalidArgument, status)
	}
	var out ledger.HoldRow
	var released bool
	err := s.ledgerInTx(ctx, func(ctx context.Context) error {
		return s.do(ctx, func(t *txn) error {
			lt := s.tenantLedger(tenant, false)
			if lt == nil || lt.holds[id] == nil {
				return fmt.Errorf("%w: %s", ledger.ErrHoldNotFound, id)
			}
			h := lt.holds[id]
			if h.Status != ledger.HoldOpen {
				out = *h
				return nil
			}
			old := *h
			b := lt.accounts[h.Account].bals[h.Asset]
			rest := h.Amount - h.Captured
			b.held -= rest
			h.Status, h.ClosedAt = status, at
			t.onUndo(func() { b.held += rest; *h = old })
			out, released = *h, true
			if event.EventID != "" {
				return s.AppendOutbox(ctx, event)
			}
			return nil
		})
	})
	return out, released, err
}

// ExpiredHolds implements ledger.Store.
func (ls *LedgerStore) ExpiredHolds(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]ledger.HoldRow, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []ledger.HoldRow
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil {
			return nil
		}
		for _, h := range lt.holds {
			if h.Status == ledger.HoldOpen && !h.ExpiresAt.IsZero() && !h.ExpiresAt.After(now) {
				out = append(out, *h)
			}
		}
		slices.SortFunc(out, func(a, b ledger.HoldRow) int {
			if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		if len(out) > limit {
			out = out[:limit]
		}
		return nil
	})
	return out, err
}

// ExpiredLots implements ledger.Store.
func (ls *LedgerStore) ExpiredLots(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]ledger.LotRow, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []ledger.LotRow
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil {
			return nil
		}
		for _, a := range lt.accounts {
			for _, b := range a.bals {
				for _, l := range b.lots {
					if l.ExpiresAt.After(now) {
						break
					}
					out = append(out, l)
				}
			}
		}
		slices.SortFunc(out, ledgerLotLess)
		if len(out) > limit {
			out = out[:limit]
		}
		return nil
	})
	return out, err
}

// ExpiringBy implements ledger.Store.
func (ls *LedgerStore) ExpiringBy(ctx context.Context, tenant storage.TenantID, account, asset string, date time.Time) (int64, error) {
	s := ls.s
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var out int64
	err := s.do(ctx, func(*txn) error {
		b := s.ledgerReadBalance(tenant, account, asset)
		if b == nil {
			return nil
		}
		for _, l := range b.lots {
			if l.ExpiresAt.After(date) {
				break
			}
			out += l.Remaining
		}
		return nil
	})
	return out, err
}
