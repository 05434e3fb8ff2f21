package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

// Members are kit.Loyalty's: registration, profile (points, tier,
// lifetime), history, offers and their redemption. Two things the loyalty
// program does not offer are done beside it on the same records, in the
// same transaction: a grant of a fixed number of points (admin accrue,
// campaign awards) and a redemption of a free number of points (points
// redeem); see grant, takeBack and handleRedeem.

// Risk action kinds.
const (
	actClaim   = "coupon.claim"
	actRedeem  = "points.redeem"
	actConsume = "coupon.consume"
)

// accountRedeemed is the ledger account redeemed points go to (the loyalty
// program's Sink): offers and free redemptions alike.
const accountRedeemed = "loyalty:redeemed"

var memberPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MemberProfile is a member as the API shows it.
type MemberProfile struct {
	MemberID       string    `json:"member_id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	Tier           string    `json:"tier"`
	TierSince      time.Time `json:"tier_since,omitzero"`
	Points         int64     `json:"points"`
	HeldPoints     int64     `json:"held_points"`
	LifetimePoints int64     `json:"lifetime_points"`
	RegisteredAt   time.Time `json:"registered_at"`
	LastActivity   time.Time `json:"last_activity,omitzero"`
}

type registerReq struct {
	MemberID string `json:"member_id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
}

// handleRegister reads the body before it checks the caller: a member
// registers itself, with or without its member_id.
func (a *App) handleRegister(w http.ResponseWriter, r *http.Request, c Caller, req registerReq) error {
	if c.Role == RoleMember && req.MemberID == "" {
		req.MemberID = c.Subject
	}
	if err := allow(c, RoleAdmin, RoleMember); err != nil || (c.Role == RoleMember && req.MemberID != c.Subject) {
		return errForbidden
	}
	if !memberPattern.MatchString(req.MemberID) {
		return errorf(http.StatusBadRequest, "invalid_field", "member_id must be 1 to 64 characters of [A-Za-z0-9_-]")
	}
	if addr, err := mail.ParseAddress(req.Email); err != nil || addr.Address != req.Email || len(req.Email) > 254 {
		return errorf(http.StatusBadRequest, "invalid_field", "email must be a plain e-mail address")
	}
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 100 {
		return errorf(http.StatusBadRequest, "invalid_field", "name must have 1 to 100 characters")
	}
	a.write(w, r, "members.register", req, func(ctx context.Context) (int, any, error) {
		if _, err := a.kit.Loyalty.Register(ctx, c.Tenant, reward.Registration{ID: req.MemberID, Email: req.Email, Name: req.Name}); err != nil {
			return 0, nil, err
		}
		p, err := a.profile(ctx, c.Tenant, req.MemberID)
		return http.StatusCreated, p, err
	})
	return nil
}

// memberTarget resolves the {id} of a member route ("me" is the caller)
// and checks that the caller may act on it: the member themself, or an
// admin (and, where merchants is set, a merchant). A member asking for
// another member gets 404, as if it did not exist.
func memberTarget(r *http.Request, c Caller, merchants bool) (string, error) {
	id := r.PathValue("id")
	if id == "me" && c.Role == RoleMember {
		id = c.Subject
	}
	if !memberPattern.MatchString(id) {
		return "", errorf(http.StatusBadRequest, "invalid_field", "member id must be 1 to 64 characters of [A-Za-z0-9_-]")
	}
	switch {
	case c.Role == RoleAdmin:
	case c.Role == RoleMerchant && merchants:
	case c.Role == RoleMember && c.Subject == id:
	case c.Role == RoleMember:
		return "", errNotFound
	default:
		return "", errForbidden
	}
	return id, nil
}

// registered reports ErrMemberNotFound (404 member_not_found) unless id
// is a member of the tenant's loyalty program.
func (a *App) registered(ctx context.Context, tenant storage.TenantID, id string) error {
	_, err := a.store.Loyalty().Member(ctx, tenant, id)
	return err
}

