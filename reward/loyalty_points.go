package reward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Idempotency scopes of the point commands.
const (
	opGrant        = "reward.loyalty.grant"
	opRedeemPoints = "reward.loyalty.redeem_points"
	opReverse      = "reward.loyalty.reverse"
)

// TopicReversed is the topic of the message Loyalty.Reverse appends; its
// payload is the Reversal.
const TopicReversed = "reward.loyalty.reversed"

// ErrAccrualNotFound: Reverse got a key that names no accrual or grant
// that posted points in this tenant.
var ErrAccrualNotFound = errors.New("reward: accrual not found")

// Prefixes of the records and ledger keys of grants, so that a grant and
// an accrual may share a key without colliding.
const (
	grantRecordPrefix   = "grant:"
	reverseRecordPrefix = "reversal:"
)

// PointsGrant gives a member a fixed number of points (a goodwill
// gesture, a sign-up bonus) without earning rules.
type PointsGrant struct {
	Member string `json:"member"`
	// Points in the program's points asset; positive and exact.
	Points money.Amount `json:"points"`
	// Key makes the grant idempotent.
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"`
	// ExpiresAt is when the points lapse; zero means now + PointsTTL (or
	// never, without a PointsTTL).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// PointsRedemption spends a free number of a member's points (not an
// offer): a points-as-payment tender, a manual deduction.
type PointsRedemption struct {
	Member string `json:"member"`
	// Points in the program's points asset; positive and exact.
	Points money.Amount `json:"points"`
	// Key makes the redemption idempotent.
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"`
}

// Reversal is what Reverse did.
type Reversal struct {
	Key    string `json:"key"`
	Member string `json:"member"`
	Reason string `json:"reason,omitempty"`
	// Points is what the accrual or grant still held before this call
	// (what was not reversed already); Lifetime drops by it.
	Points money.Amount `json:"points"`
	// Reversed is what was taken back from the member's account, and
	// Shortfall what could not be (Points - Reversed): points the member
	// had already spent or that lapsed.
	Reversed  money.Amount `json:"reversed"`
	Shortfall money.Amount `json:"shortfall"`
	// TxID is the ledger reversal ("" when nothing was available).
	TxID       string       `json:"tx_id,omitempty"`
	Lifetime   money.Amount `json:"lifetime"`
	Tier       string       `json:"tier"`
	TierChange *TierChange  `json:"tier_change,omitempty"`
	At         time.Time    `json:"at"`
}

func (l *Loyalty) checkPoints(what, key, member string, pts money.Amount) (int64, error) {
	if key == "" || len(key) > 128 {
		return 0, fmt.Errorf("%w: %s key must be 1 to 128 bytes", ErrInvalidArgument, what)
	}
	if err := l.validMember(member); err != nil {
		return 0, err
	}
	if pts.Currency() != l.cfg.Points {
		return 0, fmt.Errorf("%w: %s in %q, the program's points are %s", ErrInvalidArgument, what, pts.Currency().Code(), l.cfg.Points)
	}
	if !pts.IsPositive() || !pts.IsExact() {
		return 0, fmt.Errorf("%w: %s of %s: points must be positive and exact", ErrInvalidArgument, what, pts)
	}
	m, err := pts.Minor()
	if err != nil || m > ledger.MaxMinor {
		return 0, fmt.Errorf("%w: %s of %s: more points than a posting holds", ErrInvalidArgument, what, pts)
	}
	return m, nil
}

// Grant gives a member a fixed number of points, once per Key: it posts
// them from the issuer to the member's account (an expiring lot when
// ExpiresAt or PointsTTL says so), counts them in the member's lifetime
// points (not in qualifying spend), re-evaluates the tier and appends
// TopicAccrued (and TopicTierChanged), in one transaction. The same key
// and grant returns the first result. Reverse takes a grant back by its
// Key. The result's Key is the grant's Key.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidArgument for a bad key or
// member ID, points in another asset, not positive, inexact or too large,
// or an ExpiresAt not after now; ErrMemberNotFound;
// storage.ErrIdempotencyMismatch for a key reused with another grant; the
// ledger's and the store's.
func (l *Loyalty) Grant(ctx context.Context, tenant storage.TenantID, g PointsGrant) (Accrued, error) {
	if err := tenant.Validate(); err != nil {
		return Accrued{}, err
	}
	minor, err := l.checkPoints("grant", g.Key, g.Member, g.Points)
	if err != nil {
		return Accrued{}, err
	}
	payload := g // as delivered: a redelivery without an expiry matches it
	now := l.clock.Now()
	if !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(now) {
		return Accrued{}, fmt.Errorf("%w: grant %q expires at %s, not after now", ErrInvalidArgument, g.Key, g.ExpiresAt.Format(time.RFC3339))
	}
	if g.ExpiresAt.IsZero() && l.cfg.PointsTTL > 0 {
		g.ExpiresAt = now.Add(l.cfg.PointsTTL)
	}
	return storage.Idempotent(ctx, l.tx, l.store, l.clock, tenant, opGrant, g.Key, &payload, func(ctx context.Context) (Accrued, error) {
		if _, err := l.store.Member(ctx, tenant, g.Member); err != nil {
			return Accrued{}, err
		}
		out := Accrued{Key: g.Key, Member: g.Member, Points: money.FromMinor(minor, l.cfg.Points), ExpiresAt: g.ExpiresAt}
		meta := map[string]string{"member": g.Member, "grant": g.Key}
		if g.Reason != "" {
			meta["reason"] = g.Reason
		}
		tx, err := l.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: ledgerKey("loyalty:grant:", g.Key),
			Postings: []ledger.Posting{{Source: l.cfg.Issuer, Destination: l.Account(g.Member), Amount: out.Points, ExpiresAt: g.ExpiresAt}},
			Metadata: meta})
		if err != nil {
			return Accrued{}, err
		}
		out.TxID = tx.ID
		m, err := l.store.AddAccrual(ctx, tenant, AccrualRecord{Member: g.Member, Key: grantRecordPrefix + g.Key, At: now, Points: minor})
		if err != nil {
			return Accrued{}, err
		}
		reason := "grant " + g.Key
		if out.TierChange, err = l.settleTier(ctx, tenant, &m, reason); err != nil {
			return Accrued{}, err
		}
		out.Lifetime, out.Tier = money.FromMinor(m.Lifetime, l.cfg.Points), m.Tier
		return out, l.emit(ctx, tenant, TopicAccrued, g.Member, grantRecordPrefix+g.Key, &out)
	})
}

