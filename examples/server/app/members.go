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

// Members live in the library's records: the profile is the metadata of the
// member's points account in the ledger, registration is claimed by a
// bounded counter (so two instances cannot register one member twice), and
// lifetime points are a counter moved in the same transaction as each
// accrual. The points themselves are ledger postings.

// Risk action kinds.
const (
	actClaim   = "coupon.claim"
	actRedeem  = "points.redeem"
	actConsume = "coupon.consume"
)

// Ledger accounts of the loyalty programme.
const (
	accountRedeemed = "loyalty:redeemed" // points spent on redemptions
	accountOffers   = "loyalty:offers"   // points spent on offers
)

var memberPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func memberAccount(id string) string { return "member:" + id + ":points" }
func registeredKey(id string) string { return "member/" + id }
func lifetimeKey(id string) string   { return "lifetime/" + id }

// MemberProfile is a member as the API shows it.
type MemberProfile struct {
	MemberID       string    `json:"member_id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	Tier           string    `json:"tier"`
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

func (a *App) handleRegister(w http.ResponseWriter, r *http.Request) {
	c, _ := callerFrom(r.Context())
	var req registerReq
	if err := decode(w, r, a.cfg.MaxBody, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if c.Role == RoleMember && req.MemberID == "" {
		req.MemberID = c.Subject
	}
	if err := allow(c, RoleAdmin, RoleMember); err != nil || (c.Role == RoleMember && req.MemberID != c.Subject) {
		a.writeError(w, r, errForbidden)
		return
	}
	if !memberPattern.MatchString(req.MemberID) {
		a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "member_id must be 1 to 64 characters of [A-Za-z0-9_-]"))
		return
	}
	if addr, err := mail.ParseAddress(req.Email); err != nil || addr.Address != req.Email || len(req.Email) > 254 {
		a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "email must be a plain e-mail address"))
		return
	}
	if req.Name == "" || utf8.RuneCountInString(req.Name) > 100 {
		a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "name must have 1 to 100 characters"))
		return
	}
	a.write(w, r, "members.register", req, func(ctx context.Context) (int, any, error) {
		var p MemberProfile
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			_, applied, err := a.store.AddCounter(ctx, c.Tenant, registeredKey(req.MemberID), 1, storage.AtMost(1))
			if err != nil {
				return err
			}
			if !applied {
				return errorf(http.StatusConflict, "member_exists", "member "+req.MemberID+" is already registered")
			}
			now := a.clock.Now().UTC()
			_, err = a.kit.Ledger.OpenAccount(ctx, c.Tenant, ledger.Account{ID: memberAccount(req.MemberID), Metadata: map[string]string{
				"email": req.Email, "name": req.Name, "registered_at": now.Format(time.RFC3339Nano)}})
			if err != nil {
				return err
			}
			p, err = a.profile(ctx, c.Tenant, req.MemberID)
			return err
		})
		return http.StatusCreated, p, err
	})
}

// memberTarget resolves the {id} of a member route ("me" is the caller)
// and checks that the caller may act on it: the member themself, or an
// admin (and, where merchants is set, a merchant). A member asking for
// another member gets 404, as if it did not exist.
func (a *App) memberTarget(r *http.Request, merchants bool) (Caller, string, error) {
	c, _ := callerFrom(r.Context())
	id := r.PathValue("id")
	if id == "me" && c.Role == RoleMember {
		id = c.Subject
	}
	if !memberPattern.MatchString(id) {
		return c, "", errorf(http.StatusBadRequest, "invalid_field", "member id must be 1 to 64 characters of [A-Za-z0-9_-]")
	}
	switch {
	case c.Role == RoleAdmin:
	case c.Role == RoleMerchant && merchants:
	case c.Role == RoleMember && c.Subject == id:
	case c.Role == RoleMember:
		return c, "", errNotFound
	default:
		return c, "", errForbidden
	}
	return c, id, nil
}

func (a *App) registered(ctx context.Context, tenant storage.TenantID, id string) error {
	n, err := a.store.Counter(ctx, tenant, registeredKey(id))
	if err != nil {
		return err
	}
	if n < 1 {
		return errorf(http.StatusNotFound, "member_not_found", "no member "+id)
	}
	return nil
}

func (a *App) profile(ctx context.Context, tenant storage.TenantID, id string) (MemberProfile, error) {
	if err := a.registered(ctx, tenant, id); err != nil {
		return MemberProfile{}, err
	}
	acct, err := a.kit.Ledger.Account(ctx, tenant, memberAccount(id))
	if err != nil {
		return MemberProfile{}, err
	}
	bal, err := a.kit.Ledger.Balance(ctx, tenant, memberAccount(id), a.points)
	if err != nil {
		return MemberProfile{}, err
	}
	lifetime, err := a.store.Counter(ctx, tenant, lifetimeKey(id))
	if err != nil {
		return MemberProfile{}, err
	}
	p := MemberProfile{MemberID: id, Email: acct.Metadata["email"], Name: acct.Metadata["name"],
		Tier: a.cfg.Catalogue.tierOf(lifetime), LifetimePoints: lifetime}
	p.RegisteredAt, _ = time.Parse(time.RFC3339Nano, acct.Metadata["registered_at"])
	if p.Points, err = bal.Available.Minor(); err != nil {
		return MemberProfile{}, err
	}
	if p.HeldPoints, err = bal.Held.Minor(); err != nil {
		return MemberProfile{}, err
	}
	page, err := a.kit.Ledger.History(ctx, tenant, memberAccount(id), ledger.HistoryQuery{Asset: a.points, Limit: 1})
	if err != nil {
		return MemberProfile{}, err
	}
	if len(page.Entries) > 0 {
		p.LastActivity = page.Entries[0].At
	}
	return p, nil
}

func (a *App) handleProfile(w http.ResponseWriter, r *http.Request) {
	c, id, err := a.memberTarget(r, false)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p, err := a.profile(r.Context(), c.Tenant, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeData(w, r, http.StatusOK, p)
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

func (a *App) handleHistory(w http.ResponseWriter, r *http.Request) {
	c, id, err := a.memberTarget(r, false)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := ledger.HistoryQuery{Asset: a.points, Limit: 50}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "limit must be 1 to 500"))
			return
		}
		q.Limit = n
	}
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "before must be a positive sequence number"))
			return
		}
		q.Before = n
	}
	if err := a.registered(r.Context(), c.Tenant, id); err != nil {
		a.writeError(w, r, err)
		return
	}
	page, err := a.kit.Ledger.History(r.Context(), c.Tenant, memberAccount(id), q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := struct {
		Entries []HistoryEntry `json:"entries"`
		Next    int64          `json:"next,omitempty"`
	}{Entries: []HistoryEntry{}, Next: page.Next}
	for _, e := range page.Entries {
		pts, _ := e.Amount.Minor()
		bal, _ := e.Balance.Minor()
		out.Entries = append(out.Entries, HistoryEntry{Seq: e.Seq, TxID: e.TxID, Kind: historyKind(e), Points: pts, Balance: bal, Other: e.Other, At: e.At})
	}
	a.writeData(w, r, http.StatusOK, out)
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

func (a *App) handleAccrue(w http.ResponseWriter, r *http.Request) {
	c, id, err := a.memberTarget(r, true)
	if err == nil && c.Role == RoleMember {
		err = errForbidden // members do not grant themselves points
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req pointsReq
	if err := decode(w, r, a.cfg.MaxBody, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	amt, err := a.parsePoints(req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(a.clock.Now()) {
		a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "expires_at must lie in the future"))
		return
	}
	payload := struct {
		Member string
		Req    pointsReq
	}{id, req}
	if a.write(w, r, "points.accrue", payload, func(ctx context.Context) (int, any, error) {
		var res PointsResult
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			if err := a.registered(ctx, c.Tenant, id); err != nil {
				return err
			}
			meta := map[string]string{"reason": req.Reason, "by": string(c.Role) + ":" + c.Subject}
			tx, err := a.accrue(ctx, c.Tenant, id, "accrue:"+uuid.NewString(), amt, req.ExpiresAt, meta)
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
}

// accrue posts points from the world to the member and moves the lifetime
// counter, in the caller's transaction.
func (a *App) accrue(ctx context.Context, tenant storage.TenantID, member, key string, amt money.Amount, expires time.Time, meta map[string]string) (*ledger.Transaction, error) {
	tx, err := a.kit.Ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: key, Metadata: meta,
		Postings: []ledger.Posting{{Source: ledger.World, Destination: memberAccount(member), Amount: amt, ExpiresAt: expires}}})
	if err != nil {
		return nil, err
	}
	n, err := amt.Minor()
	if err != nil {
		return nil, err
	}
	if _, _, err := a.store.AddCounter(ctx, tenant, lifetimeKey(member), n, storage.Bounds{}); err != nil {
		return nil, err
	}
	return tx, nil
}

func (a *App) pointsResult(ctx context.Context, tenant storage.TenantID, member string, tx *ledger.Transaction, amt money.Amount) (PointsResult, error) {
	bal, err := a.kit.Ledger.Balance(ctx, tenant, memberAccount(member), a.points)
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

func (a *App) handleRedeem(w http.ResponseWriter, r *http.Request) {
	c, id, err := a.memberTarget(r, false)
	if err == nil && c.Role != RoleMember {
		err = errForbidden // only members spend their points
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req pointsReq
	if err := decode(w, r, a.cfg.MaxBody, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if !req.ExpiresAt.IsZero() {
		a.writeError(w, r, errorf(http.StatusBadRequest, "invalid_field", "expires_at applies to accruals only"))
		return
	}
	amt, err := a.parsePoints(req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.registered(r.Context(), c.Tenant, id); err != nil {
		a.writeError(w, r, err)
		return
	}
	d, err := a.riskCheck(r.Context(), c, risk.Action{Kind: actRedeem, UserID: id, IP: a.clientIP(r), Amount: amt})
	if err != nil {
		a.metrics.redemptions.WithLabelValues("points", "risk").Inc()
		a.writeError(w, r, err)
		return
	}
	payload := struct {
		Member string
		Req    pointsReq
	}{id, req}
	ok := a.write(w, r, "points.redeem", payload, func(ctx context.Context) (int, any, error) {
		var res PointsResult
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			tx, err := a.kit.Ledger.Transfer(ctx, c.Tenant, ledger.TransferRequest{Key: "redeem:" + uuid.NewString(),
				Metadata: map[string]string{"reason": req.Reason, "review": strconv.FormatBool(d.Outcome == risk.Review)},
				Postings: []ledger.Posting{{Source: memberAccount(id), Destination: accountRedeemed, Amount: amt}}})
			if err != nil {
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
}

func (a *App) availableOffers(ctx context.Context, tenant storage.TenantID, member string) ([]Offer, MemberProfile, error) {
	p, err := a.profile(ctx, tenant, member)
	if err != nil {
		return nil, p, err
	}
	out := []Offer{}
	rank := a.cfg.Catalogue.tierRank(p.Tier)
	for _, o := range a.cfg.Catalogue.Offers {
		if o.MinTier == "" || rank >= a.cfg.Catalogue.tierRank(o.MinTier) {
			out = append(out, o)
		}
	}
	return out, p, nil
}

func (a *App) handleOffers(w http.ResponseWriter, r *http.Request) {
	c, id, err := a.memberTarget(r, false)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	offers, _, err := a.availableOffers(r.Context(), c.Tenant, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeData(w, r, http.StatusOK, offers)
}

// ClaimedOffer is an offer claimed: the coupon and the points it cost.
type ClaimedOffer struct {
	OfferID  string        `json:"offer_id"`
	Coupon   coupon.Coupon `json:"coupon"`
	Points   int64         `json:"points_spent"`
	Balance  int64         `json:"balance"`
	LedgerTx string        `json:"transaction_id,omitempty"`
}

func (a *App) handleClaimOffer(w http.ResponseWriter, r *http.Request) {
	c, id, err := a.memberTarget(r, false)
	if err == nil && c.Role != RoleMember {
		err = errForbidden
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	offerID := r.PathValue("offer")
	ok := a.write(w, r, "offers.claim", struct{ Member, Offer string }{id, offerID}, func(ctx context.Context) (int, any, error) {
		var res ClaimedOffer
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			offers, _, err := a.availableOffers(ctx, c.Tenant, id)
			if err != nil {
				return err
			}
			var offer *Offer
			for i := range offers {
				if offers[i].ID == offerID {
					offer = &offers[i]
				}
			}
			if offer == nil {
				return errorf(http.StatusNotFound, "offer_not_found", "no offer "+offerID+" available to this member")
			}
			res.OfferID = offer.ID
			if offer.PointsCost > 0 {
				tx, err := a.kit.Ledger.Transfer(ctx, c.Tenant, ledger.TransferRequest{Key: "offer:" + uuid.NewString(),
					Metadata: map[string]string{"offer": offer.ID},
					Postings: []ledger.Posting{{Source: memberAccount(id), Destination: accountOffers, Amount: money.FromMinor(offer.PointsCost, a.points)}}})
				if err != nil {
					return err
				}
				res.LedgerTx, res.Points = tx.ID, offer.PointsCost
			}
			cp, err := a.kit.Coupons.Claim(ctx, coupon.ClaimRequest{Tenant: c.Tenant, TemplateID: offer.TemplateID, UserID: id, Actor: "offer:" + offer.ID})
			if err != nil {
				return err
			}
			res.Coupon = cp
			bal, err := a.kit.Ledger.Balance(ctx, c.Tenant, memberAccount(id), a.points)
			if err != nil {
				return err
			}
			res.Balance, _ = bal.Available.Minor()
			return nil
		})
		return http.StatusCreated, res, err
	})
	a.metrics.claims.WithLabelValues("offer_" + strconv.FormatBool(ok)).Inc()
}

// pointsAwarder grants campaign awards of points through the ledger, in the
// engine's transaction, and takes them back with a reversal.
type pointsAwarder struct{ a *App }

func (p pointsAwarder) Grant(ctx context.Context, tenant storage.TenantID, req reward.AwardRequest) (string, error) {
	if req.Award.Kind != reward.AwardPoints {
		return "", fmt.Errorf("%w: award kind %q", reward.ErrInvalidArgument, req.Award.Kind)
	}
	tx, err := p.a.accrue(ctx, tenant, req.Participant, "award:"+req.Key, req.Award.Amount, time.Time{},
		map[string]string{"campaign": req.Campaign, "slot": req.Slot})
	if err != nil {
		return "", err
	}
	return tx.ID, nil
}

func (p pointsAwarder) Revoke(ctx context.Context, tenant storage.TenantID, req reward.AwardRequest, ref string) error {
	_, err := p.a.kit.Ledger.Reverse(ctx, tenant, ref, ledger.ReverseRequest{Key: "award-revoke:" + req.Key})
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		// The member spent the award already: the clawback is recorded as
		// a shortfall for review rather than blocking the event stream.
		n, _ := req.Award.Amount.Minor()
		_, _, err = p.a.store.AddCounter(ctx, tenant, "clawback-shortfall/"+req.Participant, n, storage.Bounds{})
		return err
	}
	if err != nil {
		return err
	}
	n, _ := req.Award.Amount.Minor()
	_, _, err = p.a.store.AddCounter(ctx, tenant, lifetimeKey(req.Participant), -n, storage.Bounds{})
	return err
}
