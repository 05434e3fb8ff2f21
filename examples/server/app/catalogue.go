package app

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

// Offer is a loyalty offer: a coupon of a template, bought with points and
// open to members from a tier up.
type Offer struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	TemplateID string `json:"template_id"`
	PointsCost int64  `json:"points_cost"`
	MinTier    string `json:"min_tier,omitempty"`
}

// Tier is a loyalty tier reached at Min lifetime points.
type Tier struct {
	Name string `json:"name"`
	Min  int64  `json:"min"`
}

// Catalogue is what the server seeds into every tenant: coupon templates
// (Tenant is filled in), offers, tiers and campaigns.
type Catalogue struct {
	Templates []coupon.Template
	Offers    []Offer
	Tiers     []Tier
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
		Offers: []Offer{
			{ID: "treat5", Name: "5.00 off your next order", TemplateID: TemplateOffer, PointsCost: 500},
			{ID: "gold-treat", Name: "5.00 off, gold members only, 100 points", TemplateID: TemplateOffer, PointsCost: 100, MinTier: "gold"},
		},
		Tiers: []Tier{{Name: "bronze", Min: 0}, {Name: "silver", Min: 1_000}, {Name: "gold", Min: 5_000}},
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

// tierOf returns the tier reached at lifetime points.
func (c *Catalogue) tierOf(lifetime int64) string {
	tiers := append([]Tier(nil), c.Tiers...)
	sort.Slice(tiers, func(i, j int) bool { return tiers[i].Min < tiers[j].Min })
	name := ""
	for _, t := range tiers {
		if lifetime >= t.Min {
			name = t.Name
		}
	}
	return name
}

// tierRank orders tier names; unknown names rank below every tier.
func (c *Catalogue) tierRank(name string) int {
	for i, t := range c.Tiers {
		if t.Name == name {
			return i
		}
	}
	return -1
}
