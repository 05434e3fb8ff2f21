package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// drawOrder draws an order with every field set or left empty, nil and
// empty lists apart, amounts of several currencies and exponents (and
// beyond int64), times in several locations.
func drawOrder(t *rapid.T, id string) settlement.Order {
	curs := []money.Currency{money.USD, money.JPY, money.MustCurrency("POINTS", 0), money.MustCurrency("XTS", 4)}
	locs := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("X", -3*3600-1800)}
	str := func(label string) string { return rapid.StringN(0, 12, -1).Draw(t, label) }
	amount := func(label string) money.Amount {
		c := rapid.SampledFrom(curs).Draw(t, label+"-cur")
		switch rapid.IntRange(0, 9).Draw(t, label+"-kind") {
		case 0:
			return money.Amount{}
		case 1:
			return money.Zero(c)
		case 2:
			return money.New(decimal.RequireFromString("123456789012345678901234.5"), c)
		case 3:
			return money.New(decimal.New(rapid.Int64().Draw(t, label+"-odd"), int32(rapid.IntRange(-20, 3).Draw(t, label+"-exp"))), c)
		}
		return money.FromMinor(rapid.Int64Range(-1e12, 1e12).Draw(t, label), c)
	}
	when := func(label string) time.Time {
		if rapid.IntRange(0, 4).Draw(t, label+"-zero") == 0 {
			return time.Time{}
		}
		return time.Unix(rapid.Int64Range(-1e10, 1e10).Draw(t, label), rapid.Int64Range(0, 999999999).Draw(t, label+"-ns")).
			In(rapid.SampledFrom(locs).Draw(t, label+"-loc"))
	}
	// n draws a list length, -1 for nil
	n := func(label string, most int) int { return rapid.IntRange(-1, most).Draw(t, label) }
	funding := func(label string) []settlement.FundingPart {
		k := n(label, 3)
		if k < 0 {
			return nil
		}
		fs := make([]settlement.FundingPart, k)
		for i := range fs {
			fs[i] = settlement.FundingPart{Party: str(fmt.Sprint(label, i)), Amount: amount(fmt.Sprint(label, "a", i))}
		}
		return fs
	}
	o := settlement.Order{Tenant: "shop", ID: id, UserID: str("user"), Channel: str("channel"), Currency: rapid.SampledFrom(curs).Draw(t, "cur"),
		State:    settlement.OrderState(rapid.SampledFrom([]string{"CREATED", "PAID", "", "odd state"}).Draw(t, "state")),
		Subtotal: amount("subtotal"), Discount: amount("discount"), Total: amount("total"), PaymentRef: str("ref"),
		Cleared: rapid.Bool().Draw(t, "cleared"), Refunded: amount("refunded"), Fingerprint: str("fp"), PayBy: when("payby"),
		CreatedAt: when("created"), PaidAt: when("paid"), CompletedAt: when("completed"), UpdatedAt: when("updated"),
		Version: rapid.Int64().Draw(t, "version")}
	if k := n("lines", 4); k >= 0 {
		o.Lines = make([]settlement.OrderLine, k)
		for i := range o.Lines {
			p := fmt.Sprint("line", i)
			o.Lines[i] = settlement.OrderLine{ID: str(p + "id"), SKU: str(p + "sku"), Category: str(p + "cat"), Merchant: str(p + "m"),
				UnitPrice: amount(p + "unit"), Quantity: rapid.Int().Draw(t, p+"qty"), Amount: amount(p + "amount"), Discount: amount(p + "disc"),
				Net: amount(p + "net"), Funding: funding(p + "f"), RefundedQty: rapid.Int().Draw(t, p+"rq"), RefundedAmount: amount(p + "ra")}
		}
	}
	if k := n("discounts", 3); k >= 0 {
		o.Discounts = make([]settlement.AppliedDiscount, k)
		for i := range o.Discounts {
			p := fmt.Sprint("disc", i)
			o.Discounts[i] = settlement.AppliedDiscount{OfferID: str(p + "offer"), CouponID: str(p + "coupon"), TemplateID: str(p + "tpl"),
				Amount: amount(p + "amount"), Funding: funding(p + "f"), Budgeted: rapid.Bool().Draw(t, p+"b")}
		}
	}
	if k := n("coupons", 3); k >= 0 {
		o.Coupons = make([]string, k)
		for i := range o.Coupons {
			o.Coupons[i] = str(fmt.Sprint("coupon", i))
		}
	}
	if k := n("tenders", 3); k >= 0 {
		o.Tenders = make([]settlement.Tender, k)
		for i := range o.Tenders {
			p := fmt.Sprint("tender", i)
			o.Tenders[i] = settlement.Tender{Kind: settlement.TenderKind(str(p + "kind")), Account: str(p + "acc"), Amount: amount(p + "amount"),
				HoldID: str(p + "hold"), Refunded: amount(p + "ref")}
		}
	}
	if k := n("split", 3); k >= 0 {
		o.Split = make([]settlement.Share, k)
		for i := range o.Split {
			o.Split[i] = settlement.Share{Party: str(fmt.Sprint("party", i)), Ratio: decimal.New(rapid.Int64Range(0, 100).Draw(t, fmt.Sprint("ratio", i)), -2)}
		}
	}
	if k := n("cleared", 4); k >= 0 {
		o.ClearedUnits = make([]int, k)
		for i := range o.ClearedUnits {
			o.ClearedUnits[i] = rapid.Int().Draw(t, fmt.Sprint("cu", i))
		}
	}
	if k := n("refunds", 2); k >= 0 {
		o.Refunds = make([]settlement.Refund, k)
		for i := range o.Refunds {
			p := fmt.Sprint("refund", i)
			r := settlement.Refund{Seq: rapid.Int().Draw(t, p+"seq"), Key: str(p + "key"), Amount: amount(p + "amount"),
				AfterClearing: rapid.Bool().Draw(t, p+"ac"), Reason: str(p + "reason"), At: when(p + "at")}
			if k := n(p+"lines", 2); k >= 0 {
				r.Lines = make([]settlement.RefundLine, k)
				for j := range r.Lines {
					r.Lines[j] = settlement.RefundLine{LineID: str(fmt.Sprint(p, "l", j)), Quantity: rapid.Int().Draw(t, fmt.Sprint(p, "q", j)),
						Amount: amount(fmt.Sprint(p, "la", j))}
				}
			}
			if k := n(p+"tenders", 2); k >= 0 {
				r.Tenders = make([]money.Amount, k)
				for j := range r.Tenders {
					r.Tenders[j] = amount(fmt.Sprint(p, "t", j))
				}
			}
			if k := n(p+"claw", 2); k >= 0 {
				r.Clawback = make([]settlement.PartyAmount, k)
				for j := range r.Clawback {
					r.Clawback[j] = settlement.PartyAmount{Party: str(fmt.Sprint(p, "p", j)), Amount: amount(fmt.Sprint(p, "c", j))}
				}
			}
			o.Refunds[i] = r
		}
	}
	return o
}

