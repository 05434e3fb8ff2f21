package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Ledger returns the store's ledger.Store (what ledger.Config.Store
// takes). Its methods join the store's transactions.
func (s *Store) Ledger() ledger.Store { return newLedgerStore(s) }

// ledgerStore implements ledger.Store on a Store. Every write runs in the
// transaction in ctx and holds its invariants with conditional statements
// judged by rows affected; the rows a transaction touches are locked in
// one order (transaction key, hold, reversed lines, accounts, balances in
// ascending (account, asset), lots), so concurrent transactions wait for
// each other but do not deadlock.
type ledgerStore struct {
	s *Store
	d Dialect
	q ledgerQueries
}

var _ ledger.TotalStore = (*ledgerStore)(nil)

type ledgerQueries struct {
	acc, bal, tx, rev, ent, hold, lot string // table names

	claimTx, txByID, txByKey, reversedOf                  string
	capture, takeReversal                                 string
	ensureAccount, getAccount, putAccount, moveFloors     string
	moveBalance, getBalance, addLots                      string
	totalPosted                                           string
	balanceAt, history, historyAsset                      string
	claimHold, getHold, holdByKey, reserve, closeHold     string
	releaseHeld, expiredHolds, openHolds                  string
	openLots, takeLot, takeLotExact, insertLot, lotsUntil string
	expiredLots                                           string
	transfer                                              string // one-statement transfer; "" where the dialect has none
	direct                                                string // one-statement autocommit batch; "" where the dialect has none
}

func buildLedgerQueries(d Dialect, p string) ledgerQueries {
	q := ledgerQueries{acc: p + "ledger_accounts", bal: p + "ledger_balances", tx: p + "ledger_transactions",
		rev: p + "ledger_reversed", ent: p + "ledger_entries", hold: p + "ledger_holds", lot: p + "ledger_lots"}
	r := d.rebind
	txCols := "id, tx_key, fingerprint, kind, at, lines, metadata, reverses, hold_id"
	q.claimTx = r(d.insertIgnore(q.tx, []string{"tenant", "id", "tx_key", "fingerprint", "kind", "at", "lines", "metadata", "reverses", "hold_id"}, []string{"tenant", "tx_key"}))
	q.txByID = r("SELECT " + txCols + " FROM " + q.tx + " WHERE tenant = ? AND id = ?")
	q.txByKey = r("SELECT " + txCols + " FROM " + q.tx + " WHERE tenant = ? AND tx_key = ?")
	q.reversedOf = r("SELECT line_no, reversed FROM " + q.rev + " WHERE tenant = ? AND tx_id = ?")
	// status first: MySQL evaluates SET left to right with new values.
	q.capture = r("UPDATE " + q.hold + " SET status = CASE WHEN captured + ? = amount THEN ? ELSE status END," +
		" closed_at = CASE WHEN captured + ? = amount THEN ? ELSE closed_at END, captured = captured + ?" +
		" WHERE tenant = ? AND id = ? AND status = ? AND captured + ? <= amount AND (expires_at IS NULL OR expires_at > ?)" +
		" AND account = ? AND asset = ?")
	q.takeReversal = r(d.upsert(q.rev, []string{"tenant", "tx_id", "line_no", "reversed"}, []string{"tenant", "tx_id", "line_no"},
		"reversed = "+q.rev+".reversed + excluded.reversed", q.rev+".reversed + excluded.reversed <= ?"))
	q.ensureAccount = r(d.insertIgnore(q.acc, []string{"tenant", "id", "overdraft_kind", "created_at"}, []string{"tenant", "id"}))
	q.getAccount = r("SELECT overdraft_kind, limit_asset, limit_scale, limit_minor, metadata, created_at FROM " + q.acc + " WHERE tenant = ? AND id = ?")
	q.putAccount = r(d.upsert(q.acc, []string{"tenant", "id", "overdraft_kind", "limit_asset", "limit_scale", "limit_minor", "metadata", "created_at"},
		[]string{"tenant", "id"}, "overdraft_kind = excluded.overdraft_kind, limit_asset = excluded.limit_asset,"+
			" limit_scale = excluded.limit_scale, limit_minor = excluded.limit_minor, metadata = excluded.metadata", ""))
	q.moveFloors = r("UPDATE " + q.bal + " SET floor_minor = " + floorExpr("CAST(? AS INTEGER)", "?", "CAST(? AS BIGINT)", "asset") + " WHERE tenant = ? AND account = ?")
	// One conditional update per balance: it applies the deltas unless
	// the balance would end below its floor with less available than
	// before. Rows affected 0 means refused.
	q.moveBalance = r(d.ledgerReturning("UPDATE "+q.bal+" SET posted = posted + ?, held = held + ?"+
		" WHERE tenant = ? AND account = ? AND asset = ?"+
		" AND (CAST(? AS BIGINT) >= 0 OR floor_minor IS NULL OR posted + ? - (held + ?) >= floor_minor)", "posted, lots"))
	q.getBalance = r("SELECT posted, held, lots FROM " + q.bal + " WHERE tenant = ? AND account = ? AND asset = ?")
	q.totalPosted = r("SELECT CAST(COALESCE(SUM(posted), 0) AS BIGINT) FROM " + q.bal + " WHERE tenant = ? AND asset = ?")
	q.addLots = r("UPDATE " + q.bal + " SET lots = lots + ? WHERE tenant = ? AND account = ? AND asset = ?")
	q.balanceAt = r("SELECT balance FROM " + q.ent + " WHERE tenant = ? AND account = ? AND asset = ? AND at <= ? ORDER BY at DESC, seq DESC LIMIT 1")
	if d == Postgres {
		// seq is time-ordered (see entrySeq): the last entry at or before
		// at is the first one met walking the primary key down from the
		// first seq of the next millisecond.
		q.balanceAt = "SELECT balance FROM " + q.ent + " WHERE tenant = $1 AND account = $2 AND asset = $3 AND at <= $4" +
			" AND seq < " + entrySeqMillis("$4::timestamptz", "+ 1") + " ORDER BY seq DESC LIMIT 1"
	}
	entCols := "SELECT seq, tx_id, kind, line_no, other, asset, amount, balance, at FROM " + q.ent
	q.history = r(entCols + " WHERE tenant = ? AND account = ? AND seq < ? ORDER BY seq DESC LIMIT ?")
	q.historyAsset = r(entCols + " WHERE tenant = ? AND account = ? AND asset = ? AND seq < ? ORDER BY seq DESC LIMIT ?")
	holdCols := "id, hold_key, fingerprint, account, destination, asset, amount, captured, status, expires_at, metadata, created_at, closed_at"
	q.claimHold = r(d.insertIgnore(q.hold, []string{"tenant", "id", "hold_key", "fingerprint", "account", "destination", "asset", "amount",
		"captured", "status", "expires_at", "metadata", "created_at"}, []string{"tenant", "hold_key"}))
	q.getHold = r("SELECT " + holdCols + " FROM " + q.hold + " WHERE tenant = ? AND id = ?")
	q.holdByKey = r("SELECT " + holdCols + " FROM " + q.hold + " WHERE tenant = ? AND hold_key = ?")
	q.reserve = r("UPDATE " + q.bal + " SET held = held + ? WHERE tenant = ? AND account = ? AND asset = ?" +
		" AND (floor_minor IS NULL OR posted - held - ? >= floor_minor)")
	q.closeHold = r("UPDATE " + q.hold + " SET status = ?, closed_at = ? WHERE tenant = ? AND id = ? AND status = ? AND captured = ?")
	q.releaseHeld = r("UPDATE " + q.bal + " SET held = held - ? WHERE tenant = ? AND account = ? AND asset = ?")
	q.openHolds = r("SELECT " + holdCols + " FROM " + q.hold + " WHERE tenant = ? AND status = ? AND destination = ? AND id > ? ORDER BY id LIMIT ?")
	q.expiredHolds = r("SELECT " + holdCols + " FROM " + q.hold + " WHERE tenant = ? AND status = ? AND expires_at IS NOT NULL AND expires_at <= ?" +
		" ORDER BY expires_at, id LIMIT ?")
	lotCols := "SELECT id, account, asset, amount, remaining, expires_at, tx_id FROM " + q.lot
	q.openLots = r(lotCols + " WHERE tenant = ? AND account = ? AND asset = ? AND remaining > 0 ORDER BY expires_at, id")
	q.takeLot = r("UPDATE " + q.lot + " SET remaining = remaining - ? WHERE id = ?")
	q.takeLotExact = r("UPDATE " + q.lot + " SET remaining = remaining - ? WHERE tenant = ? AND id = ? AND account = ? AND asset = ? AND remaining >= ?")
	q.insertLot = r("INSERT INTO " + q.lot + " (tenant, account, asset, amount, remaining, expires_at, tx_id) VALUES (?, ?, ?, ?, ?, ?, ?)")
	q.lotsUntil = r("SELECT COALESCE(SUM(remaining), 0) FROM " + q.lot + " WHERE tenant = ? AND account = ? AND asset = ? AND remaining > 0 AND expires_at <= ?")
	q.expiredLots = r(lotCols + " WHERE tenant = ? AND remaining > 0 AND expires_at <= ? ORDER BY expires_at, id LIMIT ?")
	q.transfer = d.ledgerTransfer(q, p+"outbox")
	q.direct = d.ledgerDirect(q, p+"outbox")
	return q
}

