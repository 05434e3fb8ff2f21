package settlement

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// StatementStatus says where a statement stands.
type StatementStatus string

// The statement statuses.
const (
	// StatementIssued: the total was moved to PayoutAccount for payout.
	StatementIssued StatementStatus = "issued"
	// StatementHeld: held for review; nothing is paid out until Release.
	StatementHeld StatementStatus = "held"
	// StatementReleased: held, then released by a reviewer and paid out.
	StatementReleased StatementStatus = "released"
)

// Statement is one party's settlement of one period in one currency: the
// clearing entries (batched line items) it settles and their total, which
// is also what its payout transfer moved in the ledger.
type Statement struct {
	Tenant      storage.TenantID `json:"tenant"`
	ID          string           `json:"id"` // StatementID(party, period start, currency)
	Party       string           `json:"party"`
	Cycle       string           `json:"cycle"` // "T+1", "monthly"
	PeriodStart time.Time        `json:"period_start"`
	PeriodEnd   time.Time        `json:"period_end"` // exclusive
	DueAt       time.Time        `json:"due_at"`
	Currency    money.Currency   `json:"-"`
	Total       money.Amount     `json:"total"`
	Items       []StatementItem  `json:"items"`
	// Orders counts the distinct orders of the items, CouponOrders those
	// that used coupons (what cash-out rules look at).
	Orders       int             `json:"orders"`
	CouponOrders int             `json:"coupon_orders"`
	Status       StatementStatus `json:"status"`
	HoldReason   string          `json:"hold_reason,omitempty"`
	// PayoutKey is the ledger key of the payout transfer (once issued or
	// released).
	PayoutKey  string    `json:"payout_key,omitempty"`
	ReleasedBy string    `json:"released_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Version    int64     `json:"version"`
}

// StatementItem is one clearing entry on a statement.
type StatementItem struct {
	EntryID string       `json:"entry_id"`
	OrderID string       `json:"order_id"`
	Kind    EntryKind    `json:"kind"`
	Amount  money.Amount `json:"amount"`
	At      time.Time    `json:"at"`
}

type statementAlias Statement

// MarshalJSON writes the statement with its currency as {"code","scale"}.
func (st Statement) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		statementAlias
		Currency currencyJSON `json:"currency"`
	}{statementAlias(st), currencyJSON{st.Currency.Code(), st.Currency.Scale()}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (st *Statement) UnmarshalJSON(b []byte) error {
	var v struct {
		statementAlias
		Currency currencyJSON `json:"currency"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c, err := money.NewCurrency(v.Currency.Code, v.Currency.Scale)
	if err != nil {
		return fmt.Errorf("settlement: statement currency: %w", err)
	}
	*st = Statement(v.statementAlias)
	st.Currency = c
	return nil
}

// ReviewFunc decides whether a new statement is held for review, and why.
// It must not write: it runs before the statement's transaction.
type ReviewFunc func(ctx context.Context, st Statement) (hold bool, reason string, err error)

// StatementFacts describes a statement to rules: Merchant.ID is the party,
// Order.Amount the total, Counters "orders", "coupon_orders" and "items",
// Attrs "cycle", and Now the statement's creation time.
func StatementFacts(st Statement) *rules.Facts {
	return &rules.Facts{
		Order:    rules.Order{ID: st.ID, Amount: st.Total, Status: string(st.Status), CreatedAt: st.CreatedAt},
		Merchant: rules.Merchant{ID: st.Party},
		Now:      st.CreatedAt,
		Attrs:    map[string]any{"cycle": st.Cycle, "party": st.Party},
		Counters: map[string]int64{"orders": int64(st.Orders), "coupon_orders": int64(st.CouponOrders), "items": int64(len(st.Items))},
	}
}

// ReviewRules holds a statement for review when the rule set does not
// pass on StatementFacts (for instance "coupon_orders < 50" against
// cash-out at one merchant); the reason names the failed rules.
func ReviewRules(set *rules.Set) ReviewFunc {
	return func(ctx context.Context, st Statement) (bool, string, error) {
		v := set.Explain(ctx, StatementFacts(st))
		if v.Passed {
			return false, "", nil
		}
		reason := ""
		for i, f := range v.Failures {
			if f.Err != nil {
				return false, "", f.Err
			}
			if i > 0 {
				reason += "; "
			}
			reason += f.Rule
			if f.Reason != "" {
				reason += ": " + f.Reason
			}
		}
		return true, reason, nil
	}
}

