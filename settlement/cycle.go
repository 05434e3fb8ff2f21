package settlement

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// CycleKind says how a party's settlement periods are cut.
type CycleKind string

// The cycle kinds.
const (
	// CycleDaily: one period per calendar day D, settled on day D+Days
	// (T+N).
	CycleDaily CycleKind = "daily"
	// CycleMonthly: one period per calendar month, settled Days days after
	// the month ends (0: on the first of the next month).
	CycleMonthly CycleKind = "monthly"
)

// Cycle says when a party is settled, e.g. platform T+1, merchants T+3,
// channels monthly. Days and months are counted in the tenant's time
// zone (Config.TimeZone).
type Cycle struct {
	// Party is a party name ("platform"), a prefix ending in ':'
	// ("merchant:" for every merchant), or "*" for every party. The most
	// specific match wins: exact, then the longest prefix, then "*".
	Party string
	Kind  CycleKind
	Days  int
}

// Validate reports ErrInvalidConfig for a cycle without party, with an
// unknown kind, negative days, or a daily cycle with Days 0.
func (c Cycle) Validate() error {
	switch {
	case c.Party == "":
		return fmt.Errorf("%w: cycle without party", ErrInvalidConfig)
	case c.Kind != CycleDaily && c.Kind != CycleMonthly:
		return fmt.Errorf("%w: cycle of %q has kind %q", ErrInvalidConfig, c.Party, c.Kind)
	case c.Days < 0 || (c.Kind == CycleDaily && c.Days == 0):
		return fmt.Errorf("%w: cycle of %q has %d days", ErrInvalidConfig, c.Party, c.Days)
	}
	return nil
}

// String writes the cycle as "T+3" or "monthly" ("monthly+5").
func (c Cycle) String() string {
	if c.Kind == CycleDaily {
		return fmt.Sprintf("T+%d", c.Days)
	}
	if c.Days > 0 {
		return fmt.Sprintf("monthly+%d", c.Days)
	}
	return "monthly"
}

// Period returns the period containing t in loc: its start and end
// (exclusive) and when it is due for settlement.
func (c Cycle) Period(t time.Time, loc *time.Location) (start, end, due time.Time) {
	t = t.In(loc)
	if c.Kind == CycleMonthly {
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		end = start.AddDate(0, 1, 0)
		return start, end, end.AddDate(0, 0, c.Days)
	}
	start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	end = start.AddDate(0, 0, 1)
	return start, end, start.AddDate(0, 0, c.Days)
}

// cycleOf returns the cycle of a party.
func (s *Service) cycleOf(party string) (Cycle, bool) {
	var best Cycle
	bestLen := -1
	for _, c := range s.cfg.Cycles {
		switch {
		case c.Party == party:
			return c, true
		case strings.HasSuffix(c.Party, ":") && strings.HasPrefix(party, c.Party) && len(c.Party) > bestLen:
			best, bestLen = c, len(c.Party)
		case c.Party == "*" && bestLen < 0:
			best, bestLen = c, 0
		}
	}
	return best, bestLen >= 0
}

func (s *Service) location(tenant storage.TenantID) (*time.Location, error) {
	if s.cfg.TimeZone == nil {
		return time.UTC, nil
	}
	name := s.cfg.TimeZone(tenant)
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone of tenant %s: %w", ErrInvalidConfig, tenant, err)
	}
	return loc, nil
}

// CycleResult reports what RunCycles did.
type CycleResult struct {
	Statements []Statement // made by this run
	Skipped    bool        // another instance holds the tenant's cycle lease
}

// RunCycles makes every statement that is due at the clock's now for the
// tenant: for each party with open entries, the period (by its Cycle, in
// the tenant's time zone) of its earliest open entry, once due, gets a
// statement per currency of every open entry stamped before the period
// ends (late entries of a period already settled go to the next one). Each
// statement commits in its own transaction with its entries, the payout
// transfer from the party's payable account to PayoutAccount (unless
// Review holds it) and its outbox message. It runs under a storage lease
// per tenant, and statements are unique per (party, period, currency), so
// two instances never make the same statement twice.
//
// Errors: storage.ErrInvalidTenant, ErrInvalidConfig (a bad time zone),
// Review's error, lease, ledger and Store errors (statements made before
// are in the result).
func (s *Service) RunCycles(ctx context.Context, tenant storage.TenantID) (CycleResult, error) {
	if err := tenant.Validate(); err != nil {
		return CycleResult{}, err
	}
	loc, err := s.location(tenant)
	if err != nil {
		return CycleResult{}, err
	}
	now := s.clock.Now()
	lease := "settlement/cycle/" + string(tenant)
	_, ok, err := s.cfg.Leases.AcquireLease(ctx, lease, s.cfg.Owner, now, s.cfg.LeaseTTL)
	if err != nil {
		return CycleResult{}, err
	}
	if !ok {
		return CycleResult{Skipped: true}, nil
	}
	defer func() { _ = s.cfg.Leases.ReleaseLease(context.WithoutCancel(ctx), lease, s.cfg.Owner) }()
	parties, err := s.store.OpenParties(ctx, tenant)
	if err != nil {
		return CycleResult{}, err
	}
	var res CycleResult
	for _, p := range parties {
		cy, ok := s.cycleOf(p.Party)
		if !ok {
			continue
		}
		start, end, due := cy.Period(p.Earliest, loc)
		for !due.After(now) {
			made, err := s.settlePeriod(ctx, tenant, p.Party, cy, start, end, due, now)
			if err != nil {
				return res, err
			}
			res.Statements = append(res.Statements, made...)
			next, err := s.store.OpenEntries(ctx, tenant, p.Party, farFuture, 1)
			if err != nil {
				return res, err
			}
			if len(next) == 0 {
				break
			}
			ns, ne, nd := cy.Period(next[0].At, loc)
			if !ns.After(start) {
				// left open: the period's statement existed already, so
				// they go to the next period
				ns, ne, nd = cy.Period(end, loc)
			}
			start, end, due = ns, ne, nd
		}
	}
	return res, nil
}

