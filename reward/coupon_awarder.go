package reward

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/storage"
)

// CouponAwarder is an Awarder that gives AwardCoupon awards: Grant claims
// Award.Quantity coupons of Award.Template for the participant through
// coupon.Service.Claim (idempotent per coupon on a key derived from
// AwardRequest.Key), and Revoke freezes those of them still unused
// (ACTIVATED or LOCKED: they can no longer be locked or used; support can
// unfreeze one by hand). Coupons already used, expired, refunded or
// frozen are left as they are: a used coupon cannot be taken back. It runs
// with the ctx it is given, so the claims join the event's transaction
// when the coupon service runs over the same store. It is safe for
// concurrent use.
//
// A template's own limits still apply: a per-user limit or stock that
// refuses the claim fails the award (coupon.ErrUserLimit,
// coupon.ErrOutOfStock) and rolls the event back, so size the template
// for the campaign.
type CouponAwarder struct {
	coupons *coupon.Service
}

// NewCouponAwarder returns a CouponAwarder; ErrInvalidConfig without a
// service.
func NewCouponAwarder(coupons *coupon.Service) (*CouponAwarder, error) {
	if coupons == nil {
		return nil, fmt.Errorf("%w: NewCouponAwarder needs a coupon.Service", ErrInvalidConfig)
	}
	return &CouponAwarder{coupons: coupons}, nil
}

// Grant claims the coupons and returns their IDs, comma-separated.
// Errors: ErrInvalidArgument for an award that is not a coupon; the
// coupon service's (coupon.ErrUnknownTemplate, coupon.ErrOutOfStock,
// coupon.ErrUserLimit, *coupon.ConditionError, ...).
func (a *CouponAwarder) Grant(ctx context.Context, tenant storage.TenantID, req AwardRequest) (string, error) {
	if req.Award.Kind != AwardCoupon {
		return "", fmt.Errorf("%w: a coupon awarder gives coupons, not %q", ErrInvalidArgument, req.Award.Kind)
	}
	n := max(req.Award.Quantity, 1)
	ids := make([]string, 0, n)
	for i := range n {
		c, err := a.coupons.Claim(ctx, coupon.ClaimRequest{
			Tenant: tenant, TemplateID: req.Award.Template, UserID: req.Participant,
			RequestKey: ledgerKey("award:", req.Key+"#"+strconv.Itoa(i)), Actor: "reward:" + req.Campaign,
		})
		if err != nil {
			return "", err
		}
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ","), nil
}

// Revoke freezes the coupons of ref that are still unused. Errors:
// ErrInvalidArgument for an empty ref; coupon.ErrUnknownCoupon; the
// coupon service's.
func (a *CouponAwarder) Revoke(ctx context.Context, tenant storage.TenantID, req AwardRequest, ref string) error {
	if ref == "" {
		return fmt.Errorf("%w: revoke of %q without coupon IDs", ErrInvalidArgument, req.Key)
	}
	for _, id := range strings.Split(ref, ",") {
		c, err := a.coupons.Coupon(ctx, tenant, id)
		if err != nil {
			return err
		}
		if c.State != coupon.StateActivated && c.State != coupon.StateLocked {
			continue
		}
		_, err = a.coupons.Freeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: id, Actor: "reward:" + req.Campaign,
			Reason: "award " + req.Key + " clawed back"})
		if err != nil {
			return err
		}
	}
	return nil
}

// Awarders routes each award to the Awarder registered for its kind, e.g.
// Awarders{AwardPoints: la, AwardCash: la, AwardCoupon: ca}.
type Awarders map[AwardKind]Awarder

// Grant implements Awarder; ErrInvalidArgument for a kind with no Awarder.
func (m Awarders) Grant(ctx context.Context, tenant storage.TenantID, req AwardRequest) (string, error) {
	a, err := m.pick(req.Award.Kind)
	if err != nil {
		return "", err
	}
	return a.Grant(ctx, tenant, req)
}

// Revoke implements Awarder; ErrInvalidArgument for a kind with no
// Awarder.
func (m Awarders) Revoke(ctx context.Context, tenant storage.TenantID, req AwardRequest, ref string) error {
	a, err := m.pick(req.Award.Kind)
	if err != nil {
		return err
	}
	return a.Revoke(ctx, tenant, req, ref)
}

func (m Awarders) pick(k AwardKind) (Awarder, error) {
	if a, ok := m[k]; ok && a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("%w: no awarder for %q awards", ErrInvalidArgument, k)
}
