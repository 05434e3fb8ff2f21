package coupon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// ClaimRequest asks for one coupon of a template for a user.
type ClaimRequest struct {
	Tenant     storage.TenantID
	TemplateID string
	UserID     string
	// RequestKey makes the claim idempotent: the same key (per tenant)
	// returns the first claim's coupon. Optional.
	RequestKey string
	// Facts for the template's claim conditions; Now and User.ID are
	// filled in when empty.
	Facts *rules.Facts
	Actor string
}

type claimPayload struct {
	Template string `json:"template"`
	User     string `json:"user"`
}

// Claim issues a coupon of a template to a user, ACTIVATED, within the
// template's stock and per-user limit. The stock is taken by one
// conditional write, last in the transaction, so concurrent claims over
// many host instances never issue more than the stock.
//
// With no transaction in ctx and no RequestKey, a store that offers it
// (directClaimer) makes the whole claim one atomic step of its own:
// PostgreSQL one autocommit statement, memory one step under its lock.
// Otherwise the claim runs in a transaction (joining the one in ctx). The
// template is read through the Service's short-lived template cache
// (Config.TemplateCacheTTL).
//
// Errors: ErrInvalidRequest, ErrUnknownTemplate, ErrNotClaimable (an
// automatic promotion), ErrNotStarted / ErrExpired (outside the claim
// window), *ConditionError (ErrConditionFailed), ErrUserLimit,
// ErrOutOfStock, storage.ErrIdempotencyMismatch (RequestKey reused for
// another template or user). A refused claim changes nothing.
func (s *Service) Claim(ctx context.Context, req ClaimRequest) (Coupon, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Coupon{}, err
	}
	if err := validID("template ID", req.TemplateID); err != nil {
		return Coupon{}, err
	}
	if err := validID("user ID", req.UserID); err != nil {
		return Coupon{}, err
	}
	tpl, comp, err := s.cachedTemplate(ctx, req.Tenant, req.TemplateID)
	if err != nil {
		return Coupon{}, err
	}
	if tpl.Auto {
		return Coupon{}, fmt.Errorf("%w: %s is an automatic promotion", ErrNotClaimable, tpl.ID)
	}
	now := s.clock.Now()
	if err := tpl.Validity.claimable(now); err != nil {
		return Coupon{}, fmt.Errorf("template %s: %w", tpl.ID, err)
	}
	if comp.has(PhaseClaim) {
		if err := comp.check(ctx, tpl.ID, PhaseClaim, facts(req.Facts, req.UserID, now)); err != nil {
			return Coupon{}, err
		}
	}
	it := issuingOf(tpl)
	rec, err := s.newClaim(&it, comp, req.UserID, now, change{ev: EventClaim, actor: defaulted(req.Actor, req.UserID)})
	if err != nil {
		return Coupon{}, err
	}
	if req.RequestKey == "" && it.giftCard == nil {
		if d, ok := s.store.(directClaimer); ok {
			c, handled, err := s.claimDirect(ctx, d, &it, comp, &rec)
			if handled {
				return c, err
			}
		}
	}
	return s.claimInTx(ctx, &it, comp, &rec, req.RequestKey)
}

// claimInTx is Claim's general path: the claim in a transaction (the one
// in ctx, or its own), idempotent under key when key is not empty. It is
// a function of its own so that the heap allocation of its claimOp is
// paid by this path only.
func (s *Service) claimInTx(ctx context.Context, it *issuing, comp *compiledTemplate, rec *claimRecord, key string) (Coupon, error) {
	op := &claimOp{s: s, it: *it, comp: comp, rec: *rec}
	if key != "" {
		return storage.Idempotent(ctx, s.tx, s.cfg.Idempotency, s.clock, it.tenant, "coupon.claim", key,
			claimPayload{Template: it.id, User: rec.c.UserID}, op.issue)
	}
	if err := s.tx.InTx(ctx, op.run); err != nil {
		return Coupon{}, err
	}
	return op.out, nil
}

