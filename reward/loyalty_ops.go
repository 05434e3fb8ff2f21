package reward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// Idempotency scopes of the loyalty commands.
const (
	opAccrue = "reward.loyalty.accrue"
	opRedeem = "reward.loyalty.redeem"
)

// Accrual is something a member did that may earn points: usually a paid
// order, or any host event (a review, a check-in) that earning rules
// reward with a bonus.
type Accrual struct {
	// Key makes the accrual idempotent: the order or event ID.
	Key    string `json:"key"`
	Member string `json:"member"`
	// Type is the event type rules see as event.type; default "order".
	Type string `json:"type,omitempty"`
	// Amount is the qualifying spend, in the program's currency; the
	// zero Amount for an event without spend.
	Amount money.Amount `json:"amount,omitzero"`
	// Time is when it happened (rule windows, point expiry); default now.
	Time    time.Time         `json:"time,omitzero"`
	Channel string            `json:"channel,omitempty"`
	Region  string            `json:"region,omitempty"`
	Shop    string            `json:"shop,omitempty"`
	Tags    []string          `json:"tags,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// Accrued is what an accrual did.
type Accrued struct {
	Key    string       `json:"key"`
	Member string       `json:"member"`
	Points money.Amount `json:"points"`
	// Rules lists the earning rules that applied, in configuration order.
	Rules []string `json:"rules,omitempty"`
	// TxID is the ledger transaction that posted the points ("" when the
	// accrual earned none); ExpiresAt when they lapse (zero: never).
	TxID      string       `json:"tx_id,omitempty"`
	ExpiresAt time.Time    `json:"expires_at,omitzero"`
	Lifetime  money.Amount `json:"lifetime"`
	Tier      string       `json:"tier"`
	// TierChange is the tier move this accrual caused, if any.
	TierChange *TierChange `json:"tier_change,omitempty"`
}

func (l *Loyalty) checkAccrual(a *Accrual) error {
	if a.Key == "" || len(a.Key) > 128 {
		return fmt.Errorf("%w: accrual key must be 1 to 128 bytes", ErrInvalidArgument)
	}
	if err := l.validMember(a.Member); err != nil {
		return err
	}
	if a.Amount.Currency().IsZero() {
		if !a.Amount.IsZero() {
			return fmt.Errorf("%w: accrual amount without currency", ErrInvalidArgument)
		}
	} else {
		if a.Amount.Currency() != l.cfg.Currency {
			return fmt.Errorf("%w: accrual in %s, the program counts %s", ErrInvalidArgument, a.Amount.Currency(), l.cfg.Currency)
		}
		if a.Amount.IsNegative() || !a.Amount.IsExact() {
			return fmt.Errorf("%w: accrual amount %s must be exact and not negative", ErrInvalidArgument, a.Amount)
		}
		if _, err := a.Amount.Minor(); err != nil {
			return fmt.Errorf("%w: accrual amount: %w", ErrInvalidArgument, err)
		}
	}
	if a.Type == "" {
		a.Type = "order"
	}
	return nil
}

// earn applies the earning rules to a for a member in tier and returns
// the points (minor units) and the rules that applied.
func (l *Loyalty) earn(ctx context.Context, a *Accrual, m *MemberRecord) (int64, []string, error) {
	amount := a.Amount
	if amount.Currency().IsZero() {
		amount = money.Zero(l.cfg.Currency)
	}
	var f *rules.Facts
	rate, mult, bonus := decimal.Zero, l.one, int64(0)
	var applied []string
	for i := range l.earning {
		r := &l.earning[i]
		if r.Disabled || !r.Start.IsZero() && a.Time.Before(r.Start) || !r.End.IsZero() && !a.Time.Before(r.End) {
			continue
		}
		if r.Bonus == 0 && !amount.IsPositive() {
			continue // rates and multipliers act on spend only
		}
		if r.set != nil {
			if f == nil {
				f = &rules.Facts{
					Order: rules.Order{ID: a.Key, Amount: amount, Channel: a.Channel, Region: a.Region, ShopID: a.Shop, Attrs: a.Attrs, CreatedAt: a.Time},
					User:  rules.User{ID: m.ID, Tier: m.Tier, RegisteredAt: m.RegisteredAt, Tags: a.Tags},
					Event: rules.Event{ID: a.Key, Type: a.Type, Time: a.Time, Attrs: a.Attrs},
					Now:   a.Time,
				}
			}
			if !r.set.Evaluate(ctx, f).Passed {
				continue
			}
		}
		applied = append(applied, r.ID)
		if !r.Rate.IsZero() {
			rate = rate.Add(r.Rate)
		}
		if !r.Multiplier.IsZero() {
			mult = mult.Mul(r.Multiplier)
		}
		bonus += r.Bonus
	}
	var pts int64
	if !rate.IsZero() && amount.IsPositive() {
		// Rounded down to the points' scale at this one named place.
		earned := money.New(amount.Decimal().Mul(rate).Mul(mult), l.cfg.Points).RoundTo(l.cfg.Points.Scale(), money.Down)
		m, err := earned.Minor()
		if err != nil || m > ledger.MaxMinor {
			return 0, nil, fmt.Errorf("%w: accrual %q earns more points than a posting holds", ErrInvalidArgument, a.Key)
		}
		pts = m
	}
	pts += bonus
	return pts, applied, nil
}

// Estimate tells how many points an accrual would earn now, without
// writing anything. Errors: as Accrue's for bad input, ErrMemberNotFound.
func (l *Loyalty) Estimate(ctx context.Context, tenant storage.TenantID, a Accrual) (money.Amount, []string, error) {
	if err := tenant.Validate(); err != nil {
		return money.Amount{}, nil, err
	}
	if err := l.checkAccrual(&a); err != nil {
		return money.Amount{}, nil, err
	}
	if a.Time.IsZero() {
		a.Time = l.clock.Now()
	}
	m, err := l.store.Member(ctx, tenant, a.Member)
	if err != nil {
		return money.Amount{}, nil, err
	}
	pts, applied, err := l.earn(ctx, &a, &m)
	return money.FromMinor(pts, l.cfg.Points), applied, err
}

// Accrue earns points for an accrual, once per Key: it applies the
// earning rules with the member's current tier, posts the points from the
// issuer to the member's account as an expiring lot (PointsTTL), adds
// them to the member's lifetime points and qualifying spend, re-evaluates
// the member's tier and appends TopicAccrued (and TopicTierChanged), all
// in one transaction. The same key and accrual returns the first result.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidArgument for a bad key,
// member ID or amount (another currency, negative, inexact);
// ErrMemberNotFound; storage.ErrIdempotencyMismatch for a key reused with
// another accrual; the ledger's and the store's.
func (l *Loyalty) Accrue(ctx context.Context, tenant storage.TenantID, a Accrual) (Accrued, error) {
	if err := tenant.Validate(); err != nil {
		return Accrued{}, err
	}
	if err := l.checkAccrual(&a); err != nil {
		return Accrued{}, err
	}
	payload := a // as delivered: a redelivery without a time matches it
	if a.Time.IsZero() {
		a.Time = l.clock.Now()
	}
	return storage.Idempotent(ctx, l.tx, l.store, l.clock, tenant, opAccrue, a.Key, &payload, func(ctx context.Context) (Accrued, error) {
		m, err := l.store.Member(ctx, tenant, a.Member)
		if err != nil {
			return Accrued{}, err
		}
		pts, applied, err := l.earn(ctx, &a, &m)
		if err != nil {
			return Accrued{}, err
		}
		out := Accrued{Key: a.Key, Member: a.Member, Points: money.FromMinor(pts, l.cfg.Points), Rules: applied}
		if pts > 0 {
			p := ledger.Posting{Source: l.cfg.Issuer, Destination: l.Account(a.Member), Amount: out.Points}
			if l.cfg.PointsTTL > 0 {
				p.ExpiresAt = a.Time.Add(l.cfg.PointsTTL)
				out.ExpiresAt = p.ExpiresAt
			}
			tx, err := l.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: ledgerKey("loyalty:accrue:", a.Key),
				Postings: []ledger.Posting{p}, Metadata: map[string]string{"member": a.Member, "accrual": a.Key, "type": a.Type}})
			if err != nil {
				return Accrued{}, err
			}
			out.TxID = tx.ID
		}
		var spend int64
		if !a.Amount.Currency().IsZero() {
			spend, _ = a.Amount.Minor()
		}
		m, err = l.store.AddAccrual(ctx, tenant, AccrualRecord{Member: a.Member, Key: a.Key, At: a.Time, Spend: spend, Points: pts})
		if err != nil {
			return Accrued{}, err
		}
		out.TierChange, err = l.settleTier(ctx, tenant, &m, "accrual "+a.Key)
		if err != nil {
			return Accrued{}, err
		}
		out.Lifetime, out.Tier = money.FromMinor(m.Lifetime, l.cfg.Points), m.Tier
		return out, l.emit(ctx, tenant, TopicAccrued, a.Member, a.Key, &out)
	})
}

// tierOf returns the tier a member qualifies for now.
func (l *Loyalty) tierOf(ctx context.Context, tenant storage.TenantID, m *MemberRecord) (string, error) {
	v := m.Lifetime
	if l.cfg.TierBasis == TierBySpend {
		var err error
		if v, err = l.store.QualifyingSpend(ctx, tenant, m.ID, l.clock.Now().Add(-l.cfg.TierWindow)); err != nil {
			return "", err
		}
	}
	name := l.cfg.Tiers[0].Name
	for _, t := range l.cfg.Tiers[1:] {
		if v >= t.Threshold {
			name = t.Name
		}
	}
	return name, nil
}

// settleTier moves m to the tier it qualifies for (up or down), as a
// conditional write, and updates m.
func (l *Loyalty) settleTier(ctx context.Context, tenant storage.TenantID, m *MemberRecord, reason string) (*TierChange, error) {
	if len(l.cfg.Tiers) == 0 {
		return nil, nil
	}
	to, err := l.tierOf(ctx, tenant, m)
	if err != nil || to == m.Tier {
		return nil, err
	}
	c, ok, err := l.store.SetTier(ctx, tenant, TierChange{Member: m.ID, From: m.Tier, To: to, At: l.clock.Now(), Reason: reason})
	if err != nil || !ok {
		return nil, err // !ok: another writer moved the tier; it evaluated too
	}
	m.Tier, m.TierSince, m.TierVersion = c.To, c.At, c.Seq
	if err := l.emit(ctx, tenant, TopicTierChanged, m.ID, m.ID+":"+itoa(c.Seq), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Upgrade reports whether c moved the member to a higher tier.
func (l *Loyalty) Upgrade(c TierChange) bool { return l.tierIdx[c.To] > l.tierIdx[c.From] }

// EvaluateTier re-evaluates one member's tier now (for TierBySpend, the
// window moves with time) and returns the change, or nil when the tier
// holds. Errors: storage.ErrInvalidTenant, ErrMemberNotFound, the store's.
func (l *Loyalty) EvaluateTier(ctx context.Context, tenant storage.TenantID, member string) (*TierChange, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out *TierChange
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		m, err := l.store.Member(ctx, tenant, member)
		if err != nil {
			return err
		}
		out, err = l.settleTier(ctx, tenant, &m, "evaluation")
		return err
	})
	return out, err
}

// TierSweep reports what EvaluateTiers did.
type TierSweep struct {
	Evaluated  int `json:"evaluated"`
	Upgraded   int `json:"upgraded"`
	Downgraded int `json:"downgraded"`
	// Busy: another instance holds the sweep's lease; nothing was done.
	Busy bool `json:"busy,omitempty"`
}

// EvaluateTiers re-evaluates every member of a tenant, page by page
// (batch members per page, each in its own transaction), under a storage
// lease so that one host instance at a time sweeps a tenant. Run it
// periodically when tiers use TierBySpend: it is what moves members down
// when their spend leaves the window.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidArgument for batch < 1;
// ErrInvalidConfig without a LeaseStore; the store's. The result counts
// what was done before an error.
func (l *Loyalty) EvaluateTiers(ctx context.Context, tenant storage.TenantID, batch int) (TierSweep, error) {
	var res TierSweep
	if err := tenant.Validate(); err != nil {
		return res, err
	}
	if batch < 1 {
		return res, fmt.Errorf("%w: batch %d", ErrInvalidArgument, batch)
	}
	if l.leases == nil {
		return res, fmt.Errorf("%w: EvaluateTiers needs a LeaseStore", ErrInvalidConfig)
	}
	name := "reward.loyalty.tiers/" + string(tenant)
	defer func() { _ = l.leases.ReleaseLease(context.WithoutCancel(ctx), name, l.cfg.Owner) }()
	after := ""
	for {
		_, ok, err := l.leases.AcquireLease(ctx, name, l.cfg.Owner, l.clock.Now(), l.cfg.LeaseTTL)
		if err != nil {
			return res, err
		}
		if !ok {
			res.Busy = true
			return res, nil
		}
		page, err := l.store.Members(ctx, tenant, after, batch)
		if err != nil {
			return res, err
		}
		for _, m := range page {
			c, err := l.EvaluateTier(ctx, tenant, m.ID)
			if err != nil && !errors.Is(err, ErrMemberNotFound) {
				return res, err
			}
			res.Evaluated++
			switch {
			case c == nil:
			case l.Upgrade(*c):
				res.Upgraded++
			default:
				res.Downgraded++
			}
		}
		if len(page) < batch {
			return res, nil
		}
		after = page[len(page)-1].ID
	}
}

// Offers returns the offers open to a member now (window and tier), in
// configuration order. Errors: storage.ErrInvalidTenant, ErrMemberNotFound.
func (l *Loyalty) Offers(ctx context.Context, tenant storage.TenantID, member string) ([]Offer, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	m, err := l.store.Member(ctx, tenant, member)
	if err != nil {
		return nil, err
	}
	now := l.clock.Now()
	var out []Offer
	for i := range l.cfg.Offers {
		if o := &l.cfg.Offers[i]; o.availableAt(now, m.Tier) {
			out = append(out, *o)
		}
	}
	return out, nil
}

// RedeemRequest asks to spend a member's points on an offer.
type RedeemRequest struct {
	// Key makes the redemption idempotent (the host's request ID).
	Key    string `json:"key"`
	Member string `json:"member"`
	Offer  string `json:"offer"`
}

// Redemption is a redemption done.
type Redemption struct {
	Key    string       `json:"key"`
	Member string       `json:"member"`
	Offer  string       `json:"offer"`
	Points money.Amount `json:"points"`
	// TxID is the ledger transaction that took the points; CouponID the
	// coupon issued ("" for an offer without a template).
	TxID     string    `json:"tx_id"`
	CouponID string    `json:"coupon_id,omitempty"`
	At       time.Time `json:"at"`
	// Reason is a RedeemPoints request's reason ("" for offers).
	Reason string `json:"reason,omitempty"`
}

// Redeem spends a member's points on an offer, once per Key, atomically:
// the points move from the member's account to the sink (never below
// zero: a conditional write in the ledger) and the offer's coupon is
// claimed for the member in the same transaction, so a refused claim
// leaves the points untouched. It appends TopicRedeemed.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidArgument for a bad key or
// member ID; ErrMemberNotFound; ErrOfferNotFound; ErrOfferUnavailable
// (outside its window, or not open to the member's tier);
// ErrInsufficientPoints (also ledger.ErrInsufficientFunds); the coupon
// service's (coupon.ErrOutOfStock, coupon.ErrUserLimit, ...);
// storage.ErrIdempotencyMismatch for a key reused with another request.
func (l *Loyalty) Redeem(ctx context.Context, tenant storage.TenantID, req RedeemRequest) (Redemption, error) {
	if err := tenant.Validate(); err != nil {
		return Redemption{}, err
	}
	if req.Key == "" || len(req.Key) > 128 {
		return Redemption{}, fmt.Errorf("%w: redemption key must be 1 to 128 bytes", ErrInvalidArgument)
	}
	if err := l.validMember(req.Member); err != nil {
		return Redemption{}, err
	}
	offer, ok := l.offers[req.Offer]
	if !ok {
		return Redemption{}, fmt.Errorf("%w: %q", ErrOfferNotFound, req.Offer)
	}
	return storage.Idempotent(ctx, l.tx, l.store, l.clock, tenant, opRedeem, req.Key, &req, func(ctx context.Context) (Redemption, error) {
		m, err := l.store.Member(ctx, tenant, req.Member)
		if err != nil {
			return Redemption{}, err
		}
		now := l.clock.Now()
		if !offer.availableAt(now, m.Tier) {
			return Redemption{}, fmt.Errorf("%w: %q for member %q (tier %q) at %s", ErrOfferUnavailable, offer.ID, m.ID, m.Tier, now.Format(time.RFC3339))
		}
		out := Redemption{Key: req.Key, Member: req.Member, Offer: offer.ID, Points: money.FromMinor(offer.Cost, l.cfg.Points), At: now}
		tx, err := l.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: ledgerKey("loyalty:redeem:", req.Key),
			Postings: []ledger.Posting{{Source: l.Account(req.Member), Destination: l.cfg.Sink, Amount: out.Points}},
			Metadata: map[string]string{"member": req.Member, "offer": offer.ID, "redemption": req.Key}})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return Redemption{}, fmt.Errorf("%w: member %q, offer %q costs %s: %w", ErrInsufficientPoints, req.Member, offer.ID, out.Points, err)
		}
		if err != nil {
			return Redemption{}, err
		}
		out.TxID = tx.ID
		if offer.Template != "" {
			c, err := l.cfg.Coupons.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: offer.Template, UserID: req.Member,
				RequestKey: ledgerKey("loyalty:redeem:", req.Key), Actor: "loyalty"})
			if err != nil {
				return Redemption{}, fmt.Errorf("reward: redeem %q: %w", req.Key, err)
			}
			out.CouponID = c.ID
		}
		if err := l.store.TouchMember(ctx, tenant, req.Member, now); err != nil {
			return Redemption{}, err
		}
		return out, l.emit(ctx, tenant, TopicRedeemed, req.Member, req.Key, &out)
	})
}

// History is a member's history: a page of the ledger entries of its
// points account (accruals, redemptions, reversals, expiries; newest
// first) and every tier change (oldest first).
type History struct {
	Entries []ledger.Entry `json:"entries"`
	// Next is the Before of the next page of entries, 0 on the last.
	Next  int64        `json:"next,omitempty"`
	Tiers []TierChange `json:"tiers,omitempty"`
}

// History returns a member's history; before and limit page the ledger
// entries as in ledger.HistoryQuery. Errors: storage.ErrInvalidTenant,
// ErrMemberNotFound, the ledger's (ledger.ErrInvalidRequest for a bad
// limit) and the store's.
func (l *Loyalty) History(ctx context.Context, tenant storage.TenantID, member string, before int64, limit int) (History, error) {
	if err := tenant.Validate(); err != nil {
		return History{}, err
	}
	if _, err := l.store.Member(ctx, tenant, member); err != nil {
		return History{}, err
	}
	page, err := l.ledger.History(ctx, tenant, l.Account(member), ledger.HistoryQuery{Asset: l.cfg.Points, Before: before, Limit: limit})
	if err != nil {
		return History{}, err
	}
	tiers, err := l.store.TierChanges(ctx, tenant, member)
	if err != nil {
		return History{}, err
	}
	return History{Entries: page.Entries, Next: page.Next, Tiers: tiers}, nil
}
