package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rewardkit/rewardkit/internal/uuid7"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Config wires a Ledger.
type Config struct {
	Store Store              // required
	Tx    storage.Transactor // required; usually the same adapter as Store
	Clock storage.Clock      // default storage.SystemClock
	// Assets resolves asset codes (ISO currencies plus the host's POINTS,
	// STORED_VALUE, ...). Nil: ISO currencies only.
	Assets *money.Registry
	// ExpiryAccount receives what SweepExpired takes from expired lots.
	// Default World.
	ExpiryAccount string
	// NewID returns IDs for transactions and holds. Default UUIDv7.
	NewID func() string
	// MaxPostings caps the postings of one transaction; default 256.
	MaxPostings int
}

// Validate reports every problem of c, joined, each wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: Store is required", ErrInvalidConfig))
	}
	if c.Tx == nil {
		errs = append(errs, fmt.Errorf("%w: Tx is required", ErrInvalidConfig))
	}
	if c.ExpiryAccount != "" {
		if err := ValidateAccountID(c.ExpiryAccount); err != nil {
			errs = append(errs, fmt.Errorf("%w: ExpiryAccount: %w", ErrInvalidConfig, err))
		}
	}
	if c.MaxPostings < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxPostings is negative", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// Ledger is a double-entry ledger over a Store. It is safe for concurrent
// use; its correctness across host instances comes from the Store's
// conditional writes, not from locks in this process.
type Ledger struct {
	store       Store
	tx          storage.Transactor
	clock       storage.Clock
	assets      *money.Registry
	expiry      string
	customID    func() string // Config.NewID; nil: UUIDv7s from ids
	ids         uuid7.Source
	maxPostings int
	scratch     sync.Pool // of *scratch: the working memory of Transfer
}

// New returns a Ledger, or the errors of cfg.Validate.
func New(cfg Config) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Ledger{store: cfg.Store, tx: cfg.Tx, clock: cfg.Clock, assets: cfg.Assets,
		expiry: cfg.ExpiryAccount, customID: cfg.NewID, maxPostings: cfg.MaxPostings}
	if l.clock == nil {
		l.clock = storage.SystemClock{}
	}
	if l.expiry == "" {
		l.expiry = World
	}
	if l.maxPostings == 0 {
		l.maxPostings = 256
	}
	return l, nil
}

// newID returns a new ID: Config.NewID's, or a UUIDv7.
func (l *Ledger) newID() string {
	if l.customID != nil {
		return l.customID()
	}
	return l.ids.String()
}

// asset resolves an asset code through the ledger's registry.
func (l *Ledger) asset(code string) (money.Currency, error) { return l.assets.Lookup(code) }