// Statement returns a statement. Errors: storage.ErrInvalidTenant,
// ErrStatementNotFound, the Store's errors.
func (s *Service) Statement(ctx context.Context, tenant storage.TenantID, id string) (Statement, error) {
	if err := tenant.Validate(); err != nil {
		return Statement{}, err
	}
	st, err := s.store.Statement(ctx, tenant, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Statement{}, fmt.Errorf("%w: %s", ErrStatementNotFound, id)
	}
	return st, err
}

// Statements returns the tenant's statements of a party (every party when
// empty), by period. Errors: storage.ErrInvalidTenant, the Store's errors.
func (s *Service) Statements(ctx context.Context, tenant storage.TenantID, party string) ([]Statement, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	return s.store.FindStatements(ctx, tenant, party)
}

// ReleaseStatement releases a held statement after review: it is paid out
// (its total moved to PayoutAccount) and StatementReleased is appended,
// in one transaction. Releasing a released statement returns it.
// Errors: storage.ErrInvalidTenant, ErrInvalidRequest (no reviewer),
// ErrStatementNotFound, ErrStatementNotHeld, ledger and Store errors.
func (s *Service) ReleaseStatement(ctx context.Context, tenant storage.TenantID, id, reviewer string) (Statement, error) {
	if err := tenant.Validate(); err != nil {
		return Statement{}, err
	}
	if err := validID("reviewer", reviewer); err != nil {
		return Statement{}, err
	}
	var out Statement
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		st, err := s.Statement(ctx, tenant, id)
		if err != nil {
			return err
		}
		if st.Status == StatementReleased {
			out = st
			return nil
		}
		if st.Status != StatementHeld {
			return fmt.Errorf("%w: %s is %s", ErrStatementNotHeld, id, st.Status)
		}
		prev := st.Version
		st.Status, st.ReleasedBy, st.PayoutKey = StatementReleased, reviewer, "statement:"+st.ID
		st.UpdatedAt, st.Version = s.clock.Now(), st.Version+1
		if err := s.payout(ctx, &st); err != nil {
			return err
		}
		if err := s.store.UpdateStatement(ctx, st, prev); err != nil {
			return err
		}
		if err := s.emitStatement(ctx, &st, TopicStatementReleased); err != nil {
			return err
		}
		out = st
		return nil
	})
	return out, err
}

type statementEvent struct {
	Event       string           `json:"event"`
	Tenant      storage.TenantID `json:"tenant"`
	StatementID string           `json:"statement_id"`
	Party       string           `json:"party"`
	Status      StatementStatus  `json:"status"`
	Currency    string           `json:"currency"`
	Total       string           `json:"total"`
	PeriodStart time.Time        `json:"period_start"`
	PeriodEnd   time.Time        `json:"period_end"`
	HoldReason  string           `json:"hold_reason,omitempty"`
}

func (s *Service) emitStatement(ctx context.Context, st *Statement, topic string) error {
	name := map[string]string{TopicStatementIssued: "StatementIssued", TopicStatementHeld: "StatementHeld", TopicStatementReleased: "StatementReleased"}[topic]
	b, err := json.Marshal(statementEvent{Event: name, Tenant: st.Tenant, StatementID: st.ID, Party: st.Party, Status: st.Status,
		Currency: st.Currency.Code(), Total: st.Total.StringFixed(), PeriodStart: st.PeriodStart, PeriodEnd: st.PeriodEnd, HoldReason: st.HoldReason})
	if err != nil {
		return err
	}
	return s.cfg.Outbox.AppendOutbox(ctx, storage.Message{
		EventID: fmt.Sprintf("%s/statement/%s/%d", st.Tenant, st.ID, st.Version), Tenant: st.Tenant, Topic: topic,
		AggregateType: AggregateStatement, AggregateID: st.ID, Payload: b, CreatedAt: st.UpdatedAt,
	})
}