// settlePeriod makes the party's statements of one period, one per
// currency of its open entries before end.
func (s *Service) settlePeriod(ctx context.Context, tenant storage.TenantID, party string, cy Cycle, start, end, due, now time.Time) ([]Statement, error) {
	entries, err := s.store.OpenEntries(ctx, tenant, party, end, 0)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	byCur := map[string][]Entry{}
	var curs []string
	for _, e := range entries {
		c := e.Amount.Currency().Code()
		if _, ok := byCur[c]; !ok {
			curs = append(curs, c)
		}
		byCur[c] = append(byCur[c], e)
	}
	sort.Strings(curs)
	var out []Statement
	for _, c := range curs {
		st, made, err := s.issue(ctx, tenant, party, cy, start, end, due, now, byCur[c])
		if err != nil {
			return out, err
		}
		if made {
			out = append(out, st)
		}
	}
	return out, nil
}

// StatementID is the ID of a party's statement of the period starting at
// start in a currency: unique per (tenant, party, period, currency).
func StatementID(party string, start time.Time, currency money.Currency) string {
	return party + "/" + start.Format("2006-01-02") + "/" + currency.Code()
}

func (s *Service) issue(ctx context.Context, tenant storage.TenantID, party string, cy Cycle, start, end, due, now time.Time, entries []Entry) (Statement, bool, error) {
	cur := entries[0].Amount.Currency()
	st := Statement{Tenant: tenant, ID: StatementID(party, start, cur), Party: party, Cycle: cy.String(),
		PeriodStart: start, PeriodEnd: end, DueAt: due, Currency: cur, Status: StatementIssued,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	total := int64(0)
	orders := map[string]bool{}
	couponOrders := map[string]bool{}
	ids := make([]string, len(entries))
	for i, e := range entries {
		total += minor(e.Amount)
		ids[i] = e.ID
		orders[e.OrderID] = true
		if e.Coupon {
			couponOrders[e.OrderID] = true
		}
		st.Items = append(st.Items, StatementItem{EntryID: e.ID, OrderID: e.OrderID, Kind: e.Kind, Amount: e.Amount, At: e.At})
	}
	st.Total = money.FromMinor(total, cur)
	st.Orders, st.CouponOrders = len(orders), len(couponOrders)
	if s.cfg.Review != nil {
		hold, reason, err := s.cfg.Review(ctx, st)
		if err != nil {
			return Statement{}, false, fmt.Errorf("settlement: review of statement %s: %w", st.ID, err)
		}
		if hold {
			st.Status, st.HoldReason = StatementHeld, reason
		}
	}
	if st.Status == StatementIssued {
		st.PayoutKey = "statement:" + st.ID
	}
	made := false
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		made = false
		ok, err := s.store.InsertStatement(ctx, st, ids)
		if err != nil || !ok {
			return err
		}
		if st.Status == StatementIssued {
			if err := s.payout(ctx, &st); err != nil {
				return err
			}
		}
		topic := TopicStatementIssued
		if st.Status == StatementHeld {
			topic = TopicStatementHeld
		}
		if err := s.emitStatement(ctx, &st, topic); err != nil {
			return err
		}
		made = true
		return nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return Statement{}, false, nil // another instance took the entries
	}
	return st, made, err
}

// farFuture bounds queries for every open entry.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// payout moves the statement's total from the party's payable account to
// PayoutAccount, under st.PayoutKey.
func (s *Service) payout(ctx context.Context, st *Statement) error {
	if st.Total.IsZero() {
		return nil
	}
	acc := PayableAccount(st.Party)
	if err := s.ensureUnbounded(ctx, st.Tenant, acc, PayoutAccount); err != nil {
		return err
	}
	_, err := s.ledger.Transfer(ctx, st.Tenant, ledger.TransferRequest{Key: st.PayoutKey,
		Legs:     []ledger.Leg{{Account: acc, Amount: st.Total.Neg()}, {Account: PayoutAccount, Amount: st.Total}},
		Metadata: map[string]string{"statement": st.ID, "party": st.Party}})
	return err
}