// Transfer validates and commits one transaction atomically: every
// account it names is created on first use, every debited account's
// available balance must stay at or above its floor, and an outbox message
// "ledger.transaction.committed" is appended in the same transaction.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest, ErrInvalidAmount,
// ErrUnknownAsset, ErrUnbalanced for bad input (nothing is written);
// ErrInsufficientFunds; ErrKeyReused when the key was used with other
// postings; the Store's and Transactor's errors.
func (l *Ledger) Transfer(ctx context.Context, tenant storage.TenantID, req TransferRequest) (*Transaction, error) {
	w, _ := l.scratch.Get().(*scratch)
	if w == nil {
		w = new(scratch)
	}
	b := w.batch(len(req.Postings))
	var out [1]*Transaction
	reqs := [1]TransferRequest{req}
	err := l.commit(ctx, tenant, reqs[:], out[:], &b)
	if !b.lent {
		w.keep(&b)
		l.scratch.Put(w)
	}
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// scratch is the working memory of one Transfer: its row, outbox
// message, lines and payload, and the Store's answer. Ledger.scratch
// keeps it for a later Transfer unless a Store may still hold it (see
// batch.lent), so that a transfer allocates little more than what it
// returns: allocation and the collector are most of what an in-memory
// transfer costs.
type scratch struct {
	rows    [1]TxRow
	events  [1]storage.Message
	done    [1]Committed
	line    [1]LineRow
	lines   []LineRow // for transfers of several postings
	payload []byte
}

// Bounds on what a scratch keeps between transfers, so that one large
// transfer does not pin its memory for good.
const (
	maxScratchLines   = 16
	maxScratchPayload = 4 << 10
)

// batch returns w as the working memory of a transfer of n postings.
func (w *scratch) batch(n int) batch {
	b := batch{rows: w.rows[:0], events: w.events[:], done: w.done[:], payload: w.payload[:0]}
	switch {
	case n == 1:
		b.lines = w.line[:]
	case n <= maxScratchLines:
		if cap(w.lines) < n {
			w.lines = make([]LineRow, maxScratchLines)
		}
		b.lines = w.lines[:n]
	}
	return b
}

// keep takes back the memory b used, cleared, for the next transfer.
func (w *scratch) keep(b *batch) {
	w.rows, w.events, w.done, w.line = [1]TxRow{}, [1]storage.Message{}, [1]Committed{}, [1]LineRow{}
	clear(w.lines)
	w.payload = nil
	if cap(b.payload) <= maxScratchPayload {
		w.payload = b.payload[:0]
	}
}

// batch is the working memory of a commit: the rows (empty, with room for
// one per request), their outbox messages (one per request), the lines
// of requests made of postings, carved up in order (nil or used up:
// allocated per request), room for the Store's answer (one per request)
// and a buffer the outbox payloads are carved from (grown when short).
type batch struct {
	rows    []TxRow
	events  []storage.Message
	lines   []LineRow
	done    []Committed
	payload []byte
	// lent is set when the rows went to Store.CommitTx, which may keep
	// them (with their lines and payloads) as long as the transaction in
	// ctx lasts: their memory is not to be reused. CommitTxDirect keeps
	// nothing.
	lent bool
}

// payloadChunk is the least a batch's payload buffer grows by.
const payloadChunk = 4 << 10

// event writes row's outbox message into ev, its payload carved from
// b.payload.
func (b *batch) event(tenant storage.TenantID, row *TxRow, eventID string, ev *storage.Message) {
	n := txPayloadSize(row)
	if cap(b.payload)-len(b.payload) < n {
		// A batch of several carves them all from chunks; a single
		// transfer takes its payload's size only: inside a transaction
		// its buffer is lent to the Store and not reused, so the rest of
		// a chunk would be allocated (and cleared) for nothing.
		size := n
		if len(b.events) > 1 {
			size = max(n, payloadChunk)
		}
		b.payload = make([]byte, 0, size)
	}
	at := len(b.payload)
	*ev = txEventSized(tenant, row, eventID, b.payload[at:at], n)
	if k := len(ev.Payload); k <= cap(b.payload)-at {
		// The payload was written in place (an escape in a string may
		// have made it longer than n and moved it).
		b.payload = b.payload[:at+k]
	}
}

// Commit commits a batch of transfers in one database transaction (and,
// where the Store allows, one round trip). The batch is all or nothing: if
// any transfer fails, none is committed and the error names its index.
// Each transfer is idempotent on its own key: a key already committed (or
// repeated earlier in the batch) returns the first transaction. Errors are
// those of Transfer.
func (l *Ledger) Commit(ctx context.Context, tenant storage.TenantID, reqs []TransferRequest) ([]*Transaction, error) {
	out := make([]*Transaction, len(reqs))
	b := batch{rows: make([]TxRow, 0, len(reqs)), events: make([]storage.Message, len(reqs)), done: make([]Committed, len(reqs))}
	if n := postingCount(reqs); n > 0 {
		b.lines = make([]LineRow, n)
	}
	if err := l.commit(ctx, tenant, reqs, out, &b); err != nil {
		return nil, err
	}
	return out, nil
}

// commit is Commit writing the transactions, one per request, into out,
// with b as its working memory. The rows, their outbox messages, their
// lines and payloads and the returned transactions and postings each
// take one allocation per batch (or a few) rather than one per transfer:
// a transfer is counted in allocations.
func (l *Ledger) commit(ctx context.Context, tenant storage.TenantID, reqs []TransferRequest, out []*Transaction, b *batch) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if len(reqs) == 0 {
		return fmt.Errorf("%w: empty batch", ErrInvalidRequest)
	}
	now := l.clock.Now()
	rows := b.rows
	// For a batch: the row of each request (keys may repeat in a batch)
	// and the request of each row.
	var rowOf, reqOf []int
	var seen map[string]int
	if len(reqs) > 1 {
		seen = make(map[string]int, len(reqs))
		idx := make([]int, 2*len(reqs))
		rowOf, reqOf = idx[:len(reqs)], idx[len(reqs):len(reqs)]
	}
	for i := range reqs {
		row, err := l.prepareTransfer(tenant, &reqs[i], now, b, &b.events[i])
		if err != nil {
			if len(reqs) > 1 {
				return fmt.Errorf("ledger: batch item %d: %w", i, err)
			}
			return err
		}
		if seen != nil {
			if j, ok := seen[row.Key]; ok {
				if rows[j].Fingerprint != row.Fingerprint {
					return fmt.Errorf("ledger: batch item %d: %w: %w: key %q", i, ErrKeyReused, storage.ErrIdempotencyMismatch, row.Key)
				}
				rowOf[i] = j
				continue
			}
			seen[row.Key] = len(rows)
			rowOf[i] = len(rows)
			reqOf = append(reqOf, i)
		}
		rows = append(rows, row)
	}
	done, err := l.commitRows(ctx, tenant, rows, b)
	if err != nil {
		return err
	}
	var txs []Transaction
	if len(done) == 1 && len(done[0].Row.Lines) == 1 {
		// The common transfer: the transaction and its posting in one
		// allocation.
		one := new(onePosting)
		if err := l.fillTransaction(&one.tx[0], &done[0].Row, one.postings[:], givenPostings(&reqs[0], &done[0])); err != nil {
			return err
		}
		txs = one.tx[:]
	} else {
		if txs, err = l.transactions(done, reqs, reqOf); err != nil {
			return err
		}
	}
	for i := range reqs {
		j := i
		if rowOf != nil {
			j = rowOf[i]
		}
		out[i] = &txs[j]
	}
	return nil
}