// floorExpr is the SQL of a balance's floor from an account's overdraft
// columns (kind, limit asset, limit minor) for the balance's asset: NULL
// for unbounded, minus the limit in the limit's asset when bounded, else 0.
func floorExpr(kind, limitAsset, limitMinor, asset string) string {
	return "CASE WHEN " + kind + " = 2 THEN NULL WHEN " + kind + " = 1 AND " + limitAsset + " = " + asset +
		" THEN -" + limitMinor + " ELSE 0 END"
}

// entrySeqBits is how many low bits of a PostgreSQL entry's seq come from
// the entries' sequence; the bits above hold the entry's time in Unix
// milliseconds. Entries are thus numbered in time order (and, within a
// millisecond, in the order the sequence gave), so that one index,
// (tenant, account, seq), serves both an account's history and its
// balance at a past time: a posting writes one index entry per side
// instead of two. 2^21 numbers per millisecond make two entries of one
// account collide only if more than two million entries were numbered
// between two that carry the same millisecond; times up to the year
// 2109 fit. SQLite numbers entries in commit order and keeps a second
// index on (account, asset, at).
const entrySeqBits = 21

// entrySeqMillis is the SQL of the first seq of the millisecond of the
// timestamptz expression at, shifted by plus ("+ 1": the next one).
func entrySeqMillis(at, plus string) string {
	return "((floor(extract(epoch from " + at + ") * 1000)::bigint " + plus + ") << " + strconv.Itoa(entrySeqBits) + ")"
}

// entrySeq is the SQL of a new entry's seq (PostgreSQL) for the
// timestamptz expression at: its millisecond and the low bits of the
// next value of the entries' sequence.
func entrySeq(q ledgerQueries, at string) string {
	return "(" + entrySeqMillis(at, "") + " | (nextval('" + q.ent + "_seq_seq') & " + strconv.Itoa(1<<entrySeqBits-1) + "))"
}

// ledgerReturning appends the columns a conditional UPDATE hands back.
// PostgreSQL and SQLite (3.35+) return them with the statement, so rows
// affected and the new values come in one round trip. MySQL has no
// UPDATE ... RETURNING: its dialect would judge rows affected
// (clientFoundRows=true) and read the columns of the row it just locked.
func (d Dialect) ledgerReturning(update, cols string) string {
	return update + " RETURNING " + cols
}

// ledgerTransfer is PostgreSQL's whole transfer in one statement (one
// round trip inside BEGIN ... COMMIT): claim the key, create accounts met
// for the first time, move every balance with an upsert fed in ascending
// (account, asset) order (so rows are locked in that order) whose
// conditional DO UPDATE refuses a move below the floor, write the entries
// with their resulting balances, and append the outbox message. Every
// part is gated on the claim, so a replay writes nothing. It answers with
// counts that the caller judges: claimed, balances moved, new balances
// born below their floor, and balances with open lots (which the caller
// then consumes with statements of its own).
//
// SQLite has no data-modifying CTEs and MySQL neither (nor arrays, nor
// RETURNING): they take the portable path of several statements.
func (d Dialect) ledgerTransfer(q ledgerQueries, outbox string) string {
	if d != Postgres {
		return ""
	}
	return `WITH
tx AS (
  INSERT INTO ` + q.tx + ` (tenant, id, tx_key, fingerprint, kind, at, lines, metadata, reverses, hold_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '')
  ON CONFLICT (tenant, tx_key) DO NOTHING RETURNING id),
acc AS (
  INSERT INTO ` + q.acc + ` (tenant, id, overdraft_kind, created_at)
  SELECT $1, v.id, v.kind, $6 FROM unnest($9::text[], $10::smallint[]) AS v(id, kind)
  WHERE EXISTS (SELECT 1 FROM tx) ORDER BY v.id COLLATE "C"
  ON CONFLICT (tenant, id) DO NOTHING),
mv AS (
  INSERT INTO ` + q.bal + ` AS b (tenant, account, asset, posted, held, floor_minor, lots)
  SELECT $1, v.account, v.asset, v.delta, 0,
    CASE WHEN a.id IS NULL THEN (CASE WHEN v.nofloor THEN NULL ELSE v.dfloor END)
    ELSE ` + floorExpr("a.overdraft_kind", "a.limit_asset", "a.limit_minor", "v.asset") + ` END, 0
  FROM unnest($11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bool[]) AS v(account, asset, delta, dfloor, nofloor)
  LEFT JOIN LATERAL (SELECT * FROM ` + q.acc + ` a WHERE a.tenant = $1 AND a.id = v.account OFFSET 0) a ON true
  WHERE EXISTS (SELECT 1 FROM tx)
  ORDER BY v.account COLLATE "C", v.asset COLLATE "C"
  ON CONFLICT (tenant, account, asset) DO UPDATE SET posted = b.posted + excluded.posted
  WHERE excluded.posted >= 0 OR b.floor_minor IS NULL OR b.posted - b.held + excluded.posted >= b.floor_minor
  RETURNING b.account, b.asset, b.posted, b.held, b.floor_minor, b.lots, (b.xmax = 0) AS born),
ent AS (
  INSERT INTO ` + q.ent + ` (seq, tenant, account, asset, tx_id, kind, line_no, other, amount, balance, at)
  SELECT ` + entrySeq(q, "$6::timestamptz") + `, $1, e.account, e.asset, $2, $5, e.line_no, e.other, e.amount, m.posted - e.net + e.cum, $6
  FROM unnest($16::text[], $17::text[], $18::int[], $19::text[], $20::bigint[], $21::bigint[], $22::bigint[])
    WITH ORDINALITY AS e(account, asset, line_no, other, amount, cum, net, ord)
  JOIN mv m ON m.account = e.account AND m.asset = e.asset
  ORDER BY e.ord),
ob AS (
  INSERT INTO ` + outbox + ` (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)
  SELECT $23, $1, $24, $25, $26, $27, $28, $6 WHERE $23 <> '' AND EXISTS (SELECT 1 FROM tx))
SELECT (SELECT count(*) FROM tx), (SELECT count(*) FROM mv),
  (SELECT count(*) FROM mv WHERE born AND floor_minor IS NOT NULL AND posted - held < floor_minor),
  (SELECT count(*) FROM mv WHERE lots > 0)`
}