// claimDirect offers the claim to the store's one-step path. handled
// false: the store declined and wrote nothing.
func (s *Service) claimDirect(ctx context.Context, d directClaimer, it *issuing, comp *compiledTemplate, rec *claimRecord) (Coupon, bool, error) {
	var uk string
	if it.limits.PerUser > 0 {
		uk = comp.userKey(rec.c.UserID)
	}
	handled, userOK, stockOK, err := d.ClaimDirect(ctx, s.cfg.Outbox, s.counters, rec.c, rec.e, rec.m,
		uk, it.limits.PerUser, comp.issuedKey, it.limits.Stock)
	switch {
	case !handled:
		return Coupon{}, false, nil
	case err != nil:
		return Coupon{}, true, err
	case !userOK:
		return Coupon{}, true, s.userLimit(it, rec.c.UserID)
	case !stockOK:
		return Coupon{}, true, s.outOfStock(it)
	}
	return rec.c, true, nil
}

// claimOp is one claim's transaction: one allocation holds everything
// the transaction function needs (not the whole Template, which is large).
// Its record is reused when the transaction is re-run: the IDs it holds
// were taken by no committed write.
type claimOp struct {
	s    *Service
	it   issuing
	comp *compiledTemplate
	rec  claimRecord
	out  Coupon
}

func (o *claimOp) issue(ctx context.Context) (Coupon, error) {
	c, refusal, err := o.s.issue(ctx, &o.it, o.comp, &o.rec, false)
	if err == nil && refusal != nil {
		err = refusal
	}
	return c, err
}

func (o *claimOp) run(ctx context.Context) error {
	c, err := o.issue(ctx)
	o.out = c
	return err
}

// issuing is what issue needs of a template: a few fields, and the whole
// template only for gift cards (their funding reads it).
type issuing struct {
	tenant   storage.TenantID
	id       string
	validity Validity
	limits   Limits
	kind     Kind
	giftCard *Template
}

// issuingOf returns what issue needs of t, keeping a copy of t only for
// a gift card.
func issuingOf(t *Template) issuing {
	it := issuing{tenant: t.Tenant, id: t.ID, validity: t.Validity, limits: t.Limits, kind: t.Benefit.Kind}
	if it.kind == KindGiftCard {
		g := *t // only a gift card's claim pays for a copy on the heap
		it.giftCard = &g
	}
	return it
}

// claimWriter is an optional fast path of a Store: it stores a claimed
// coupon, its audit entry and its outbox message and takes the per-user
// and stock counters (stock last) in as few round trips as its database
// allows, in the transaction in ctx. perUser 0 means no per-user counter;
// stock 0 means a counted but unbounded stock. It returns handled false,
// having done nothing, when it cannot serve this call (another database,
// or outbox and counters that are not its own); userOK or stockOK false
// when a limit refused, in which case the caller must roll the
// transaction back (the writes may have been made). A taken coupon ID is
// storage.ErrDuplicate. The adapters of storage/memory and
// storage/sqlstore implement it; it is not part of Store, so other stores
// need not.
type claimWriter interface {
	IssueClaim(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c Coupon, e AuditEntry, m storage.Message,
		userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error)
}

// claimRecord is what one claim writes besides the counters: the new
// coupon, its audit entry and its outbox message, built once per claim.
type claimRecord struct {
	c Coupon
	e AuditEntry
	m storage.Message
}

// newClaim builds the record of a claim by user at now: an ACTIVATED
// coupon (the FSM's claim from UNACTIVATED) with new IDs.
func (s *Service) newClaim(tpl *issuing, comp *compiledTemplate, user string, now time.Time, ch change) (claimRecord, error) {
	couponID, eventID := s.newIDs()
	to, err := s.life.next(couponID, StateUnactivated, "", ch.ev)
	if err != nil {
		return claimRecord{}, err
	}
	from, until := tpl.validity.window(now, comp.loc)
	r := claimRecord{c: Coupon{
		Tenant: tpl.tenant, ID: couponID, TemplateID: tpl.id, UserID: user, State: to,
		ValidFrom: from, ValidUntil: until, IssuedAt: now, UpdatedAt: now, Version: 1,
	}}
	r.e = AuditEntry{
		Tenant: tpl.tenant, EventID: eventID, CouponID: couponID, TemplateID: tpl.id, UserID: user,
		Event: ch.ev, From: StateUnactivated, To: to, Actor: ch.actor, Reason: ch.reason, At: now,
	}
	r.m = s.message(&r.e)
	return r, nil
}

