package coupon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Gift cards are stored value kept in the ledger (Config.Ledger). A coupon
// of a KindGiftCard template is funded when it is claimed, distributed or
// its code redeemed: Benefit.Amount moves from Config.GiftCardIssuer to
// the card's account (GiftCardAccount) in the same transaction as the
// issue. Orders then spend it as a tender: AuthorizeGiftCard places a
// ledger hold on the card for the order, CaptureGiftCard moves part or all
// of the hold to a destination account, VoidGiftCard releases the rest,
// and RefundGiftCard puts captured value back on the card.
//
// A gift card is never LOCKED by an order: many orders may hold parts of
// its balance at once, and the ledger's floor (no overdraft on the card)
// keeps them together within the balance, across host instances. The card
// stays ACTIVATED while value is left; the capture that spends its last
// unit moves it to USED (EventDeplete) and a refund onto a spent card
// moves it back to ACTIVATED (EventReplenish). FROZEN and EXPIRED cards
// cannot be authorized; authorizations placed before keep their holds.

// GiftCardAccount returns the ledger account that holds a gift card's
// balance.
func GiftCardAccount(couponID string) string { return "giftcard:" + couponID }

// giftCardTransit is where a capture lands before it moves on to the
// capture's destination, in the same transaction: a ledger hold names its
// destination when it is placed, a capture names it later. Its balance
// is zero after every commit.
func giftCardTransit(couponID string) string { return "giftcard:" + couponID + ":capturing" }

// GiftCardAuth asks to reserve part of a gift card's balance for an order.
type GiftCardAuth struct {
	CouponID string
	// OrderID names the authorization: one per order (and tenant).
	// Authorizing the same order again with the same request returns the
	// first authorization.
	OrderID string
	// Amount to reserve, in the card's currency.
	Amount money.Amount
	// ExpiresAt ends the reservation (the ledger's expiry sweep releases
	// it); zero: now + Config.LockTTL.
	ExpiresAt time.Time
	// UserID, when set, must own the card.
	UserID string
	// Metadata goes to the ledger hold.
	Metadata map[string]string
}

// GiftCardCapture takes part or all of an order's authorization.
type GiftCardCapture struct {
	OrderID string
	// Amount to capture; the zero value captures everything left of the
	// authorization.
	Amount money.Amount
	// Destination is the ledger account paid (a merchant's receivable,
	// the platform's clearing account).
	Destination string
	// Key tells the captures of one order apart for idempotency: the same
	// key returns the first capture. Empty is a key too: an order captured
	// once needs none; partial captures need distinct keys.
	Key string
}

// GiftCardRefund puts captured value of an order back on its card.
type GiftCardRefund struct {
	OrderID string
	// Amount to refund; the zero value refunds everything captured and
	// not yet refunded.
	Amount money.Amount
	// Key tells the refunds of one order apart, as GiftCardCapture.Key.
	Key string
}