// ledgerDirect is PostgreSQL's batch of plain transfers as one statement
// run outside any transaction (autocommit): one round trip, and the
// balance rows stay locked only while the statement runs. It claims every
// key, creates accounts met for the first time, moves every balance once
// by the batch's net (upserts fed in ascending (account, asset) order, the
// lock order of every writer), writes the entries with their resulting
// balances and appends one outbox message per transfer.
//
// Nothing is gated: the statement checks its own outcome in its last
// SELECT and, when something is wrong, fails with a cast error carrying a
// marker (see directMarker), which aborts the whole statement, so nothing
// is written:
//   - replay: a key already existed. The transactions are inserted
//     without ON CONFLICT (a speculative insertion costs a probe and a
//     confirmation per row), so the key's unique index fails the
//     statement; the Ledger's general path then answers with the stored
//     transaction. The last SELECT reads the count of keys first, so
//     that the keys are inserted, and a replay fails, before anything
//     else is judged (the count itself always matches then);
//   - outbox: fewer outbox messages than transfers were written (a
//     guard: a duplicate event ID fails the statement's unique index);
//   - lots: a balance that some line debits has open lots to consume
//     (general path), even when the same transfer credits it as much;
//   - short: a lowered balance would end a transfer below its floor. The
//     check per balance is posted_before - held + low >= floor, where low
//     is the lowest running sum of the batch's deltas after a transfer
//     that lowers the balance, so a batch is judged in order exactly as
//     one transfer after another would be.
//
// The casts are built from values the statement computes, never from
// constants, so that the planner cannot fold them and fail every run.
// The last SELECT reads the key claims and the outbox before the
// balances, so that those inserts run before the balance rows are locked.
// The accounts are not read there: they run last, after the balance rows
// are locked in order, since a new account inserted before would be a
// lock taken out of order (two statements creating the same member while
// waiting for the same hot balance deadlock).
func (d Dialect) ledgerDirect(q ledgerQueries, outbox string) string {
	if d != Postgres {
		return ""
	}
	return `WITH
tx AS (
  INSERT INTO ` + q.tx + ` (tenant, id, tx_key, fingerprint, kind, at, lines, metadata, reverses, hold_id)
  SELECT $1, t.id, t.k, t.fp, t.kind, t.at, t.lines, t.meta, '', ''
  FROM unnest($3::text[], $4::text[], $5::text[], $6::smallint[], $7::text[], $8::text[], $34::timestamptz[]) AS t(id, k, fp, kind, lines, meta, at)
  RETURNING 1),
acc AS (
  INSERT INTO ` + q.acc + ` (tenant, id, overdraft_kind, created_at)
  SELECT $1, v.id, v.kind, $2 FROM unnest($9::text[], $10::smallint[]) AS v(id, kind) ORDER BY v.id COLLATE "C"
  ON CONFLICT (tenant, id) DO NOTHING RETURNING 1),
v AS (
  SELECT * FROM unnest($11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bool[], $16::bigint[], $17::bool[], $36::bool[], $37::bool[])
    AS v(account, asset, delta, dfloor, nofloor, low, debit, known, lowered)),
mv AS (
  INSERT INTO ` + q.bal + ` AS b (tenant, account, asset, posted, held, floor_minor, lots)
  SELECT $1, v.account, v.asset, v.delta, 0,
    CASE WHEN a.id IS NULL THEN (CASE WHEN v.nofloor THEN NULL ELSE v.dfloor END)
    ELSE ` + floorExpr("a.overdraft_kind", "a.limit_asset", "a.limit_minor", "v.asset") + ` END, 0
  FROM v LEFT JOIN LATERAL (SELECT * FROM ` + q.acc + ` a WHERE NOT v.known AND a.tenant = $1 AND a.id = v.account OFFSET 0) a ON true
  ORDER BY v.account COLLATE "C", v.asset COLLATE "C"
  ON CONFLICT (tenant, account, asset) DO UPDATE SET posted = b.posted + excluded.posted
  RETURNING b.account, b.asset, b.posted, b.held, b.floor_minor, b.lots),
chk AS (
  SELECT m.account || '/' || m.asset AS bal, m.lots > 0 AS lotted,
    v.lowered AND m.floor_minor IS NOT NULL AND m.posted - v.delta - m.held + v.low < m.floor_minor AS short
  FROM mv m JOIN v ON v.account = m.account AND v.asset = m.asset
  WHERE v.debit),
ent AS (
  INSERT INTO ` + q.ent + ` (seq, tenant, account, asset, tx_id, kind, line_no, other, amount, balance, at)
  SELECT ` + entrySeq(q, "e.at") + `, $1, e.account, e.asset, e.tx_id, e.kind, e.line_no, e.other, e.amount, m.posted - e.net + e.cum, e.at
  FROM unnest($18::text[], $19::text[], $20::text[], $21::smallint[], $22::int[], $23::text[], $24::bigint[], $25::bigint[], $26::bigint[], $35::timestamptz[])
    WITH ORDINALITY AS e(account, asset, tx_id, kind, line_no, other, amount, cum, net, at, ord)
  JOIN mv m ON m.account = e.account AND m.asset = e.asset
  ORDER BY e.ord),
ob AS (
  INSERT INTO ` + outbox + ` (event_id, tenant, topic, aggregate_type, aggregate_id, partition_no, payload, created_at)
  SELECT o.event_id, $1, o.topic, o.agg_type, o.agg_id, o.part, o.payload, o.at
  FROM unnest($27::text[], $28::text[], $29::text[], $30::text[], $31::int[], $32::text[], $34::timestamptz[]) WITH ORDINALITY
    AS o(event_id, topic, agg_type, agg_id, part, payload, at, ord)
  ORDER BY o.ord RETURNING 1)
SELECT CASE
  WHEN c.n <> $33 THEN CAST('` + directMarker + `replay:' || c.n AS int)
  WHEN c.o <> $33 THEN CAST('` + directMarker + `outbox:' || c.o AS int)
  WHEN c.lotted IS NOT NULL THEN CAST('` + directMarker + `lots:' || c.lotted AS int)
  WHEN c.short IS NOT NULL THEN CAST('` + directMarker + `short:' || c.short AS int)
  ELSE c.n END
FROM (SELECT (SELECT count(*) FROM tx) AS n, (SELECT count(*) FROM ob) AS o,
  (SELECT min(bal) FROM chk WHERE lotted) AS lotted,
  (SELECT min(bal) FROM chk WHERE short) AS short) c`
}

// directMarker starts the text of the cast errors ledgerDirect fails with
// on purpose.
const directMarker = "rk-ledger:"

// ensureBalances builds the statement that creates the missing balance
// rows of n (account, asset) pairs, with the floor their account's policy
// gives. Portable: INSERT ... SELECT ... UNION ALL with an upsert that
// does nothing (MySQL: INSERT IGNORE ... SELECT).
func (l *ledgerStore) ensureBalances(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + l.q.bal + " (tenant, account, asset, posted, held, floor_minor, lots) SELECT a.tenant, a.id, v.asset, 0, 0, ")
	b.WriteString(floorExpr("a.overdraft_kind", "a.limit_asset", "a.limit_minor", "v.asset"))
	b.WriteString(", 0 FROM " + l.q.acc + " a JOIN (")
	for i := range n {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ? AS id, ? AS asset")
	}
	b.WriteString(") v ON a.id = v.id WHERE a.tenant = ? ON CONFLICT (tenant, account, asset) DO NOTHING")
	return l.d.rebind(b.String())
}

// insertEntries builds a multi-row INSERT of n entries, 10 arguments
// each (the last one the time). On PostgreSQL each row also gets its seq
// from its time (see entrySeq).
func (l *ledgerStore) insertEntries(n int) string {
	cols := "tenant, account, asset, tx_id, kind, line_no, other, amount, balance, at"
	if l.d != Postgres {
		return l.d.rebind("INSERT INTO " + l.q.ent + " (" + cols + ") VALUES " + valueRows(n, 10))
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + l.q.ent + " (" + cols + ", seq) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 1; c <= 10; c++ {
			b.WriteString("$" + strconv.Itoa(10*i+c) + ", ")
		}
		b.WriteString(entrySeq(l.q, "$"+strconv.Itoa(10*i+10)+"::timestamptz") + ")")
	}
	return b.String()
}

// insertAccounts builds a multi-row insert of n accounts that skips those
// that exist.
func (l *ledgerStore) insertAccounts(n int) string {
	return l.d.rebind("INSERT INTO " + l.q.acc + " (tenant, id, overdraft_kind, created_at) VALUES " + valueRows(n, 4) + " ON CONFLICT (tenant, id) DO NOTHING")
}

func newLedgerStore(s *Store) *ledgerStore {
	return &ledgerStore{s: s, d: s.dialect, q: buildLedgerQueries(s.dialect, s.opts.TablePrefix)}
}

// lineJSON is how a transaction's lines are kept in its row.
type lineJSON struct {
	S string `json:"s"`
	D string `json:"d"`
	A string `json:"a"`
	N int64  `json:"n"`
	E int64  `json:"e,omitempty"` // expiry, unix microseconds
}

func encodeLines(lines []ledger.LineRow) string {
	js := make([]lineJSON, len(lines))
	for i, ln := range lines {
		js[i] = lineJSON{S: ln.Source, D: ln.Destination, A: ln.Asset, N: ln.Amount}
		if !ln.ExpiresAt.IsZero() {
			js[i].E = ln.ExpiresAt.UnixMicro()
		}
	}
	b, _ := json.Marshal(js) // strings and integers only
	return string(b)
}

func decodeLines(s string) ([]ledger.LineRow, error) {
	var js []lineJSON
	if err := json.Unmarshal([]byte(s), &js); err != nil {
		return nil, fmt.Errorf("sqlstore: ledger lines: %w", err)
	}
	lines := make([]ledger.LineRow, len(js))
	for i, j := range js {
		lines[i] = ledger.LineRow{Source: j.S, Destination: j.D, Asset: j.A, Amount: j.N}
		if j.E != 0 {
			lines[i].ExpiresAt = time.UnixMicro(j.E).UTC()
		}
	}
	return lines, nil
}

func encodeMeta(m map[string]string) sql.NullString {
	if len(m) == 0 {
		return sql.NullString{}
	}
	b, _ := json.Marshal(m)
	return sql.NullString{String: string(b), Valid: true}
}

func decodeMeta(s sql.NullString) (map[string]string, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("sqlstore: ledger metadata: %w", err)
	}
	return m, nil
}