// commitRows commits rows, made ready, through the Store: by
// CommitTxDirect when the Store offers it and takes them, else by
// CommitTx in a transaction (which lends the rows to the Store: see
// batch.lent). It answers with the outcome of each row, in b.done when
// that has room.
func (l *Ledger) commitRows(ctx context.Context, tenant storage.TenantID, rows []TxRow, b *batch) ([]Committed, error) {
	if ds, is := l.store.(DirectStore); is {
		done := b.done
		if len(done) < len(rows) {
			done = make([]Committed, len(rows))
		}
		done = done[:len(rows)]
		ok, err := ds.CommitTxDirect(ctx, tenant, rows, done)
		if err != nil || ok {
			return done, err
		}
	}
	b.lent = true
	return l.commitInTx(ctx, tenant, rows)
}

// givenPostings returns the postings of req when c was committed anew
// from them, line for line (see fillTransaction), else nil.
func givenPostings(req *TransferRequest, c *Committed) []Posting {
	if c.Replayed || len(req.Legs) > 0 || len(req.Postings) != len(c.Row.Lines) {
		return nil
	}
	return req.Postings
}

// onePosting is a transaction of one posting in one allocation.
type onePosting struct {
	tx       [1]Transaction
	postings [1]Posting
}

// postingCount returns the number of postings of reqs, or 0 when one of
// them gives legs (whose lines are counted only once matched).
func postingCount(reqs []TransferRequest) int {
	n := 0
	for i := range reqs {
		if len(reqs[i].Legs) > 0 {
			return 0
		}
		n += len(reqs[i].Postings)
	}
	return n
}

// commitInTx commits rows through CommitTx in a transaction.
func (l *Ledger) commitInTx(ctx context.Context, tenant storage.TenantID, rows []TxRow) ([]Committed, error) {
	var done []Committed
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		done, err = l.store.CommitTx(ctx, tenant, rows)
		if err != nil {
			return err
		}
		return checkReplays(rows, done)
	})
	return done, err
}

// commitOne stamps row's outbox event and commits it, checking that a
// replay under its key asked for the same thing.
func (l *Ledger) commitOne(ctx context.Context, tenant storage.TenantID, row TxRow) (Committed, error) {
	ev := txEvent(tenant, &row)
	row.Event = &ev
	done, err := l.store.CommitTx(ctx, tenant, []TxRow{row})
	if err != nil {
		return Committed{}, err
	}
	if err := checkReplays([]TxRow{row}, done); err != nil {
		return Committed{}, err
	}
	return done[0], nil
}

