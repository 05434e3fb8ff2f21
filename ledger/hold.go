package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// HoldRequest reserves Amount on Account for a later capture to
// Destination (a coupon lock, a gift-card authorisation). The reserved
// amount leaves the available balance at once; the posted balance moves
// only when it is captured.
type HoldRequest struct {
	Key         string // idempotency key of the hold
	Account     string // must exist
	Destination string // where captures go; created on first capture
	Amount      money.Amount
	ExpiresAt   time.Time // zero: never; after it the hold can only be released
	Metadata    map[string]string
}

// CaptureRequest moves (part of) a hold to its destination.
type CaptureRequest struct {
	Key      string       // idempotency key of the capture transaction
	Amount   money.Amount // zero value: everything left of the hold
	Metadata map[string]string
}

// Hold is a reservation on an account.
type Hold struct {
	ID          string
	Key         string
	Account     string
	Destination string
	Amount      money.Amount
	Captured    money.Amount
	Status      HoldStatus
	ExpiresAt   time.Time
	Metadata    map[string]string
	CreatedAt   time.Time
	ClosedAt    time.Time
}

// Remaining returns what is still held: Amount minus Captured while the
// hold is open, zero once it is closed.
func (h *Hold) Remaining() money.Amount {
	if h.Status != HoldOpen {
		return money.Zero(h.Amount.Currency())
	}
	r, _ := h.Amount.Sub(h.Captured)
	return r
}

func (l *Ledger) hold(r HoldRow) (*Hold, error) {
	c, err := l.asset(r.Asset)
	if err != nil {
		return nil, fmt.Errorf("%w: stored asset %s", ErrUnknownAsset, r.Asset)
	}
	return &Hold{ID: r.ID, Key: r.Key, Account: r.Account, Destination: r.Destination,
		Amount: money.FromMinor(r.Amount, c), Captured: money.FromMinor(r.Captured, c), Status: r.Status,
		ExpiresAt: r.ExpiresAt, Metadata: r.Metadata, CreatedAt: r.CreatedAt, ClosedAt: r.ClosedAt}, nil
}

