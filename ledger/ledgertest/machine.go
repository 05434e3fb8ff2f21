package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Points is the model's loyalty asset (scale 0); the model also uses USD.
var Points = money.MustCurrency("POINTS", 0)

// Assets returns the registry the model's ledger uses.
func Assets() *money.Registry {
	r, err := money.NewRegistry(Points)
	if err != nil {
		panic(err)
	}
	return r
}

// Env is what one run of the model needs: a store and a transactor over
// a tenant that holds nothing yet.
type Env struct {
	Store  ledger.Store
	Tx     storage.Transactor
	Tenant storage.TenantID
	// Outbox, when set, is read to check that every state change appended
	// exactly one message for the tenant (and a rejected command none).
	Outbox storage.OutboxStore
}

// Options configure Check.
type Options struct {
	// Open returns a fresh Env for one run. Required.
	Open func(t *rapid.T) Env
	// Light compares the whole state only after every fourth step and
	// after every rejected command, instead of after every step.
	Light bool
	// MaxSteps, when positive, runs at most that many commands per run
	// (drawn, so still shrunk) instead of rapid's Repeat, which averages
	// -rapid.steps. For slow stores.
	MaxSteps int
}

const expiryAccount = "platform:expired"

var (
	assetsUsed = []money.Currency{Points, money.USD}
	// accounts the generators move money between; World is unbounded,
	// merchant:1 may go 50 POINTS below zero, the rest not at all.
	movers   = []string{ledger.World, "member:1", "member:2", "merchant:1"}
	all      = append(slices.Clone(movers), expiryAccount)
	boundLim = money.FromMinor(50, Points)
)

func floorOf(account, asset string) (int64, bool) {
	switch account {
	case ledger.World:
		return 0, false
	case "merchant:1":
		if asset == Points.Code() {
			return -50, true
		}
	}
	return 0, true
}

// Check runs the model against opts.Open's stores.
func Check(t rapid.TB, opts Options) {
	rapid.Check(t, func(rt *rapid.T) {
		env := opts.Open(rt)
		m := newMachine(rt, env, opts.Light)
		if opts.MaxSteps <= 0 {
			rt.Repeat(m.actions())
			return
		}
		m.manual = true
		actions := m.actions()
		check := actions[""]
		delete(actions, "")
		names := make([]string, 0, len(actions))
		for k := range actions {
			names = append(names, k)
		}
		slices.Sort(names)
		check(rt)
		for range rapid.IntRange(1, opts.MaxSteps).Draw(rt, "steps") {
			name := rapid.SampledFrom(names).Draw(rt, "action")
			if !m.try(rt, actions[name]) {
				continue // the action had nothing to act on
			}
			check(rt)
		}
		m.light = false
		check(rt) // the whole state at the end
	})
}

type bkey struct{ account, asset string }

type mbal struct{ posted, held int64 }

type mlot struct {
	seq       int
	expires   time.Time
	remaining int64
}

type mline struct {
	src, dst, asset string
	amount          int64
	expires         time.Time
	reversed        int64
}

type mtx struct {
	id    string
	lines []mline
}

type mhold struct {
	id, account, dst, asset string
	amount, captured        int64
	status                  ledger.HoldStatus
	expires                 time.Time
}

type mkey struct {
	lines []mline // as requested
	txID  string
}

// state is the model; clone copies it for batches.
type state struct {
	bals   map[bkey]mbal
	lots   map[bkey][]mlot
	txs    map[string]*mtx
	txList []string
	keys   map[string]mkey
	holds  map[string]*mhold
	holdID []string
	lotSeq int
	msgs   int
}

func (s *state) clone() *state {
	c := &state{bals: map[bkey]mbal{}, lots: map[bkey][]mlot{}, txs: map[string]*mtx{}, keys: map[string]mkey{},
		holds: map[string]*mhold{}, txList: slices.Clone(s.txList), holdID: slices.Clone(s.holdID), lotSeq: s.lotSeq, msgs: s.msgs}
	for k, v := range s.bals {
		c.bals[k] = v
	}
	for k, v := range s.lots {
		c.lots[k] = slices.Clone(v)
	}
	for k, v := range s.txs {
		cp := *v
		cp.lines = slices.Clone(v.lines)
		c.txs[k] = &cp
	}
	for k, v := range s.keys {
		c.keys[k] = v
	}
	for k, v := range s.holds {
		cp := *v
		c.holds[k] = &cp
	}
	return c
}