// replayOr answers a command that finds nothing left to move (a hold
// captured in full, a transaction reversed in full): the replay of the
// command under row's key that took it, or exhausted.
func (l *Ledger) replayOr(ctx context.Context, tenant storage.TenantID, row TxRow, exhausted error) (Committed, error) {
	prior, err := l.store.TxByKey(ctx, tenant, row.Key)
	if err != nil {
		return Committed{}, exhausted
	}
	out := Committed{Row: prior, Replayed: true}
	return out, checkReplays([]TxRow{row}, []Committed{out})
}

func checkReplays(rows []TxRow, done []Committed) error {
	if len(done) != len(rows) {
		return fmt.Errorf("ledger: store committed %d of %d transactions", len(done), len(rows))
	}
	for i := range done {
		if done[i].Replayed && done[i].Row.Fingerprint != rows[i].Fingerprint {
			return fmt.Errorf("%w: %w: key %q", ErrKeyReused, storage.ErrIdempotencyMismatch, rows[i].Key)
		}
	}
	return nil
}

func validKey(key string) error {
	if key == "" || len(key) > storage.MaxKeyLen || !utf8.ValidString(key) {
		return fmt.Errorf("%w: key must be 1 to %d bytes of UTF-8", ErrInvalidRequest, storage.MaxKeyLen)
	}
	return nil
}

// prepareTransfer validates req and turns it into a row, in minor units,
// with its outbox message in ev. Its lines are taken from the front of
// b.lines when that has room, else allocated. The row keeps none of
// req's memory but the strings and amounts of its postings or legs: its
// key is a copy (see txIDs).
func (l *Ledger) prepareTransfer(tenant storage.TenantID, req *TransferRequest, now time.Time, b *batch, ev *storage.Message) (TxRow, error) {
	if err := validKey(req.Key); err != nil {
		return TxRow{}, err
	}
	var own []LineRow
	var err error
	switch {
	case len(req.Postings) > 0 && len(req.Legs) > 0:
		return TxRow{}, fmt.Errorf("%w: give postings or legs, not both", ErrInvalidRequest)
	case len(req.Legs) > 0:
		own, err = l.legLines(req.Legs)
	default:
		if err := l.checkPostingCount(len(req.Postings)); err != nil {
			return TxRow{}, err
		}
		if n := len(req.Postings); len(b.lines) >= n {
			own, b.lines = b.lines[:n:n], b.lines[n:]
		} else {
			own = make([]LineRow, n)
		}
		err = l.postingLines(req.Postings, own)
	}
	if err != nil {
		return TxRow{}, err
	}
	row := TxRow{Kind: KindTransfer, At: now, Lines: own, Metadata: cloneMeta(req.Metadata)}
	var eventID string
	row.ID, eventID, row.Key, row.Fingerprint = l.txIDs(fingerprintSum(&row), req.Key)
	b.event(tenant, &row, eventID, ev)
	row.Event = ev
	return row, nil
}

// txEventPrefix starts the outbox event ID of a transaction.
const txEventPrefix = "ledger.tx."

// txIDs returns a new transaction's ID, its outbox event ID, a copy of
// its key and its fingerprint (sum in hex), all cut from one string,
// "ledger.tx.<id><key><fingerprint>": one allocation instead of four on
// the transfer path, and a row that holds none of the request's memory
// (the Ledger reuses a transfer's working memory, and a request kept
// from escaping costs its caller no allocation either).
func (l *Ledger) txIDs(sum [16]byte, key string) (id, eventID, keyCopy, fp string) {
	var custom string
	idLen := uuid7.TextLen
	if l.customID != nil {
		custom = l.customID()
		idLen = len(custom)
	}
	var sb strings.Builder
	sb.Grow(len(txEventPrefix) + idLen + len(key) + 2*len(sum))
	sb.WriteString(txEventPrefix)
	if l.customID == nil {
		var buf [uuid7.TextLen]byte
		sb.Write(l.ids.Append(buf[:0]))
	} else {
		sb.WriteString(custom)
	}
	sb.WriteString(key)
	var hexSum [2 * len(sum)]byte
	hex.Encode(hexSum[:], sum[:])
	sb.Write(hexSum[:])
	s := sb.String()
	idEnd := len(txEventPrefix) + idLen
	keyEnd := idEnd + len(key)
	return s[len(txEventPrefix):idEnd], s[:idEnd], s[idEnd:keyEnd], s[keyEnd:]
}

func (l *Ledger) checkPostingCount(n int) error {
	if n == 0 {
		return fmt.Errorf("%w: no postings", ErrInvalidRequest)
	}
	if n > l.maxPostings {
		return fmt.Errorf("%w: %d postings, at most %d", ErrInvalidRequest, n, l.maxPostings)
	}
	return nil
}