// directClaimer is an optional fast path of a Store for a claim made with
// no transaction in ctx: ClaimDirect does what IssueClaim does (same
// arguments and results) as one atomic step of its own (PostgreSQL: one
// autocommit statement; memory: one step under the store's lock), and a
// limit that refuses leaves nothing written. It returns handled false,
// having done nothing, when ctx holds a transaction of the store, when it
// has no such path (SQLite), when it cannot serve this call, or after a
// retryable failure: the caller then runs the general path in a
// transaction. Like claimWriter it is not part of Store.
type directClaimer interface {
	ClaimDirect(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c Coupon, e AuditEntry, m storage.Message,
		userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error)
}

// issue stores the claimed coupon of rec in the transaction in ctx,
// taking the template's stock and the user's cap. A limit that refuses is
// returned as refusal (with nothing written and no error, so that a batch
// can go on in the same transaction); err is a failure of the store. With
// stockFirst the stock is taken before anything else (batches), otherwise
// last (the hot row is held briefly) and a refusal may leave writes that
// the caller must roll back (Claim returns it as its error).
func (s *Service) issue(ctx context.Context, tpl *issuing, comp *compiledTemplate, rec *claimRecord, stockFirst bool) (c Coupon, refusal, err error) {
	c, user := rec.c, rec.c.UserID
	if !stockFirst && tpl.kind != KindGiftCard {
		if w, ok := s.store.(claimWriter); ok {
			var uk string
			if tpl.limits.PerUser > 0 {
				uk = comp.userKey(user)
			}
			handled, userOK, stockOK, err := w.IssueClaim(ctx, s.cfg.Outbox, s.counters, c, rec.e, rec.m,
				uk, tpl.limits.PerUser, comp.issuedKey, tpl.limits.Stock)
			if handled {
				switch {
				case err != nil:
					return Coupon{}, nil, err
				case !userOK:
					return Coupon{}, s.userLimit(tpl, user), nil
				case !stockOK:
					return Coupon{}, s.outOfStock(tpl), nil
				}
				return c, nil, nil
			}
		}
	}
	takeStock := func() (bool, error) {
		_, ok, err := s.counters.AddCounter(ctx, tpl.tenant, comp.issuedKey, 1, comp.stock)
		return ok, err
	}
	if stockFirst {
		ok, err := takeStock()
		if err != nil {
			return Coupon{}, nil, err
		}
		if !ok {
			return Coupon{}, s.outOfStock(tpl), nil
		}
	}
	undoStock := func() error {
		if !stockFirst {
			return nil
		}
		_, _, err := s.counters.AddCounter(ctx, tpl.tenant, comp.issuedKey, -1, storage.Bounds{})
		return err
	}
	if tpl.limits.PerUser > 0 {
		_, ok, err := s.counters.AddCounter(ctx, tpl.tenant, comp.userKey(user), 1, comp.perUser)
		if err != nil {
			return Coupon{}, nil, err
		}
		if !ok {
			if err := undoStock(); err != nil {
				return Coupon{}, nil, err
			}
			return Coupon{}, s.userLimit(tpl, user), nil
		}
	}
	rejected, err := s.store.InsertCoupons(ctx, tpl.tenant, []Coupon{c})
	if err != nil {
		return Coupon{}, nil, err
	}
	if len(rejected) > 0 {
		return Coupon{}, nil, fmt.Errorf("coupon: new coupon ID %s taken: %w", c.ID, storage.ErrDuplicate)
	}
	if err := s.store.AppendAudit(ctx, rec.e); err != nil {
		return Coupon{}, nil, err
	}
	if err := s.cfg.Outbox.AppendOutbox(ctx, rec.m); err != nil {
		return Coupon{}, nil, err
	}
	if tpl.giftCard != nil {
		if err := s.fundGiftCard(ctx, tpl.giftCard, &c); err != nil {
			return Coupon{}, nil, err
		}
	}
	if !stockFirst {
		// last: the template's hot stock row is locked for as short a
		// time as the database allows
		ok, err := takeStock()
		if err != nil {
			return Coupon{}, nil, err
		}
		if !ok {
			// the caller's transaction rolls the coupon back with the error
			return Coupon{}, s.outOfStock(tpl), nil
		}
	}
	return c, nil, nil
}