// RedeemPoints spends a free number of a member's points, once per Key:
// they move from the member's account to the sink, never below zero (a
// conditional write in the ledger), and TopicRedeemed is appended, in one
// transaction. The result has no Offer; its Reason is the request's.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidArgument for a bad key or
// member ID, or points in another asset, not positive, inexact or too
// large; ErrMemberNotFound; ErrInsufficientPoints (also
// ledger.ErrInsufficientFunds) when the member has fewer available;
// storage.ErrIdempotencyMismatch for a key reused with another request;
// the ledger's and the store's.
func (l *Loyalty) RedeemPoints(ctx context.Context, tenant storage.TenantID, r PointsRedemption) (Redemption, error) {
	if err := tenant.Validate(); err != nil {
		return Redemption{}, err
	}
	if _, err := l.checkPoints("redemption", r.Key, r.Member, r.Points); err != nil {
		return Redemption{}, err
	}
	return storage.Idempotent(ctx, l.tx, l.store, l.clock, tenant, opRedeemPoints, r.Key, &r, func(ctx context.Context) (Redemption, error) {
		if _, err := l.store.Member(ctx, tenant, r.Member); err != nil {
			return Redemption{}, err
		}
		now := l.clock.Now()
		out := Redemption{Key: r.Key, Member: r.Member, Points: r.Points, Reason: r.Reason, At: now}
		meta := map[string]string{"member": r.Member, "redemption": r.Key}
		if r.Reason != "" {
			meta["reason"] = r.Reason
		}
		tx, err := l.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: ledgerKey("loyalty:redeem-points:", r.Key),
			Postings: []ledger.Posting{{Source: l.Account(r.Member), Destination: l.cfg.Sink, Amount: r.Points}}, Metadata: meta})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return Redemption{}, fmt.Errorf("%w: member %q redeeming %s: %w", ErrInsufficientPoints, r.Member, r.Points, err)
		}
		if err != nil {
			return Redemption{}, err
		}
		out.TxID = tx.ID
		if err := l.store.TouchMember(ctx, tenant, r.Member, now); err != nil {
			return Redemption{}, err
		}
		return out, l.emit(ctx, tenant, TopicRedeemed, r.Member, "points:"+r.Key, &out)
	})
}