type machine struct {
	t      *rapid.T
	env    Env
	l      *ledger.Ledger
	clock  *storage.FakeClock
	s      *state
	light  bool
	step   int
	reject bool // the last command was rejected
	nkey   int
	ctx    context.Context
	// skipped is set by skip in MaxSteps mode, where t.Skip would end
	// the whole run as invalid
	skipped bool
	manual  bool
}

func newMachine(t *rapid.T, env Env, light bool) *machine {
	clock := storage.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := ledger.New(ledger.Config{Store: env.Store, Tx: env.Tx, Clock: clock, Assets: Assets(), ExpiryAccount: expiryAccount})
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{t: t, env: env, l: l, clock: clock, light: light, ctx: context.Background(),
		s: &state{bals: map[bkey]mbal{}, lots: map[bkey][]mlot{}, txs: map[string]*mtx{}, keys: map[string]mkey{}, holds: map[string]*mhold{}}}
	for _, a := range all {
		acc := ledger.Account{ID: a, Overdraft: ledger.DefaultOverdraft(a)}
		if a == "merchant:1" {
			acc.Overdraft = ledger.Overdraft{Kind: ledger.BoundedOverdraft, Limit: boundLim}
		}
		if _, err := l.OpenAccount(m.ctx, env.Tenant, acc); err != nil {
			t.Fatalf("open %s: %v", a, err)
		}
		m.s.msgs++
	}
	return m
}

// try runs an action, reporting false when it skipped itself (no hold
// or transaction to act on yet), which Repeat would handle.
func (m *machine) try(t *rapid.T, action func(*rapid.T)) (ran bool) {
	m.skipped = false
	action(t)
	return !m.skipped
}

func (m *machine) key() string {
	m.nkey++
	return fmt.Sprintf("k%d", m.nkey)
}

func (m *machine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"":         m.check,
		"transfer": m.transfer,
		"replay":   m.replay,
		"batch":    m.batch,
		"hold":     m.hold,
		"capture":  m.capture,
		"void":     m.void,
		"reverse":  m.reverse,
		"advance":  m.advance,
		"sweep":    m.sweep,
		"bad":      m.bad,
	}
}

// genLines draws 1 to 3 postings.
func (m *machine) genLines(t *rapid.T) []mline {
	n := rapid.IntRange(1, 3).Draw(t, "postings")
	lines := make([]mline, n)
	for i := range lines {
		src := rapid.SampledFrom(movers).Draw(t, "src")
		dst := rapid.SampledFrom(movers).Filter(func(d string) bool { return d != src }).Draw(t, "dst")
		asset := rapid.SampledFrom(assetsUsed).Draw(t, "asset")
		ln := mline{src: src, dst: dst, asset: asset.Code(), amount: rapid.Int64Range(1, 120).Draw(t, "amount")}
		if rapid.IntRange(0, 3).Draw(t, "expiring") == 0 {
			ln.expires = m.clock.Now().Add(time.Duration(rapid.IntRange(1, 72).Draw(t, "hours")) * time.Hour)
		}
		lines[i] = ln
	}
	return lines
}

func currency(code string) money.Currency {
	if code == Points.Code() {
		return Points
	}
	return money.USD
}

func request(key string, lines []mline) ledger.TransferRequest {
	req := ledger.TransferRequest{Key: key}
	for _, ln := range lines {
		req.Postings = append(req.Postings, ledger.Posting{Source: ln.src, Destination: ln.dst,
			Amount: money.FromMinor(ln.amount, currency(ln.asset)), ExpiresAt: ln.expires})
	}
	return req
}

func sameLines(a, b []mline) bool {
	return slices.EqualFunc(a, b, func(x, y mline) bool {
		return x.src == y.src && x.dst == y.dst && x.asset == y.asset && x.amount == y.amount && x.expires.Equal(y.expires)
	})
}