// postingLines validates ps and writes them into lines (of the same
// length) in minor units.
func (l *Ledger) postingLines(ps []Posting, lines []LineRow) error {
	for i := range ps {
		p := &ps[i]
		if err := ValidateAccountID(p.Source); err != nil {
			return fmt.Errorf("posting %d source: %w", i, err)
		}
		if err := ValidateAccountID(p.Destination); err != nil {
			return fmt.Errorf("posting %d destination: %w", i, err)
		}
		if p.Source == p.Destination {
			return fmt.Errorf("%w: posting %d moves from %q to itself", ErrInvalidRequest, i, p.Source)
		}
		m, err := minorOf(p.Amount, l.asset)
		if err != nil {
			return fmt.Errorf("posting %d: %w", i, err)
		}
		lines[i] = LineRow{Source: p.Source, Destination: p.Destination, Asset: p.Amount.Currency().Code(), Amount: m}
		if !p.ExpiresAt.IsZero() {
			lines[i].ExpiresAt = p.ExpiresAt.UTC()
		}
	}
	return nil
}

// legLines matches debits with credits in order, per asset.
func (l *Ledger) legLines(legs []Leg) ([]LineRow, error) {
	type side struct {
		account string
		asset   string
		amount  int64
		expires time.Time
	}
	var debits, credits []side
	sums := map[string]int64{}
	for i, g := range legs {
		if err := ValidateAccountID(g.Account); err != nil {
			return nil, fmt.Errorf("leg %d: %w", i, err)
		}
		abs := g.Amount
		neg := g.Amount.IsNegative()
		if neg {
			abs = g.Amount.Neg()
		}
		m, err := minorOf(abs, l.asset)
		if err != nil {
			return nil, fmt.Errorf("leg %d: %w", i, err)
		}
		code := abs.Currency().Code()
		if neg {
			if !g.ExpiresAt.IsZero() {
				return nil, fmt.Errorf("%w: leg %d is a debit with an expiry", ErrInvalidRequest, i)
			}
			debits = append(debits, side{g.Account, code, m, time.Time{}})
			sums[code] -= m
		} else {
			credits = append(credits, side{g.Account, code, m, g.ExpiresAt.UTC()})
			sums[code] += m
		}
	}
	for code, s := range sums {
		if s != 0 {
			return nil, fmt.Errorf("%w: %s legs sum to %d minor units", ErrUnbalanced, code, s)
		}
	}
	var lines []LineRow
	for ci := range credits {
		c := &credits[ci]
		for di := range debits {
			d := &debits[di]
			if c.amount == 0 {
				break
			}
			if d.asset != c.asset || d.amount == 0 {
				continue
			}
			if d.account == c.account {
				return nil, fmt.Errorf("%w: account %q is debited and credited in %s", ErrInvalidRequest, d.account, d.asset)
			}
			n := min(d.amount, c.amount)
			ln := LineRow{Source: d.account, Destination: c.account, Asset: c.asset, Amount: n}
			if !c.expires.IsZero() {
				ln.ExpiresAt = c.expires
			}
			lines = append(lines, ln)
			d.amount -= n
			c.amount -= n
		}
	}
	if len(lines) > l.maxPostings {
		return nil, fmt.Errorf("%w: %d postings, at most %d", ErrInvalidRequest, len(lines), l.maxPostings)
	}
	return lines, nil
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fingerprint hashes what the key promises: the kind, the lines, and what
// a reversal or capture draws on. Metadata is not part of it.
func fingerprint(r *TxRow) string {
	sum := fingerprintSum(r)
	return hex.EncodeToString(sum[:])
}

// fingerprintSum is fingerprint before hex: the first half of a SHA-256.
func fingerprintSum(r *TxRow) [16]byte {
	var stack [512]byte
	b := stack[:0]
	b = append(b, byte(r.Kind))
	for i := range r.Lines {
		ln := &r.Lines[i]
		b = appendField(b, ln.Source)
		b = appendField(b, ln.Destination)
		b = appendField(b, ln.Asset)
		b = binary.BigEndian.AppendUint64(b, uint64(ln.Amount))
		if !ln.ExpiresAt.IsZero() {
			b = binary.BigEndian.AppendUint64(b, uint64(ln.ExpiresAt.UnixNano()))
		}
		b = append(b, ';')
	}
	b = appendField(b, r.Reverses)
	for _, t := range r.Taken {
		b = binary.BigEndian.AppendUint64(b, uint64(t.Index))
		b = binary.BigEndian.AppendUint64(b, uint64(t.Amount))
	}
	b = appendField(b, r.Hold)
	sum := sha256.Sum256(b)
	return [16]byte(sum[:16])
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// transaction turns a stored row into the public form.
func (l *Ledger) transaction(r TxRow) (*Transaction, error) {
	t := &Transaction{}
	if err := l.fillTransaction(t, &r, make([]Posting, len(r.Lines)), nil); err != nil {
		return nil, err
	}
	return t, nil
}

// transactions turns committed rows into the public form, with one
// allocation for the transactions and one for all their postings. With
// reqs, row i was made from reqs[i], or from reqs[reqOf[i]] when reqOf is
// not nil (see fillTransaction's given).
func (l *Ledger) transactions(done []Committed, reqs []TransferRequest, reqOf []int) ([]Transaction, error) {
	n := 0
	for i := range done {
		n += len(done[i].Row.Lines)
	}
	txs := make([]Transaction, len(done))
	postings := make([]Posting, n)
	for i := range done {
		r := &done[i].Row
		k := len(r.Lines)
		var given []Posting
		if reqs != nil {
			j := i
			if reqOf != nil {
				j = reqOf[i]
			}
			given = givenPostings(&reqs[j], &done[i])
		}
		if err := l.fillTransaction(&txs[i], r, postings[:k:k], given); err != nil {
			return nil, err
		}
		postings = postings[k:]
	}
	return txs, nil
}

// fillTransaction writes the public form of r into t, its postings into
// postings (of len(r.Lines)). given, when not nil, holds the postings r
// was committed anew from, line for line: their amounts are taken as
// they are when already at their asset's scale (as money.FromMinor would
// make them), which saves a decimal per posting.
func (l *Ledger) fillTransaction(t *Transaction, r *TxRow, postings []Posting, given []Posting) error {
	*t = Transaction{ID: r.ID, Key: r.Key, Kind: r.Kind, At: r.At, Metadata: r.Metadata, Reverses: r.Reverses, Hold: r.Hold,
		Postings: postings}
	var cur money.Currency // of the line, once looked up
	for i := range r.Lines {
		ln := &r.Lines[i]
		p := Posting{Source: ln.Source, Destination: ln.Destination, ExpiresAt: ln.ExpiresAt}
		if given != nil {
			a := given[i].Amount
			if _, exact := a.Units(); exact && a.Currency().Code() == ln.Asset {
				p.Amount = a
			}
		}
		if p.Amount.Currency().IsZero() || ln.Reversed != 0 {
			if cur.Code() != ln.Asset {
				c, err := l.asset(ln.Asset)
				if err != nil {
					return fmt.Errorf("%w: stored asset %s: %w", ErrUnknownAsset, ln.Asset, err)
				}
				cur = c
			}
			if p.Amount.Currency().IsZero() {
				p.Amount = money.FromMinor(ln.Amount, cur)
			}
		}
		t.Postings[i] = p
		if ln.Reversed != 0 {
			if t.Reversed == nil {
				t.Reversed = make([]money.Amount, len(r.Lines))
				for j := range t.Reversed {
					c, _ := l.asset(r.Lines[j].Asset)
					t.Reversed[j] = money.Zero(c)
				}
			}
			t.Reversed[i] = money.FromMinor(ln.Reversed, cur)
		}
	}
	return nil
}

// TransactionByID returns a transaction. Errors: storage.ErrInvalidTenant,
// ErrTransactionNotFound, the Store's errors.
func (l *Ledger) TransactionByID(ctx context.Context, tenant storage.TenantID, id string) (*Transaction, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	r, err := l.store.TxByID(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return l.transaction(r)
}

// TransactionByKey returns the transaction committed under an idempotency
// key. Errors: storage.ErrInvalidTenant, ErrTransactionNotFound, the
// Store's errors.
func (l *Ledger) TransactionByKey(ctx context.Context, tenant storage.TenantID, key string) (*Transaction, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	r, err := l.store.TxByKey(ctx, tenant, key)
	if err != nil {
		return nil, err
	}
	return l.transaction(r)
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