func (s *Service) outOfStock(tpl *issuing) error {
	return fmt.Errorf("%w: template %s (stock %d)", ErrOutOfStock, tpl.id, tpl.limits.Stock)
}

func (s *Service) userLimit(tpl *issuing, user string) error {
	return fmt.Errorf("%w: user %s, template %s (%d per user)", ErrUserLimit, user, tpl.id, tpl.limits.PerUser)
}

// facts returns f (or empty facts) with Now and the user filled in when
// missing. f itself is not modified.
func facts(f *rules.Facts, user string, now time.Time) *rules.Facts {
	var out rules.Facts
	if f != nil {
		out = *f
	}
	if out.Now.IsZero() {
		out.Now = now
	}
	if out.User.ID == "" {
		out.User.ID = user
	}
	return &out
}

// RedeemRequest binds a generated code to a user.
type RedeemRequest struct {
	Tenant storage.TenantID
	Code   string // as typed: separators and case do not matter
	UserID string
	Facts  *rules.Facts
	Actor  string
}

// RedeemCode activates the coupon carrying code for the user. Redeeming a
// code the same user already redeemed returns that coupon again.
//
// Errors: ErrMalformedCode, ErrBadCheckCharacter (a typo), ErrUnknownCode
// (well formed, but no such code), ErrCodeTaken (another user redeemed
// it), ErrNotStarted / ErrExpired, *ConditionError, ErrUserLimit,
// *TransitionError (e.g. a frozen code). A refused redemption changes
// nothing.
func (s *Service) RedeemCode(ctx context.Context, req RedeemRequest) (Coupon, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Coupon{}, err
	}
	if err := validID("user ID", req.UserID); err != nil {
		return Coupon{}, err
	}
	code, err := ParseCode(req.Code)
	if err != nil {
		return Coupon{}, err
	}
	now := s.clock.Now()
	var out Coupon
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.store.CouponByCode(ctx, req.Tenant, code)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("%w: %s", ErrUnknownCode, FormatCode(code))
			}
			return err
		}
		if c.UserID != "" {
			if c.UserID == req.UserID {
				out = seen(c, now)
				return nil
			}
			return fmt.Errorf("%w: %s", ErrCodeTaken, FormatCode(code))
		}
		tpl, comp, err := s.template(ctx, req.Tenant, c.TemplateID)
		if err != nil {
			return err
		}
		if _, err := s.life.next(c.ID, c.State, c.FrozenFrom, EventActivate); err != nil {
			return err
		}
		if err := tpl.Validity.claimable(now); err != nil {
			return fmt.Errorf("template %s: %w", tpl.ID, err)
		}
		if err := comp.check(ctx, tpl.ID, PhaseClaim, facts(req.Facts, req.UserID, now)); err != nil {
			return err
		}
		if tpl.Limits.PerUser > 0 {
			_, ok, err := s.counters.AddCounter(ctx, req.Tenant, userKey(tpl.ID, req.UserID), 1, storage.AtMost(tpl.Limits.PerUser))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: user %s, template %s", ErrUserLimit, req.UserID, tpl.ID)
			}
		}
		err = s.apply(ctx, &c, change{ev: EventActivate, actor: defaulted(req.Actor, req.UserID)}, func(c *Coupon) {
			c.UserID = req.UserID
			if tpl.Validity.Days > 0 {
				c.ValidFrom, c.ValidUntil = tpl.Validity.window(now, comp.loc)
			}
		})
		if err == nil && tpl.Benefit.Kind == KindGiftCard {
			err = s.fundGiftCard(ctx, &tpl, &c)
		}
		out = c
		return err
	})
	if err != nil {
		return Coupon{}, err
	}
	return out, nil
}

