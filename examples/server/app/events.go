package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

// Stream and consumer names on NATS JetStream.
const (
	StreamOrders   = "ORDERS"
	StreamEvents   = "REWARDKIT"
	ConsumerOrders = "rewardkit-orders"
	// DedupWindow is how long JetStream remembers a Nats-Msg-Id. A message
	// republished within it (the relay died between publishing and marking
	// it published) is dropped by the stream.
	DedupWindow = 10 * time.Minute
)

// errWaitForward: a reverse event arrived before its forward event; it is
// redelivered later.
var errWaitForward = errors.New("app: reverse event waits for its forward event")

// bus is the App's NATS JetStream side: it publishes the outbox and consumes
// order events.
type bus struct {
	a  *App
	js jetstream.JetStream
}

func (a *App) newBus(ctx context.Context) (*bus, error) {
	js, err := jetstream.New(a.cfg.NATS)
	if err != nil {
		return nil, err
	}
	if err := EnsureStreams(ctx, js, a.cfg.OrdersSubject, a.cfg.EventsSubject); err != nil {
		return nil, err
	}
	return &bus{a: a, js: js}, nil
}

// EnsureStreams creates (or updates) the order-event and outbox streams.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, ordersSubject, eventsSubject string) error {
	for _, sc := range []jetstream.StreamConfig{
		{Name: StreamOrders, Subjects: []string{ordersSubject + ".>"}, Duplicates: DedupWindow, Storage: jetstream.FileStorage},
		{Name: StreamEvents, Subjects: []string{eventsSubject + ".>"}, Duplicates: DedupWindow, Storage: jetstream.FileStorage},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("app: stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// Publish hands one outbox message to JetStream and returns once the stream
// stored it. Nats-Msg-Id is the event ID, so a message the relay delivers
// twice is stored once.
func (b *bus) Publish(ctx context.Context, m storage.Message) error {
	msg := &nats.Msg{Subject: b.a.cfg.EventsSubject + "." + string(m.Tenant) + "." + m.Topic, Data: m.Payload, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, m.EventID)
	msg.Header.Set("Rewardkit-Tenant", string(m.Tenant))
	msg.Header.Set("Rewardkit-Topic", m.Topic)
	msg.Header.Set("Rewardkit-Aggregate", m.AggregateType+"/"+m.AggregateID)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		return err
	}
	b.a.metrics.published.Inc()
	return nil
}

// consume feeds order events into the reward engine and the points ledger
// until ctx is done. Every instance pulls from the same durable consumer,
// so each message goes to one of them at a time; a message is acked only
// after its transaction committed, and a redelivered one counts once (the
// event ID is the idempotency key).
func (b *bus) consume(ctx context.Context) error {
	stream, err := b.js.Stream(ctx, StreamOrders)
	if err != nil {
		return err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: ConsumerOrders, AckPolicy: jetstream.AckExplicitPolicy, AckWait: b.a.cfg.AckWait,
		MaxDeliver: 200, MaxAckPending: 1000, FilterSubject: b.a.cfg.OrdersSubject + ".>",
	})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { b.handle(ctx, msg) }, jetstream.PullMaxMessages(64))
	if err != nil {
		return err
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

func (b *bus) handle(ctx context.Context, msg jetstream.Msg) {
	a := b.a
	defer func() {
		if p := recover(); p != nil {
			a.metrics.events.WithLabelValues("panic").Inc()
			a.log.Error("order event handler panicked", "panic", p, "subject", msg.Subject())
			_ = msg.NakWithDelay(time.Second)
		}
	}()
	tenant := storage.TenantID(strings.TrimPrefix(msg.Subject(), a.cfg.OrdersSubject+"."))
	ev, err := reward.ParseEvent(msg.Data())
	if err == nil {
		err = tenant.Validate()
	}
	if err != nil {
		a.metrics.events.WithLabelValues("invalid").Inc()
		a.log.Warn("order event refused", "subject", msg.Subject(), "err", err.Error())
		_ = msg.Term()
		return
	}
	lctx := withLogAttrs(ctx, "tenant", string(tenant), "event_id", ev.ID)
	dup, err := a.HandleOrderEvent(lctx, tenant, ev)
	switch {
	case err == nil:
		if ackErr := msg.DoubleAck(ctx); ackErr != nil {
			// Committed but not acked: the redelivery is a duplicate and
			// counts nothing.
			a.log.WarnContext(lctx, "ack failed", "err", ackErr.Error())
		}
		if dup {
			a.metrics.events.WithLabelValues("duplicate").Inc()
		} else {
			a.metrics.events.WithLabelValues("counted").Inc()
		}
	case errors.Is(err, storage.ErrIdempotencyMismatch), errors.Is(err, reward.ErrInvalidEvent):
		a.metrics.events.WithLabelValues("conflict").Inc()
		a.log.WarnContext(lctx, "order event refused", "err", err.Error())
		_ = msg.Term()
	case errors.Is(err, errWaitForward):
		a.metrics.events.WithLabelValues("waiting").Inc()
		_ = msg.NakWithDelay(200 * time.Millisecond)
	default:
		a.metrics.events.WithLabelValues("retry").Inc()
		if ctx.Err() == nil {
			a.log.WarnContext(lctx, "order event failed; redelivery will retry", "err", err.Error())
		}
		_ = msg.NakWithDelay(500 * time.Millisecond)
	}
}

// eventResult is what handling an order event did, kept under its ID.
type eventResult struct {
	Accrued  int64 `json:"accrued,omitempty"`
	Reversed int64 `json:"reversed,omitempty"`
	Counted  int   `json:"counted"`
}

func eventSeenKey(id string) string     { return "event/" + id }
func accrualKey(id string) string       { return "event:" + id }
func reversalKey(id string) string      { return "event-reverse:" + id }
func isReverse(t reward.EventType) bool { return t == reward.AfterSale || t == reward.Refund }

// HandleOrderEvent counts one order event once, in one transaction: the
// reward engine's campaigns (challenge awards in points, the spend ranking)
// and the base accrual of points for its amount (PointsPerUnit per whole
// unit), or, for a reverse event, the reversal of what its forward event
// accrued. It reports whether the event had been handled before.
func (a *App) HandleOrderEvent(ctx context.Context, tenant storage.TenantID, ev reward.Event) (duplicate bool, err error) {
	ran := false
	res, err := storage.Idempotent(ctx, a.store, a.store, a.clock, tenant, "orders.event", ev.ID, ev, func(ctx context.Context) (eventResult, error) {
		ran = true
		var res eventResult
		if isReverse(ev.Type) {
			seen, err := a.store.Counter(ctx, tenant, eventSeenKey(ev.OriginalID))
			if err != nil {
				return res, err
			}
			if seen == 0 {
				return res, errWaitForward
			}
		}
		out, err := a.rewards.Handle(ctx, tenant, ev)
		if err != nil {
			return res, err
		}
		res.Counted = len(out.Counted)
		if isReverse(ev.Type) {
			res.Reversed, err = a.reverseAccrual(ctx, tenant, ev)
			return res, err
		}
		if _, _, err := a.store.AddCounter(ctx, tenant, eventSeenKey(ev.ID), 1, storage.Bounds{}); err != nil {
			return res, err
		}
		if a.earns(ctx, tenant, ev) {
			acc, err := a.kit.Loyalty.Accrue(ctx, tenant, reward.Accrual{Key: accrualKey(ev.ID), Member: ev.UserID,
				Amount: ev.Amount, Time: ev.Time, Shop: ev.ShopID, Attrs: map[string]string{"order": ev.OrderID}})
			if err != nil {
				return res, err
			}
			res.Accrued, _ = acc.Points.Minor()
		}
		return res, nil
	})
	if err != nil {
		return false, err
	}
	// fn runs only for an event not handled before; a replay returns the
	// stored result without running it.
	if ran && res.Accrued > 0 {
		a.metrics.postings.WithLabelValues("accrual").Inc()
	}
	if ran && res.Reversed > 0 {
		a.metrics.postings.WithLabelValues("reversal").Inc()
	}
	return !ran, nil
}

// earns reports whether an order event earns loyalty points: its user is
// a registered member and it has a positive amount in the server's
// currency (kit.Loyalty's earning rules make the points: PointsPerUnit per
// whole unit).
func (a *App) earns(ctx context.Context, tenant storage.TenantID, ev reward.Event) bool {
	amt := ev.Amount
	if amt.Currency().IsZero() || amt.Currency() != a.cfg.Currency || !amt.IsPositive() || !amt.IsExact() {
		return false
	}
	if ev.UserID == "" || !memberPattern.MatchString(ev.UserID) {
		return false
	}
	return a.registered(ctx, tenant, ev.UserID) == nil
}

// pointsFor is the base accrual of an order amount: whole units of the
// server's currency times PointsPerUnit (cents earn nothing), as the
// loyalty program's earning rule computes it.
func (a *App) pointsFor(amt money.Amount) int64 {
	if amt.Currency().IsZero() || amt.Currency() != a.cfg.Currency || !amt.IsPositive() {
		return 0
	}
	return amt.Decimal().Floor().IntPart() * a.cfg.Catalogue.PointsPerUnit
}

// reverseAccrual takes back what the forward event accrued through
// kit.Loyalty: everything left of it, or for a partial reverse (an
// amount), the points of that amount, never more than is left. The
// loyalty program has no reversal of accruals, so it is done on its
// records (takeBack): the ledger reversal and a negative accrual.
func (a *App) reverseAccrual(ctx context.Context, tenant storage.TenantID, ev reward.Event) (int64, error) {
	tx, err := a.kit.Ledger.TransactionByKey(ctx, tenant, loyaltyAccrualTx(accrualKey(ev.OriginalID)))
	if errors.Is(err, ledger.ErrTransactionNotFound) {
		return 0, nil // the forward event earned no points
	}
	if err != nil {
		return 0, err
	}
	if len(tx.Postings) != 1 {
		return 0, fmt.Errorf("app: accrual %s has %d postings", tx.ID, len(tx.Postings))
	}
	got, _ := tx.Postings[0].Amount.Minor()
	var back int64
	if len(tx.Reversed) > 0 {
		back, _ = tx.Reversed[0].Minor()
	}
	left := got - back
	take := left
	if !ev.Amount.IsZero() {
		take = min(left, a.pointsFor(ev.Amount))
	}
	if take <= 0 {
		return 0, nil
	}
	member := tx.Metadata["member"]
	err = a.takeBack(ctx, tenant, member, tx.ID, reversalKey(ev.ID), take)
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		// The member spent the points: record the shortfall for review
		// rather than blocking the event stream.
		_, _, err = a.store.AddCounter(ctx, tenant, "clawback-shortfall/"+member, take, storage.Bounds{})
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	return take, nil
}

// loyaltyAccrualTx is the ledger key kit.Loyalty posts an accrual under
// (keys this short are not hashed).
func loyaltyAccrualTx(key string) string { return "loyalty:accrue:" + key }

// handlePublishEvent reads the body as it is, without decode: the event is
// published as sent, once reward.ParseEvent accepts it.
func (a *App) handlePublishEvent(w http.ResponseWriter, r *http.Request, c Caller) error {
	if a.cfg.NATS == nil {
		return errorf(http.StatusServiceUnavailable, "no_transport", "this instance runs without NATS")
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBody)
	var raw []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		raw = append(raw, buf[:n]...)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			break
		}
	}
	ev, err := reward.ParseEvent(raw)
	if err != nil {
		return err
	}
	if c.Role == RoleMerchant && ev.ShopID != c.Subject {
		return errorf(http.StatusForbidden, "forbidden", "a merchant publishes events of its own shop only (shop_id)")
	}
	js, err := jetstream.New(a.cfg.NATS)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: a.cfg.OrdersSubject + "." + string(c.Tenant), Data: raw, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	ack, err := js.PublishMsg(r.Context(), msg)
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusAccepted, map[string]any{"event_id": ev.ID, "stream_seq": ack.Sequence, "duplicate": ack.Duplicate})
	return nil
}

