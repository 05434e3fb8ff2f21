package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/rewardkit/rewardkit/storage"
)

// idemState keeps the idempotency records. A record is kept for good (a
// replay may come at any time), so it is made small and pointer free: a
// row in a slab, its key (and a fingerprint of another form than
// storage.Fingerprint's) in a text arena, its tenant and operation as
// interned names, and its result in a parallel slab of byte slices, the
// caller's own (see CompleteIdempotencyKey). The index is keyed by the
// hash of (tenant, operation, key), so that its map holds no pointers;
// rows that share a hash are chained through idemRow.sameHash, newest
// first, and every hit is checked against the row.
type idemState struct {
	rows    slab[idemRow]
	results slab[[]byte] // results.at(i) is the result of rows.at(i); nil until completed
	text    textArena
	ops     names
	seed    maphash.Seed
	heads   map[uint32]int32
}

// idemRow is one idempotency record.
type idemRow struct {
	text       textRef // the key, then (unless fpLen < 0) the fingerprint
	keyLen     int32
	fpLen      int32 // -1: the fingerprint is the lower-case hex of fp
	tenant, op int32 // in coreState.tenants and idemState.ops
	sameHash   int32 // the next older row with the same hash; -1: none
	created    memTime
	fp         [sha256.Size]byte
}

// idemHashKey is what the index hashes: interned names and the key.
type idemHashKey struct {
	tenant, op int32
	key        string
}

func (c *coreState) idemHash(tenant, op int32, key string) uint32 {
	return uint32(maphash.Comparable(c.idem.seed, idemHashKey{tenant, op, key}))
}

// findIdem returns the index of the record of (tenant, operation, key),
// or -1. Names never interned have no records.
func (c *coreState) findIdem(tenant storage.TenantID, operation, key string) int32 {
	t, ok := c.tenants.lookup(string(tenant))
	if !ok {
		return -1
	}
	op, ok := c.idem.ops.lookup(operation)
	if !ok {
		return -1
	}
	i, _, _ := c.idemChain(t, op, key)
	return i
}

// idemChain returns the index of the record of the interned (tenant, op)
// and key, or -1, with the hash of the three and the head of its chain
// (-1: none).
func (c *coreState) idemChain(tenant, op int32, key string) (i int32, h uint32, head int32) {
	h = c.idemHash(tenant, op, key)
	head, ok := c.idem.heads[h]
	if !ok {
		return -1, h, -1
	}
	for i := head; i >= 0; {
		r := c.idem.rows.at(i)
		if r.tenant == tenant && r.op == op && string(c.idem.text.bytes(r.text, 0, r.keyLen)) == key {
			return i, h, head
		}
		i = r.sameHash
	}
	return -1, h, head
}

// decodeFingerprint decodes fp into dst when fp has the form
// storage.Fingerprint makes, 64 lower-case hex digits, and reports
// whether it had.
func decodeFingerprint(dst *[sha256.Size]byte, fp string) bool {
	if len(fp) != 2*sha256.Size {
		return false
	}
	for i := range dst {
		hi, ok1 := lowerHex(fp[2*i])
		lo, ok2 := lowerHex(fp[2*i+1])
		if !ok1 || !ok2 {
			*dst = [sha256.Size]byte{}
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// record returns row i as a record, with copies of what it keeps.
func (c *coreState) record(i int32) *storage.IdempotencyRecord {
	r := c.idem.rows.at(i)
	rec := &storage.IdempotencyRecord{
		Tenant:    storage.TenantID(c.tenants.all[r.tenant]),
		Operation: c.idem.ops.all[r.op],
		CreatedAt: c.locs.unpack(r.created),
		Result:    slices.Clone(*c.idem.results.at(i)),
	}
	if r.fpLen < 0 {
		var x [2 * sha256.Size]byte
		hex.Encode(x[:], r.fp[:])
		rec.Fingerprint = string(x[:])
		rec.Key = string(c.idem.text.bytes(r.text, 0, r.keyLen))
	} else {
		s := string(c.idem.text.bytes(r.text, 0, r.keyLen+r.fpLen)) // one copy, two strings
		rec.Key, rec.Fingerprint = s[:r.keyLen], s[r.keyLen:]
	}
	return rec
}

// popIdem removes the newest record (undo runs last step first).
func (c *coreState) popIdem() {
	n := int32(c.idem.rows.len() - 1)
	r := c.idem.rows.at(n)
	h := c.idemHash(r.tenant, r.op, string(c.idem.text.bytes(r.text, 0, r.keyLen)))
	if r.sameHash >= 0 {
		c.idem.heads[h] = r.sameHash
	} else {
		delete(c.idem.heads, h)
	}
	c.idem.text.truncateTo(r.text)
	*r = idemRow{}
	*c.idem.results.at(n) = nil
	c.idem.rows.truncate(int(n))
	c.idem.results.truncate(int(n))
}

// ClaimIdempotencyKey implements storage.IdempotencyStore.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	if err := rec.Tenant.Validate(); err != nil {
		return nil, err
	}
	var prior *storage.IdempotencyRecord
	err := s.do(ctx, func(t *txn) error {
		c := &s.core
		// Names interned here stay on rollback: they name nothing by
		// themselves.
		tenant, op := c.tenants.of(string(rec.Tenant)), c.idem.ops.of(rec.Operation)
		i, h, head := c.idemChain(tenant, op, rec.Key)
		if i >= 0 {
			prior = c.record(i)
			return nil
		}
		row := idemRow{keyLen: int32(len(rec.Key)), tenant: tenant, op: op, sameHash: head, created: c.locs.pack(rec.CreatedAt)}
		n := len(rec.Key)
		if decodeFingerprint(&row.fp, rec.Fingerprint) {
			row.fpLen = -1
		} else {
			row.fpLen = int32(len(rec.Fingerprint))
			n += len(rec.Fingerprint)
		}
		var b []byte
		row.text, b = c.idem.text.alloc(n)
		b = append(b, rec.Key...)
		if row.fpLen >= 0 {
			_ = append(b, rec.Fingerprint...)
		}
		i = c.idem.rows.push(row)
		c.idem.results.push(nil)
		c.idem.heads[h] = i
		t.onUndoStep(undoEntry{kind: undoIdemClaim})
		return nil
	})
	return prior, err
}

// CompleteIdempotencyKey implements storage.IdempotencyStore. The store
// keeps result as it is, without a copy: the port lets it (the caller
// hands the result over).
func (s *Store) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	return s.do(ctx, func(t *txn) error {
		i := s.core.findIdem(tenant, operation, key)
		if i < 0 {
			return fmt.Errorf("%w: idempotency key %s/%s", storage.ErrNotFound, operation, key)
		}
		res := s.core.idem.results.at(i)
		old := *res
		*res = result
		if old == nil {
			t.onUndoStep(undoEntry{kind: undoIdemReset, row: i})
		} else {
			t.onUndo(func() { *s.core.idem.results.at(i) = old })
		}
		return nil
	})
}
