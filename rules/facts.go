package rules

import (
	"time"

	"github.com/rewardkit/rewardkit/money"
)

// Facts is everything a rule may look at. The caller fills it in before
// evaluating; rules only read it. Counters carries caller-supplied numbers
// such as a user's past uses of a campaign or a budget's remainder, so that
// per-user caps and budgets are pre-checks on facts, not writes.
//
// In CEL the fields are the variables order, lines, user, event, merchant,
// now, attrs and counters; struct fields use snake_case (order.shop_id).
type Facts struct {
	Order    Order
	Lines    []Line
	User     User // the user or member
	Event    Event
	Merchant Merchant // the merchant or shop
	// Now is the evaluation time; rules with an effective window need it.
	Now time.Time
	// Attrs holds custom attributes (CEL: attrs, a map(string, dyn)).
	Attrs map[string]any
	// Counters holds caller-supplied counts and remainders (CEL: counters,
	// a map(string, int)), e.g. "user_uses" or "budget_left".
	Counters map[string]int64
}

// Order is the order or payment under evaluation (CEL type rules.Order).
type Order struct {
	ID         string            // order.id
	Amount     money.Amount      // order.amount (decimal) and order.currency (code)
	Status     string            // order.status, e.g. "PAID"
	Channel    string            // order.channel, e.g. "app"
	Region     string            // order.region
	ShopID     string            // order.shop_id
	FirstOrder bool              // order.first_order: the user's first order
	Refunded   bool              // order.refunded
	CreatedAt  time.Time         // order.created_at (timestamp)
	Attrs      map[string]string // order.attrs
}

// Line is one order line (CEL type rules.Line, in the list lines).
type Line struct {
	SKU       string       // line.sku
	Category  string       // line.category
	Quantity  int64        // line.quantity
	UnitPrice money.Amount // line.unit_price (decimal)
	Amount    money.Amount // line.amount (decimal)
}

// User is the user or member acting (CEL type rules.User).
type User struct {
	ID           string    // user.id
	Type         string    // user.type: participant type, e.g. "consumer", "rider"
	Tier         string    // user.tier: member tier, e.g. "gold"
	Region       string    // user.region
	DeviceID     string    // user.device_id
	Phone        string    // user.phone
	IsNew        bool      // user.is_new
	DenyListed   bool      // user.deny_listed
	Attended     bool      // user.attended: attendance recorded for the period
	RegisteredAt time.Time // user.registered_at (timestamp)
	Tags         []string  // user.tags
}

// Event is the business event that triggered evaluation (CEL type rules.Event).
type Event struct {
	ID    string            // event.id
	Type  string            // event.type, e.g. "order_paid"
	Time  time.Time         // event.time (timestamp)
	Attrs map[string]string // event.attrs
}

// Merchant is the merchant or shop involved (CEL type rules.Merchant).
type Merchant struct {
	ID       string // merchant.id
	ShopID   string // merchant.shop_id
	Region   string // merchant.region
	Category string // merchant.category
}
