package memory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

var _ settlement.Store = (*SettlementStore)(nil)

// settlementState holds package settlement's records.
type settlementState struct {
	orders  map[tkey]int32               // order -> its index in rows
	rows    slab[orderRow]               // every order, in insert order
	tenants map[storage.TenantID][]int32 // each tenant's orders, as indexes in rows
	// The orders' encodings and the tables they refer to (see orderRow).
	text       textArena
	tab        orderTables
	entries    map[storage.TenantID][]settlement.Entry
	entryIdx   map[tkey]int                                     // entry ID -> index in entries
	byOrder    map[tkey][]int                                   // order ID -> entry indexes
	open       map[storage.TenantID]map[string]map[int]struct{} // party -> open entry indexes
	statements map[tkey]settlement.Statement                    // by ID
	periods    map[periodKey]string                             // (party, period, currency) -> statement ID
	byStmt     map[tkey][]int                                   // statement ID -> entry indexes
}

// orderTables are the tables the orders' encodings refer to: names that
// recur across orders (tenants, states, tender kinds, parties), the time
// locations, currencies and splits. They only grow (an entry added is
// kept on rollback: it names nothing by itself). Their own mutex guards
// them, so that an order can be encoded before its transaction takes the
// store's lock (EncodeOrder); the store's lock, when held, is taken
// first.
type orderTables struct {
	mu     spinMutex
	names  names
	locs   locations
	curs   []money.Currency
	splits [][]settlement.Share
}

// orderEncoder encodes one order with the tables, under their mutex. It
// keeps the order's currency and its index in the tables: most of an
// order's amounts are in that currency, at its scale, and are written as
// bare integers.
type orderEncoder struct {
	tb     *orderTables
	cur    money.Currency
	curIdx int
}

// encoder returns the encoder of o; the caller holds tb.mu.
func (tb *orderTables) encoder(o *settlement.Order) orderEncoder {
	return orderEncoder{tb: tb, cur: o.Currency, curIdx: tb.currency(o.Currency)}
}

type periodKey struct {
	tenant   storage.TenantID
	party    string
	start    int64
	currency string
}

