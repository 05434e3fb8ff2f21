package reward

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// ShortfallPolicy says what a LedgerAwarder does when it must take back
// an award whose points or cash the participant has already spent.
type ShortfallPolicy string

const (
	// ShortfallRecord takes back what the participant's account still
	// has available and records the rest: on the reversal's metadata
	// ("shortfall") and, with an Outbox, as a TopicShortfall message.
	// The event that caused the claw back commits.
	ShortfallRecord ShortfallPolicy = "record"
	// ShortfallFail refuses the claw back with ledger.ErrInsufficientFunds,
	// which rolls the causing event back (its redelivery tries again).
	ShortfallFail ShortfallPolicy = "fail"
)

// TopicShortfall is the outbox topic of a claw back that could not take
// back all of an award (ShortfallRecord).
const TopicShortfall = "reward.clawback.shortfall"

// ShortfallMessage is the payload of TopicShortfall. Amounts are in minor
// units of Asset.
type ShortfallMessage struct {
	Tenant      storage.TenantID `json:"tenant"`
	Key         string           `json:"key"`
	Campaign    string           `json:"campaign"`
	Participant string           `json:"participant"`
	Account     string           `json:"account"`
	Asset       string           `json:"asset"`
	Owed        int64            `json:"owed"`
	Taken       int64            `json:"taken"`
	Shortfall   int64            `json:"shortfall"`
	Reversal    string           `json:"reversal,omitempty"`
}

// LedgerAwarderConfig wires a LedgerAwarder. In the account patterns,
// "{campaign}" and "{participant}" are replaced by the award's campaign
// and participant IDs; the result must be a valid ledger account ID.
type LedgerAwarderConfig struct {
	// Ledger posts the awards; it must run over the Engine's store so
	// that its postings join the event's transaction. Required.
	Ledger *ledger.Ledger
	// Source is the account awards are paid from, e.g.
	// "campaign:{campaign}:budget" (which the host funds; a posting that
	// would take it below its floor fails with ledger.ErrInsufficientFunds
	// and rolls the event back). Default ledger.World.
	Source string
	// Points and Cash are the accounts that receive AwardPoints and
	// AwardCash. Defaults "member:{participant}:points" and
	// "member:{participant}:cash".
	Points string
	Cash   string
	// PointsTTL makes awarded points an expiring lot that lapses PointsTTL
	// after the grant (swept by ledger.SweepExpired). Zero: they never
	// expire.
	PointsTTL time.Duration
	// Clock dates expiring lots. Default storage.SystemClock.
	Clock storage.Clock
	// Shortfall is the claw back policy; default ShortfallRecord.
	Shortfall ShortfallPolicy
	// Outbox receives TopicShortfall messages; nil writes none.
	Outbox storage.OutboxStore
}

// LedgerAwarder is an Awarder that pays AwardPoints and AwardCash through
// a ledger: Grant posts the amount from the source account to the
// participant's account under a key derived from AwardRequest.Key (so a
// re-run transaction posts once), and Revoke reverses that posting with
// ledger.Reverse. What the participant has spent in the meantime is
// handled by the ShortfallPolicy. It runs with the ctx it is given, so it
// joins the event's transaction. It is safe for concurrent use.
type LedgerAwarder struct {
	cfg LedgerAwarderConfig
}