// apply runs lines on s as one transaction and reports the error the
// ledger must return; s is changed only on success.
func (s *state) apply(lines []mline, txID string, heldRelease *mhold) error {
	c := s.clone()
	before := map[bkey]mbal{}
	debited := map[bkey]bool{}
	for _, ln := range lines {
		sk, dk := bkey{ln.src, ln.asset}, bkey{ln.dst, ln.asset}
		for _, k := range []bkey{sk, dk} {
			if _, ok := before[k]; !ok {
				before[k] = c.bals[k]
			}
		}
		sb, db := c.bals[sk], c.bals[dk]
		sb.posted -= ln.amount
		c.bals[sk] = sb
		db.posted += ln.amount
		c.bals[dk] = db
		debited[sk] = true
		c.consume(sk, ln.amount)
		if !ln.expires.IsZero() {
			c.lotSeq++
			lots := append(c.lots[dk], mlot{seq: c.lotSeq, expires: ln.expires, remaining: ln.amount})
			slices.SortStableFunc(lots, func(a, b mlot) int {
				if x := a.expires.Compare(b.expires); x != 0 {
					return x
				}
				return a.seq - b.seq
			})
			c.lots[dk] = lots
		}
	}
	if heldRelease != nil {
		k := bkey{heldRelease.account, heldRelease.asset}
		b := c.bals[k]
		b.held -= lines[0].amount
		c.bals[k] = b
	}
	for k := range debited {
		b, old := c.bals[k], before[k]
		if f, ok := floorOf(k.account, k.asset); ok && b.posted-b.held < f && b.posted-b.held < old.posted-old.held {
			return ledger.ErrInsufficientFunds
		}
	}
	c.txs[txID] = &mtx{id: txID, lines: slices.Clone(lines)}
	c.txList = append(c.txList, txID)
	c.msgs++
	*s = *c
	return nil
}

func (s *state) consume(k bkey, amount int64) {
	lots := s.lots[k]
	out := lots[:0:0]
	for _, l := range lots {
		n := min(amount, l.remaining)
		l.remaining -= n
		amount -= n
		if l.remaining > 0 {
			out = append(out, l)
		}
	}
	s.lots[k] = out
}

// skip gives up on an action that has nothing to act on.
func (m *machine) skip(t *rapid.T, why string) {
	if m.manual {
		m.skipped = true
		return
	}
	t.Skip(why)
}

func (m *machine) expect(t *rapid.T, what string, want, got error) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Fatalf("%s: unexpected error %v", what, got)
	case want != nil && got == nil:
		t.Fatalf("%s: want %v, got success", what, want)
	case want != nil && !errors.Is(got, want):
		t.Fatalf("%s: want %v, got %v", what, want, got)
	}
	m.reject = want != nil
}

func (m *machine) transfer(t *rapid.T) {
	lines := m.genLines(t)
	key := m.key()
	tx, err := m.l.Transfer(m.ctx, m.env.Tenant, request(key, lines))
	var want error
	if err == nil {
		want = m.s.apply(lines, tx.ID, nil)
		if want == nil {
			m.s.keys[key] = mkey{lines: lines, txID: tx.ID}
		}
	} else {
		want = m.s.clone().apply(lines, "rejected", nil)
	}
	m.expect(t, "transfer", want, err)
}

// replay resends a committed key, the same request or another one.
func (m *machine) replay(t *rapid.T) {
	if len(m.s.keys) == 0 {
		m.skip(t, "no keys yet")
		return
	}
	keys := make([]string, 0, len(m.s.keys))
	for k := range m.s.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	key := rapid.SampledFrom(keys).Draw(t, "key")
	prior := m.s.keys[key]
	lines := prior.lines
	changed := rapid.Bool().Draw(t, "changed")
	if changed {
		lines = slices.Clone(lines)
		lines[0].amount++
	}
	tx, err := m.l.Transfer(m.ctx, m.env.Tenant, request(key, lines))
	if changed {
		m.expect(t, "replay with other postings", ledger.ErrKeyReused, err)
		if !errors.Is(err, storage.ErrIdempotencyMismatch) {
			t.Fatalf("ErrKeyReused must match storage.ErrIdempotencyMismatch: %v", err)
		}
		return
	}
	m.expect(t, "replay", nil, err)
	if tx.ID != prior.txID {
		t.Fatalf("replay of %s returned transaction %s, first was %s", key, tx.ID, prior.txID)
	}
}

func (m *machine) batch(t *rapid.T) {
	n := rapid.IntRange(1, 4).Draw(t, "batch")
	var reqs []ledger.TransferRequest
	var lines [][]mline
	for range n {
		ls := m.genLines(t)
		lines = append(lines, ls)
		reqs = append(reqs, request(m.key(), ls))
	}
	txs, err := m.l.Commit(m.ctx, m.env.Tenant, reqs)
	c := m.s.clone()
	var want error
	for i := range reqs {
		id := fmt.Sprintf("rejected-%d", i)
		if err == nil {
			id = txs[i].ID
		}
		if want = c.apply(lines[i], id, nil); want != nil {
			break
		}
		c.keys[reqs[i].Key] = mkey{lines: lines[i], txID: id}
	}
	if want == nil && err == nil {
		m.s = c
	}
	m.expect(t, "batch", want, err)
}

