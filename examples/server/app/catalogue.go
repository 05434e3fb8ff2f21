package app

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

// Catalogue is what the server seeds into every tenant: coupon templates
// (Tenant is filled in) and campaigns, and the loyalty program's offers
// and tiers (kit.Loyalty; tiers by lifetime points).
type Catalogue struct {
	Templates []coupon.Template
	Offers    []reward.Offer
	Tiers     []reward.TierRule
	Campaigns []reward.Campaign
	// PointsPerUnit is how many points an order event earns per whole unit
	// of its amount.
	PointsPerUnit int64
}

// Names of the default catalogue's entries.
const (
	TemplateWelcome = "WELCOME10" // 10.00 off 50.00, one per member
	TemplateFlash   = "FLASH20"   // 20% off (at most 50.00), limited stock
	TemplateOffer   = "TREAT5"    // 5.00 off, bought with points
	TemplateCodes   = "GIFT15"    // 15.00 off, as printed codes
	CampaignOrders  = "order-challenge"
	CampaignRanking = "top-spenders"
)

// DefaultCatalogue is the demo catalogue.
func DefaultCatalogue() Catalogue {
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	days := coupon.Validity{Days: 30, TimeZone: "UTC"}
	return Catalogue{
		Templates: []coupon.Template{
			{ID: TemplateWelcome, Name: "Welcome: 10.00 off 50.00",
				Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: usd("50"), Amount: usd("10")},
				Validity: days, Limits: coupon.Limits{Stock: 1_000_000, PerUser: 1}},
			{ID: TemplateFlash, Name: "Flash sale: 20% off, at most 50.00",
				Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(20), Cap: usd("50")},
				Validity: days, Limits: coupon.Limits{Stock: 100, PerUser: 1}},
			{ID: TemplateOffer, Name: "Treat: 5.00 off",
				Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: usd("5")},
				Validity: days, Limits: coupon.Limits{Stock: 10_000_000}},
			{ID: TemplateCodes, Name: "Gift code: 15.00 off 30.00",
				Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: usd("30"), Amount: usd("15")},
				Validity: days, Limits: coupon.Limits{Stock: 1_000_000, PerUser: 5}},
		},
		Offers: []reward.Offer{
			{ID: "treat5", Name: "5.00 off your next order", Template: TemplateOffer, Cost: 500},
			{ID: "gold-treat", Name: "5.00 off, gold members only, 100 points", Template: TemplateOffer, Cost: 100, Tiers: []string{"gold"}},
		},
		Tiers: []reward.TierRule{{Name: "bronze", Threshold: 0}, {Name: "silver", Threshold: 1_000}, {Name: "gold", Threshold: 5_000}},
		Campaigns: []reward.Campaign{
			{ID: CampaignOrders, Name: "3 orders: 100 points; 10 orders: 500 more", Kind: reward.Challenge, Status: reward.StatusActive,
				Start: start, End: end, EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: reward.ParticipantUser,
				Indicator: reward.Indicator{Strategy: reward.OrderCount}, Period: reward.PeriodCampaign, Clawback: reward.ClawbackOnReverse,
				Tiers: []reward.Tier{
					{Target: 3, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(100, Points)}},
					{Target: 10, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(500, Points)}},
				}},
			{ID: CampaignRanking, Name: "Top spenders", Kind: reward.Ranking, Status: reward.StatusActive,
				Start: start, End: end, EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: reward.ParticipantUser,
				Indicator: reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"}, Period: reward.PeriodCampaign, TopN: 100},
		},
		PointsPerUnit: 1,
	}
}

// seed creates the catalogue's templates and campaigns in tenant unless they
// exist (another instance may have seeded them first).
func (a *App) seed(ctx context.Context, tenant storage.TenantID) error {
	cat := a.cfg.Catalogue
	for _, t := range cat.Templates {
		t.Tenant = tenant
		if _, err := a.kit.Coupons.CreateTemplate(ctx, t); err != nil && !errors.Is(err, storage.ErrDuplicate) {
			return err
		}
	}
	for _, c := range cat.Campaigns {
		if _, err := a.rewards.Campaign(ctx, tenant, c.ID); err == nil {
			continue
		}
		if _, err := a.rewards.PutCampaign(ctx, tenant, c.Clone()); err != nil && !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return nil
}

// loyalty is the loyalty program of the catalogue: its offers and tiers,
// and the base accrual of order events (PointsPerUnit per whole unit).
func (c *Catalogue) loyalty(currency money.Currency) *reward.LoyaltyConfig {
	lc := &reward.LoyaltyConfig{Points: Points, Currency: currency, Tiers: c.Tiers, Offers: c.Offers, Sink: accountRedeemed}
	if c.PointsPerUnit > 0 {
		lc.Earning = []reward.EarningRule{{ID: "base", Name: "points per whole unit spent",
			Rate: decimal.NewFromInt(c.PointsPerUnit)}}
	}
	return lc
}