func (st *settlementState) init() {
	st.orders = make(map[tkey]int32)
	st.tenants = make(map[storage.TenantID][]int32)
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

// Orders are kept encoded, without pointers (see orderRow): the store
// holds every order it was given, and orders are the bulk of a busy
// store, so the collector would otherwise scan them on every cycle. An
// insert copies the order into the encoding (the caller keeps its order,
// see settlement.Store.InsertOrder), and a read decodes a fresh order for
// its caller.

// orderRow is a stored order: where its encoding is in
// settlementState.text, as a head (the order's single fields) and a body
// (its lists), and what conditional updates and queries look at, so that
// they need not decode it.
type orderRow struct {
	head, body       textRef
	headLen, bodyLen int32
	version          int64
	state            int32 // in settlementState.tab.names
	payBy            memTime
}

// insertUndo takes back the last insert of an order: its row is the last one,
// and its encoding the last text. It is the settlementState itself, so
// that recording it allocates nothing.
type insertUndo settlementState

func (u *insertUndo) undo() {
	st := (*settlementState)(u)
	n := st.rows.len() - 1
	row := st.rows.at(int32(n))
	d := orderDecoder{b: st.text.bytes(row.head, 0, row.headLen)}
	st.tab.mu.Lock()
	tenant := storage.TenantID(st.tab.names.all[d.uvarint()])
	st.tab.mu.Unlock()
	id := d.str()
	delete(st.orders, tkey{tenant, id})
	if ids := st.tenants[tenant]; len(ids) > 0 && ids[len(ids)-1] == int32(n) {
		st.tenants[tenant] = ids[:len(ids)-1]
	}
	st.text.truncateTo(row.head)
	*row = orderRow{}
	st.rows.truncate(n)
}

// add appends row, just encoded, as the order k; the transaction t takes
// it back if it rolls back.
func (st *settlementState) add(t *txn, k tkey, row orderRow) {
	i := st.rows.push(row)
	st.orders[k] = i
	st.tenants[k.tenant] = append(st.tenants[k.tenant], i)
	t.onUndoer((*insertUndo)(st))
}

// headUndo puts an updated order's row back as it was, dropping the
// encoding written for the update (the last text).
type headUndo struct {
	st  *settlementState
	row int32
	old orderRow
	at  textRef // where the update's encoding starts
}

func (u *headUndo) undo() {
	u.st.text.truncateTo(u.at)
	*u.st.rows.at(u.row) = u.old
}

// put encodes o into the text (its body too unless body is set: an
// update of the head keeps the stored body) and returns its row.
func (st *settlementState) put(o *settlement.Order, body *orderRow) orderRow {
	var buf [4096]byte
	st.tab.mu.Lock()
	enc := st.tab.encoder(o)
	b := enc.appendHead(buf[:0], o)
	headLen := len(b)
	if body == nil {
		b = enc.appendBody(b, o)
	}
	state, payBy := st.tab.names.of(string(o.State)), st.tab.locs.pack(o.PayBy)
	st.tab.mu.Unlock()
	return st.store(b, headLen, body, o.Version, state, payBy)
}

// store copies an order's encoding (its head, the first headLen bytes of
// b, and its body, unless body is set: an update of the head keeps the
// stored body) into the text and returns its row.
func (st *settlementState) store(b []byte, headLen int, body *orderRow, version int64, state int32, payBy memTime) orderRow {
	ref, dst := st.text.alloc(len(b))
	_ = append(dst, b...)
	r := orderRow{head: ref, headLen: int32(headLen), version: version, state: state, payBy: payBy}
	if body == nil {
		r.body, r.bodyLen = textRef{ref.chunk, ref.off + int32(headLen)}, int32(len(b)-headLen)
	} else {
		r.body, r.bodyLen = body.body, body.bodyLen
	}
	return r
}

// encoded is a stored order's encoding and what decoding it needs, taken
// under the lock so that the order can be decoded after it: the text of
// an order is never changed once written, and the tables only grow. Its
// bytes are the store's own (outside the Go heap, perhaps: see
// textArena): the store is to be kept alive until they are decoded.
type encoded struct {
	head, body []byte
	names      []string
	curs       []money.Currency
	locs       locations
	splits     [][]settlement.Share
}

func (st *settlementState) encoded(r *orderRow) encoded {
	e := encoded{head: st.text.bytes(r.head, 0, r.headLen), body: st.text.bytes(r.body, 0, r.bodyLen)}
	st.tab.mu.Lock()
	e.names, e.curs, e.locs, e.splits = st.tab.names.all, st.tab.curs, st.tab.locs, st.tab.splits
	st.tab.mu.Unlock()
	return e
}

// InsertOrder implements settlement.Store.
func (r *SettlementStore) InsertOrder(ctx context.Context, o settlement.Order) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		k := tkey{o.Tenant, o.ID}
		if _, ok := st.orders[k]; ok {
			return fmt.Errorf("%w: order %s", storage.ErrDuplicate, o.ID)
		}
		st.add(t, k, st.put(&o, nil))
		return nil
	})
}

// EncodeOrder is package settlement's fast path for CreateOrder: it
// encodes o (as InsertOrder would store it) before the transaction, so
// that the transaction's InsertEncoded only copies the encoding in. The
// encoding is for this store's InsertEncoded of the same order only.
func (r *SettlementStore) EncodeOrder(o *settlement.Order) []byte {
	st := r.st()
	st.tab.mu.Lock()
	defer st.tab.mu.Unlock()
	// a prefix for InsertEncoded: the head's length, the state's name,
	// the PayBy deadline (what the row keeps besides the encoding)
	var buf [4096]byte
	enc := st.tab.encoder(o)
	head := enc.appendHead(buf[:0], o)
	b := make([]byte, 0, len(head)+640)
	b = appendUvarint(b, uint64(len(head)))
	b = appendUvarint(b, uint64(st.tab.names.of(string(o.State))))
	m := st.tab.locs.pack(o.PayBy)
	b = appendUvarint(appendVarint(appendUvarint(b, uint64(m.loc)), m.sec), uint64(m.nsec))
	b = append(b, head...)
	return enc.appendBody(b, o)
}