// CommitTx implements ledger.Store.
func (l *ledgerStore) CommitTx(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow) ([]ledger.Committed, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := make([]ledger.Committed, len(txs))
	err := l.s.write(ctx, "ledger commit", func(ctx context.Context, q querier) error {
		for i := range txs {
			c, err := l.commitOne(ctx, q, tenant, &txs[i])
			if err != nil {
				if len(txs) > 1 {
					return fmt.Errorf("sqlstore: transaction %d (key %q): %w", i, txs[i].Key, err)
				}
				return err
			}
			out[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type balKey struct{ account, asset string }

type balMove struct {
	key          balKey
	posted, held int64 // deltas
	debited      bool
	after        int64 // posted after the transaction
	lots         int64 // open lots after the update (before this transaction's lot changes)
}

func (l *ledgerStore) commitOne(ctx context.Context, q querier, tenant storage.TenantID, row *ledger.TxRow) (ledger.Committed, error) {
	d := l.d
	if l.q.transfer != "" && row.Hold == "" && row.Reverses == "" && len(row.Lots) == 0 && !hasExpiry(row.Lines) {
		return l.commitFast(ctx, q, tenant, row)
	}
	res, err := q.ExecContext(ctx, l.q.claimTx, string(tenant), row.ID, row.Key, row.Fingerprint, int(row.Kind), d.timeArg(row.At),
		encodeLines(row.Lines), encodeMeta(row.Metadata), row.Reverses, row.Hold)
	if err != nil {
		return ledger.Committed{}, dbErr("ledger claim key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ledger.Committed{}, dbErr("ledger claim key", err)
	} else if n == 0 {
		prior, err := l.readTx(ctx, q, l.q.txByKey, tenant, row.Key)
		if err != nil {
			return ledger.Committed{}, err
		}
		return ledger.Committed{Row: prior, Replayed: true}, nil
	}

	if row.Hold != "" {
		if err := l.capture(ctx, q, tenant, row); err != nil {
			return ledger.Committed{}, err
		}
	}
	if row.Reverses != "" {
		if err := l.takeReversal(ctx, q, tenant, row); err != nil {
			return ledger.Committed{}, err
		}
	}

	// Net moves per balance, in ascending (account, asset) order: the lock
	// order of every writer.
	var moves []balMove
	idx := func(k balKey) int {
		for i := range moves {
			if moves[i].key == k {
				return i
			}
		}
		moves = append(moves, balMove{key: k})
		return len(moves) - 1
	}
	for _, ln := range row.Lines {
		s := idx(balKey{ln.Source, ln.Asset})
		moves[s].posted -= ln.Amount
		moves[s].debited = true
		moves[idx(balKey{ln.Destination, ln.Asset})].posted += ln.Amount
	}
	if row.Hold != "" {
		moves[idx(balKey{row.Lines[0].Source, row.Lines[0].Asset})].held -= row.Lines[0].Amount
	}
	slices.SortFunc(moves, func(a, b balMove) int {
		if c := strings.Compare(a.key.account, b.key.account); c != 0 {
			return c
		}
		return strings.Compare(a.key.asset, b.key.asset)
	})

	// Accounts met for the first time, then their balance rows.
	var accounts []string
	for _, m := range moves {
		if len(accounts) == 0 || accounts[len(accounts)-1] != m.key.account {
			accounts = append(accounts, m.key.account)
		}
	}
	args := make([]any, 0, 4*len(accounts))
	for _, a := range accounts {
		args = append(args, string(tenant), a, int(ledger.DefaultOverdraft(a).Kind), d.timeArg(row.At))
	}
	if _, err := q.ExecContext(ctx, l.insertAccounts(len(accounts)), args...); err != nil {
		return ledger.Committed{}, dbErr("ledger accounts", err)
	}
	args = args[:0]
	for _, m := range moves {
		args = append(args, m.key.account, m.key.asset)
	}
	args = append(args, string(tenant))
	if _, err := q.ExecContext(ctx, l.ensureBalances(len(moves)), args...); err != nil {
		return ledger.Committed{}, dbErr("ledger balances", err)
	}
	for i := range moves {
		m := &moves[i]
		avail := m.posted - m.held
		err := q.QueryRowContext(ctx, l.q.moveBalance, m.posted, m.held, string(tenant), m.key.account, m.key.asset,
			avail, m.posted, m.held).Scan(&m.after, &m.lots)
		if errors.Is(err, sql.ErrNoRows) {
			return ledger.Committed{}, fmt.Errorf("%w: %s in %s", ledger.ErrInsufficientFunds, m.key.account, m.key.asset)
		}
		if err != nil {
			return ledger.Committed{}, dbErr("ledger move balance", err)
		}
	}
	if err := l.applyLots(ctx, q, tenant, row, moves); err != nil {
		return ledger.Committed{}, err
	}

	// Entries with each posting's resulting balances.
	running := make(map[balKey]int64, len(moves))
	for _, m := range moves {
		running[m.key] = m.after - m.posted
	}
	args = args[:0]
	for li, ln := range row.Lines {
		sk, dk := balKey{ln.Source, ln.Asset}, balKey{ln.Destination, ln.Asset}
		running[sk] -= ln.Amount
		running[dk] += ln.Amount
		at := d.timeArg(row.At)
		args = append(args,
			string(tenant), ln.Source, ln.Asset, row.ID, int(row.Kind), li, ln.Destination, -ln.Amount, running[sk], at,
			string(tenant), ln.Destination, ln.Asset, row.ID, int(row.Kind), li, ln.Source, ln.Amount, running[dk], at)
	}
	if _, err := q.ExecContext(ctx, l.insertEntries(2*len(row.Lines)), args...); err != nil {
		return ledger.Committed{}, dbErr("ledger entries", err)
	}
	if row.Event != nil {
		if err := l.s.AppendOutbox(ctx, *row.Event); err != nil {
			return ledger.Committed{}, err
		}
	}
	stored := *row
	stored.Event = nil
	stored.At = row.At.UTC().Truncate(time.Microsecond)
	return ledger.Committed{Row: stored}, nil
}

// capture draws a capture's amount on its hold, as one conditional update;
// when it is refused, the hold is read to say why.
func (l *ledgerStore) capture(ctx context.Context, q querier, tenant storage.TenantID, row *ledger.TxRow) error {
	if len(row.Lines) != 1 {
		return fmt.Errorf("%w: a capture has one posting", ledger.ErrInvalidRequest)
	}
	ln, d := row.Lines[0], l.d
	at := d.timeArg(row.At)
	res, err := q.ExecContext(ctx, l.q.capture, ln.Amount, int(ledger.HoldCaptured), ln.Amount, at, ln.Amount,
		string(tenant), row.Hold, int(ledger.HoldOpen), ln.Amount, at, ln.Source, ln.Asset)
	if err != nil {
		return dbErr("ledger capture", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbErr("ledger capture", err)
	} else if n == 1 {
		return nil
	}
	h, err := l.readHold(ctx, q, l.q.getHold, tenant, row.Hold)
	if err != nil {
		return err
	}
	switch {
	case h.Status != ledger.HoldOpen:
		return fmt.Errorf("%w: hold %s is %s", ledger.ErrHoldClosed, h.ID, h.Status)
	case !h.ExpiresAt.IsZero() && !row.At.Before(h.ExpiresAt):
		return fmt.Errorf("%w: hold %s expired at %s", ledger.ErrHoldExpired, h.ID, h.ExpiresAt)
	case h.Account != ln.Source || h.Asset != ln.Asset:
		return fmt.Errorf("%w: a capture of hold %s must move its asset from its account", ledger.ErrInvalidRequest, h.ID)
	}
	return fmt.Errorf("%w: hold %s has %d left, %d asked", ledger.ErrOverCapture, h.ID, h.Amount-h.Captured, ln.Amount)
}

// takeReversal counts what a reversal takes from each line of the
// original, each as a conditional upsert that refuses to pass the line's
// amount.
func (l *ledgerStore) takeReversal(ctx context.Context, q querier, tenant storage.TenantID, row *ledger.TxRow) error {
	orig, err := l.readTx(ctx, q, l.q.txByID, tenant, row.Reverses)
	if err != nil {
		return err
	}
	for _, tk := range row.Taken {
		if tk.Index < 0 || tk.Index >= int64(len(orig.Lines)) {
			return fmt.Errorf("%w: posting %d of %s", ledger.ErrInvalidRequest, tk.Index, orig.ID)
		}
		amount := orig.Lines[tk.Index].Amount
		if tk.Amount <= 0 || tk.Amount > amount {
			return fmt.Errorf("%w: posting %d of %s is %d, %d asked", ledger.ErrOverReversal, tk.Index, orig.ID, amount, tk.Amount)
		}
		res, err := q.ExecContext(ctx, l.q.takeReversal, string(tenant), orig.ID, tk.Index, tk.Amount, amount)
		if err != nil {
			return dbErr("ledger reversal", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr("ledger reversal", err)
		} else if n == 0 {
			return fmt.Errorf("%w: posting %d of %s has less than %d left", ledger.ErrOverReversal, tk.Index, orig.ID, tk.Amount)
		}
	}
	return nil
}

// applyLots consumes and opens lots. It runs after the balances were
// updated, so their row locks serialise every change to their lots, and
// reads the lots with a fresh statement.
func (l *ledgerStore) applyLots(ctx context.Context, q querier, tenant storage.TenantID, row *ledger.TxRow, moves []balMove) error {
	lotsOf := func(k balKey) int64 {
		for _, m := range moves {
			if m.key == k {
				return m.lots
			}
		}
		return 0
	}
	delta := map[balKey]int64{}
	if len(row.Lots) > 0 {
		// an expiry: exactly the lots named, each still holding what is taken
		src := balKey{row.Lines[0].Source, row.Lines[0].Asset}
		for _, tk := range row.Lots {
			res, err := q.ExecContext(ctx, l.q.takeLotExact, tk.Amount, string(tenant), tk.Index, src.account, src.asset, tk.Amount)
			if err != nil {
				return dbErr("ledger take lot", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return dbErr("ledger take lot", err)
			} else if n == 0 {
				return fmt.Errorf("%w: lot %d has less than %d left", storage.ErrConflict, tk.Index, tk.Amount)
			}
			delta[src] -= tk.Amount
		}
	} else {
		// open lots per balance, loaded once when a debit meets some
		open := map[balKey][]ledger.LotRow{}
		for _, ln := range row.Lines {
			sk := balKey{ln.Source, ln.Asset}
			if lotsOf(sk)+delta[sk] > 0 {
				lots, ok := open[sk]
				if !ok {
					var err error
					if lots, err = l.queryLots(ctx, q, l.q.openLots, string(tenant), sk.account, sk.asset); err != nil {
						return err
					}
				}
				left := ln.Amount
				for i := range lots {
					if left == 0 {
						break
					}
					n := min(left, lots[i].Remaining)
					if n == 0 {
						continue
					}
					if _, err := q.ExecContext(ctx, l.q.takeLot, n, lots[i].ID); err != nil {
						return dbErr("ledger take lot", err)
					}
					lots[i].Remaining -= n
					left -= n
					delta[sk] -= n
				}
				open[sk] = lots
			}
			if !ln.ExpiresAt.IsZero() {
				dk := balKey{ln.Destination, ln.Asset}
				id, err := l.d.insertID(ctx, q, l.q.insertLot, string(tenant), ln.Destination, ln.Asset, ln.Amount, ln.Amount, l.d.timeArg(ln.ExpiresAt), row.ID)
				if err != nil {
					return dbErr("ledger open lot", err)
				}
				delta[dk] += ln.Amount
				if lots, ok := open[dk]; ok {
					// keep the loaded list in expiry order for later lines
					lot := ledger.LotRow{ID: id, Remaining: ln.Amount, ExpiresAt: ln.ExpiresAt.UTC().Truncate(time.Microsecond)}
					i, _ := slices.BinarySearchFunc(lots, lot, func(a, b ledger.LotRow) int {
						if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
							return c
						}
						return int(a.ID - b.ID)
					})
					open[dk] = slices.Insert(lots, i, lot)
				}
			}
		}
	}
	for k, n := range delta {
		if n == 0 {
			continue
		}
		if _, err := q.ExecContext(ctx, l.q.addLots, n, string(tenant), k.account, k.asset); err != nil {
			return dbErr("ledger lots", err)
		}
	}
	return nil
}

func (l *ledgerStore) queryLots(ctx context.Context, q querier, query string, args ...any) ([]ledger.LotRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("ledger lots", err)
	}
	defer rows.Close()
	var out []ledger.LotRow
	for rows.Next() {
		var r ledger.LotRow
		var exp dbTime
		if err := rows.Scan(&r.ID, &r.Account, &r.Asset, &r.Amount, &r.Remaining, &exp, &r.TxID); err != nil {
			return nil, wrap("ledger lots", err)
		}
		r.ExpiresAt = exp.Time
		out = append(out, r)
	}
	return out, wrap("ledger lots", rows.Err())
}

func (l *ledgerStore) readTx(ctx context.Context, q querier, query string, tenant storage.TenantID, arg string) (ledger.TxRow, error) {
	var r ledger.TxRow
	var kind int
	var at dbTime
	var lines string
	var meta sql.NullString
	err := q.QueryRowContext(ctx, query, string(tenant), arg).Scan(&r.ID, &r.Key, &r.Fingerprint, &kind, &at, &lines, &meta, &r.Reverses, &r.Hold)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: %s", ledger.ErrTransactionNotFound, arg)
	}
	if err != nil {
		return r, wrap("ledger read transaction", err)
	}
	r.Kind, r.At = ledger.TxKind(kind), at.Time
	if r.Lines, err = decodeLines(lines); err != nil {
		return r, err
	}
	if r.Metadata, err = decodeMeta(meta); err != nil {
		return r, err
	}
	rows, err := q.QueryContext(ctx, l.q.reversedOf, string(tenant), r.ID)
	if err != nil {
		return r, wrap("ledger read reversals", err)
	}
	defer rows.Close()
	for rows.Next() {
		var line int
		var n int64
		if err := rows.Scan(&line, &n); err != nil {
			return r, wrap("ledger read reversals", err)
		}
		if line >= 0 && line < len(r.Lines) {
			r.Lines[line].Reversed = n
		}
	}
	return r, wrap("ledger read reversals", rows.Err())
}

// TxByID implements ledger.Store.
func (l *ledgerStore) TxByID(ctx context.Context, tenant storage.TenantID, id string) (ledger.TxRow, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.TxRow{}, err
	}
	return l.readTx(ctx, l.s.reader(ctx), l.q.txByID, tenant, id)
}

// TxByKey implements ledger.Store.
func (l *ledgerStore) TxByKey(ctx context.Context, tenant storage.TenantID, key string) (ledger.TxRow, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.TxRow{}, err
	}
	return l.readTx(ctx, l.s.reader(ctx), l.q.txByKey, tenant, key)
}

// PutAccount implements ledger.Store.
func (l *ledgerStore) PutAccount(ctx context.Context, tenant storage.TenantID, a ledger.Account, event storage.Message) (ledger.Account, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.Account{}, err
	}
	var limAsset string
	var limScale int32
	var limMinor int64
	if a.Overdraft.Kind == ledger.BoundedOverdraft {
		c := a.Overdraft.Limit.Currency()
		limAsset, limScale = c.Code(), c.Scale()
		m, err := a.Overdraft.Limit.Minor()
		if err != nil {
			return ledger.Account{}, fmt.Errorf("%w: %w", ledger.ErrInvalidAmount, err)
		}
		limMinor = m
	}
	var out ledger.Account
	err := l.s.write(ctx, "ledger put account", func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, l.q.putAccount, string(tenant), a.ID, int(a.Overdraft.Kind), limAsset, limScale, limMinor,
			encodeMeta(a.Metadata), l.d.timeArg(a.CreatedAt)); err != nil {
			return dbErr("ledger put account", err)
		}
		if _, err := q.ExecContext(ctx, l.q.moveFloors, int(a.Overdraft.Kind), int(a.Overdraft.Kind), limAsset, limMinor, string(tenant), a.ID); err != nil {
			return dbErr("ledger move floors", err)
		}
		if event.EventID != "" {
			if err := l.s.AppendOutbox(ctx, event); err != nil {
				return err
			}
		}
		var err error
		out, err = l.readAccount(ctx, q, tenant, a.ID)
		return err
	})
	return out, err
}

func (l *ledgerStore) readAccount(ctx context.Context, q querier, tenant storage.TenantID, id string) (ledger.Account, error) {
	a := ledger.Account{ID: id}
	var kind, scale int
	var limAsset string
	var limMinor int64
	var meta sql.NullString
	var created dbTime
	err := q.QueryRowContext(ctx, l.q.getAccount, string(tenant), id).Scan(&kind, &limAsset, &scale, &limMinor, &meta, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("%w: %s", ledger.ErrUnknownAccount, id)
	}
	if err != nil {
		return a, wrap("ledger read account", err)
	}
	a.Overdraft.Kind, a.CreatedAt = ledger.OverdraftKind(kind), created.Time
	if a.Overdraft.Kind == ledger.BoundedOverdraft {
		c, err := money.NewCurrency(limAsset, int32(scale))
		if err != nil {
			return a, fmt.Errorf("sqlstore: account %s overdraft: %w", id, err)
		}
		a.Overdraft.Limit = money.FromMinor(limMinor, c)
	}
	a.Metadata, err = decodeMeta(meta)
	return a, err
}

// Account implements ledger.Store.
func (l *ledgerStore) Account(ctx context.Context, tenant storage.TenantID, id string) (ledger.Account, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.Account{}, err
	}
	return l.readAccount(ctx, l.s.reader(ctx), tenant, id)
}

