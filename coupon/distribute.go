package coupon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rewardkit/rewardkit/storage"
)

// DistributeRequest gives one coupon of a template to each user of a list.
type DistributeRequest struct {
	Tenant     storage.TenantID
	ID         string // the distribution's ID: the caller's key for the whole batch
	TemplateID string
	Users      []string
	// BatchSize is the number of users handled per transaction; default 100.
	BatchSize int
	Actor     string
}

const maxFailures = 100

// Distribute runs a batch distribution: it creates it on the first call
// and then works through the users from where it stands, one transaction
// per batch that issues the batch's coupons and saves the progress
// together. Calling it again with the same ID resumes (after a crash, or
// from another instance) and never gives a user a second coupon: each
// user's issue is idempotent under (ID, user). Users refused by the
// per-user limit are counted as skipped; claim conditions are not checked
// (the list is the targeting). When the stock runs out the distribution
// stops as DistributionExhausted. Progress is observable with
// Service.Distribution.
//
// Errors: ErrInvalidRequest (also when the ID was used for another
// template or user list), ErrUnknownTemplate, ErrNotClaimable, ErrExpired
// / ErrNotStarted (outside the claim window), storage errors (the progress
// made so far is kept; call again to resume).
func (s *Service) Distribute(ctx context.Context, req DistributeRequest) (Distribution, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Distribution{}, err
	}
	if err := validID("distribution ID", req.ID); err != nil {
		return Distribution{}, err
	}
	if len(req.Users) == 0 {
		return Distribution{}, fmt.Errorf("%w: a distribution needs users", ErrInvalidRequest)
	}
	for _, u := range req.Users {
		if err := validID("user ID", u); err != nil {
			return Distribution{}, err
		}
	}
	tpl, comp, err := s.template(ctx, req.Tenant, req.TemplateID)
	if err != nil {
		return Distribution{}, err
	}
	if tpl.Auto {
		return Distribution{}, fmt.Errorf("%w: %s is an automatic promotion", ErrNotClaimable, tpl.ID)
	}
	it := issuingOf(&tpl)
	now := s.clock.Now()
	d := Distribution{
		Tenant: req.Tenant, ID: req.ID, TemplateID: req.TemplateID, Users: slices.Clone(req.Users),
		Status: DistributionRunning, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if err := s.store.CreateDistribution(ctx, d); err != nil {
		if !errors.Is(err, storage.ErrDuplicate) {
			return Distribution{}, err
		}
		if d, err = s.store.Distribution(ctx, req.Tenant, req.ID); err != nil {
			return Distribution{}, err
		}
		if d.TemplateID != req.TemplateID || !slices.Equal(d.Users, req.Users) {
			return Distribution{}, fmt.Errorf("%w: distribution %s exists with another template or user list", ErrInvalidRequest, req.ID)
		}
	}
	batch := req.BatchSize
	if batch <= 0 {
		batch = 100
	}
	for d.Status == DistributionRunning {
		if err := ctx.Err(); err != nil {
			return d, err
		}
		now := s.clock.Now()
		if err := tpl.Validity.claimable(now); err != nil {
			return d, fmt.Errorf("template %s: %w", tpl.ID, err)
		}
		var nd Distribution
		err := s.tx.InTx(ctx, func(ctx context.Context) error {
			cur, err := s.store.Distribution(ctx, req.Tenant, req.ID)
			if err != nil {
				return err
			}
			nd = cur
			nd.Failures = slices.Clone(cur.Failures)
			if nd.Status != DistributionRunning {
				return nil
			}
			end := min(nd.Next+batch, len(nd.Users))
			for _, u := range nd.Users[nd.Next:end] {
				prior, err := s.cfg.Idempotency.ClaimIdempotencyKey(ctx, storage.IdempotencyRecord{
					Tenant: req.Tenant, Operation: "coupon.distribute", Key: req.ID + "/" + u, Fingerprint: tpl.ID, CreatedAt: now,
				})
				if err != nil {
					return err
				}
				if prior != nil { // this user was served already (a repeated user)
					nd.Next++
					continue
				}
				rec, err := s.newClaim(&it, comp, u, now, change{ev: EventClaim, actor: defaulted(req.Actor, "distribution:"+req.ID), reason: "distribution " + req.ID})
				if err != nil {
					return err
				}
				c, refusal, err := s.issue(ctx, &it, comp, &rec, true)
				if err != nil {
					return err
				}
				switch {
				case errors.Is(refusal, ErrOutOfStock):
					nd.Status = DistributionExhausted
				case refusal != nil:
					nd.Skipped++
					if len(nd.Failures) < maxFailures {
						nd.Failures = append(nd.Failures, DistributionFailure{UserID: u, Reason: refusal.Error()})
					}
				default:
					nd.Issued++
				}
				if err := s.cfg.Idempotency.CompleteIdempotencyKey(ctx, req.Tenant, "coupon.distribute", req.ID+"/"+u, []byte(`"`+c.ID+`"`)); err != nil {
					return err
				}
				if nd.Status != DistributionRunning {
					break
				}
				nd.Next++
			}
			if nd.Status == DistributionRunning && nd.Next >= len(nd.Users) {
				nd.Status = DistributionDone
			}
			nd.UpdatedAt = now
			nd.Version = cur.Version + 1
			return s.store.UpdateDistribution(ctx, nd, cur.Version)
		})
		if err != nil {
			return d, err
		}
		d = nd
	}
	return d, nil
}

// Distribution returns a distribution's progress. Errors: storage.ErrNotFound.
func (s *Service) Distribution(ctx context.Context, tenant storage.TenantID, id string) (Distribution, error) {
	return s.store.Distribution(ctx, tenant, id)
}