func (a *App) profile(ctx context.Context, tenant storage.TenantID, id string) (MemberProfile, error) {
	m, err := a.kit.Loyalty.Member(ctx, tenant, id)
	if err != nil {
		return MemberProfile{}, err
	}
	// Member has the available points; the held ones are the ledger's.
	bal, err := a.kit.Ledger.Balance(ctx, tenant, a.kit.Loyalty.Account(id), a.points)
	if err != nil {
		return MemberProfile{}, err
	}
	p := MemberProfile{MemberID: id, Email: m.Email, Name: m.Name, Tier: m.Tier, TierSince: m.TierSince,
		RegisteredAt: m.RegisteredAt, LastActivity: m.LastActivity}
	if p.Points, err = m.Points.Minor(); err != nil {
		return MemberProfile{}, err
	}
	if p.LifetimePoints, err = m.Lifetime.Minor(); err != nil {
		return MemberProfile{}, err
	}
	if p.HeldPoints, err = bal.Held.Minor(); err != nil {
		return MemberProfile{}, err
	}
	return p, nil
}

func (a *App) handleProfile(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, false)
	if err != nil {
		return err
	}
	p, err := a.profile(r.Context(), c.Tenant, id)
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusOK, p)
	return nil
}

// HistoryEntry is one points movement of a member.
type HistoryEntry struct {
	Seq     int64     `json:"seq"`
	TxID    string    `json:"tx_id"`
	Kind    string    `json:"kind"` // accrual, redemption, reversal, expiry, ...
	Points  int64     `json:"points"`
	Balance int64     `json:"balance"`
	Other   string    `json:"counterparty"`
	At      time.Time `json:"at"`
}

func (a *App) handleHistory(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, false)
	if err != nil {
		return err
	}
	limit, before := 50, int64(0)
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return errorf(http.StatusBadRequest, "invalid_field", "limit must be 1 to 500")
		}
		limit = n
	}
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, "invalid_field", "before must be a positive sequence number")
		}
		before = n
	}
	page, err := a.kit.Loyalty.History(r.Context(), c.Tenant, id, before, limit)
	if err != nil {
		return err
	}
	out := struct {
		Entries []HistoryEntry      `json:"entries"`
		Next    int64               `json:"next,omitempty"`
		Tiers   []reward.TierChange `json:"tiers"`
	}{Entries: []HistoryEntry{}, Next: page.Next, Tiers: page.Tiers}
	if out.Tiers == nil {
		out.Tiers = []reward.TierChange{}
	}
	for _, e := range page.Entries {
		pts, _ := e.Amount.Minor()
		bal, _ := e.Balance.Minor()
		out.Entries = append(out.Entries, HistoryEntry{Seq: e.Seq, TxID: e.TxID, Kind: historyKind(e), Points: pts, Balance: bal, Other: e.Other, At: e.At})
	}
	a.writeData(w, r, http.StatusOK, out)
	return nil
}

func historyKind(e ledger.Entry) string {
	switch {
	case e.Kind == ledger.KindReversal:
		return "reversal"
	case e.Kind == ledger.KindExpiry:
		return "expiry"
	case e.Amount.IsPositive():
		return "accrual"
	default:
		return "redemption"
	}
}