// Balance implements ledger.Store.
func (l *ledgerStore) Balance(ctx context.Context, tenant storage.TenantID, account, asset string) (ledger.BalanceRow, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.BalanceRow{}, err
	}
	var b ledger.BalanceRow
	var lots int64
	err := l.s.reader(ctx).QueryRowContext(ctx, l.q.getBalance, string(tenant), account, asset).Scan(&b.Posted, &b.Held, &lots)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.BalanceRow{}, nil
	}
	return b, wrap("ledger balance", err)
}

// TotalPosted implements ledger.TotalStore: one SELECT SUM over the
// tenant's balance rows in asset. Errors: storage.ErrInvalidTenant, the
// database's (an overflow of the sum included).
func (l *ledgerStore) TotalPosted(ctx context.Context, tenant storage.TenantID, asset string) (int64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var v int64
	err := l.s.reader(ctx).QueryRowContext(ctx, l.q.totalPosted, string(tenant), asset).Scan(&v)
	return v, wrap("ledger total posted", err)
}

// BalanceAt implements ledger.Store: one indexed lookup of the last entry
// at or before at.
func (l *ledgerStore) BalanceAt(ctx context.Context, tenant storage.TenantID, account, asset string, at time.Time) (int64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var v int64
	err := l.s.reader(ctx).QueryRowContext(ctx, l.q.balanceAt, string(tenant), account, asset, l.d.timeArg(at)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, wrap("ledger balance at", err)
}

// History implements ledger.Store.
func (l *ledgerStore) History(ctx context.Context, tenant storage.TenantID, account, asset string, before int64, limit int) ([]ledger.EntryRow, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	var rows *sql.Rows
	var err error
	if asset == "" {
		rows, err = l.s.reader(ctx).QueryContext(ctx, l.q.history, string(tenant), account, before, limit)
	} else {
		rows, err = l.s.reader(ctx).QueryContext(ctx, l.q.historyAsset, string(tenant), account, asset, before, limit)
	}
	if err != nil {
		return nil, wrap("ledger history", err)
	}
	defer rows.Close()
	var out []ledger.EntryRow
	for rows.Next() {
		e := ledger.EntryRow{Account: account}
		var kind int
		var at dbTime
		if err := rows.Scan(&e.Seq, &e.TxID, &kind, &e.Line, &e.Other, &e.Asset, &e.Amount, &e.Balance, &at); err != nil {
			return nil, wrap("ledger history", err)
		}
		e.Kind, e.At = ledger.TxKind(kind), at.Time
		out = append(out, e)
	}
	return out, wrap("ledger history", rows.Err())
}

func (l *ledgerStore) readHold(ctx context.Context, q querier, query string, tenant storage.TenantID, arg string) (ledger.HoldRow, error) {
	var h ledger.HoldRow
	var status int
	var exp, created, closed dbTime
	var meta sql.NullString
	err := q.QueryRowContext(ctx, query, string(tenant), arg).Scan(&h.ID, &h.Key, &h.Fingerprint, &h.Account, &h.Destination, &h.Asset,
		&h.Amount, &h.Captured, &status, &exp, &meta, &created, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return h, fmt.Errorf("%w: %s", ledger.ErrHoldNotFound, arg)
	}
	if err != nil {
		return h, wrap("ledger read hold", err)
	}
	h.Status, h.ExpiresAt, h.CreatedAt, h.ClosedAt = ledger.HoldStatus(status), exp.Time, created.Time, closed.Time
	h.Metadata, err = decodeMeta(meta)
	return h, err
}

// PlaceHold implements ledger.Store.
func (l *ledgerStore) PlaceHold(ctx context.Context, tenant storage.TenantID, h ledger.HoldRow, event storage.Message) (ledger.HoldRow, bool, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.HoldRow{}, false, err
	}
	var out ledger.HoldRow
	var replayed bool
	err := l.s.write(ctx, "ledger place hold", func(ctx context.Context, q querier) error {
		d := l.d
		res, err := q.ExecContext(ctx, l.q.claimHold, string(tenant), h.ID, h.Key, h.Fingerprint, h.Account, h.Destination, h.Asset,
			h.Amount, int64(0), int(ledger.HoldOpen), d.nullTime(h.ExpiresAt), encodeMeta(h.Metadata), d.timeArg(h.CreatedAt))
		if err != nil {
			return dbErr("ledger claim hold", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr("ledger claim hold", err)
		} else if n == 0 {
			out, err = l.readHold(ctx, q, l.q.holdByKey, tenant, h.Key)
			replayed = true
			return err
		}
		if _, err := l.readAccount(ctx, q, tenant, h.Account); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, l.ensureBalances(1), h.Account, h.Asset, string(tenant)); err != nil {
			return dbErr("ledger balances", err)
		}
		res, err = q.ExecContext(ctx, l.q.reserve, h.Amount, string(tenant), h.Account, h.Asset, h.Amount)
		if err != nil {
			return dbErr("ledger reserve", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr("ledger reserve", err)
		} else if n == 0 {
			return fmt.Errorf("%w: %s in %s", ledger.ErrInsufficientFunds, h.Account, h.Asset)
		}
		if event.EventID != "" {
			if err := l.s.AppendOutbox(ctx, event); err != nil {
				return err
			}
		}
		out = h
		out.CreatedAt = h.CreatedAt.UTC().Truncate(time.Microsecond)
		out.ExpiresAt = h.ExpiresAt.UTC().Truncate(time.Microsecond)
		if h.ExpiresAt.IsZero() {
			out.ExpiresAt = time.Time{}
		}
		return nil
	})
	return out, replayed, err
}

// Hold implements ledger.Store.
func (l *ledgerStore) Hold(ctx context.Context, tenant storage.TenantID, id string) (ledger.HoldRow, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.HoldRow{}, err
	}
	return l.readHold(ctx, l.s.reader(ctx), l.q.getHold, tenant, id)
}