// The memory store keeps orders encoded: what it returns is what it was
// given, field for field (nil and empty lists apart, amounts with their
// exponents, times in their locations), after an insert, a full update
// and an update of the head alone; and the caller's order shares nothing
// with the store.
func TestOrderEncodingRoundTrips(t *testing.T) {
	ctx := context.Background()
	s := memory.MustNew()
	ss := s.Settlement()
	n := 0
	rapid.Check(t, func(t *rapid.T) {
		n++
		id := fmt.Sprintf("o%d", n)
		o := drawOrder(t, id)
		if rapid.Bool().Draw(t, "encoded") { // CreateOrder's way: encoded before the transaction
			ms := ss.(*memory.SettlementStore)
			enc := ms.EncodeOrder(&o)
			require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return ms.InsertEncoded(ctx, &o, enc) }))
			require.ErrorIs(t, ms.InsertEncoded(ctx, &o, enc), storage.ErrDuplicate)
		} else {
			require.NoError(t, ss.InsertOrder(ctx, o))
		}
		got, err := ss.Order(ctx, "shop", id)
		require.NoError(t, err)
		require.Equal(t, o, got)
		if len(got.Lines) > 0 {
			got.Lines[0].ID += "changed"
			again, err := ss.Order(ctx, "shop", id)
			require.NoError(t, err)
			require.Equal(t, o, again, "a caller's change reaches the store")
		}

		upd := drawOrder(t, id)
		require.NoError(t, ss.UpdateOrder(ctx, upd, o.Version))
		got, err = ss.Order(ctx, "shop", id)
		require.NoError(t, err)
		require.Equal(t, upd, got)

		head := drawOrder(t, id)
		require.NoError(t, ss.UpdateOrderHead(ctx, head, upd.Version))
		got, err = ss.Order(ctx, "shop", id)
		require.NoError(t, err)
		want := head
		want.Lines, want.Discounts, want.Coupons, want.Tenders = upd.Lines, upd.Discounts, upd.Coupons, upd.Tenders
		want.Split, want.ClearedUnits, want.Refunds = upd.Split, upd.ClearedUnits, upd.Refunds
		require.Equal(t, want, got)
	})
}

