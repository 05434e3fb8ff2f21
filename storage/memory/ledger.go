package memory

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sort"
	"strings"
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
	seed    maphash.Seed  // of the tenants' transaction indexes
	spare   *txn          // the undo log of CommitTxDirect, used under the lock only
	undos   []*ledgerUndo // CommitTxDirect's undo records, reused under the lock
}

// maxSpareUndos bounds ledgerState.undos: a larger batch allocates the
// rest of its undo records.
const maxSpareUndos = 256

func (l *ledgerState) init() {
	l.tenants = make(map[storage.TenantID]*ledgerTenant)
	l.seed = maphash.MakeSeed()
}

// ledgerTenant holds one tenant's ledger. Transactions are the bulk of it
// and only grow, so they are kept compact and without pointers: in slabs
// (txs, lines) and a text arena (IDs, keys, fingerprints), with accounts,
// assets and time locations referred to by index, and indexes keyed by
// hashes. The collector then has next to nothing to scan however many
// transactions the store keeps.
type ledgerTenant struct {
	accounts map[string]*memAccount
	accs     []*memAccount // by memAccount.idx
	assets   names         // asset codes
	locs     locations
	txs      slab[memTx]
	lines    slab[memLine]
	more     slab[lineMore] // of the lines that carry an expiry or a reversed amount
	text     textArena
	byID     txIndex // of the transactions not in ordered
	byKey    txIndex
	// ordered lists the transactions whose IDs were each greater than
	// every ID in the list before them, in that order: the Ledger's
	// UUIDv7 IDs, which increase. Such an ID needs no lookup to be known
	// unique, and is found by binary search; only other IDs go into byID,
	// whose random access is much of what an insert costs.
	ordered   slab[int32]
	seed      maphash.Seed          // of byID and byKey
	extras    map[int32]*memTxExtra // by transaction index
	holds     map[string]*ledger.HoldRow
	holdByKey map[string]*ledger.HoldRow
	lotSeq    int64
}

type memAccount struct {
	acc     ledger.Account
	idx     int32
	bals    map[string]*memBalance // by asset
	entries entryList              // every asset, Seq ascending
}

// memTx is a stored transaction. Every byte of it counts: a store that
// keeps every transaction grows by its records, and fresh memory is much
// of what a transfer costs (the first touch of a page is dear on a VM).
type memTx struct {
	text                 textRef  // ID, key and fingerprint, back to back
	idLen, keyLen, fpLen int32    // fpLen: as kept in text (see fpBytes)
	metaLen              int32    // the metadata, encoded (see appendTxMeta) after the fingerprint; 0: none
	line0, lines         int32    // its lines: [line0, line0+lines) of ledgerTenant.lines
	next                 [2]int32 // per txField, the next transaction with the same hash, or -1
	at                   memTime
	kind                 ledger.TxKind
	extra                bool // ledgerTenant.extras holds the rest
	// fpBytes: the fingerprint, lower-case hex as the Ledger makes it, is
	// kept as the bytes it spells, in half the room.
	fpBytes bool
}

// memLine is a stored posting. Its entries take the tenant's entry
// sequence numbers 2*i+1 (debit) and 2*i+2 (credit), i its index in
// ledgerTenant.lines.
type memLine struct {
	src, dst, asset int32 // account and asset indexes
	more            int32 // 1 + the index of its lineMore in ledgerTenant.more; 0: none
	amount          int64
}

// lineMore is what few lines carry: an expiry, and how much later
// reversals took back.
type lineMore struct {
	reversed int64
	expires  memTime
}

// reversed returns how much of ln later reversals took back.
func (lt *ledgerTenant) reversed(ln *memLine) int64 {
	if ln.more == 0 {
		return 0
	}
	return lt.more.at(ln.more - 1).reversed
}

// expires returns the expiry of ln's credit (zero: none).
func (lt *ledgerTenant) expires(ln *memLine) time.Time {
	if ln.more == 0 {
		return time.Time{}
	}
	return lt.locs.unpack(lt.more.at(ln.more - 1).expires)
}

// moreOf returns ln's lineMore, adding one. The caller takes the addition
// back on rollback (truncating ledgerTenant.more, resetting ln.more).
func (lt *ledgerTenant) moreOf(ln *memLine) *lineMore {
	if ln.more == 0 {
		ln.more = lt.more.push(lineMore{}) + 1
	}
	return lt.more.at(ln.more - 1)
}