// Reverse takes back an accrual (by its Accrual.Key) or a grant (by its
// PointsGrant.Key; an accrual with the key is looked up first), once per
// key: it records a negative accrual, lowers the member's lifetime points
// by what the accrual still held, re-evaluates the tier and takes the
// points back from the member's account to the issuer, in one
// transaction, appending TopicReversed (and TopicTierChanged). When the
// member has already spent (or lost to expiry) some of the points, it
// takes back what is available and reports the rest as Shortfall; the
// available balance is read before the ledger reversal, so an
// insufficient balance never fails the caller's transaction. Qualifying
// spend (TierBySpend) is not changed. A repeated call with the same key
// and reason returns the first result; the remaining shortfall is not
// retried.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidArgument for a bad key;
// ErrAccrualNotFound when no accrual or grant with the key posted points
// (an accrual that earned none has nothing to reverse), or when it was
// reversed in full already (by ledger.Reverse); ErrMemberNotFound;
// storage.ErrIdempotencyMismatch for a key reused with another reason;
// the ledger's and the store's.
func (l *Loyalty) Reverse(ctx context.Context, tenant storage.TenantID, key, reason string) (Reversal, error) {
	if err := tenant.Validate(); err != nil {
		return Reversal{}, err
	}
	if key == "" || len(key) > 128 {
		return Reversal{}, fmt.Errorf("%w: reversal key must be 1 to 128 bytes", ErrInvalidArgument)
	}
	payload := struct {
		Key    string `json:"key"`
		Reason string `json:"reason,omitempty"`
	}{key, reason}
	return storage.Idempotent(ctx, l.tx, l.store, l.clock, tenant, opReverse, key, &payload, func(ctx context.Context) (Reversal, error) {
		tx, recKey, err := l.accrualTx(ctx, tenant, key)
		if err != nil {
			return Reversal{}, err
		}
		member := tx.Metadata["member"]
		if len(tx.Postings) != 1 || member == "" || tx.Postings[0].Destination != l.Account(member) {
			return Reversal{}, fmt.Errorf("%w: %q is not a loyalty accrual", ErrAccrualNotFound, key)
		}
		leftMinor, err := tx.Postings[0].Amount.Minor()
		if err != nil {
			return Reversal{}, err
		}
		if len(tx.Reversed) > 0 {
			done, err := tx.Reversed[0].Minor()
			if err != nil {
				return Reversal{}, err
			}
			leftMinor -= done
		}
		if leftMinor <= 0 {
			return Reversal{}, fmt.Errorf("%w: %q is reversed in full already", ErrAccrualNotFound, key)
		}
		if _, err := l.store.Member(ctx, tenant, member); err != nil {
			return Reversal{}, err
		}
		// Read what is available first: a failing ledger.Reverse would
		// mark a caller's transaction rollback-only.
		bal, err := l.ledger.Balance(ctx, tenant, l.Account(member), l.cfg.Points)
		if err != nil {
			return Reversal{}, err
		}
		avail, err := bal.Available.Minor()
		if err != nil {
			return Reversal{}, err
		}
		take := min(max(avail, 0), leftMinor)
		now := l.clock.Now()
		out := Reversal{Key: key, Member: member, Reason: reason, Points: money.FromMinor(leftMinor, l.cfg.Points),
			Reversed: money.FromMinor(take, l.cfg.Points), Shortfall: money.FromMinor(leftMinor-take, l.cfg.Points), At: now}
		if take > 0 {
			meta := map[string]string{"member": member, "reverses": key}
			if reason != "" {
				meta["reason"] = reason
			}
			rtx, err := l.ledger.Reverse(ctx, tenant, tx.ID, ledger.ReverseRequest{Key: ledgerKey("loyalty:reverse:", key),
				Amounts: []money.Amount{out.Reversed}, Metadata: meta})
			if err != nil {
				return Reversal{}, err
			}
			out.TxID = rtx.ID
		}
		m, err := l.store.AddAccrual(ctx, tenant, AccrualRecord{Member: member, Key: reverseRecordPrefix + recKey, At: now, Points: -leftMinor})
		if err != nil {
			return Reversal{}, err
		}
		why := "reversal of " + key
		if reason != "" {
			why += ": " + reason
		}
		if out.TierChange, err = l.settleTier(ctx, tenant, &m, why); err != nil {
			return Reversal{}, err
		}
		out.Lifetime, out.Tier = money.FromMinor(m.Lifetime, l.cfg.Points), m.Tier
		return out, l.emit(ctx, tenant, TopicReversed, member, key, &out)
	})
}

// accrualTx finds the ledger transaction of the accrual, or else of the
// grant, with key, and the key of its accrual record.
func (l *Loyalty) accrualTx(ctx context.Context, tenant storage.TenantID, key string) (*ledger.Transaction, string, error) {
	tx, err := l.ledger.TransactionByKey(ctx, tenant, ledgerKey("loyalty:accrue:", key))
	if err == nil {
		return tx, key, nil
	}
	if !errors.Is(err, ledger.ErrTransactionNotFound) {
		return nil, "", err
	}
	tx, err = l.ledger.TransactionByKey(ctx, tenant, ledgerKey("loyalty:grant:", key))
	if errors.Is(err, ledger.ErrTransactionNotFound) {
		return nil, "", fmt.Errorf("%w: no accrual or grant %q with points", ErrAccrualNotFound, key)
	}
	if err != nil {
		return nil, "", err
	}
	return tx, grantRecordPrefix + key, nil
}