// GiftCardAuthorization is an order's reservation on a gift card and what
// became of it. Stores keep it; amounts are in the card's currency.
type GiftCardAuthorization struct {
	Tenant    storage.TenantID `json:"tenant"`
	OrderID   string           `json:"order_id"`
	CouponID  string           `json:"coupon_id"`
	HoldID    string           `json:"hold_id"` // the ledger hold
	Amount    money.Amount     `json:"amount"`
	ExpiresAt time.Time        `json:"expires_at,omitzero"`
	Captures  []CaptureRecord  `json:"captures,omitempty"`
	Refunds   []RefundRecord   `json:"refunds,omitempty"`
	// Voided says VoidGiftCard released what was left of the hold.
	Voided    bool      `json:"voided,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// CaptureRecord is one capture of an authorization.
type CaptureRecord struct {
	Key         string       `json:"key"`
	Amount      money.Amount `json:"amount"`
	Destination string       `json:"destination"`
	TxID        string       `json:"tx_id"` // the ledger capture
	// Refunded is how much of it refunds gave back.
	Refunded money.Amount `json:"refunded,omitzero"`
	At       time.Time    `json:"at"`
}

// RefundRecord is one refund of an authorization's captures.
type RefundRecord struct {
	Key    string       `json:"key"`
	Amount money.Amount `json:"amount"`
	TxIDs  []string     `json:"tx_ids"` // the ledger transfers back to the card
	At     time.Time    `json:"at"`
}

// Captured is the sum of the captures.
func (a *GiftCardAuthorization) Captured() money.Amount {
	sum := money.Zero(a.Amount.Currency())
	for _, c := range a.Captures {
		sum, _ = sum.Add(c.Amount)
	}
	return sum
}

// Refunded is the sum of the refunds.
func (a *GiftCardAuthorization) Refunded() money.Amount {
	sum := money.Zero(a.Amount.Currency())
	for _, r := range a.Refunds {
		sum, _ = sum.Add(r.Amount)
	}
	return sum
}

// ledgerKey makes a ledger idempotency key from parts, hashed when the
// parts are too long for one.
func ledgerKey(parts ...string) string {
	k := strings.Join(parts, "/")
	if len(k) <= storage.MaxKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return parts[0] + "/#" + hex.EncodeToString(sum[:])
}

func (s *Service) needLedger() error {
	if s.ledger == nil {
		return fmt.Errorf("%w: gift cards keep their balance in a ledger", ErrNoLedger)
	}
	return nil
}

// checkOrderCommand checks what every gift-card command on an order
// needs: a ledger, a valid tenant and order ID, and a key (what names it
// in the error) of at most MaxIDLen bytes; an empty key is allowed.
func (s *Service) checkOrderCommand(tenant storage.TenantID, orderID, key, what string) error {
	if err := s.needLedger(); err != nil {
		return err
	}
	if err := tenant.Validate(); err != nil {
		return err
	}
	if err := validID("order ID", orderID); err != nil {
		return err
	}
	if len(key) > MaxIDLen {
		return fmt.Errorf("%w: %s key longer than %d bytes", ErrInvalidRequest, what, MaxIDLen)
	}
	return nil
}

// fundGiftCard credits a newly issued or activated gift card with its
// initial balance, in the transaction in ctx. The transfer's key is the
// coupon's, so funding twice is harmless.
func (s *Service) fundGiftCard(ctx context.Context, tpl *Template, c *Coupon) error {
	if err := s.needLedger(); err != nil {
		return err
	}
	_, err := s.ledger.Transfer(ctx, c.Tenant, ledger.TransferRequest{
		Key:      ledgerKey("coupon.giftcard.fund", c.ID),
		Postings: []ledger.Posting{{Source: s.cfg.GiftCardIssuer, Destination: GiftCardAccount(c.ID), Amount: tpl.Benefit.Amount}},
		Metadata: map[string]string{"coupon": c.ID, "template": tpl.ID},
	})
	if err != nil {
		return fmt.Errorf("coupon: fund gift card %s: %w", c.ID, err)
	}
	return nil
}

// giftCard reads a coupon and its template and checks it is a gift card.
func (s *Service) giftCard(ctx context.Context, tenant storage.TenantID, couponID string) (Coupon, Template, error) {
	c, err := s.coupon(ctx, tenant, couponID)
	if err != nil {
		return Coupon{}, Template{}, err
	}
	tpl, _, err := s.template(ctx, tenant, c.TemplateID)
	if err != nil {
		return Coupon{}, Template{}, err
	}
	if tpl.Benefit.Kind != KindGiftCard {
		return Coupon{}, Template{}, fmt.Errorf("%w: coupon %s is %s", ErrNotGiftCard, c.ID, tpl.Benefit.Kind)
	}
	return c, tpl, nil
}

// exactPositive checks a request amount in currency cur.
func exactPositive(what string, a money.Amount, cur money.Currency) error {
	if a.Currency() != cur {
		return fmt.Errorf("%w: %s in %s, gift card in %s", ErrCurrencyMismatch, what, a.Currency().Code(), cur.Code())
	}
	if !a.IsPositive() || !a.IsExact() {
		return fmt.Errorf("%w: %s %s must be positive, at the currency's scale", ErrInvalidRequest, what, a)
	}
	return nil
}

// AuthorizeGiftCard reserves part of a gift card's balance for an order,
// as a ledger hold on the card's account. Concurrent authorizations on one
// card, over many host instances, never reserve more than its balance.
// Authorizing the same order again with the same card and amount returns
// the first authorization.
//
// Errors: ErrNoLedger; ErrInvalidRequest; ErrUnknownCoupon; ErrNotGiftCard;
// ErrNotOwner; ErrNotActivated; ErrFrozen; ErrNotStarted; ErrExpired;
// ErrCurrencyMismatch; ErrInsufficientBalance (also matching
// ledger.ErrInsufficientFunds when the ledger refused the hold);
// storage.ErrIdempotencyMismatch when the order was authorized with
// another card or amount. A refused authorization changes nothing.
func (s *Service) AuthorizeGiftCard(ctx context.Context, tenant storage.TenantID, req GiftCardAuth) (GiftCardAuthorization, error) {
	if err := s.checkOrderCommand(tenant, req.OrderID, "", "authorization"); err != nil {
		return GiftCardAuthorization{}, err
	}
	if err := validID("coupon ID", req.CouponID); err != nil {
		return GiftCardAuthorization{}, err
	}
	now := s.clock.Now()
	until := req.ExpiresAt
	if until.IsZero() {
		until = now.Add(s.cfg.LockTTL)
	}
	if !until.After(now) {
		return GiftCardAuthorization{}, fmt.Errorf("%w: authorization expiry %s is not in the future", ErrInvalidRequest, until.Format(time.RFC3339))
	}
	var out GiftCardAuthorization
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		prior, err := s.store.GiftCardAuth(ctx, tenant, req.OrderID)
		switch {
		case err == nil:
			if prior.CouponID != req.CouponID || !prior.Amount.Equal(req.Amount) || (!req.ExpiresAt.IsZero() && !prior.ExpiresAt.Equal(req.ExpiresAt)) {
				return fmt.Errorf("%w: order %s holds %s on gift card %s", storage.ErrIdempotencyMismatch, req.OrderID, prior.Amount, prior.CouponID)
			}
			out = prior
			return nil
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		c, tpl, err := s.giftCard(ctx, tenant, req.CouponID)
		if err != nil {
			return err
		}
		if req.UserID != "" && c.UserID != req.UserID {
			return fmt.Errorf("%w: gift card %s", ErrNotOwner, c.ID)
		}
		if err := exactPositive("authorization", req.Amount, tpl.Benefit.Currency); err != nil {
			return err
		}
		switch {
		case c.State == StateUnactivated:
			return fmt.Errorf("%w: gift card %s", ErrNotActivated, c.ID)
		case c.State == StateUsed:
			return fmt.Errorf("%w: gift card %s is spent", ErrInsufficientBalance, c.ID)
		case c.State == StateExpired || (c.State == StateActivated && c.expiredAt(now)):
			return fmt.Errorf("%w: gift card %s was valid until %s", ErrExpired, c.ID, c.ValidUntil.Format(time.RFC3339))
		case c.State != StateActivated:
			// FROZEN (ErrFrozen) and anything else a card cannot spend from
			return &TransitionError{CouponID: c.ID, From: c.State, Event: "authorize"}
		case !c.ValidFrom.IsZero() && now.Before(c.ValidFrom):
			return fmt.Errorf("%w: gift card %s is valid from %s", ErrNotStarted, c.ID, c.ValidFrom.Format(time.RFC3339))
		}
		meta := make(map[string]string, len(req.Metadata)+2)
		for k, v := range req.Metadata {
			meta[k] = v
		}
		meta["coupon"], meta["order"] = c.ID, req.OrderID
		h, err := s.ledger.Hold(ctx, tenant, ledger.HoldRequest{
			Key: ledgerKey("coupon.giftcard.auth", req.OrderID), Account: GiftCardAccount(c.ID), Destination: giftCardTransit(c.ID),
			Amount: req.Amount, ExpiresAt: until, Metadata: meta,
		})
		if err != nil {
			if errors.Is(err, ledger.ErrInsufficientFunds) || errors.Is(err, ledger.ErrUnknownAccount) {
				return fmt.Errorf("%w: gift card %s, %s asked: %w", ErrInsufficientBalance, c.ID, req.Amount, err)
			}
			return fmt.Errorf("coupon: authorize gift card %s: %w", c.ID, err)
		}
		a := GiftCardAuthorization{Tenant: tenant, OrderID: req.OrderID, CouponID: c.ID, HoldID: h.ID, Amount: req.Amount,
			ExpiresAt: until.UTC(), CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := s.store.InsertGiftCardAuth(ctx, a); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return GiftCardAuthorization{}, err
	}
	return out, nil
}

// authorization reads an order's authorization; ErrNotAuthorized.
func (s *Service) authorization(ctx context.Context, tenant storage.TenantID, orderID string) (GiftCardAuthorization, error) {
	a, err := s.store.GiftCardAuth(ctx, tenant, orderID)
	if errors.Is(err, storage.ErrNotFound) {
		return GiftCardAuthorization{}, fmt.Errorf("%w: order %s: %w", ErrNotAuthorized, orderID, err)
	}
	return a, err
}

// CaptureGiftCard moves part or all of an order's authorization from the
// card to a destination account: a ledger capture of the hold, then a
// transfer to Destination, in one transaction. Partial captures under
// distinct keys may follow each other up to the authorized amount; the
// same key returns the first capture. The capture that spends the card's
// last unit moves it to USED.
//
// Errors: ErrNoLedger; ErrInvalidRequest (bad IDs, a bad destination, an
// amount that is not positive); ErrCurrencyMismatch; ErrNotAuthorized;
// ledger.ErrOverCapture (more than is left of the authorization),
// ledger.ErrHoldClosed (voided, or captured in full), ledger.ErrHoldExpired;
// storage.ErrIdempotencyMismatch (a key reused for another amount or
// destination); storage.ErrConflict when a concurrent command on the
// same order got there first.
func (s *Service) CaptureGiftCard(ctx context.Context, tenant storage.TenantID, req GiftCardCapture) (CaptureRecord, error) {
	if err := s.checkOrderCommand(tenant, req.OrderID, req.Key, "capture"); err != nil {
		return CaptureRecord{}, err
	}
	if err := ledger.ValidateAccountID(req.Destination); err != nil {
		return CaptureRecord{}, fmt.Errorf("%w: capture destination: %w", ErrInvalidRequest, err)
	}
	if strings.HasPrefix(req.Destination, "giftcard:") {
		return CaptureRecord{}, fmt.Errorf("%w: capture destination %s is a gift card's own account", ErrInvalidRequest, req.Destination)
	}
	now := s.clock.Now()
	var out CaptureRecord
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		a, err := s.authorization(ctx, tenant, req.OrderID)
		if err != nil {
			return err
		}
		cur := a.Amount.Currency()
		all := req.Amount.Currency().IsZero() && req.Amount.IsZero()
		if !all {
			if err := exactPositive("capture", req.Amount, cur); err != nil {
				return err
			}
		}
		for _, c := range a.Captures {
			if c.Key == req.Key {
				if c.Destination != req.Destination || (!all && !c.Amount.Equal(req.Amount)) {
					return fmt.Errorf("%w: capture %q of order %s was %s to %s", storage.ErrIdempotencyMismatch, req.Key, req.OrderID, c.Amount, c.Destination)
				}
				out = c
				return nil
			}
		}
		amount := req.Amount
		if all {
			left, err := a.Amount.Sub(a.Captured())
			if err != nil {
				return err
			}
			if !left.IsPositive() || a.Voided {
				return fmt.Errorf("%w: order %s has nothing left to capture", ledger.ErrHoldClosed, req.OrderID)
			}
			amount = left
		}
		key := strconv.Quote(req.Key) // "" is a key too
		tx, err := s.ledger.Capture(ctx, tenant, a.HoldID, ledger.CaptureRequest{
			Key: ledgerKey("coupon.giftcard.capture", req.OrderID, key), Amount: amount,
			Metadata: map[string]string{"coupon": a.CouponID, "order": req.OrderID},
		})
		if err != nil {
			return fmt.Errorf("coupon: capture gift card %s for order %s: %w", a.CouponID, req.OrderID, err)
		}
		if _, err := s.ledger.Transfer(ctx, tenant, ledger.TransferRequest{
			Key:      ledgerKey("coupon.giftcard.pay", req.OrderID, key),
			Postings: []ledger.Posting{{Source: giftCardTransit(a.CouponID), Destination: req.Destination, Amount: amount}},
			Metadata: map[string]string{"coupon": a.CouponID, "order": req.OrderID, "capture": tx.ID},
		}); err != nil {
			return fmt.Errorf("coupon: pay gift card capture of order %s: %w", req.OrderID, err)
		}
		rec := CaptureRecord{Key: req.Key, Amount: amount, Destination: req.Destination, TxID: tx.ID, At: now}
		prev := a.Version
		a.Captures = append(a.Captures, rec)
		a.UpdatedAt, a.Version = now, a.Version+1
		if err := s.store.UpdateGiftCardAuth(ctx, a, prev); err != nil {
			return err
		}
		if err := s.depleteIfSpent(ctx, tenant, a.CouponID, cur, req.OrderID); err != nil {
			return err
		}
		out = rec
		return nil
	})
	if err != nil {
		return CaptureRecord{}, err
	}
	return out, nil
}

// depleteIfSpent moves an ACTIVATED card with nothing left (posted and
// held zero) to USED.
func (s *Service) depleteIfSpent(ctx context.Context, tenant storage.TenantID, couponID string, cur money.Currency, order string) error {
	b, err := s.ledger.Balance(ctx, tenant, GiftCardAccount(couponID), cur)
	if err != nil {
		return err
	}
	if !b.Posted.IsZero() || !b.Held.IsZero() {
		return nil
	}
	c, err := s.coupon(ctx, tenant, couponID)
	if err != nil || c.State != StateActivated {
		return err
	}
	return s.apply(ctx, &c, change{ev: EventDeplete, reason: "spent by order " + order}, nil)
}

// VoidGiftCard releases what is left of an order's authorization (the
// order was cancelled, or captured less than it reserved). Voiding again,
// or an authorization captured in full or already expired, changes
// nothing and returns it.
//
// Errors: ErrNoLedger; ErrInvalidRequest; ErrNotAuthorized;
// storage.ErrConflict when a concurrent command on the same order got
// there first.
func (s *Service) VoidGiftCard(ctx context.Context, tenant storage.TenantID, orderID string) (GiftCardAuthorization, error) {
	if err := s.checkOrderCommand(tenant, orderID, "", "void"); err != nil {
		return GiftCardAuthorization{}, err
	}
	var out GiftCardAuthorization
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		a, err := s.authorization(ctx, tenant, orderID)
		if err != nil {
			return err
		}
		out = a
		if a.Voided {
			return nil
		}
		h, err := s.ledger.HoldByID(ctx, tenant, a.HoldID)
		if err != nil {
			return err
		}
		if h.Status != ledger.HoldOpen {
			return nil // captured in full, or released by the ledger's expiry sweep
		}
		if _, err := s.ledger.Void(ctx, tenant, a.HoldID); err != nil {
			return fmt.Errorf("coupon: void gift card authorization of order %s: %w", orderID, err)
		}
		prev := a.Version
		a.Voided, a.UpdatedAt, a.Version = true, s.clock.Now(), a.Version+1
		if err := s.store.UpdateGiftCardAuth(ctx, a, prev); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return GiftCardAuthorization{}, err
	}
	return out, nil
}

// RefundGiftCard puts captured value of an order back on its card: for
// each capture, newest first, a ledger transfer from the capture's
// destination back to the card, up to the amount. A spent (USED) card
// becomes ACTIVATED again. The same key returns the first refund.
//
// Errors: ErrNoLedger; ErrInvalidRequest; ErrCurrencyMismatch;
// ErrNotAuthorized; ErrOverRefund (more than captured and not yet
// refunded, or nothing left); ledger.ErrInsufficientFunds when a
// destination has already paid the value on; storage.ErrIdempotencyMismatch
// (a key reused for another amount); storage.ErrConflict.
func (s *Service) RefundGiftCard(ctx context.Context, tenant storage.TenantID, req GiftCardRefund) (RefundRecord, error) {
	if err := s.checkOrderCommand(tenant, req.OrderID, req.Key, "refund"); err != nil {
		return RefundRecord{}, err
	}
	now := s.clock.Now()
	var out RefundRecord
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		a, err := s.authorization(ctx, tenant, req.OrderID)
		if err != nil {
			return err
		}
		cur := a.Amount.Currency()
		all := req.Amount.Currency().IsZero() && req.Amount.IsZero()
		if !all {
			if err := exactPositive("refund", req.Amount, cur); err != nil {
				return err
			}
		}
		for _, r := range a.Refunds {
			if r.Key == req.Key {
				if !all && !r.Amount.Equal(req.Amount) {
					return fmt.Errorf("%w: refund %q of order %s was %s", storage.ErrIdempotencyMismatch, req.Key, req.OrderID, r.Amount)
				}
				out = r
				return nil
			}
		}
		left := int64(0)
		for _, c := range a.Captures {
			got, _ := c.Amount.Minor()
			back, _ := c.Refunded.Minor()
			left += got - back
		}
		want := left
		if !all {
			if want, err = req.Amount.Minor(); err != nil {
				return err
			}
		}
		if left == 0 || want > left {
			return fmt.Errorf("%w: order %s has %s refundable, %s asked", ErrOverRefund, req.OrderID, money.FromMinor(left, cur), money.FromMinor(want, cur))
		}
		rec := RefundRecord{Key: req.Key, Amount: money.FromMinor(want, cur), At: now}
		key := strconv.Quote(req.Key)
		for i := len(a.Captures) - 1; i >= 0 && want > 0; i-- {
			c := &a.Captures[i]
			got, _ := c.Amount.Minor()
			back, _ := c.Refunded.Minor()
			take := min(want, got-back)
			if take <= 0 {
				continue
			}
			tx, err := s.ledger.Transfer(ctx, tenant, ledger.TransferRequest{
				Key:      ledgerKey("coupon.giftcard.refund", req.OrderID, key, strconv.Itoa(i)),
				Postings: []ledger.Posting{{Source: c.Destination, Destination: GiftCardAccount(a.CouponID), Amount: money.FromMinor(take, cur)}},
				Metadata: map[string]string{"coupon": a.CouponID, "order": req.OrderID, "capture": c.TxID},
			})
			if err != nil {
				return fmt.Errorf("coupon: refund gift card capture %s of order %s: %w", c.TxID, req.OrderID, err)
			}
			c.Refunded = money.FromMinor(back+take, cur)
			rec.TxIDs = append(rec.TxIDs, tx.ID)
			want -= take
		}
		prev := a.Version
		a.Refunds = append(a.Refunds, rec)
		a.UpdatedAt, a.Version = now, a.Version+1
		if err := s.store.UpdateGiftCardAuth(ctx, a, prev); err != nil {
			return err
		}
		c, err := s.coupon(ctx, tenant, a.CouponID)
		if err != nil {
			return err
		}
		if c.State == StateUsed {
			if err := s.apply(ctx, &c, change{ev: EventReplenish, reason: "refund of order " + req.OrderID}, nil); err != nil {
				return err
			}
		}
		out = rec
		return nil
	})
	if err != nil {
		return RefundRecord{}, err
	}
	return out, nil
}

// GiftCardAuthorization returns an order's authorization. Errors:
// ErrInvalidRequest, ErrNotAuthorized.
func (s *Service) GiftCardAuthorization(ctx context.Context, tenant storage.TenantID, orderID string) (GiftCardAuthorization, error) {
	if err := tenant.Validate(); err != nil {
		return GiftCardAuthorization{}, err
	}
	if err := validID("order ID", orderID); err != nil {
		return GiftCardAuthorization{}, err
	}
	return s.authorization(ctx, tenant, orderID)
}

// GiftCardBalance returns a gift card's balance: posted (what the ledger
// holds for it), held (reserved by open authorizations) and available
// (posted minus held: what a new authorization may take).
//
// Errors: ErrNoLedger, ErrInvalidRequest, ErrUnknownCoupon, ErrNotGiftCard.
func (s *Service) GiftCardBalance(ctx context.Context, tenant storage.TenantID, couponID string) (posted, held, available money.Amount, err error) {
	if err := s.needLedger(); err != nil {
		return money.Amount{}, money.Amount{}, money.Amount{}, err
	}
	if err := tenant.Validate(); err != nil {
		return money.Amount{}, money.Amount{}, money.Amount{}, err
	}
	if err := validID("coupon ID", couponID); err != nil {
		return money.Amount{}, money.Amount{}, money.Amount{}, err
	}
	c, tpl, err := s.giftCard(ctx, tenant, couponID)
	if err != nil {
		return money.Amount{}, money.Amount{}, money.Amount{}, err
	}
	b, err := s.ledger.Balance(ctx, tenant, GiftCardAccount(c.ID), tpl.Benefit.Currency)
	if err != nil {
		return money.Amount{}, money.Amount{}, money.Amount{}, err
	}
	return b.Posted, b.Held, b.Available, nil
}