// txMetaSize is the size of m encoded by appendTxMeta: 0 for none.
func txMetaSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += stringSize(k) + stringSize(v)
	}
	return n
}

// stringSize is the size of s encoded by appendString.
func stringSize(s string) int {
	var buf [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(buf[:0], uint64(len(s)))) + len(s)
}

// appendTxMeta appends a transaction's metadata, each key and value as
// appendString writes it: most transactions carry a little (the order a
// payment is for), kept in the text rather than as a map of its own,
// which would be several objects for the collector to scan per
// transaction.
func appendTxMeta(b []byte, m map[string]string) []byte {
	for k, v := range m {
		b = appendString(appendString(b, k), v)
	}
	return b
}

// readTxMeta returns the metadata appendTxMeta wrote into b, a new map.
func readTxMeta(b []byte) map[string]string {
	next := func() string {
		n, w := binary.Uvarint(b)
		s := string(b[w : w+int(n)])
		b = b[w+int(n):]
		return s
	}
	m := make(map[string]string)
	for len(b) > 0 {
		k := next()
		m[k] = next()
	}
	return m
}

// memTxExtra holds what few transactions carry: the links of a reversal
// or capture, the lots an expiry names (and empty, non-nil metadata).
type memTxExtra struct {
	metadata       map[string]string
	reverses, hold string
	taken, lots    []ledger.Take
}

// txField names the string a txIndex looks transactions up by.
type txField uint8

const (
	byID txField = iota
	byKey
)

// txIndex finds transactions by ID or key. Its map is keyed by the
// hash32 of the string, not the string; transactions whose strings share
// a hash are chained through memTx.next, newest first, and every hit is
// checked against the stored string.
type txIndex map[uint32]int32

// str returns the bytes of tx's field f in the text arena.
func (lt *ledgerTenant) str(tx *memTx, f txField) []byte {
	if f == byID {
		return lt.text.bytes(tx.text, 0, tx.idLen)
	}
	return lt.text.bytes(tx.text, tx.idLen, tx.keyLen)
}

func (lt *ledgerTenant) index(f txField) txIndex {
	if f == byID {
		return lt.byID
	}
	return lt.byKey
}

// find returns the index of the transaction whose field f is s, and s's
// hash either way.
func (lt *ledgerTenant) find(f txField, s string) (int32, uint32, bool) {
	i, h, _, ok := lt.probe(f, s)
	return i, h, ok
}

// probe is find also returning the head of the chain of s's hash (-1:
// none), for linkAt: a commit looks each index up once.
func (lt *ledgerTenant) probe(f txField, s string) (i int32, h uint32, head int32, found bool) {
	h = hash32(lt.seed, s)
	head, ok := lt.index(f)[h]
	if !ok {
		return -1, h, -1, false
	}
	for i = head; i >= 0; {
		tx := lt.txs.at(i)
		if string(lt.str(tx, f)) == s {
			return i, h, head, true
		}
		i = tx.next[f]
	}
	return -1, h, head, false
}

// findID returns the index of the transaction with ID id.
func (lt *ledgerTenant) findID(id string) (int32, bool) {
	n := lt.ordered.len()
	k := sort.Search(n, func(k int) bool { return string(lt.str(lt.txs.at(*lt.ordered.at(int32(k))), byID)) >= id })
	if k < n {
		if i := *lt.ordered.at(int32(k)); string(lt.str(lt.txs.at(i), byID)) == id {
			return i, true
		}
	}
	i, _, ok := lt.find(byID, id)
	return i, ok
}

// afterOrdered reports whether id is greater than every ID in
// lt.ordered, and so than every stored ID: an ID in byID was less than
// the last of ordered when it was stored.
func (lt *ledgerTenant) afterOrdered(id string) bool {
	n := lt.ordered.len()
	return n == 0 || id > string(lt.str(lt.txs.at(*lt.ordered.at(int32(n - 1))), byID))
}

// link makes transaction i, whose field f hashes to h, the head of its
// chain; unlink takes it back (i must be the head).
func (lt *ledgerTenant) link(f txField, h uint32, i int32) {
	head, ok := lt.index(f)[h]
	if !ok {
		head = -1
	}
	lt.linkAt(f, h, i, head)
}