func (a *App) handleLeaderboard(w http.ResponseWriter, r *http.Request, c Caller) error {
	n := 10
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 100 {
			return errorf(http.StatusBadRequest, "invalid_field", "n must be 1 to 100")
		}
		n = v
	}
	campaign := r.PathValue("campaign")
	if err := checkID("campaign", campaign); err != nil {
		return err
	}
	st, err := a.rewards.Leaderboard(r.Context(), c.Tenant, campaign, n)
	if err != nil {
		return err
	}
	if st == nil {
		st = []reward.Standing{}
	}
	if c.Role != RoleAdmin {
		for i := range st {
			if st[i].Participant != c.Subject {
				st[i].Participant = mask(st[i].Participant)
			}
		}
	}
	a.writeData(w, r, http.StatusOK, st)
	return nil
}

// mask hides all but the first two characters of another party's ID.
func mask(id string) string {
	if len(id) <= 2 {
		return "***"
	}
	return id[:2] + "***"
}

func (a *App) handleProgress(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := memberTarget(r, c, false)
	if err != nil {
		return err
	}
	type view struct {
		Campaign string `json:"campaign"`
		Value    int64  `json:"value"`
		Rank     int    `json:"rank,omitempty"`
	}
	out := []view{}
	for _, camp := range a.cfg.Catalogue.Campaigns {
		p, err := a.rewards.Progress(r.Context(), c.Tenant, camp.ID, "", id)
		if errors.Is(err, reward.ErrNoProgress) {
			continue
		}
		if err != nil {
			return err
		}
		v := view{Campaign: camp.ID, Value: p.Value}
		if camp.Kind == reward.Ranking {
			if s, err := a.rewards.Rank(r.Context(), c.Tenant, camp.ID, id); err == nil {
				v.Rank = s.Rank
			}
		}
		out = append(out, v)
	}
	a.writeData(w, r, http.StatusOK, out)
	return nil
}