// ReleaseHold implements ledger.Store. It closes the hold with a
// conditional update that names the captured amount it read, so a capture
// committed in between makes it read again rather than release too much.
func (l *ledgerStore) ReleaseHold(ctx context.Context, tenant storage.TenantID, id string, status ledger.HoldStatus, at time.Time, event storage.Message) (ledger.HoldRow, bool, error) {
	if err := tenant.Validate(); err != nil {
		return ledger.HoldRow{}, false, err
	}
	if status != ledger.HoldVoided && status != ledger.HoldExpired {
		return ledger.HoldRow{}, false, fmt.Errorf("%w: release with status %s", storage.ErrInvalidArgument, status)
	}
	var out ledger.HoldRow
	var released bool
	err := l.s.write(ctx, "ledger release hold", func(ctx context.Context, q querier) error {
		for range 8 {
			h, err := l.readHold(ctx, q, l.q.getHold, tenant, id)
			if err != nil {
				return err
			}
			if h.Status != ledger.HoldOpen {
				out = h
				return nil
			}
			res, err := q.ExecContext(ctx, l.q.closeHold, int(status), l.d.timeArg(at), string(tenant), id, int(ledger.HoldOpen), h.Captured)
			if err != nil {
				return dbErr("ledger close hold", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return dbErr("ledger close hold", err)
			} else if n == 0 {
				continue // captured or closed meanwhile: read again
			}
			if _, err := q.ExecContext(ctx, l.q.releaseHeld, h.Amount-h.Captured, string(tenant), h.Account, h.Asset); err != nil {
				return dbErr("ledger release held", err)
			}
			if event.EventID != "" {
				if err := l.s.AppendOutbox(ctx, event); err != nil {
					return err
				}
			}
			h.Status, h.ClosedAt = status, at.UTC().Truncate(time.Microsecond)
			out, released = h, true
			return nil
		}
		return fmt.Errorf("%w: hold %s keeps changing", storage.ErrConflict, id)
	})
	return out, released, err
}

// ExpiredHolds implements ledger.Store.
func (l *ledgerStore) ExpiredHolds(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]ledger.HoldRow, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	return l.holds(ctx, "ledger expired holds", l.q.expiredHolds, string(tenant), int(ledger.HoldOpen), l.d.timeArg(now), limit)
}

// OpenHolds implements ledger.Store.
func (l *ledgerStore) OpenHolds(ctx context.Context, tenant storage.TenantID, destination, afterID string, limit int) ([]ledger.HoldRow, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	return l.holds(ctx, "ledger open holds", l.q.openHolds, string(tenant), int(ledger.HoldOpen), destination, afterID, limit)
}