// linkAt is link given the chain's head as probe returned it, with
// nothing linked under h since.
func (lt *ledgerTenant) linkAt(f txField, h uint32, i, head int32) {
	lt.txs.at(i).next[f] = head
	lt.index(f)[h] = i
}

func (lt *ledgerTenant) unlink(f txField, h uint32, i int32) {
	m := lt.index(f)
	if next := lt.txs.at(i).next[f]; next >= 0 {
		m[h] = next
	} else {
		delete(m, h)
	}
}

// maxFpBytes bounds the fingerprints kept as bytes (see memTx.fpBytes).
const maxFpBytes = 64

// isFpHex reports whether fp is lower-case hex of at most maxFpBytes
// bytes, so that it reads back from its bytes exactly.
func isFpHex(fp string) bool {
	if len(fp) == 0 || len(fp)%2 != 0 || len(fp) > 2*maxFpBytes {
		return false
	}
	for i := 0; i < len(fp); i++ {
		if c := fp[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// maxRecords bounds a tenant's transactions and lines, addressed by int32.
const maxRecords = 1<<31 - 1

// entryRef is one side of a posting in an account's history, kept small
// and without pointers: the rest is read from the transaction. Each
// posting takes two entries in the tenant's sequence, the debit then the
// credit, so an entry's Seq follows from its line's index (see memLine).
type entryRef struct {
	balance int64
	tx      int32
	side    int32 // the posting's index in its transaction, times 2, plus 1 for the credit
}

func (e *entryRef) line() int32  { return e.side >> 1 }
func (e *entryRef) credit() bool { return e.side&1 == 1 }

func (lt *ledgerTenant) entrySeq(e *entryRef) int64 {
	return 2*int64(lt.txs.at(e.tx).line0) + int64(e.side) + 1
}

// entryChunk is the size of the chunks of an entryList after its first.
const entryChunk = 1024

// entryList is an account's history. Its first chunk grows like a slice
// up to entryChunk entries, and later ones are allocated at that size, so
// that a busy account's history never gets copied as it grows while a
// quiet one's stays small.
type entryList struct {
	chunks [][]entryRef
	n      int
}

func (l *entryList) len() int { return l.n }

func (l *entryList) at(i int) *entryRef { return &l.chunks[i/entryChunk][i%entryChunk] }

func (l *entryList) push(e entryRef) {
	if l.n == len(l.chunks)*entryChunk {
		var c []entryRef
		if l.n > 0 {
			c = make([]entryRef, 0, entryChunk)
		}
		l.chunks = append(l.chunks, c)
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, e)
	l.n++
}

// truncate drops the entries from index n on.
func (l *entryList) truncate(n int) {
	c := (n + entryChunk - 1) / entryChunk
	clear(l.chunks[c:])
	l.chunks = l.chunks[:c]
	if c > 0 {
		l.chunks[c-1] = l.chunks[c-1][:n-(c-1)*entryChunk]
	}
	l.n = n
}

func (lt *ledgerTenant) line(e *entryRef) (*memTx, *memLine) {
	tx := lt.txs.at(e.tx)
	return tx, lt.lines.at(tx.line0 + e.line())
}

// entryRow returns e as a row; txID, when not empty, is its transaction's
// ID (saving a copy when a page holds several entries of one).
func (lt *ledgerTenant) entryRow(e *entryRef, account, txID string) ledger.EntryRow {
	tx, ln := lt.line(e)
	if txID == "" {
		txID = string(lt.str(tx, byID))
	}
	r := ledger.EntryRow{Seq: lt.entrySeq(e), TxID: txID, Kind: tx.kind, Line: int(e.line()), Account: account,
		Asset: lt.assets.all[ln.asset], Balance: e.balance, At: lt.locs.unpack(tx.at)}
	if e.credit() {
		r.Other, r.Amount = lt.accs[ln.src].acc.ID, ln.amount
	} else {
		r.Other, r.Amount = lt.accs[ln.dst].acc.ID, -ln.amount
	}
	return r
}

// readTx returns stored transaction i as a row.
func (lt *ledgerTenant) readTx(i int32) ledger.TxRow {
	tx := lt.txs.at(i)
	// One copy, three strings.
	var all string
	if tx.fpBytes {
		var sb strings.Builder
		sb.Grow(int(tx.idLen+tx.keyLen) + 2*int(tx.fpLen))
		sb.Write(lt.text.bytes(tx.text, 0, tx.idLen+tx.keyLen))
		var fp [2 * maxFpBytes]byte
		sb.Write(hex.AppendEncode(fp[:0], lt.text.bytes(tx.text, tx.idLen+tx.keyLen, tx.fpLen)))
		all = sb.String()
	} else {
		all = string(lt.text.bytes(tx.text, 0, tx.idLen+tx.keyLen+tx.fpLen))
	}
	r := ledger.TxRow{ID: all[:tx.idLen], Key: all[tx.idLen : tx.idLen+tx.keyLen], Fingerprint: all[tx.idLen+tx.keyLen:],
		Kind: tx.kind, At: lt.locs.unpack(tx.at), Lines: make([]ledger.LineRow, tx.lines)}
	for k := range r.Lines {
		ln := lt.lines.at(tx.line0 + int32(k))
		r.Lines[k] = ledger.LineRow{Source: lt.accs[ln.src].acc.ID, Destination: lt.accs[ln.dst].acc.ID,
			Asset: lt.assets.all[ln.asset], Amount: ln.amount, Reversed: lt.reversed(ln), ExpiresAt: lt.expires(ln)}
	}
	if tx.metaLen > 0 {
		r.Metadata = readTxMeta(lt.text.bytes(tx.text, tx.idLen+tx.keyLen+tx.fpLen, tx.metaLen))
	}
	if tx.extra {
		x := lt.extras[i]
		// A copy: the caller may change what it is given.
		if tx.metaLen == 0 {
			r.Metadata = maps.Clone(x.metadata)
		}
		r.Reverses, r.Hold = x.reverses, x.hold
		r.Taken, r.Lots = slices.Clone(x.taken), slices.Clone(x.lots)
	}
	return r
}

type memBalance struct {
	posted, held int64
	lots         []ledger.LotRow // open lots, earliest expiry (then ID) first
}

// tenantLedger returns the tenant's records, creating them when create.
func (s *Store) tenantLedger(tenant storage.TenantID, create bool) *ledgerTenant {
	lt := s.ledger.tenants[tenant]
	if lt == nil && create {
		lt = &ledgerTenant{
			accounts: map[string]*memAccount{}, byID: txIndex{}, byKey: txIndex{},
			extras: map[int32]*memTxExtra{}, holds: map[string]*ledger.HoldRow{}, holdByKey: map[string]*ledger.HoldRow{},
			seed: s.ledger.seed,
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

// addAccount stores a new account, taken back on rollback.
func (lt *ledgerTenant) addAccount(t *txn, acc ledger.Account) *memAccount {
	a := &memAccount{acc: acc, idx: int32(len(lt.accs)), bals: map[string]*memBalance{}}
	lt.accounts[acc.ID] = a
	lt.accs = append(lt.accs, a)
	// Undo runs last step first, so a is still the last account then.
	t.onUndo(func() {
		delete(lt.accounts, a.acc.ID)
		lt.accs[a.idx] = nil
		lt.accs = lt.accs[:a.idx]
	})
	return a
}

// account returns the account, creating it with the default policy.
func (s *Store) ledgerAccount(t *txn, lt *ledgerTenant, id string, at time.Time) *memAccount {
	if a := lt.accounts[id]; a != nil {
		return a
	}
	return lt.addAccount(t, ledger.Account{ID: id, Overdraft: ledger.DefaultOverdraft(id), CreatedAt: at})
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
				// The undo record lives as long as the transaction in ctx.
				replayed, err := s.ledgerCommitOne(t, lt, &txs[i], new(ledgerUndo), &out[i].Row)
				if err != nil {
					if len(txs) > 1 {
						return fmt.Errorf("memory: transaction %d (key %q): %w", i, txs[i].Key, err)
					}
					return err
				}
				out[i].Replayed = replayed
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
func (ls *LedgerStore) CommitTxDirect(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow, done []ledger.Committed) (bool, error) {
	s := ls.s
	if _, in := storage.CurrentTx(ctx, s); in {
		return false, nil
	}
	if err := tenant.Validate(); err != nil {
		return false, err
	}
	if len(done) != len(txs) {
		return false, fmt.Errorf("%w: %d transactions, room for %d outcomes", storage.ErrInvalidArgument, len(txs), len(done))
	}
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	// The lock is ours, and the transaction ends before we give it back:
	// reuse the store's spare undo log and undo records, keeping their
	// capacity across calls.
	t := s.ledger.spare
	if t == nil {
		t = &txn{s: s}
		s.ledger.spare = t
	}
	lt := s.tenantLedger(tenant, true)
	for i := range txs {
		var u *ledgerUndo
		switch {
		case i < len(s.ledger.undos):
			u = s.ledger.undos[i]
		case i < maxSpareUndos:
			u = new(ledgerUndo)
			s.ledger.undos = append(s.ledger.undos, u)
		default:
			u = new(ledgerUndo)
		}
		replayed, err := s.ledgerCommitOne(t, lt, &txs[i], u, &done[i].Row)
		if err == nil && replayed && done[i].Row.Fingerprint != txs[i].Fingerprint {
			err = fmt.Errorf("%w: %w: key %q", ledger.ErrKeyReused, storage.ErrIdempotencyMismatch, txs[i].Key)
		}
		if err != nil {
			t.rollbackTo(0)
			for _, u := range s.ledger.undos[:min(i+1, len(s.ledger.undos))] {
				u.reset()
			}
			s.release()
			if len(txs) > 1 {
				return false, fmt.Errorf("memory: transaction %d (key %q): %w", i, txs[i].Key, err)
			}
			return false, err
		}
		done[i].Replayed = replayed
	}
	t.reset()
	for _, u := range s.ledger.undos[:min(len(txs), len(s.ledger.undos))] {
		u.reset()
	}
	s.release()
	return true, nil
}

// ledgerCommitOne commits in, using u (whose old contents it drops) as
// its undo record, and writes the row as stored into out: a copy of in
// without its event, or for a key that exists (replayed) the stored row.
func (s *Store) ledgerCommitOne(t *txn, lt *ledgerTenant, in *ledger.TxRow, u *ledgerUndo, out *ledger.TxRow) (replayed bool, err error) {
	prior, keyHash, keyHead, replayed := lt.probe(byKey, in.Key)
	if replayed {
		*out = lt.readTx(prior)
		return true, nil
	}
	var idHash uint32
	var idHead int32
	ordered := lt.afterOrdered(in.ID)
	if !ordered {
		if _, dup := lt.findID(in.ID); dup {
			return false, fmt.Errorf("%w: transaction ID %q", storage.ErrDuplicate, in.ID)
		}
		_, idHash, idHead, _ = lt.probe(byID, in.ID)
	}
	if lt.txs.len() >= maxRecords || lt.lines.len() > maxRecords-len(in.Lines) {
		return false, fmt.Errorf("memory: the ledger of a tenant holds at most %d transactions and postings", maxRecords)
	}
	// Checks that need no write come first.
	var hold *ledger.HoldRow
	if in.Hold != "" {
		hold = lt.holds[in.Hold]
		if err := ledgerCheckCapture(hold, in); err != nil {
			return false, err
		}
	}
	var orig *memTx
	if in.Reverses != "" {
		i, ok := lt.findID(in.Reverses)
		if !ok {
			return false, fmt.Errorf("%w: %s", ledger.ErrTransactionNotFound, in.Reverses)
		}
		orig = lt.txs.at(i)
		for _, tk := range in.Taken {
			if tk.Index < 0 || tk.Index >= int64(orig.lines) {
				return false, fmt.Errorf("%w: posting %d of %s", ledger.ErrInvalidRequest, tk.Index, in.Reverses)
			}
			ln := lt.lines.at(orig.line0 + int32(tk.Index))
			if rev := lt.reversed(ln); tk.Amount <= 0 || rev+tk.Amount > ln.amount {
				return false, fmt.Errorf("%w: posting %d of %s has %d left, %d asked", ledger.ErrOverReversal, tk.Index, in.Reverses, ln.amount-rev, tk.Amount)
			}
		}
	}

	txIdx := int32(lt.txs.len())
	u.reset()
	*u = ledgerUndo{lt: lt, tx: txIdx, idHash: idHash, keyHash: keyHash, ordered: ordered, lines: lt.lines.len(),
		more: lt.more.len(), text: lt.text.mark(), lotSeq0: lt.lotSeq, tt: u.tt}
	if cap(u.tt) == 0 {
		u.tt = u.buf[:0]
	}
	// find returns the index in u.tt of the balance, adding it; pointers
	// into u.tt would not survive its growth.
	find := func(id, asset string) int {
		for k := range u.tt {
			if u.tt[k].acc.acc.ID == id && u.tt[k].asset == asset {
				return k
			}
		}
		a := s.ledgerAccount(t, lt, id, in.At)
		b := a.balance(t, asset)
		u.tt = append(u.tt, ledgerTouched{acc: a, asset: asset, b: b, posted: b.posted, held: b.held, entries: a.entries.len()})
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

	explicit := len(in.Lots) > 0
	line0 := int32(lt.lines.len())
	for li := range in.Lines {
		ln := &in.Lines[li]
		si := find(ln.Source, ln.Asset)
		di := find(ln.Destination, ln.Asset)
		src, dst := &u.tt[si], &u.tt[di]
		ml := memLine{src: src.acc.idx, dst: dst.acc.idx, asset: lt.assets.of(ln.Asset), amount: ln.Amount}
		if !ln.ExpiresAt.IsZero() {
			ml.more = lt.more.push(lineMore{expires: lt.locs.pack(ln.ExpiresAt)}) + 1
		}
		lt.lines.push(ml)
		src.b.posted -= ln.Amount
		src.debited = true
		dst.b.posted += ln.Amount
		src.acc.entries.push(entryRef{tx: txIdx, balance: src.b.posted, side: int32(2 * li)})
		dst.acc.entries.push(entryRef{tx: txIdx, balance: dst.b.posted, side: int32(2*li + 1)})
		if !explicit && len(src.b.lots) > 0 {
			saveLots(src)
			src.b.lots = ledgerConsumeLots(src.b.lots, ln.Amount)
		}
		if !ln.ExpiresAt.IsZero() {
			saveLots(dst)
			lt.lotSeq++
			dst.b.lots = ledgerInsertLot(dst.b.lots, ledger.LotRow{ID: lt.lotSeq, Account: ln.Destination, Asset: ln.Asset,
				Amount: ln.Amount, Remaining: ln.Amount, ExpiresAt: ln.ExpiresAt, TxID: in.ID})
		}
	}
	if explicit {
		for _, tk := range in.Lots {
			found := false
			for k := range u.tt {
				x := &u.tt[k]
				i := slices.IndexFunc(x.b.lots, func(l ledger.LotRow) bool { return l.ID == tk.Index })
				if i < 0 {
					continue
				}
				found = true
				if x.b.lots[i].Remaining < tk.Amount {
					return false, fmt.Errorf("%w: lot %d has %d left, %d taken", storage.ErrConflict, tk.Index, x.b.lots[i].Remaining, tk.Amount)
				}
				saveLots(x)
				x.b.lots[i].Remaining -= tk.Amount
				if x.b.lots[i].Remaining == 0 {
					x.b.lots = slices.Delete(x.b.lots, i, i+1)
				}
				break
			}
			if !found {
				return false, fmt.Errorf("%w: lot %d is gone", storage.ErrConflict, tk.Index)
			}
		}
	}
	if hold != nil {
		src := &u.tt[find(hold.Account, hold.Asset)]
		src.b.held -= in.Lines[0].Amount
		src.heldChange = true
		old := *hold
		hold.Captured += in.Lines[0].Amount
		if hold.Captured == hold.Amount {
			hold.Status, hold.ClosedAt = ledger.HoldCaptured, in.At
		}
		t.onUndo(func() { *hold = old })
	}
	for k := range u.tt {
		x := &u.tt[k]
		if !x.debited && !x.heldChange {
			continue
		}
		if floor, ok := x.acc.acc.Overdraft.Floor(x.asset); ok && x.b.posted-x.b.held < floor && x.b.posted-x.b.held < x.posted-x.held {
			return false, fmt.Errorf("%w: %s has %d %s available, floor %d", ledger.ErrInsufficientFunds,
				x.acc.acc.ID, x.posted-x.held, x.asset, floor)
		}
	}
	if orig != nil {
		// The lineMore records a reversal adds go with u's mark; the
		// lines' links to them and the amounts come back here.
		type was struct {
			more     int32
			reversed int64
		}
		old := make([]was, orig.lines)
		for k := range old {
			ln := lt.lines.at(orig.line0 + int32(k))
			old[k] = was{ln.more, lt.reversed(ln)}
		}
		for _, tk := range in.Taken {
			lt.moreOf(lt.lines.at(orig.line0 + int32(tk.Index))).reversed += tk.Amount
		}
		t.onUndo(func() {
			for k, w := range old {
				ln := lt.lines.at(orig.line0 + int32(k))
				ln.more = w.more
				if w.more != 0 {
					lt.more.at(w.more - 1).reversed = w.reversed
				}
			}
		})
	}
	tx := memTx{idLen: int32(len(in.ID)), keyLen: int32(len(in.Key)), fpLen: int32(len(in.Fingerprint)),
		line0: line0, lines: int32(len(in.Lines)), at: lt.locs.pack(in.At), kind: in.Kind, fpBytes: isFpHex(in.Fingerprint)}
	if tx.fpBytes {
		tx.fpLen /= 2
	}
	tx.metaLen = int32(txMetaSize(in.Metadata))
	var text []byte
	tx.text, text = lt.text.alloc(len(in.ID) + len(in.Key) + int(tx.fpLen) + int(tx.metaLen))
	text = append(text, in.ID...)
	text = append(text, in.Key...)
	if tx.fpBytes {
		text, _ = hex.AppendDecode(text, []byte(in.Fingerprint)) // checked by isFpHex
	} else {
		text = append(text, in.Fingerprint...)
	}
	_ = appendTxMeta(text, in.Metadata)
	if in.Reverses != "" || in.Hold != "" || len(in.Taken) > 0 || len(in.Lots) > 0 {
		tx.extra = true
		// metadata only when it is empty, not nil (kept in text otherwise)
		x := &memTxExtra{reverses: in.Reverses, hold: in.Hold, taken: slices.Clone(in.Taken), lots: slices.Clone(in.Lots)}
		if tx.metaLen == 0 {
			x.metadata = maps.Clone(in.Metadata)
		}
		lt.extras[txIdx] = x
	}
	lt.txs.push(tx)
	if ordered {
		lt.ordered.push(txIdx)
	} else {
		lt.linkAt(byID, idHash, txIdx, idHead)
	}
	lt.linkAt(byKey, keyHash, txIdx, keyHead)
	u.stored = true
	if in.Event != nil {
		if err := in.Event.Validate(); err != nil {
			return false, err
		}
		// the outbox copies what it keeps (see outboxRow)
		if err := s.appendOutbox(t, in.Event); err != nil {
			return false, err
		}
	}
	*out = *in
	out.Event = nil
	return false, nil
}

// ledgerUndo takes back every write of one committed transaction: the
// balances, entries and lots it touched, the counters, and (once stored)
// the transaction, its lines, text and index entries. One per
// transaction, registered as one undo step.
type ledgerUndo struct {
	lt              *ledgerTenant
	tx              int32 // the transaction's index
	idHash, keyHash uint32
	stored          bool // the transaction is in txs and the indexes
	ordered         bool // its ID is in lt.ordered, not byID
	lines, more     int  // lt.lines.len() and lt.more.len() before
	text            textMark
	lotSeq0         int64
	tt              []ledgerTouched
	buf             [2]ledgerTouched
}

// reset drops what u refers to, keeping the capacity of u.tt.
func (u *ledgerUndo) reset() {
	clear(u.tt)
	u.tt = u.tt[:0]
	u.lt = nil
}

func (u *ledgerUndo) undo() {
	lt := u.lt
	if u.stored {
		lt.unlink(byKey, u.keyHash, u.tx)
		if u.ordered {
			lt.ordered.truncate(lt.ordered.len() - 1)
		} else {
			lt.unlink(byID, u.idHash, u.tx)
		}
		delete(lt.extras, u.tx)
	}
	lt.txs.truncate(int(u.tx))
	lt.lines.truncate(u.lines)
	lt.more.truncate(u.more)
	lt.text.truncate(u.text)
	// Last touched first: an account touched in two assets has the
	// shorter history length in its first touch, which must win.
	for k := len(u.tt) - 1; k >= 0; k-- {
		x := &u.tt[k]
		x.b.posted, x.b.held = x.posted, x.held
		x.acc.entries.truncate(x.entries)
		if x.lotsSaved {
			x.b.lots = x.lots
		}
	}
	lt.lotSeq = u.lotSeq0
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
	return s.ledgerReadTx(ctx, tenant, byID, id, id)
}

// TxByKey implements ledger.Store.
func (ls *LedgerStore) TxByKey(ctx context.Context, tenant storage.TenantID, key string) (ledger.TxRow, error) {
	s := ls.s
	return s.ledgerReadTx(ctx, tenant, byKey, key, "key "+key)
}

func (s *Store) ledgerReadTx(ctx context.Context, tenant storage.TenantID, f txField, v, what string) (ledger.TxRow, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.TxRow{}, err
	}
	var out ledger.TxRow
	err := s.do(ctx, func(*txn) error {
		lt := s.tenantLedger(tenant, false)
		if lt == nil {
			return fmt.Errorf("%w: %s", ledger.ErrTransactionNotFound, what)
		}
		var i int32
		var ok bool
		if f == byID {
			i, ok = lt.findID(v)
		} else {
			i, _, ok = lt.find(f, v)
		}
		if !ok {
			return fmt.Errorf("%w: %s", ledger.ErrTransactionNotFound, what)
		}
		out = lt.readTx(i)
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
	a.Metadata = maps.Clone(a.Metadata) // the store's own copy
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
				lt.addAccount(t, a)
				out = a
			}
			if event.EventID != "" {
				return s.AppendOutbox(ctx, event)
			}
			return nil
		})
	})
	out.Metadata = maps.Clone(out.Metadata) // a copy the caller may change
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
		out.Metadata = maps.Clone(out.Metadata) // a copy the caller may change
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
		ai, ok := lt.assets.lookup(asset)
		if !ok {
			return nil
		}
		es := &lt.accounts[account].entries
		i := sort.Search(es.len(), func(i int) bool { return lt.txs.at(es.at(i).tx).at.after(at) })
		for i--; i >= 0; i-- {
			if _, ln := lt.line(es.at(i)); ln.asset == ai {
				out = es.at(i).balance
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
		ai, ok := lt.assets.lookup(asset)
		if asset != "" && !ok {
			return nil
		}
		es := &lt.accounts[account].entries
		end := es.len()
		if before > 0 {
			end = sort.Search(es.len(), func(i int) bool { return lt.entrySeq(es.at(i)) >= before })
		}
		lastTx, txID := int32(-1), ""
		for i := end - 1; i >= 0 && len(out) < limit; i-- {
			e := es.at(i)
			if _, ln := lt.line(e); asset != "" && ln.asset != ai {
				continue
			}
			if e.tx != lastTx {
				lastTx, txID = e.tx, ""
			}
			r := lt.entryRow(e, account, txID)
			txID = r.TxID
			out = append(out, r)
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
			stored.Metadata = maps.Clone(h.Metadata) // the store's own copy
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
	out.Metadata = maps.Clone(out.Metadata) // a copy the caller may change
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
	out.Metadata = maps.Clone(out.Metadata) // a copy the caller may change
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
	out.Metadata = maps.Clone(out.Metadata) // a copy the caller may change
	return out, released, err
}

// ExpiredHolds implements ledger.Store.
func (ls *LedgerStore) ExpiredHolds(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]ledger.HoldRow, error) {
	out, err := ls.openHolds(ctx, tenant, func(h *ledger.HoldRow) bool {
		return !h.ExpiresAt.IsZero() && !h.ExpiresAt.After(now)
	})
	slices.SortFunc(out, func(a, b ledger.HoldRow) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), limit)], err
}

// OpenHolds implements ledger.Store.
func (ls *LedgerStore) OpenHolds(ctx context.Context, tenant storage.TenantID, destination, afterID string, limit int) ([]ledger.HoldRow, error) {
	out, err := ls.openHolds(ctx, tenant, func(h *ledger.HoldRow) bool {
		return h.Destination == destination && h.ID > afterID
	})
	slices.SortFunc(out, func(a, b ledger.HoldRow) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(len(out), limit)], err
}

// openHolds returns copies (metadata too: the caller may change them) of
// the tenant's open holds that keep keeps, in no order.
func (ls *LedgerStore) openHolds(ctx context.Context, tenant storage.TenantID, keep func(h *ledger.HoldRow) bool) ([]ledger.HoldRow, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []ledger.HoldRow
	err := ls.s.do(ctx, func(*txn) error {
		lt := ls.s.tenantLedger(tenant, false)
		if lt == nil {
			return nil
		}
		for _, h := range lt.holds {
			if h.Status == ledger.HoldOpen && keep(h) {
				r := *h
				r.Metadata = maps.Clone(h.Metadata)
				out = append(out, r)
			}
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