func (m *machine) hold(t *rapid.T) {
	acc := rapid.SampledFrom(movers).Draw(t, "account")
	dst := rapid.SampledFrom(movers).Filter(func(d string) bool { return d != acc }).Draw(t, "destination")
	asset := rapid.SampledFrom(assetsUsed).Draw(t, "asset")
	amount := rapid.Int64Range(1, 100).Draw(t, "amount")
	req := ledger.HoldRequest{Key: m.key(), Account: acc, Destination: dst, Amount: money.FromMinor(amount, asset)}
	if rapid.Bool().Draw(t, "expires") {
		req.ExpiresAt = m.clock.Now().Add(time.Duration(rapid.IntRange(1, 48).Draw(t, "hours")) * time.Hour)
	}
	h, err := m.l.Hold(m.ctx, m.env.Tenant, req)
	k := bkey{acc, asset.Code()}
	b := m.s.bals[k]
	var want error
	if f, ok := floorOf(acc, asset.Code()); ok && b.posted-b.held-amount < f {
		want = ledger.ErrInsufficientFunds
	}
	m.expect(t, "hold", want, err)
	if err != nil {
		return
	}
	b.held += amount
	m.s.bals[k] = b
	m.s.holds[h.ID] = &mhold{id: h.ID, account: acc, dst: dst, asset: asset.Code(), amount: amount, status: ledger.HoldOpen, expires: req.ExpiresAt}
	m.s.holdID = append(m.s.holdID, h.ID)
	m.s.msgs++
}

func (m *machine) pickHold(t *rapid.T) *mhold {
	if len(m.s.holdID) == 0 {
		m.skip(t, "no holds yet")
		return nil
	}
	return m.s.holds[rapid.SampledFrom(m.s.holdID).Draw(t, "hold")]
}

func (m *machine) capture(t *rapid.T) {
	h := m.pickHold(t)
	if h == nil {
		return
	}
	rest := rapid.Bool().Draw(t, "rest")
	amount := h.amount - h.captured
	req := ledger.CaptureRequest{Key: m.key()}
	if !rest {
		amount = rapid.Int64Range(1, h.amount).Draw(t, "amount")
		req.Amount = money.FromMinor(amount, currency(h.asset))
	}
	tx, err := m.l.Capture(m.ctx, m.env.Tenant, h.id, req)
	var want error
	now := m.clock.Now()
	switch {
	case h.status != ledger.HoldOpen:
		want = ledger.ErrHoldClosed
	case !h.expires.IsZero() && !now.Before(h.expires):
		want = ledger.ErrHoldExpired
	case amount > h.amount-h.captured:
		want = ledger.ErrOverCapture
	}
	if want == nil {
		id := "rejected"
		if err == nil {
			id = tx.ID
		}
		lines := []mline{{src: h.account, dst: h.dst, asset: h.asset, amount: amount}}
		want = m.s.apply(lines, id, h)
		if want == nil {
			h = m.s.holds[h.id] // apply replaced the maps
			h.captured += amount
			if h.captured == h.amount {
				h.status = ledger.HoldCaptured
			}
		}
	}
	m.expect(t, "capture", want, err)
}

func (m *machine) void(t *rapid.T) {
	h := m.pickHold(t)
	if h == nil {
		return
	}
	_, err := m.l.Void(m.ctx, m.env.Tenant, h.id)
	var want error
	switch h.status {
	case ledger.HoldOpen:
		m.release(h, ledger.HoldVoided)
	case ledger.HoldVoided:
	default:
		want = ledger.ErrHoldClosed
	}
	m.expect(t, "void", want, err)
}

func (m *machine) release(h *mhold, status ledger.HoldStatus) {
	k := bkey{h.account, h.asset}
	b := m.s.bals[k]
	b.held -= h.amount - h.captured
	m.s.bals[k] = b
	h.status = status
	m.s.msgs++
}