func holdFingerprint(r *HoldRow) string {
	var b []byte
	b = appendField(b, r.Account)
	b = appendField(b, r.Destination)
	b = appendField(b, r.Asset)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Amount))
	if !r.ExpiresAt.IsZero() {
		b = binary.BigEndian.AppendUint64(b, uint64(r.ExpiresAt.UnixNano()))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Hold reserves an amount on an existing account, as long as its
// available balance stays at or above its floor, and appends
// "ledger.hold.placed". The same key with the same request returns the
// first hold.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest, ErrInvalidAmount,
// ErrUnknownAsset for bad input; ErrUnknownAccount; ErrInsufficientFunds;
// ErrKeyReused; the Store's errors.
func (l *Ledger) Hold(ctx context.Context, tenant storage.TenantID, req HoldRequest) (*Hold, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := validKey(req.Key); err != nil {
		return nil, err
	}
	if err := ValidateAccountID(req.Account); err != nil {
		return nil, fmt.Errorf("hold account: %w", err)
	}
	if err := ValidateAccountID(req.Destination); err != nil {
		return nil, fmt.Errorf("hold destination: %w", err)
	}
	if req.Account == req.Destination {
		return nil, fmt.Errorf("%w: hold from %q to itself", ErrInvalidRequest, req.Account)
	}
	m, err := minorOf(req.Amount, l.asset)
	if err != nil {
		return nil, err
	}
	now := l.clock.Now()
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(now) {
		return nil, fmt.Errorf("%w: hold expires at %s, not after now", ErrInvalidRequest, req.ExpiresAt)
	}
	row := HoldRow{ID: l.newID(), Key: req.Key, Account: req.Account, Destination: req.Destination,
		Asset: req.Amount.Currency().Code(), Amount: m, Status: HoldOpen, Metadata: cloneMeta(req.Metadata), CreatedAt: now}
	if !req.ExpiresAt.IsZero() {
		row.ExpiresAt = req.ExpiresAt.UTC()
	}
	row.Fingerprint = holdFingerprint(&row)
	ev := holdEvent(tenant, TopicHoldPlaced, &row, now)
	var out HoldRow
	err = l.tx.InTx(ctx, func(ctx context.Context) error {
		got, replayed, err := l.store.PlaceHold(ctx, tenant, row, ev)
		if err != nil {
			return err
		}
		if replayed && got.Fingerprint != row.Fingerprint {
			return fmt.Errorf("%w: %w: hold key %q", ErrKeyReused, storage.ErrIdempotencyMismatch, row.Key)
		}
		out = got
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l.hold(out)
}

// HoldByID returns a hold. Errors: storage.ErrInvalidTenant,
// ErrHoldNotFound, the Store's errors.
func (l *Ledger) HoldByID(ctx context.Context, tenant storage.TenantID, id string) (*Hold, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	r, err := l.store.Hold(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return l.hold(r)
}

// OpenHolds returns a page of the open holds whose destination is
// destination, by ID: up to limit (1..1000) with IDs above after (""
// from the first). Reconciliation finds with it the holds no order names.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest (bad account ID or
// limit); the Store's errors.
func (l *Ledger) OpenHolds(ctx context.Context, tenant storage.TenantID, destination, after string, limit int) ([]*Hold, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateAccountID(destination); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("%w: limit %d outside 1..1000", ErrInvalidRequest, limit)
	}
	rows, err := l.store.OpenHolds(ctx, tenant, destination, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]*Hold, len(rows))
	for i, r := range rows {
		if out[i], err = l.hold(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Capture moves part or all of what an open, unexpired hold reserves
// from its account to its destination, as a transaction of kind
// KindCapture. Several partial captures may follow each other up to the
// hold's amount; the hold closes when nothing is left. The same key
// returns the first capture.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest, ErrInvalidAmount,
// ErrUnknownAsset for bad input; ErrHoldNotFound; ErrHoldClosed;
// ErrHoldExpired; ErrOverCapture; ErrKeyReused; the Store's errors.
func (l *Ledger) Capture(ctx context.Context, tenant storage.TenantID, holdID string, req CaptureRequest) (*Transaction, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := validKey(req.Key); err != nil {
		return nil, err
	}
	if holdID == "" {
		return nil, fmt.Errorf("%w: no hold ID", ErrInvalidRequest)
	}
	var want int64 // 0: the rest
	if !req.Amount.Currency().IsZero() {
		m, err := minorOf(req.Amount, l.asset)
		if err != nil {
			return nil, err
		}
		want = m
	}
	now := l.clock.Now()
	var out Committed
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		h, err := l.store.Hold(ctx, tenant, holdID)
		if err != nil {
			return err
		}
		if want != 0 && req.Amount.Currency().Code() != h.Asset {
			return fmt.Errorf("%w: capture in %s of a hold in %s", ErrInvalidAmount, req.Amount.Currency().Code(), h.Asset)
		}
		amount := want
		if amount == 0 {
			amount = h.Amount - h.Captured
		}
		row := TxRow{ID: l.newID(), Key: req.Key, Kind: KindCapture, At: now, Hold: holdID,
			Lines:    []LineRow{{Source: h.Account, Destination: h.Destination, Asset: h.Asset, Amount: amount}},
			Metadata: cloneMeta(req.Metadata)}
		// The fingerprint names what was asked (the rest, or an amount),
		// so that a replay after the hold closed still matches.
		fp := row
		fp.Lines = []LineRow{{Source: h.Account, Destination: h.Destination, Asset: h.Asset, Amount: want}}
		row.Fingerprint = fingerprint(&fp)
		if amount <= 0 { // nothing left; a replay of an earlier capture is fine
			out, err = l.replayOr(ctx, tenant, row, fmt.Errorf("%w: hold %s has nothing left", ErrHoldClosed, holdID))
		} else {
			out, err = l.commitOne(ctx, tenant, row)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return l.transaction(out.Row)
}

// Void releases what is left of an open hold (after any partial captures)
// and appends "ledger.hold.released". Voiding a voided hold returns it
// unchanged.
//
// Errors: storage.ErrInvalidTenant; ErrHoldNotFound; ErrHoldClosed when it
// was captured in full or released after expiry; the Store's errors.
func (l *Ledger) Void(ctx context.Context, tenant storage.TenantID, holdID string) (*Hold, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if holdID == "" {
		return nil, fmt.Errorf("%w: no hold ID", ErrInvalidRequest)
	}
	now := l.clock.Now()
	var out HoldRow
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		h, err := l.store.Hold(ctx, tenant, holdID)
		if err != nil {
			return err
		}
		closing := h
		closing.Status = HoldVoided
		got, released, err := l.store.ReleaseHold(ctx, tenant, holdID, HoldVoided, now, holdEvent(tenant, TopicHoldReleased, &closing, now))
		if err != nil {
			return err
		}
		if !released && got.Status != HoldVoided {
			return fmt.Errorf("%w: hold %s is %s", ErrHoldClosed, holdID, got.Status)
		}
		out = got
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l.hold(out)
}