// InsertEncoded is InsertOrder for an order o encoded by EncodeOrder
// (enc): storage.ErrDuplicate when its ID exists in the tenant.
func (r *SettlementStore) InsertEncoded(ctx context.Context, o *settlement.Order, enc []byte) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	d := orderDecoder{b: enc}
	headLen := int(d.uvarint())
	state := int32(d.uvarint())
	var m memTime
	m.loc = int32(d.uvarint())
	m.sec = d.varint()
	m.nsec = int32(d.uvarint())
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		k := tkey{o.Tenant, o.ID}
		if _, ok := st.orders[k]; ok {
			return fmt.Errorf("%w: order %s", storage.ErrDuplicate, o.ID)
		}
		st.add(t, k, st.store(d.b, headLen, nil, o.Version, state, m))
		return nil
	})
}

// Order implements settlement.Store.
func (r *SettlementStore) Order(ctx context.Context, tenant storage.TenantID, id string) (settlement.Order, error) {
	if err := tenant.Validate(); err != nil {
		return settlement.Order{}, err
	}
	var e encoded
	found := false
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		if i, ok := st.orders[tkey{tenant, id}]; ok {
			e, found = st.encoded(st.rows.at(i)), true
		}
		return nil
	})
	if err != nil {
		return settlement.Order{}, err
	}
	if !found {
		return settlement.Order{}, fmt.Errorf("%w: order %s", storage.ErrNotFound, id)
	}
	o := e.decode()      // after the lock is given back
	runtime.KeepAlive(r) // the store holds the text e points into
	return o, nil
}

// update writes o over the stored order if that one is at prevVersion;
// head keeps the stored order's body.
func (r *SettlementStore) update(ctx context.Context, o *settlement.Order, prevVersion int64, head bool) error {
	return r.s.do(ctx, func(t *txn) error {
		st := r.st()
		i, ok := st.orders[tkey{o.Tenant, o.ID}]
		if !ok {
			return fmt.Errorf("%w: order %s", storage.ErrNotFound, o.ID)
		}
		row := st.rows.at(i)
		if row.version != prevVersion {
			return fmt.Errorf("%w: order %s is at version %d, not %d", storage.ErrConflict, o.ID, row.version, prevVersion)
		}
		old := *row
		var body *orderRow
		if head {
			body = &old
		}
		*row = st.put(o, body)
		t.onUndoer(&headUndo{st: st, row: i, old: old, at: row.head})
		return nil
	})
}

// UpdateOrder implements settlement.Store.
func (r *SettlementStore) UpdateOrder(ctx context.Context, o settlement.Order, prevVersion int64) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	return r.update(ctx, &o, prevVersion, false)
}

// UpdateOrderHead implements settlement.Store: the stored order's lists
// stay, o's other fields replace the rest, so only the order's head is
// written.
func (r *SettlementStore) UpdateOrderHead(ctx context.Context, o settlement.Order, prevVersion int64) error {
	if err := o.Tenant.Validate(); err != nil {
		return err
	}
	return r.update(ctx, &o, prevVersion, true)
}