func (m *machine) reverse(t *rapid.T) {
	if len(m.s.txList) == 0 {
		m.skip(t, "no transactions yet")
		return
	}
	orig := m.s.txs[rapid.SampledFrom(m.s.txList).Draw(t, "tx")]
	req := ledger.ReverseRequest{Key: m.key()}
	takes := make([]int64, len(orig.lines))
	whole := rapid.Bool().Draw(t, "whole")
	any := false
	for i, ln := range orig.lines {
		if whole {
			takes[i] = ln.amount - ln.reversed
		} else {
			takes[i] = rapid.Int64Range(0, ln.amount).Draw(t, "take")
			req.Amounts = append(req.Amounts, money.FromMinor(takes[i], currency(ln.asset)))
		}
		any = any || takes[i] > 0
	}
	if !whole && !any {
		m.skip(t, "a reversal of nothing")
		return
	}
	tx, err := m.l.Reverse(m.ctx, m.env.Tenant, orig.id, req)
	var want error
	var lines []mline
	for i, ln := range orig.lines {
		if takes[i] > ln.amount-ln.reversed {
			want = ledger.ErrOverReversal
		}
		if takes[i] > 0 {
			lines = append(lines, mline{src: ln.dst, dst: ln.src, asset: ln.asset, amount: takes[i]})
		}
	}
	if len(lines) == 0 {
		want = ledger.ErrOverReversal
	}
	if want == nil {
		id := "rejected"
		if err == nil {
			id = tx.ID
		}
		want = m.s.apply(lines, id, nil)
		if want == nil {
			o := m.s.txs[orig.id]
			for i := range o.lines {
				o.lines[i].reversed += takes[i]
			}
		}
	}
	m.expect(t, "reverse", want, err)
}

func (m *machine) advance(t *rapid.T) {
	m.clock.Advance(time.Duration(rapid.IntRange(1, 36).Draw(t, "hours")) * time.Hour)
	m.reject = false
}

func (m *machine) sweep(t *rapid.T) {
	now := m.clock.Now()
	res, err := m.l.SweepExpired(m.ctx, m.env.Tenant, now, 1000)
	m.expect(t, "sweep", nil, err)
	released := 0
	for _, id := range m.s.holdID {
		h := m.s.holds[id]
		if h.status == ledger.HoldOpen && !h.expires.IsZero() && !h.expires.After(now) {
			m.release(h, ledger.HoldExpired)
			released++
		}
	}
	if res.HoldsReleased != released {
		t.Fatalf("sweep released %d holds, model %d", res.HoldsReleased, released)
	}
	moved := 0
	keys := make([]bkey, 0, len(m.s.lots))
	for k := range m.s.lots {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if k.account == expiryAccount {
			continue
		}
		var expired int64
		for _, l := range m.s.lots[k] {
			if !l.expires.After(now) {
				expired += l.remaining
			}
		}
		amount := expired
		b := m.s.bals[k]
		if f, ok := floorOf(k.account, k.asset); ok {
			amount = min(amount, b.posted-b.held-f)
		}
		if amount <= 0 {
			continue
		}
		// The expiry consumes expired lots, which are the earliest.
		if err := m.s.apply([]mline{{src: k.account, dst: expiryAccount, asset: k.asset, amount: amount}}, fmt.Sprintf("expiry-%d", moved), nil); err != nil {
			t.Fatalf("model sweep: %v", err)
		}
		moved++
	}
	if len(res.Transactions) != moved {
		t.Fatalf("sweep committed %d transactions, model %d", len(res.Transactions), moved)
	}
	// Record the real IDs in place of the model's placeholders, so that
	// reversals can name them.
	for i := range moved {
		ph := fmt.Sprintf("expiry-%d", i)
		var real *ledger.Transaction
		for _, tx := range res.Transactions {
			o := m.s.txs[ph].lines[0]
			if tx.Postings[0].Source == o.src && tx.Postings[0].Amount.Currency().Code() == o.asset {
				real = tx
			}
		}
		if real == nil {
			t.Fatalf("sweep transactions do not match the model: %+v", res.Transactions)
		}
		mt := m.s.txs[ph]
		delete(m.s.txs, ph)
		mt.id = real.ID
		m.s.txs[real.ID] = mt
		m.s.txList[slices.Index(m.s.txList, ph)] = real.ID
	}
}