// NewLedgerAwarder returns a LedgerAwarder; ErrInvalidConfig when the
// Ledger is missing or a pattern or policy is unknown.
func NewLedgerAwarder(cfg LedgerAwarderConfig) (*LedgerAwarder, error) {
	var errs []error
	if cfg.Ledger == nil {
		errs = append(errs, fmt.Errorf("%w: LedgerAwarderConfig.Ledger is required", ErrInvalidConfig))
	}
	if cfg.Source == "" {
		cfg.Source = ledger.World
	}
	if cfg.Points == "" {
		cfg.Points = "member:{participant}:points"
	}
	if cfg.Cash == "" {
		cfg.Cash = "member:{participant}:cash"
	}
	if cfg.Clock == nil {
		cfg.Clock = storage.SystemClock{}
	}
	if cfg.Shortfall == "" {
		cfg.Shortfall = ShortfallRecord
	}
	if cfg.Shortfall != ShortfallRecord && cfg.Shortfall != ShortfallFail {
		errs = append(errs, fmt.Errorf("%w: unknown shortfall policy %q", ErrInvalidConfig, cfg.Shortfall))
	}
	if cfg.PointsTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: PointsTTL must not be negative", ErrInvalidConfig))
	}
	for _, p := range []string{cfg.Source, cfg.Points, cfg.Cash} {
		if err := ledger.ValidateAccountID(expand(p, "c", "p")); err != nil {
			errs = append(errs, fmt.Errorf("%w: account pattern %q: %w", ErrInvalidConfig, p, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &LedgerAwarder{cfg: cfg}, nil
}

func expand(pattern, campaign, participant string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	return strings.NewReplacer("{campaign}", campaign, "{participant}", participant).Replace(pattern)
}

// Account returns the account that receives awards of kind for a
// participant in a campaign.
func (a *LedgerAwarder) Account(kind AwardKind, campaign, participant string) string {
	if kind == AwardCash {
		return expand(a.cfg.Cash, campaign, participant)
	}
	return expand(a.cfg.Points, campaign, participant)
}

// ledgerKey maps an award key to a ledger key of at most
// storage.MaxKeyLen bytes: itself when it fits, else a digest.
func ledgerKey(prefix, key string) string {
	if len(prefix)+len(key) <= 128 {
		return prefix + key
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + "h/" + hex.EncodeToString(sum[:])
}

// Grant posts the award and returns the ledger transaction's ID.
// Errors: ErrInvalidArgument for an award that is not points or cash;
// the ledger's (ledger.ErrInsufficientFunds when the source cannot pay,
// ledger.ErrUnknownAsset, ledger.ErrInvalidRequest for a bad account).
func (a *LedgerAwarder) Grant(ctx context.Context, tenant storage.TenantID, req AwardRequest) (string, error) {
	if req.Award.Kind != AwardPoints && req.Award.Kind != AwardCash {
		return "", fmt.Errorf("%w: a ledger awarder pays points and cash, not %q", ErrInvalidArgument, req.Award.Kind)
	}
	p := ledger.Posting{
		Source:      expand(a.cfg.Source, req.Campaign, req.Participant),
		Destination: a.Account(req.Award.Kind, req.Campaign, req.Participant),
		Amount:      req.Award.Amount,
	}
	if req.Award.Kind == AwardPoints && a.cfg.PointsTTL > 0 {
		p.ExpiresAt = a.cfg.Clock.Now().Add(a.cfg.PointsTTL)
	}
	tx, err := a.cfg.Ledger.Transfer(ctx, tenant, ledger.TransferRequest{
		Key: ledgerKey("award:", req.Key), Postings: []ledger.Posting{p},
		Metadata: map[string]string{"award": req.Key, "campaign": req.Campaign, "participant": req.Participant, "slot": req.Slot},
	})
	if err != nil {
		return "", err
	}
	return tx.ID, nil
}

// Revoke reverses the posting Grant made (ref is its transaction ID). It
// takes back what is left of it, at most what the participant's account
// has available; the rest is the shortfall, handled by the policy. A
// revoke run twice takes back once.
//
// Errors: ErrInvalidArgument for an empty ref; ledger.ErrTransactionNotFound;
// ledger.ErrInsufficientFunds under ShortfallFail; the ledger's and the
// outbox's errors.
func (a *LedgerAwarder) Revoke(ctx context.Context, tenant storage.TenantID, req AwardRequest, ref string) error {
	if ref == "" {
		return fmt.Errorf("%w: revoke of %q without a ledger reference", ErrInvalidArgument, req.Key)
	}
	key := ledgerKey("revoke:", req.Key)
	if _, err := a.cfg.Ledger.TransactionByKey(ctx, tenant, key); err == nil {
		return nil // taken back before
	} else if !errors.Is(err, ledger.ErrTransactionNotFound) {
		return err
	}
	tx, err := a.cfg.Ledger.TransactionByID(ctx, tenant, ref)
	if err != nil {
		return err
	}
	if len(tx.Postings) != 1 {
		return fmt.Errorf("%w: ledger transaction %s is not an award", ErrInvalidArgument, ref)
	}
	p := tx.Postings[0]
	cur := p.Amount.Currency()
	owed := p.Amount
	if len(tx.Reversed) > 0 && !tx.Reversed[0].IsZero() {
		var err error
		if owed, err = owed.Sub(tx.Reversed[0]); err != nil {
			return err
		}
	}
	if !owed.IsPositive() {
		return nil
	}
	bal, err := a.cfg.Ledger.Balance(ctx, tenant, p.Destination, cur)
	if err != nil {
		return err
	}
	take := owed
	if c, _ := bal.Available.Cmp(owed); c < 0 {
		take = bal.Available
		if take.IsNegative() {
			take = money.Zero(cur)
		}
	}
	short, err := owed.Sub(take)
	if err != nil {
		return err
	}
	if short.IsPositive() && a.cfg.Shortfall == ShortfallFail {
		return fmt.Errorf("reward: claw back %s: %s has %s of %s available: %w", req.Key, p.Destination, bal.Available, owed, ledger.ErrInsufficientFunds)
	}
	var reversal string
	if take.IsPositive() {
		md := map[string]string{"award": req.Key, "campaign": req.Campaign, "participant": req.Participant}
		if short.IsPositive() {
			md["shortfall"] = short.String()
		}
		rtx, err := a.cfg.Ledger.Reverse(ctx, tenant, ref, ledger.ReverseRequest{Key: key, Amounts: []money.Amount{take}, Metadata: md})
		if err != nil {
			return err
		}
		reversal = rtx.ID
	}
	if !short.IsPositive() || a.cfg.Outbox == nil {
		return nil
	}
	owedMinor, _ := owed.Minor()
	takenMinor, _ := take.Minor()
	body, err := json.Marshal(ShortfallMessage{Tenant: tenant, Key: req.Key, Campaign: req.Campaign, Participant: req.Participant,
		Account: p.Destination, Asset: cur.Code(), Owed: owedMinor, Taken: takenMinor, Shortfall: owedMinor - takenMinor, Reversal: reversal})
	if err != nil {
		return fmt.Errorf("reward: encode shortfall: %w", err)
	}
	return a.cfg.Outbox.AppendOutbox(ctx, storage.Message{
		EventID: TopicShortfall + ":" + string(tenant) + ":" + req.Key, Tenant: tenant, Topic: TopicShortfall,
		AggregateType: AggregateGrant, AggregateID: req.Campaign + "/" + req.Participant,
		Payload: body, CreatedAt: a.cfg.Clock.Now(),
	})
}
