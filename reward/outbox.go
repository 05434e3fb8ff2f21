package reward

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Outbox topics of package reward. The Engine appends one message per
// award given or taken back, and the Loyalty program one per accrual,
// redemption and tier change, in the transaction that made the change.
const (
	TopicGranted     = "reward.granted"
	TopicRevoked     = "reward.revoked"
	TopicAccrued     = "reward.loyalty.accrued"
	TopicRedeemed    = "reward.loyalty.redeemed"
	TopicTierChanged = "reward.loyalty.tier_changed"
	TopicRegistered  = "reward.loyalty.registered"
)

// Aggregate types of the outbox messages: messages of one grant slot keep
// their order, as do those of one member.
const (
	AggregateGrant  = "reward.grant"
	AggregateMember = "reward.member"
)

// GrantMessage is the payload of TopicGranted and TopicRevoked.
type GrantMessage struct {
	Tenant      storage.TenantID `json:"tenant"`
	Campaign    string           `json:"campaign"`
	Period      string           `json:"period"`
	Participant string           `json:"participant"`
	Slot        string           `json:"slot"`
	Seq         int64            `json:"seq"`
	// Key is the Awarder's idempotency key of the award.
	Key     string    `json:"key"`
	Award   Award     `json:"award"`
	Ref     string    `json:"ref,omitempty"`
	EventID string    `json:"event_id,omitempty"`
	At      time.Time `json:"at"`
}

// publish appends the message of a grant change, when the Engine has an
// outbox; key is g.AwardKey().
func (e *Engine) publish(ctx context.Context, tenant storage.TenantID, topic string, g *Grant, key string) error {
	if e.outbox == nil {
		return nil
	}
	msg := GrantMessage{Tenant: tenant, Campaign: g.Campaign, Period: g.Period, Participant: g.Participant,
		Slot: g.Slot, Seq: g.Seq, Key: key, Award: g.Award, Ref: g.Ref, EventID: g.EventID, At: g.At}
	body, err := msg.appendJSON(make([]byte, 0, 384))
	if err != nil {
		return fmt.Errorf("reward: encode %s: %w", topic, err)
	}
	return e.outbox.AppendOutbox(ctx, storage.Message{
		EventID: topic + ":" + string(tenant) + ":" + key, Tenant: tenant, Topic: topic,
		AggregateType: AggregateGrant, AggregateID: grantAggregate(key, g), Payload: body, CreatedAt: e.clock.Now(),
	})
}

// grantAggregate returns the aggregate ID of g's messages,
// "campaign/period/participant/slot": the middle of key, g's AwardKey
// ("reward/campaign/period/participant/slot/seq"), which spells it out
// already.
func grantAggregate(key string, g *Grant) string {
	const prefix = len("reward/")
	return key[prefix : prefix+len(g.Campaign)+len(g.Period)+len(g.Participant)+len(g.Slot)+3]
}