// bad sends malformed requests: each must fail with its error and change
// nothing.
func (m *machine) bad(t *rapid.T) {
	pts := func(n int64) money.Amount { return money.FromMinor(n, Points) }
	cases := []struct {
		name string
		want error
		run  func() error
	}{
		{"unknown asset", ledger.ErrUnknownAsset, func() error {
			_, err := m.l.Transfer(m.ctx, m.env.Tenant, ledger.TransferRequest{Key: m.key(), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(5, money.MustCurrency("MILES", 0))}}})
			return err
		}},
		{"zero amount", ledger.ErrInvalidAmount, func() error {
			_, err := m.l.Transfer(m.ctx, m.env.Tenant, ledger.TransferRequest{Key: m.key(), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: "member:1", Amount: pts(0)}}})
			return err
		}},
		{"negative amount", ledger.ErrInvalidAmount, func() error {
			_, err := m.l.Transfer(m.ctx, m.env.Tenant, ledger.TransferRequest{Key: m.key(), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: "member:1", Amount: pts(-3)}}})
			return err
		}},
		{"too precise", ledger.ErrInvalidAmount, func() error {
			_, err := m.l.Transfer(m.ctx, m.env.Tenant, ledger.TransferRequest{Key: m.key(), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: "member:1", Amount: mustLoose("1.005", money.USD)}}})
			return err
		}},
		{"unbalanced legs", ledger.ErrUnbalanced, func() error {
			_, err := m.l.Transfer(m.ctx, m.env.Tenant, ledger.TransferRequest{Key: m.key(), Legs: []ledger.Leg{
				{Account: ledger.World, Amount: pts(-10)}, {Account: "member:1", Amount: pts(9)}}})
			return err
		}},
		{"hold on unknown account", ledger.ErrUnknownAccount, func() error {
			_, err := m.l.Hold(m.ctx, m.env.Tenant, ledger.HoldRequest{Key: m.key(), Account: "member:ghost", Destination: "member:1", Amount: pts(1)})
			return err
		}},
		{"bad batch item", ledger.ErrInvalidAmount, func() error {
			_, err := m.l.Commit(m.ctx, m.env.Tenant, []ledger.TransferRequest{
				{Key: m.key(), Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(5)}}},
				{Key: m.key(), Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(0)}}}})
			return err
		}},
	}
	c := rapid.SampledFrom(cases).Draw(t, "bad")
	m.expect(t, c.name, c.want, c.run())
}

func (m *machine) check(t *rapid.T) {
	m.step++
	if m.light && !m.reject && m.step%4 != 0 {
		return
	}
	sums := map[string]int64{}
	for _, a := range all {
		for _, c := range assetsUsed {
			k := bkey{a, c.Code()}
			got, err := m.l.Balance(m.ctx, m.env.Tenant, a, c)
			if err != nil {
				t.Fatalf("balance %s %s: %v", a, c.Code(), err)
			}
			posted, _ := got.Posted.Minor()
			held, _ := got.Held.Minor()
			want := m.s.bals[k]
			if posted != want.posted || held != want.held {
				t.Fatalf("%s %s: store posted %d held %d, model posted %d held %d", a, c.Code(), posted, held, want.posted, want.held)
			}
			sums[c.Code()] += posted
			var open int64
			for _, h := range m.s.holds {
				if h.status == ledger.HoldOpen && h.account == a && h.asset == c.Code() {
					open += h.amount - h.captured
				}
			}
			if held != open {
				t.Fatalf("%s %s: held %d, open holds %d", a, c.Code(), held, open)
			}
			if f, ok := floorOf(a, c.Code()); ok && posted-held < f {
				t.Fatalf("%s %s: available %d below floor %d", a, c.Code(), posted-held, f)
			}
			exp, err := m.l.ExpiringBy(m.ctx, m.env.Tenant, a, c, m.clock.Now().Add(1000*time.Hour))
			if err != nil {
				t.Fatalf("expiring %s: %v", a, err)
			}
			var lots int64
			for _, l := range m.s.lots[k] {
				lots += l.remaining
			}
			if e, _ := exp.Minor(); e != lots {
				t.Fatalf("%s %s: store lots %d, model lots %d", a, c.Code(), e, lots)
			}
		}
	}
	for asset, sum := range sums {
		if sum != 0 {
			t.Fatalf("%s balances sum to %d", asset, sum)
		}
	}
	if m.env.Outbox != nil {
		n := 0
		for p := range storage.OutboxPartitions {
			msgs, err := m.env.Outbox.PendingOutbox(m.ctx, p, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range msgs {
				if msg.Tenant == m.env.Tenant {
					n++
				}
			}
		}
		if n != m.s.msgs {
			t.Fatalf("outbox holds %d messages, model %d", n, m.s.msgs)
		}
	}
}

func mustLoose(s string, c money.Currency) money.Amount {
	a, err := money.ParseLoose(s, c)
	if err != nil {
		panic(err)
	}
	return a
}
