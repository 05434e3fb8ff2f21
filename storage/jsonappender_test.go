package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

// point writes its own JSON, byte for byte what encoding/json writes, and
// counts how often it was asked.
type point struct {
	X, Y  int
	calls *int `json:"-"`
}

func (p *point) AppendJSON(b []byte) ([]byte, error) {
	*p.calls++
	b = append(b, `{"X":`...)
	b = strconv.AppendInt(b, int64(p.X), 10)
	b = append(b, `,"Y":`...)
	b = strconv.AppendInt(b, int64(p.Y), 10)
	return append(b, '}'), nil
}

// memIdem is a one-transaction IdempotencyStore and Transactor.
type memIdem struct {
	recs map[string]*storage.IdempotencyRecord
}

func (m *memIdem) InTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

func (m *memIdem) ClaimIdempotencyKey(_ context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	if old, ok := m.recs[rec.Key]; ok {
		cp := *old
		return &cp, nil
	}
	m.recs[rec.Key] = &rec
	return nil, nil
}

func (m *memIdem) CompleteIdempotencyKey(_ context.Context, _ storage.TenantID, _, key string, result []byte) error {
	m.recs[key].Result = append([]byte(nil), result...)
	return nil
}

func TestJSONAppenderFingerprintEqualsEncodingJSON(t *testing.T) {
	calls := 0
	p := &point{X: 3, Y: -4, calls: &calls}
	want, err := json.Marshal(p)
	require.NoError(t, err)
	sum := sha256.Sum256(want)
	got, err := storage.Fingerprint(p)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(sum[:]), got)
	assert.Equal(t, 1, calls, "the fingerprint went through AppendJSON")
}

func TestIdempotentStoresAppendJSONResult(t *testing.T) {
	ctx := context.Background()
	m := &memIdem{recs: map[string]*storage.IdempotencyRecord{}}
	calls := 0
	run := func() (point, error) {
		return storage.Idempotent(ctx, m, m, storage.SystemClock{}, "t", "op", "k", 1, func(context.Context) (point, error) {
			return point{X: 1, Y: 2, calls: &calls}, nil
		})
	}
	first, err := run()
	require.NoError(t, err)
	assert.Equal(t, 1, calls, "the result went through AppendJSON")
	assert.JSONEq(t, `{"X":1,"Y":2}`, string(m.recs["k"].Result))
	again, err := run()
	require.NoError(t, err)
	assert.Equal(t, first.X, again.X)
	assert.Equal(t, first.Y, again.Y)
}