type pointsReq struct {
	Points    Decimal   `json:"points"`
	Reason    string    `json:"reason,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// PointsResult is the answer of accrue and redeem.
type PointsResult struct {
	TransactionID string `json:"transaction_id"`
	Points        int64  `json:"points"`
	Balance       int64  `json:"balance"`
	Review        bool   `json:"review,omitempty"`
}

func (a *App) parsePoints(req pointsReq) (money.Amount, error) {
	amt, err := req.Points.amount("points", a.points, false)
	if err != nil {
		return amt, err
	}
	if n, _ := amt.Minor(); n > 10_000_000 {
		return amt, errorf(http.StatusBadRequest, "invalid_amount", "points must be at most 10000000 per call")
	}
	if utf8.RuneCountInString(req.Reason) > 200 {
		return amt, errorf(http.StatusBadRequest, "invalid_field", "reason must have at most 200 characters")
	}
	return amt, nil
}

// handleAccrue checks the member and the caller before it reads the body
// (which withBody would read first).
func (a *App) handleAccrue(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, true)
	if err != nil {
		return err
	}
	if c.Role == RoleMember {
		return errForbidden // members do not grant themselves points
	}
	var req pointsReq
	if err := decode(w, r, a.cfg.MaxBody, &req); err != nil {
		return err
	}
	amt, err := a.parsePoints(req)
	if err != nil {
		return err
	}
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(a.clock.Now()) {
		return errorf(http.StatusBadRequest, "invalid_field", "expires_at must lie in the future")
	}
	payload := struct {
		Member string
		Req    pointsReq
	}{id, req}
	if a.write(w, r, "points.accrue", payload, func(ctx context.Context) (int, any, error) {
		var res PointsResult
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			meta := map[string]string{"reason": req.Reason, "by": string(c.Role) + ":" + c.Subject}
			tx, err := a.grant(ctx, c.Tenant, id, "accrue:"+uuid.NewString(), amt, req.ExpiresAt, meta)
			if err != nil {
				return err
			}
			res, err = a.pointsResult(ctx, c.Tenant, id, tx, amt)
			return err
		})
		return http.StatusCreated, res, err
	}) {
		a.metrics.postings.WithLabelValues("accrual").Inc()
	}
	return nil
}

// grant gives a member a fixed number of points, in the caller's
// transaction. kit.Loyalty accrues only by its earning rules (spend times
// rates, bonuses), so a fixed grant is done on its records: the points are
// posted to the member's loyalty account, recorded as an accrual of the
// member (its lifetime moves) and the tier re-evaluated. ErrMemberNotFound
// for a member not registered.
func (a *App) grant(ctx context.Context, tenant storage.TenantID, member, key string, amt money.Amount, expires time.Time, meta map[string]string) (*ledger.Transaction, error) {
	if err := a.registered(ctx, tenant, member); err != nil {
		return nil, err
	}
	tx, err := a.kit.Ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: key, Metadata: meta,
		Postings: []ledger.Posting{{Source: ledger.World, Destination: a.kit.Loyalty.Account(member), Amount: amt, ExpiresAt: expires}}})
	if err != nil {
		return nil, err
	}
	n, err := amt.Minor()
	if err != nil {
		return nil, err
	}
	if err := a.recordAccrual(ctx, tenant, member, key, n); err != nil {
		return nil, err
	}
	return tx, nil
}

// takeBack reverses n points of the ledger transaction txID (a grant or a
// loyalty accrual) and records it as a negative accrual, so that lifetime
// points and the tier follow. kit.Loyalty has no reversal of accruals.
// ledger.ErrInsufficientFunds, with nothing written, when the member spent
// them: checked before the reversal, because a failed write inside the
// caller's transaction would mark it rollback-only (a reversal that loses
// a race with a redemption fails so, and the event is retried).
func (a *App) takeBack(ctx context.Context, tenant storage.TenantID, member, txID, key string, n int64) error {
	bal, err := a.kit.Ledger.Balance(ctx, tenant, a.kit.Loyalty.Account(member), a.points)
	if err != nil {
		return err
	}
	if avail, _ := bal.Available.Minor(); avail < n {
		return fmt.Errorf("app: take back %d points of %s (%d left): %w", n, member, avail, ledger.ErrInsufficientFunds)
	}
	if _, err := a.kit.Ledger.Reverse(ctx, tenant, txID, ledger.ReverseRequest{Key: key, Amounts: []money.Amount{money.FromMinor(n, a.points)}}); err != nil {
		return err
	}
	return a.recordAccrual(ctx, tenant, member, key, -n)
}

// recordAccrual adds n points (negative for a reversal) to the member's
// lifetime under key and settles its tier.
func (a *App) recordAccrual(ctx context.Context, tenant storage.TenantID, member, key string, n int64) error {
	if _, err := a.store.Loyalty().AddAccrual(ctx, tenant, reward.AccrualRecord{Member: member, Key: key, At: a.clock.Now(), Points: n}); err != nil {
		return err
	}
	_, err := a.kit.Loyalty.EvaluateTier(ctx, tenant, member)
	return err
}

func (a *App) pointsResult(ctx context.Context, tenant storage.TenantID, member string, tx *ledger.Transaction, amt money.Amount) (PointsResult, error) {
	bal, err := a.kit.Ledger.Balance(ctx, tenant, a.kit.Loyalty.Account(member), a.points)
	if err != nil {
		return PointsResult{}, err
	}
	pts, _ := amt.Minor()
	b, _ := bal.Available.Minor()
	return PointsResult{TransactionID: tx.ID, Points: pts, Balance: b}, nil
}

// riskCheck runs the shared risk controls for an action and turns a refusal
// into an API error; a Freeze also deny-lists the member for FreezeFor.
func (a *App) riskCheck(ctx context.Context, c Caller, act risk.Action) (risk.Decision, error) {
	d, err := a.kit.Risk.Check(ctx, c.Tenant, act)
	if err != nil {
		return d, err
	}
	a.metrics.risk.WithLabelValues(act.Kind, d.Outcome.String()).Inc()
	if !d.Refused() {
		return d, nil
	}
	detail := ""
	if len(d.Reasons) > 0 {
		detail = d.Reasons[0].String()
	}
	a.log.WarnContext(ctx, "risk refused", "kind", act.Kind, "outcome", d.Outcome.String(), "reason", detail)
	if d.Outcome == risk.Freeze && act.UserID != "" {
		now := a.clock.Now()
		if err := a.kit.Risk.Deny(ctx, c.Tenant, risk.Entry{List: risk.User, Value: act.UserID, Reason: detail,
			CreatedAt: now, ExpiresAt: now.Add(a.cfg.FreezeFor)}); err != nil {
			return d, err
		}
	}
	for _, reason := range d.Reasons {
		if reason.Policy == "denied" {
			return d, errorf(http.StatusForbidden, "denied", "this account or address is blocked by risk control")
		}
	}
	a.metrics.rateLimited.WithLabelValues("risk").Inc()
	return d, errorf(http.StatusTooManyRequests, "risk_limited", "refused by risk control: "+detail)
}

// handleRedeem, like handleAccrue, checks the member and the caller before
// it reads the body.
func (a *App) handleRedeem(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, false)
	if err != nil {
		return err
	}
	if c.Role != RoleMember {
		return errForbidden // only members spend their points
	}
	var req pointsReq
	if err := decode(w, r, a.cfg.MaxBody, &req); err != nil {
		return err
	}
	if !req.ExpiresAt.IsZero() {
		return errorf(http.StatusBadRequest, "invalid_field", "expires_at applies to accruals only")
	}
	amt, err := a.parsePoints(req)
	if err != nil {
		return err
	}
	if err := a.registered(r.Context(), c.Tenant, id); err != nil {
		return err
	}
	d, err := a.riskCheck(r.Context(), c, risk.Action{Kind: actRedeem, UserID: id, IP: a.clientIP(r), Amount: amt})
	if err != nil {
		a.metrics.redemptions.WithLabelValues("points", "risk").Inc()
		return err
	}
	payload := struct {
		Member string
		Req    pointsReq
	}{id, req}
	ok := a.write(w, r, "points.redeem", payload, func(ctx context.Context) (int, any, error) {
		var res PointsResult
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			// kit.Loyalty redeems points for offers only: a free number of
			// points is taken from the member's loyalty account to the
			// program's sink directly (never below zero: the ledger's
			// conditional write), and the member's activity touched.
			tx, err := a.kit.Ledger.Transfer(ctx, c.Tenant, ledger.TransferRequest{Key: "redeem:" + uuid.NewString(),
				Metadata: map[string]string{"member": id, "reason": req.Reason, "review": strconv.FormatBool(d.Outcome == risk.Review)},
				Postings: []ledger.Posting{{Source: a.kit.Loyalty.Account(id), Destination: accountRedeemed, Amount: amt}}})
			if err != nil {
				return err
			}
			if err := a.store.Loyalty().TouchMember(ctx, c.Tenant, id, a.clock.Now()); err != nil {
				return err
			}
			res, err = a.pointsResult(ctx, c.Tenant, id, tx, amt)
			res.Review = d.Outcome == risk.Review
			return err
		})
		return http.StatusCreated, res, err
	})
	a.metrics.redemptions.WithLabelValues("points", strconv.FormatBool(ok)).Inc()
	if ok {
		a.metrics.postings.WithLabelValues("redemption").Inc()
	}
	return nil
}

func (a *App) handleOffers(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, false)
	if err != nil {
		return err
	}
	offers, err := a.kit.Loyalty.Offers(r.Context(), c.Tenant, id)
	if offers == nil {
		offers = []reward.Offer{}
	}
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusOK, offers)
	return nil
}

// ClaimedOffer is an offer claimed: the coupon and the points it cost.
type ClaimedOffer struct {
	OfferID  string        `json:"offer_id"`
	Coupon   coupon.Coupon `json:"coupon"`
	Points   int64         `json:"points_spent"`
	Balance  int64         `json:"balance"`
	LedgerTx string        `json:"transaction_id,omitempty"`
}

func (a *App) handleClaimOffer(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, false)
	if err != nil {
		return err
	}
	if c.Role != RoleMember {
		return errForbidden
	}
	offerID := r.PathValue("offer")
	ok := a.write(w, r, "offers.claim", struct{ Member, Offer string }{id, offerID}, func(ctx context.Context) (int, any, error) {
		var res ClaimedOffer
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			// The points, the coupon and this request's idempotency
			// record commit together; the redemption key is fresh per
			// run, the Idempotency-Key replays the stored answer.
			red, err := a.kit.Loyalty.Redeem(ctx, c.Tenant, reward.RedeemRequest{Key: "offer:" + uuid.NewString(), Member: id, Offer: offerID})
			if err != nil {
				return err
			}
			res.OfferID, res.LedgerTx = red.Offer, red.TxID
			if res.Points, err = red.Points.Minor(); err != nil {
				return err
			}
			if red.CouponID != "" {
				if res.Coupon, err = a.kit.Coupons.Coupon(ctx, c.Tenant, red.CouponID); err != nil {
					return err
				}
			}
			bal, err := a.kit.Ledger.Balance(ctx, c.Tenant, a.kit.Loyalty.Account(id), a.points)
			if err != nil {
				return err
			}
			res.Balance, _ = bal.Available.Minor()
			return nil
		})
		return http.StatusCreated, res, err
	})
	a.metrics.claims.WithLabelValues("offer_" + strconv.FormatBool(ok)).Inc()
	return nil
}

// pointsAwarder grants campaign awards of points to loyalty members (a
// grant: their lifetime and tier move too), in the engine's transaction,
// and takes them back. It is kit.Rewards' awarder (Config.RewardAwarder).
type pointsAwarder struct{ a *App }

func (p pointsAwarder) Grant(ctx context.Context, tenant storage.TenantID, req reward.AwardRequest) (string, error) {
	if req.Award.Kind != reward.AwardPoints {
		return "", fmt.Errorf("%w: award kind %q", reward.ErrInvalidArgument, req.Award.Kind)
	}
	tx, err := p.a.grant(ctx, tenant, req.Participant, "award:"+req.Key, req.Award.Amount, time.Time{},
		map[string]string{"campaign": req.Campaign, "slot": req.Slot})
	if err != nil {
		return "", err
	}
	return tx.ID, nil
}

func (p pointsAwarder) Revoke(ctx context.Context, tenant storage.TenantID, req reward.AwardRequest, ref string) error {
	n, err := req.Award.Amount.Minor()
	if err != nil {
		return err
	}
	err = p.a.takeBack(ctx, tenant, req.Participant, ref, "award-revoke:"+req.Key, n)
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		// The member spent the award already: the clawback is recorded as
		// a shortfall for review rather than blocking the event stream.
		_, _, err = p.a.store.AddCounter(ctx, tenant, "clawback-shortfall/"+req.Participant, n, storage.Bounds{})
	}
	return err
}