// holds reads the holds a query of holdCols returns.
func (l *ledgerStore) holds(ctx context.Context, what, query string, args ...any) ([]ledger.HoldRow, error) {
	rows, err := l.s.reader(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	var out []ledger.HoldRow
	for rows.Next() {
		var h ledger.HoldRow
		var status int
		var exp, created, closed dbTime
		var meta sql.NullString
		if err := rows.Scan(&h.ID, &h.Key, &h.Fingerprint, &h.Account, &h.Destination, &h.Asset,
			&h.Amount, &h.Captured, &status, &exp, &meta, &created, &closed); err != nil {
			return nil, wrap(what, err)
		}
		h.Status, h.ExpiresAt, h.CreatedAt, h.ClosedAt = ledger.HoldStatus(status), exp.Time, created.Time, closed.Time
		if h.Metadata, err = decodeMeta(meta); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, wrap(what, rows.Err())
}

// ExpiredLots implements ledger.Store.
func (l *ledgerStore) ExpiredLots(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]ledger.LotRow, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	return l.queryLots(ctx, l.s.reader(ctx), l.q.expiredLots, string(tenant), l.d.timeArg(now), limit)
}

// ExpiringBy implements ledger.Store.
func (l *ledgerStore) ExpiringBy(ctx context.Context, tenant storage.TenantID, account, asset string, date time.Time) (int64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var v int64
	err := l.s.reader(ctx).QueryRowContext(ctx, l.q.lotsUntil, string(tenant), account, asset, l.d.timeArg(date)).Scan(&v)
	return v, wrap("ledger expiring", err)
}

func hasExpiry(lines []ledger.LineRow) bool {
	for _, ln := range lines {
		if !ln.ExpiresAt.IsZero() {
			return true
		}
	}
	return false
}

// netMoves returns the net posted delta per balance, in ascending
// (account, asset) order, and whether each is debited.
func netMoves(lines []ledger.LineRow) []balMove {
	var moves []balMove
	idx := func(k balKey) int {
		for i := range moves {
			if moves[i].key == k {
				return i
			}
		}
		moves = append(moves, balMove{key: k})
		return len(moves) - 1
	}
	for _, ln := range lines {
		s := idx(balKey{ln.Source, ln.Asset})
		moves[s].posted -= ln.Amount
		moves[s].debited = true
		moves[idx(balKey{ln.Destination, ln.Asset})].posted += ln.Amount
	}
	slices.SortFunc(moves, func(a, b balMove) int {
		if c := strings.Compare(a.key.account, b.key.account); c != 0 {
			return c
		}
		return strings.Compare(a.key.asset, b.key.asset)
	})
	return moves
}

// commitFast commits a plain transfer with the dialect's one-statement
// transfer.
func (l *ledgerStore) commitFast(ctx context.Context, q querier, tenant storage.TenantID, row *ledger.TxRow) (ledger.Committed, error) {
	moves := netMoves(row.Lines)
	var accIDs []string
	var accKinds []int16
	for _, m := range moves {
		if len(accIDs) == 0 || accIDs[len(accIDs)-1] != m.key.account {
			accIDs = append(accIDs, m.key.account)
			accKinds = append(accKinds, int16(ledger.DefaultOverdraft(m.key.account).Kind))
		}
	}
	n := len(moves)
	bAcc, bAsset := make([]string, n), make([]string, n)
	bDelta, bFloor, bNoFloor := make([]int64, n), make([]int64, n), make([]bool, n)
	net := make(map[balKey]int64, n)
	for i, m := range moves {
		bAcc[i], bAsset[i], bDelta[i] = m.key.account, m.key.asset, m.posted
		f, ok := ledger.DefaultOverdraft(m.key.account).Floor(m.key.asset)
		bFloor[i], bNoFloor[i] = f, !ok
		net[m.key] = m.posted
	}
	k := 2 * len(row.Lines)
	eAcc, eAsset, eOther := make([]string, 0, k), make([]string, 0, k), make([]string, 0, k)
	eLine := make([]int32, 0, k)
	eAmt, eCum, eNet := make([]int64, 0, k), make([]int64, 0, k), make([]int64, 0, k)
	cum := make(map[balKey]int64, n)
	for li, ln := range row.Lines {
		sk, dk := balKey{ln.Source, ln.Asset}, balKey{ln.Destination, ln.Asset}
		cum[sk] -= ln.Amount
		cum[dk] += ln.Amount
		eAcc = append(eAcc, ln.Source, ln.Destination)
		eAsset = append(eAsset, ln.Asset, ln.Asset)
		eLine = append(eLine, int32(li), int32(li))
		eOther = append(eOther, ln.Destination, ln.Source)
		eAmt = append(eAmt, -ln.Amount, ln.Amount)
		eCum = append(eCum, cum[sk], cum[dk])
		eNet = append(eNet, net[sk], net[dk])
	}
	var ev storage.Message
	if row.Event != nil {
		ev = *row.Event
		if err := ev.Validate(); err != nil {
			return ledger.Committed{}, err
		}
	}
	var payload sql.NullString
	if ev.Payload != nil {
		payload = sql.NullString{String: string(ev.Payload), Valid: true}
	}
	var claimed, moved, born, lotted int64
	err := q.QueryRowContext(ctx, l.q.transfer,
		string(tenant), row.ID, row.Key, row.Fingerprint, int(row.Kind), l.d.timeArg(row.At), encodeLines(row.Lines), encodeMeta(row.Metadata),
		accIDs, accKinds,
		bAcc, bAsset, bDelta, bFloor, bNoFloor,
		eAcc, eAsset, eLine, eOther, eAmt, eCum, eNet,
		ev.EventID, ev.Topic, ev.AggregateType, ev.AggregateID, ev.Partition(), payload,
	).Scan(&claimed, &moved, &born, &lotted)
	if err != nil {
		return ledger.Committed{}, dbErr("ledger transfer", err)
	}
	if claimed == 0 {
		prior, err := l.readTx(ctx, q, l.q.txByKey, tenant, row.Key)
		if err != nil {
			return ledger.Committed{}, err
		}
		return ledger.Committed{Row: prior, Replayed: true}, nil
	}
	if moved != int64(n) || born != 0 {
		return ledger.Committed{}, fmt.Errorf("%w: a debited account would go below its floor", ledger.ErrInsufficientFunds)
	}
	if lotted > 0 {
		// The statement counted the balances with open lots but did not
		// return how much they hold: let applyLots load the lots of every
		// debited balance (a bound that no debit in this transaction
		// can use up before its lots are loaded).
		for i := range moves {
			moves[i].lots = math.MaxInt64 / 2
		}
		if err := l.applyLots(ctx, q, tenant, row, moves); err != nil {
			return ledger.Committed{}, err
		}
	}
	stored := *row
	stored.Event = nil
	stored.At = row.At.UTC().Truncate(time.Microsecond)
	return ledger.Committed{Row: stored}, nil
}

// CommitTxDirect implements ledger.DirectStore: on PostgreSQL, with no
// transaction in ctx, a batch of plain transfers (no hold, reversal,
// expiry or named lots) is one autocommit statement (ledgerDirect). It
// declines everything else, and a batch the statement finds needing the
// general path (a replayed key, a debit that meets open lots) or that
// failed on a retryable error, having written nothing.
func (l *ledgerStore) CommitTxDirect(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow, done []ledger.Committed) (bool, error) {
	if len(done) != len(txs) {
		// Refused before anything is written, as the memory adapter does.
		return false, fmt.Errorf("%w: %d ledger transactions, room for %d outcomes", storage.ErrInvalidArgument, len(txs), len(done))
	}
	out, ok, err := l.commitTxDirect(ctx, tenant, txs)
	if ok {
		if len(out) != len(done) {
			return false, fmt.Errorf("sqlstore: committed %d of %d ledger transactions", len(out), len(done))
		}
		copy(done, out)
	}
	return ok, err
}

// commitTxDirect is CommitTxDirect returning the outcomes.
func (l *ledgerStore) commitTxDirect(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow) ([]ledger.Committed, bool, error) {
	if l.q.direct == "" || len(txs) == 0 {
		return nil, false, nil
	}
	if _, in := storage.CurrentTx(ctx, l.s); in {
		return nil, false, nil
	}
	if err := tenant.Validate(); err != nil {
		return nil, false, err
	}
	for i := range txs {
		r := &txs[i]
		if r.Hold != "" || r.Reverses != "" || len(r.Lots) > 0 || hasExpiry(r.Lines) || r.Event == nil {
			return nil, false, nil
		}
		if err := r.Event.Validate(); err != nil {
			return nil, false, err
		}
	}
	g := l.s.ledgerGroup
	if g == nil {
		return l.direct(ctx, tenant, txs)
	}
	out, alone, err := g.do(ctx, tenant, txs, func(ctx context.Context, group []*ledgerCall) {
		l.sendGroup(ctx, tenant, group)
	})
	if err != nil {
		return nil, false, err
	}
	if alone {
		return l.direct(ctx, tenant, txs)
	}
	return out.done, out.ok, out.err
}

// ledgerCall is one CommitTxDirect call in a group commit.
type ledgerCall = groupCall[[]ledger.TxRow, directOutcome]

// directOutcome is what CommitTxDirect answers.
type directOutcome struct {
	done []ledger.Committed
	ok   bool
	err  error
}

// sendGroup commits a group of CommitTxDirect calls. One call runs as
// it would alone. Several run as one statement, their rows in the order
// of the calls, which decides exactly as the calls one after another
// would when every one of them commits; if the statement fails for any
// reason (a floor, a replayed key, open lots, a lock timeout), nothing
// was written and every call is sent again by itself.
func (l *ledgerStore) sendGroup(ctx context.Context, tenant storage.TenantID, group []*ledgerCall) {
	if len(group) == 1 {
		c := group[0]
		c.out.done, c.out.ok, c.out.err = l.direct(ctx, tenant, c.in)
		return
	}
	n := 0
	for _, c := range group {
		n += len(c.in)
	}
	rows := make([]ledger.TxRow, 0, n)
	for _, c := range group {
		rows = append(rows, c.in...)
	}
	done, ok, err := l.direct(ctx, tenant, rows)
	if err != nil || !ok {
		for _, c := range group {
			c.alone = true
		}
		return
	}
	for _, c := range group {
		c.out.done, c.out.ok = done[:len(c.in):len(c.in)], true
		done = done[len(c.in):]
	}
}

// direct commits txs, checked by CommitTxDirect, as one statement.
func (l *ledgerStore) direct(ctx context.Context, tenant storage.TenantID, txs []ledger.TxRow) ([]ledger.Committed, bool, error) {
	args := directArgs(tenant, txs, l.s.knownBalances)
	var n int64
	err := l.s.db.QueryRowContext(ctx, l.q.direct, args...).Scan(&n)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, directMarker); i >= 0 {
			what, _, _ := strings.Cut(msg[i+len(directMarker):], `"`) // the text ends the quoted value
			if bal, ok := strings.CutPrefix(what, "short:"); ok {
				return nil, false, fmt.Errorf("%w: %s would go below its floor", ledger.ErrInsufficientFunds, bal)
			}
			// lots (or a count that the unique key and event-ID indexes
			// make unreachable: replay, outbox): the general path
			return nil, false, nil
		}
		err = wrap("ledger transfer", err)
		if storage.IsRetryable(err) || errors.Is(err, storage.ErrDuplicate) {
			// a key used before (a replay, or a race with another
			// writer of the key) or a passing failure: the general path
			return nil, false, nil
		}
		return nil, false, err
	}
	out := make([]ledger.Committed, len(txs))
	for i := range txs {
		stored := txs[i]
		stored.Event = nil
		stored.At = stored.At.UTC().Truncate(time.Microsecond)
		out[i] = ledger.Committed{Row: stored}
		for _, ln := range stored.Lines {
			l.s.knownBalances.add(tenant, balKey{ln.Source, ln.Asset})
			l.s.knownBalances.add(tenant, balKey{ln.Destination, ln.Asset})
		}
	}
	return out, true, nil
}