// A rolled back insert and update leave the orders as they were, also
// when later writes of the same transaction are taken back first.
func TestOrderEncodingRollback(t *testing.T) {
	ctx := context.Background()
	s := memory.MustNew()
	ss := s.Settlement()
	rapid.Check(t, func(t *rapid.T) {
		o := drawOrder(t, "kept")
		o.Version = 1
		_ = ss.InsertOrder(ctx, o) // the first case inserts it; the rest find it
		kept, err := ss.Order(ctx, "shop", "kept")
		require.NoError(t, err)
		err = s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, ss.InsertOrder(ctx, drawOrder(t, "gone")))
			upd := drawOrder(t, "kept")
			require.NoError(t, ss.UpdateOrderHead(ctx, upd, kept.Version))
			require.NoError(t, ss.InsertOrder(ctx, drawOrder(t, "gone too")))
			return fmt.Errorf("roll back")
		})
		require.Error(t, err)
		got, err := ss.Order(ctx, "shop", "kept")
		require.NoError(t, err)
		require.Equal(t, kept, got)
		_, err = ss.Order(ctx, "shop", "gone")
		require.ErrorIs(t, err, storage.ErrNotFound)
		orders, err := ss.FindOrders(ctx, settlement.OrderQuery{Tenant: "shop"})
		require.NoError(t, err)
		require.Len(t, orders, 1)
		require.Equal(t, kept, orders[0])
	})
}

// A stored coupon's audit trail reads back as appended, whatever its
// strings (event IDs that are UUIDs, in lower case or not, and that are
// not), times and names; and a rolled back append leaves it as it was.
func TestAuditTrailRoundTrips(t *testing.T) {
	ctx := context.Background()
	s := memory.MustNew()
	cs := s.Coupons()
	n := 0
	rapid.Check(t, func(t *rapid.T) {
		n++
		c := coupon.Coupon{Tenant: "shop", ID: fmt.Sprintf("c%d", n), TemplateID: "t1", UserID: "u1", State: coupon.StateActivated, Version: 1}
		rejected, err := cs.InsertCoupons(ctx, "shop", []coupon.Coupon{c})
		require.NoError(t, err)
		require.Empty(t, rejected)
		var want []coupon.AuditEntry
		for i := range rapid.IntRange(0, 5).Draw(t, "entries") {
			p := fmt.Sprint(i)
			id := rapid.OneOf(rapid.StringN(0, 40, -1), rapid.StringMatching(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`),
				rapid.StringMatching(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)).Draw(t, "id"+p)
			e := coupon.AuditEntry{Tenant: "shop", EventID: id, CouponID: c.ID, TemplateID: rapid.StringN(0, 8, -1).Draw(t, "tpl"+p),
				UserID: rapid.StringN(0, 8, -1).Draw(t, "user"+p), Event: coupon.Event(rapid.StringN(0, 8, -1).Draw(t, "ev"+p)),
				From: coupon.State(rapid.StringN(0, 8, -1).Draw(t, "from"+p)), To: coupon.State(rapid.StringN(0, 8, -1).Draw(t, "to"+p)),
				Actor: rapid.StringN(0, 8, -1).Draw(t, "actor"+p), Reason: rapid.String().Draw(t, "reason"+p), OrderID: rapid.StringN(0, 8, -1).Draw(t, "order"+p),
				At: time.Unix(rapid.Int64Range(0, 1e10).Draw(t, "at"+p), rapid.Int64Range(0, 1e9-1).Draw(t, "ns"+p)).In(time.FixedZone("Z", 3600))}
			require.NoError(t, cs.AppendAudit(ctx, e))
			want = append(want, e)
		}
		err = s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, cs.AppendAudit(ctx, coupon.AuditEntry{Tenant: "shop", EventID: "gone", CouponID: c.ID}))
			return fmt.Errorf("roll back")
		})
		require.Error(t, err)
		got, err := cs.Audit(ctx, "shop", c.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