// FindOrders implements settlement.Store.
func (r *SettlementStore) FindOrders(ctx context.Context, q settlement.OrderQuery) ([]settlement.Order, error) {
	if err := q.Tenant.Validate(); err != nil {
		return nil, err
	}
	var found []encoded
	err := r.s.do(ctx, func(*txn) error {
		st := r.st()
		var states []int32
		st.tab.mu.Lock()
		for _, s := range q.States {
			if i, ok := st.tab.names.lookup(string(s)); ok {
				states = append(states, i)
			}
		}
		locs := st.tab.locs
		st.tab.mu.Unlock()
		if len(q.States) > 0 && len(states) == 0 {
			return nil // no order is in any of the states
		}
		for _, i := range st.tenants[q.Tenant] {
			row := st.rows.at(i)
			if len(states) > 0 && !slices.Contains(states, row.state) {
				continue
			}
			if !q.PayByBefore.IsZero() && !locs.unpack(row.payBy).Before(q.PayByBefore) {
				continue
			}
			e := st.encoded(row)
			if q.AfterID != "" && string(e.id()) <= q.AfterID {
				continue
			}
			found = append(found, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// sorted and decoded after the lock is given back
	slices.SortFunc(found, func(a, b encoded) int { return bytes.Compare(a.id(), b.id()) })
	if q.Limit > 0 && len(found) > q.Limit {
		found = found[:q.Limit]
	}
	var out []settlement.Order
	if len(found) > 0 {
		out = make([]settlement.Order, len(found))
		for i := range found {
			out[i] = found[i].decode()
		}
	}
	runtime.KeepAlive(r) // the store holds the text found points into
	return out, nil
}

// currency returns the index of c in the currencies of stored amounts.
func (tb *orderTables) currency(c money.Currency) int {
	if i := slices.Index(tb.curs, c); i >= 0 {
		return i
	}
	tb.curs = append(tb.curs, c)
	return len(tb.curs) - 1
}

// split returns the index of sp in the splits of stored orders (orders
// share their Service's split; a split added is kept on rollback: it
// names nothing by itself).
func (tb *orderTables) split(sp []settlement.Share) int {
	for i, s := range tb.splits {
		if len(s) == len(sp) && (len(s) == 0 || &s[0] == &sp[0] || slices.EqualFunc(s, sp, sameShare)) {
			return i
		}
	}
	tb.splits = append(tb.splits, slices.Clone(sp))
	return len(tb.splits) - 1
}

// sameShare reports whether two shares are the same, their ratios written
// alike.
func sameShare(a, b settlement.Share) bool {
	return a.Party == b.Party && a.Ratio.Exponent() == b.Ratio.Exponent() && a.Ratio.Equal(b.Ratio)
}

// The encoding: unsigned and signed varints, strings as a length and
// their bytes, a list as its length plus one (0: nil), a time as its
// location (0: the zero time) and Unix seconds and nanoseconds, an amount
// as a kind (0: the zero Amount, 1: an int64 coefficient, 2: the decimal
// digits of a larger one), its exponent and its currency, or (kind 3) as
// an int64 coefficient alone, the exponent and the currency being the
// order's own (most amounts of an order: two bytes fewer each).

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }

func appendString(b []byte, s string) []byte {
	return append(appendUvarint(b, uint64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendList appends the length of a list, 0 for nil.
func appendList(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, 0)
	}
	return appendUvarint(b, uint64(n)+1)
}

func (e *orderEncoder) appendTime(b []byte, t time.Time) []byte {
	m := e.tb.locs.pack(t)
	b = appendUvarint(b, uint64(m.loc))
	if m.loc == 0 {
		return b
	}
	return appendUvarint(appendVarint(b, m.sec), uint64(m.nsec))
}

func (e *orderEncoder) appendAmount(b []byte, a money.Amount) []byte {
	if a == (money.Amount{}) {
		return append(b, 0)
	}
	if units, exact := a.Units(); exact && a.Currency() == e.cur {
		return appendVarint(append(b, 3), units)
	}
	d := a.Decimal()
	if d.NumDigits() <= 18 {
		b = append(b, 1)
		b = appendVarint(appendVarint(b, d.CoefficientInt64()), int64(d.Exponent()))
	} else { // the coefficient beyond int64: its digits
		b = appendString(append(b, 2), d.Coefficient().String())
		b = appendVarint(b, int64(d.Exponent()))
	}
	return appendUvarint(b, uint64(e.tb.currency(a.Currency())))
}

func (e *orderEncoder) appendFunding(b []byte, fs []settlement.FundingPart) []byte {
	b = appendList(b, len(fs), fs == nil)
	for _, f := range fs {
		b = e.appendAmount(appendUvarint(b, uint64(e.tb.names.of(f.Party))), f.Amount)
	}
	return b
}

// appendHead encodes the order's single fields: tenant and ID first (an
// undo and FindOrders read them). Names that repeat across orders
// (tenants, states, tender kinds, parties) are interned: an index in
// settlementState.tab.names.
func (e *orderEncoder) appendHead(b []byte, o *settlement.Order) []byte {
	b = appendUvarint(b, uint64(e.tb.names.of(string(o.Tenant))))
	b = appendString(b, o.ID)
	b = appendString(b, o.UserID)
	b = appendString(b, o.Channel)
	b = appendUvarint(b, uint64(e.tb.names.of(string(o.State))))
	b = appendUvarint(b, uint64(e.curIdx))
	b = e.appendAmount(b, o.Subtotal)
	b = e.appendAmount(b, o.Discount)
	b = e.appendAmount(b, o.Total)
	b = appendString(b, o.PaymentRef)
	b = appendBool(b, o.Cleared)
	b = e.appendAmount(b, o.Refunded)
	b = appendString(b, o.Fingerprint)
	b = e.appendTime(b, o.PayBy)
	b = e.appendTime(b, o.CreatedAt)
	b = e.appendTime(b, o.PaidAt)
	b = e.appendTime(b, o.CompletedAt)
	b = e.appendTime(b, o.UpdatedAt)
	return appendVarint(b, o.Version)
}

// appendOfferID appends a discount's offer ID, which usually ends with
// its coupon's ID (written just before it): twice the length of the rest
// plus one, and the rest; else twice its length, and it.
func appendOfferID(b []byte, offer, couponID string) []byte {
	if prefix, ok := strings.CutSuffix(offer, couponID); ok && couponID != "" {
		return append(appendUvarint(b, 2*uint64(len(prefix))+1), prefix...)
	}
	return append(appendUvarint(b, 2*uint64(len(offer))), offer...)
}

// appendBody encodes the order's lists.
func (e *orderEncoder) appendBody(b []byte, o *settlement.Order) []byte {
	// the currency of its kind-3 amounts: the body outlives updates of the
	// head alone, and must be read the same way whatever they write
	b = appendUvarint(b, uint64(e.curIdx))
	// the number of funding parts of every list, so that decode makes
	// their one backing array at its size
	parts := 0
	for i := range o.Lines {
		parts += len(o.Lines[i].Funding)
	}
	for i := range o.Discounts {
		parts += len(o.Discounts[i].Funding)
	}
	b = appendUvarint(b, uint64(parts))
	b = appendList(b, len(o.Lines), o.Lines == nil)
	for i := range o.Lines {
		l := &o.Lines[i]
		b = appendString(b, l.ID)
		b = appendString(b, l.SKU)
		// categories and merchants recur across orders: interned
		b = appendUvarint(b, uint64(e.tb.names.of(l.Category)))
		b = appendUvarint(b, uint64(e.tb.names.of(l.Merchant)))
		b = e.appendAmount(b, l.UnitPrice)
		b = appendVarint(b, int64(l.Quantity))
		b = e.appendAmount(b, l.Amount)
		b = e.appendAmount(b, l.Discount)
		b = e.appendAmount(b, l.Net)
		b = e.appendFunding(b, l.Funding)
		b = appendVarint(b, int64(l.RefundedQty))
		b = e.appendAmount(b, l.RefundedAmount)
	}
	b = appendList(b, len(o.Discounts), o.Discounts == nil)
	for i := range o.Discounts {
		d := &o.Discounts[i]
		b = appendString(b, d.CouponID)
		b = appendOfferID(b, d.OfferID, d.CouponID)
		b = appendString(b, d.TemplateID)
		b = e.appendAmount(b, d.Amount)
		b = e.appendFunding(b, d.Funding)
		b = appendBool(b, d.Budgeted)
	}
	b = appendList(b, len(o.Coupons), o.Coupons == nil)
	for _, c := range o.Coupons {
		// usually a discount's coupon: 1 + that discount's index
		k := slices.IndexFunc(o.Discounts, func(d settlement.AppliedDiscount) bool { return d.CouponID == c })
		b = appendUvarint(b, uint64(k+1))
		if k < 0 {
			b = appendString(b, c)
		}
	}
	b = appendList(b, len(o.Tenders), o.Tenders == nil)
	for i := range o.Tenders {
		t := &o.Tenders[i]
		b = appendUvarint(b, uint64(e.tb.names.of(string(t.Kind))))
		b = appendString(b, t.Account)
		b = e.appendAmount(b, t.Amount)
		b = appendString(b, t.HoldID)
		b = e.appendAmount(b, t.Refunded)
	}
	if o.Split == nil {
		b = append(b, 0)
	} else {
		b = appendUvarint(b, uint64(e.tb.split(o.Split))+1)
	}
	b = appendList(b, len(o.ClearedUnits), o.ClearedUnits == nil)
	for _, u := range o.ClearedUnits {
		b = appendVarint(b, int64(u))
	}
	b = appendList(b, len(o.Refunds), o.Refunds == nil)
	for i := range o.Refunds {
		rf := &o.Refunds[i]
		b = appendVarint(b, int64(rf.Seq))
		b = appendString(b, rf.Key)
		b = appendList(b, len(rf.Lines), rf.Lines == nil)
		for _, l := range rf.Lines {
			b = e.appendAmount(appendVarint(appendString(b, l.LineID), int64(l.Quantity)), l.Amount)
		}
		b = e.appendAmount(b, rf.Amount)
		b = appendList(b, len(rf.Tenders), rf.Tenders == nil)
		for _, a := range rf.Tenders {
			b = e.appendAmount(b, a)
		}
		b = appendList(b, len(rf.Clawback), rf.Clawback == nil)
		for _, c := range rf.Clawback {
			b = e.appendAmount(appendUvarint(b, uint64(e.tb.names.of(c.Party))), c.Amount)
		}
		b = appendBool(b, rf.AfterClearing)
		b = appendString(b, rf.Reason)
		b = e.appendTime(b, rf.At)
	}
	return b
}

// orderDecoder reads an encoding. The encoding was written by this store,
// so it is read without checks; a short read would be a bug.
type orderDecoder struct {
	b    []byte
	text string // the strings of the part being read are cut from this copy of it
	off  int    // of b's start in text
	e    *encoded
	// the order's currency (an index in e.curs), for the amounts in it
	// (kind 3)
	cur int
}

func (d *orderDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	d.b, d.off = d.b[n:], d.off+n
	return v
}

func (d *orderDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	d.b, d.off = d.b[n:], d.off+n
	return v
}

func (d *orderDecoder) str() string { return d.cut(int(d.uvarint())) }

// cut reads the next n bytes as a string.
func (d *orderDecoder) cut(n int) string {
	var s string
	if d.text != "" {
		s = d.text[d.off : d.off+n]
	} else {
		s = string(d.b[:n])
	}
	d.b, d.off = d.b[n:], d.off+n
	return s
}

// offerID reads what appendOfferID wrote for a discount of coupon
// couponID.
func (d *orderDecoder) offerID(couponID string) string {
	n := d.uvarint()
	s := d.cut(int(n / 2))
	if n%2 == 1 {
		return s + couponID
	}
	return s
}

// name reads an interned name.
func (d *orderDecoder) name() string { return d.e.names[d.uvarint()] }

func (d *orderDecoder) boolean() bool {
	v := d.b[0] != 0
	d.b, d.off = d.b[1:], d.off+1
	return v
}

// list returns a list's length, and false for nil.
func (d *orderDecoder) list() (int, bool) {
	n := d.uvarint()
	return int(n) - 1, n != 0
}

func (d *orderDecoder) time() time.Time {
	loc := int32(d.uvarint())
	if loc == 0 {
		return time.Time{}
	}
	sec := d.varint()
	return d.e.locs.unpack(memTime{sec: sec, nsec: int32(d.uvarint()), loc: loc})
}

func (d *orderDecoder) amount() money.Amount {
	kind := d.b[0]
	d.b, d.off = d.b[1:], d.off+1
	switch kind {
	case 0:
		return money.Amount{}
	case 2:
		coef, _ := new(big.Int).SetString(d.str(), 10)
		exp := int32(d.varint())
		return money.New(decimal.NewFromBigInt(coef, exp), d.e.curs[d.uvarint()])
	case 3:
		return money.FromMinor(d.varint(), d.e.curs[d.cur])
	}
	coef, exp := d.varint(), int32(d.varint())
	return money.New(decimal.New(coef, exp), d.e.curs[d.uvarint()])
}

func (d *orderDecoder) funding(parts *[]settlement.FundingPart) []settlement.FundingPart {
	n, ok := d.list()
	if !ok {
		return nil
	}
	if n == 0 {
		return []settlement.FundingPart{}
	}
	start := len(*parts)
	for range n {
		*parts = append(*parts, settlement.FundingPart{Party: d.name(), Amount: d.amount()})
	}
	return (*parts)[start:len(*parts):len(*parts)]
}

// id returns the ID of the encoded order (its second field), without
// copying it.
func (e *encoded) id() []byte {
	d := orderDecoder{b: e.head}
	d.uvarint()
	n := int(d.uvarint())
	return d.b[:n]
}

// decode returns the order e holds, sharing nothing with the store but
// interned names (immutable strings): the strings of its head are cut
// from one copy of the head (a caller that keeps the order's ID keeps
// that small copy), those of its lists from one copy of the body, its
// funding lists from one backing array.
func (e *encoded) decode() settlement.Order {
	d := orderDecoder{b: e.head, text: string(e.head), e: e}
	var o settlement.Order
	o.Tenant = storage.TenantID(d.name())
	// the ID on its own: what a caller most often keeps (a ledger
	// posting's metadata, a host's index) should not keep the whole head
	o.ID = strings.Clone(d.str())
	o.UserID = d.str()
	o.Channel = d.str()
	o.State = settlement.OrderState(d.name())
	d.cur = int(d.uvarint())
	o.Currency = e.curs[d.cur]
	o.Subtotal = d.amount()
	o.Discount = d.amount()
	o.Total = d.amount()
	o.PaymentRef = d.str()
	o.Cleared = d.boolean()
	o.Refunded = d.amount()
	o.Fingerprint = d.str()
	o.PayBy = d.time()
	o.CreatedAt = d.time()
	o.PaidAt = d.time()
	o.CompletedAt = d.time()
	o.UpdatedAt = d.time()
	o.Version = d.varint()

	d.b, d.text, d.off = e.body, string(e.body), 0
	d.cur = int(d.uvarint())
	var parts []settlement.FundingPart
	if n := d.uvarint(); n > 0 {
		parts = make([]settlement.FundingPart, 0, n)
	}
	if n, ok := d.list(); ok {
		o.Lines = make([]settlement.OrderLine, n)
		for i := range o.Lines {
			l := &o.Lines[i]
			l.ID, l.SKU, l.Category, l.Merchant = d.str(), d.str(), d.name(), d.name()
			l.UnitPrice = d.amount()
			l.Quantity = int(d.varint())
			l.Amount, l.Discount, l.Net = d.amount(), d.amount(), d.amount()
			l.Funding = d.funding(&parts)
			l.RefundedQty = int(d.varint())
			l.RefundedAmount = d.amount()
		}
	}
	if n, ok := d.list(); ok {
		o.Discounts = make([]settlement.AppliedDiscount, n)
		for i := range o.Discounts {
			ad := &o.Discounts[i]
			ad.CouponID = d.str()
			ad.OfferID = d.offerID(ad.CouponID)
			ad.TemplateID = d.str()
			ad.Amount = d.amount()
			ad.Funding = d.funding(&parts)
			ad.Budgeted = d.boolean()
		}
	}
	if n, ok := d.list(); ok {
		o.Coupons = make([]string, n)
		for i := range o.Coupons {
			if k := d.uvarint(); k > 0 {
				o.Coupons[i] = o.Discounts[k-1].CouponID
			} else {
				o.Coupons[i] = d.str()
			}
		}
	}
	if n, ok := d.list(); ok {
		o.Tenders = make([]settlement.Tender, n)
		for i := range o.Tenders {
			t := &o.Tenders[i]
			t.Kind = settlement.TenderKind(d.name())
			t.Account = d.str()
			t.Amount = d.amount()
			t.HoldID = d.str()
			t.Refunded = d.amount()
		}
	}
	if i := d.uvarint(); i > 0 {
		o.Split = slices.Clone(e.splits[i-1])
	}
	if n, ok := d.list(); ok {
		o.ClearedUnits = make([]int, n)
		for i := range o.ClearedUnits {
			o.ClearedUnits[i] = int(d.varint())
		}
	}
	if n, ok := d.list(); ok {
		o.Refunds = make([]settlement.Refund, n)
		for i := range o.Refunds {
			rf := &o.Refunds[i]
			rf.Seq = int(d.varint())
			rf.Key = d.str()
			if n, ok := d.list(); ok {
				rf.Lines = make([]settlement.RefundLine, n)
				for j := range rf.Lines {
					rf.Lines[j] = settlement.RefundLine{LineID: d.str(), Quantity: int(d.varint()), Amount: d.amount()}
				}
			}
			rf.Amount = d.amount()
			if n, ok := d.list(); ok {
				rf.Tenders = make([]money.Amount, n)
				for j := range rf.Tenders {
					rf.Tenders[j] = d.amount()
				}
			}
			if n, ok := d.list(); ok {
				rf.Clawback = make([]settlement.PartyAmount, n)
				for j := range rf.Clawback {
					rf.Clawback[j] = settlement.PartyAmount{Party: d.name(), Amount: d.amount()}
				}
			}
			rf.AfterClearing = d.boolean()
			rf.Reason = d.str()
			rf.At = d.time()
		}
	}
	return o
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