// GenerateRequest asks for bulk unique codes of a template.
type GenerateRequest struct {
	Tenant     storage.TenantID
	TemplateID string
	Count      int
	// Length of each code, check character included; 0: DefaultCodeLength.
	Length int
	// ChunkSize is the number of codes stored per transaction; default 1000.
	ChunkSize int
}

// MaxGenerate is the most codes one GenerateCodes call makes.
const MaxGenerate = 10_000_000

// GenerateCodes makes Count unique, unguessable codes (crypto/rand) for a
// template, each an UNACTIVATED coupon that RedeemCode activates, and
// returns them in canonical form (FormatCode writes them for people). The
// codes take the template's stock. They are stored in chunks of one
// transaction each; a code that collides with an existing one is replaced.
//
// Errors: ErrInvalidRequest, ErrUnknownTemplate, ErrNotClaimable (an
// automatic promotion), ErrOutOfStock (checked before anything is
// written; if concurrent issuance takes the stock meanwhile, the codes of
// the chunks already stored are returned with the error).
func (s *Service) GenerateCodes(ctx context.Context, req GenerateRequest) ([]string, error) {
	if err := req.Tenant.Validate(); err != nil {
		return nil, err
	}
	if req.Count <= 0 || req.Count > MaxGenerate {
		return nil, fmt.Errorf("%w: count %d outside 1..%d", ErrInvalidRequest, req.Count, MaxGenerate)
	}
	gen, err := NewCodeGenerator(req.Length)
	if err != nil {
		return nil, err
	}
	tpl, comp, err := s.template(ctx, req.Tenant, req.TemplateID)
	if err != nil {
		return nil, err
	}
	if tpl.Auto {
		return nil, fmt.Errorf("%w: %s is an automatic promotion", ErrNotClaimable, tpl.ID)
	}
	if tpl.Limits.Stock > 0 {
		issued, err := s.counters.Counter(ctx, req.Tenant, issuedKey(tpl.ID))
		if err != nil {
			return nil, err
		}
		if issued+int64(req.Count) > tpl.Limits.Stock {
			return nil, fmt.Errorf("%w: template %s has %d left, %d codes asked", ErrOutOfStock, tpl.ID, tpl.Limits.Stock-issued, req.Count)
		}
	}
	chunk := req.ChunkSize
	if chunk <= 0 {
		chunk = 1000
	}
	now := s.clock.Now()
	var from, until time.Time
	if tpl.Validity.Days == 0 {
		from, until = tpl.Validity.window(now, comp.loc)
	}
	codes := make([]string, 0, req.Count)
	batch := make([]Coupon, 0, chunk)
	for len(codes) < req.Count {
		n := min(chunk, req.Count-len(codes))
		batch = batch[:0]
		for range n {
			batch = append(batch, Coupon{
				Tenant: req.Tenant, ID: s.newID(), TemplateID: tpl.ID, Code: gen.Next(), State: StateUnactivated,
				ValidFrom: from, ValidUntil: until, IssuedAt: now, UpdatedAt: now, Version: 1,
			})
		}
		err := s.tx.InTx(ctx, func(ctx context.Context) error {
			b := storage.Bounds{}
			if tpl.Limits.Stock > 0 {
				b = storage.AtMost(tpl.Limits.Stock)
			}
			_, ok, err := s.counters.AddCounter(ctx, req.Tenant, issuedKey(tpl.ID), int64(n), b)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: template %s", ErrOutOfStock, tpl.ID)
			}
			pending := batch
			for range 10 {
				rejected, err := s.store.InsertCoupons(ctx, req.Tenant, pending)
				if err != nil {
					return err
				}
				if len(rejected) == 0 {
					return nil
				}
				retry := make([]Coupon, len(rejected))
				for i, idx := range rejected {
					c := pending[idx]
					c.ID, c.Code = s.newID(), gen.Next()
					retry[i] = c
					// keep batch in step with what is stored
					for j := range batch {
						if batch[j].ID == pending[idx].ID {
							batch[j] = c
						}
					}
				}
				pending = retry
			}
			return fmt.Errorf("coupon: codes keep colliding: %w", storage.ErrDuplicate)
		})
		if err != nil {
			return codes, err
		}
		for _, c := range batch {
			codes = append(codes, c.Code)
		}
	}
	return codes, nil
}