// knownBalances remembers balance rows that exist. Rows are never
// deleted, so a row once seen stays; the set is bounded and starts over
// when full, which costs a lookup, never a wrong answer.
type knownBalances struct {
	mu  sync.Mutex
	max int
	m   map[knownKey]struct{}
}

type knownKey struct {
	tenant storage.TenantID
	bal    balKey
}

func newKnownBalances(max int) *knownBalances {
	return &knownBalances{max: max, m: make(map[knownKey]struct{})}
}

func (k *knownBalances) has(tenant storage.TenantID, b balKey) bool {
	if k == nil {
		return false
	}
	k.mu.Lock()
	_, ok := k.m[knownKey{tenant, b}]
	k.mu.Unlock()
	return ok
}

func (k *knownBalances) add(tenant storage.TenantID, b balKey) {
	if k == nil {
		return
	}
	k.mu.Lock()
	if len(k.m) >= k.max {
		clear(k.m)
	}
	k.m[knownKey{tenant, b}] = struct{}{}
	k.mu.Unlock()
}

// directArgs lays a batch out as the arrays of ledgerDirect.
func directArgs(tenant storage.TenantID, txs []ledger.TxRow, known *knownBalances) []any {
	nt := len(txs)
	tID, tKey, tFP, tLines := make([]string, nt), make([]string, nt), make([]string, nt), make([]string, nt)
	tMeta := make([]*string, nt)
	tKind := make([]int16, nt)
	tAt := make([]time.Time, nt)
	nl := 0
	for i := range txs {
		r := &txs[i]
		tID[i], tKey[i], tFP[i], tKind[i] = r.ID, r.Key, r.Fingerprint, int16(r.Kind)
		tAt[i] = r.At.UTC().Truncate(time.Microsecond)
		tLines[i] = encodeLines(r.Lines)
		if m := encodeMeta(r.Metadata); m.Valid {
			tMeta[i] = &m.String
		}
		nl += len(r.Lines)
	}
	// Balances: the batch's net; whether a line debits them (their open
	// lots would be consumed: the general path); and, for those a
	// transfer lowers, the lowest running sum after such a transfer.
	type bal struct {
		cum, low       int64
		debit, lowered bool
	}
	bals := make(map[balKey]*bal, 2*nl)
	var order []balKey
	get := func(k balKey) *bal {
		b := bals[k]
		if b == nil {
			b = &bal{}
			bals[k] = b
			order = append(order, k)
		}
		return b
	}
	eAcc, eAsset, eTx, eOther := make([]string, 0, 2*nl), make([]string, 0, 2*nl), make([]string, 0, 2*nl), make([]string, 0, 2*nl)
	eKind, eLine := make([]int16, 0, 2*nl), make([]int32, 0, 2*nl)
	eAmt, eCum := make([]int64, 0, 2*nl), make([]int64, 0, 2*nl)
	eAt := make([]time.Time, 0, 2*nl)
	var eKeys []balKey
	for i := range txs {
		r := &txs[i]
		moves := netMoves(r.Lines)
		for li, ln := range r.Lines {
			sk, dk := balKey{ln.Source, ln.Asset}, balKey{ln.Destination, ln.Asset}
			s, d := get(sk), get(dk)
			s.cum -= ln.Amount
			d.cum += ln.Amount
			eAcc = append(eAcc, ln.Source, ln.Destination)
			eAsset = append(eAsset, ln.Asset, ln.Asset)
			eTx = append(eTx, r.ID, r.ID)
			eKind = append(eKind, int16(r.Kind), int16(r.Kind))
			eLine = append(eLine, int32(li), int32(li))
			eOther = append(eOther, ln.Destination, ln.Source)
			eAmt = append(eAmt, -ln.Amount, ln.Amount)
			eCum = append(eCum, s.cum, d.cum)
			eAt = append(eAt, tAt[i], tAt[i])
			eKeys = append(eKeys, sk, dk)
		}
		for _, m := range moves {
			b := bals[m.key]
			// debited and credited alike in one transfer, a balance still
			// spends its lots on the debit
			b.debit = b.debit || m.debited
			if m.posted < 0 {
				if !b.lowered || b.cum < b.low {
					b.low = b.cum
				}
				b.lowered = true
			}
		}
	}
	eNet := make([]int64, len(eKeys))
	for i, k := range eKeys {
		eNet[i] = bals[k].cum
	}
	slices.SortFunc(order, func(a, b balKey) int {
		if c := strings.Compare(a.account, b.account); c != 0 {
			return c
		}
		return strings.Compare(a.asset, b.asset)
	})
	nb := len(order)
	bAcc, bAsset := make([]string, nb), make([]string, nb)
	bDelta, bFloor, bLow := make([]int64, nb), make([]int64, nb), make([]int64, nb)
	bNoFloor, bDebit, bLowered, bKnown := make([]bool, nb), make([]bool, nb), make([]bool, nb), make([]bool, nb)
	var accIDs []string
	var accKinds []int16
	for i, k := range order {
		b := bals[k]
		bAcc[i], bAsset[i], bDelta[i], bLow[i], bDebit[i], bLowered[i] = k.account, k.asset, b.cum, b.low, b.debit, b.lowered
		pol := ledger.DefaultOverdraft(k.account)
		f, ok := pol.Floor(k.asset)
		bFloor[i], bNoFloor[i] = f, !ok
		// A balance row known to exist has its floor already and an
		// account behind it: skip both lookups.
		if bKnown[i] = known.has(tenant, k); bKnown[i] {
			continue
		}
		if len(accIDs) == 0 || accIDs[len(accIDs)-1] != k.account {
			accIDs = append(accIDs, k.account)
			accKinds = append(accKinds, int16(pol.Kind))
		}
	}
	oID, oTopic, oType, oAgg, oPayload := make([]string, nt), make([]string, nt), make([]string, nt), make([]string, nt), make([]string, nt)
	oPart := make([]int32, nt)
	for i := range txs {
		ev := txs[i].Event
		oID[i], oTopic[i], oType[i], oAgg[i], oPart[i], oPayload[i] = ev.EventID, ev.Topic, ev.AggregateType, ev.AggregateID, int32(ev.Partition()), string(ev.Payload)
	}
	return []any{string(tenant), tAt[0],
		tID, tKey, tFP, tKind, tLines, tMeta,
		accIDs, accKinds,
		bAcc, bAsset, bDelta, bFloor, bNoFloor, bLow, bDebit,
		eAcc, eAsset, eTx, eKind, eLine, eOther, eAmt, eCum, eNet,
		oID, oTopic, oType, oAgg, oPart, oPayload,
		int64(nt), tAt, eAt, bKnown, bLowered}
}
