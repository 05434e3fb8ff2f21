package reward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// operation is the idempotency scope of events.
const operation = "reward.event"

// Outcome reports what one event did.
type Outcome struct {
	EventID string `json:"event_id"`
	// Pending: a reverse event whose forward event has not arrived yet;
	// it is parked and applied when the forward arrives.
	Pending bool `json:"pending,omitempty"`
	// Counted lists the campaigns the event (or a reverse it released)
	// changed, with the participant's new value.
	Counted []Count `json:"counted,omitempty"`
	// Skipped lists the campaigns listening to the event's type that did
	// not count it, with the reasons.
	Skipped []Skip `json:"skipped,omitempty"`
	// Grants lists awards given, taken back, or refused for budget.
	Grants []GrantChange `json:"grants,omitempty"`
	// Released lists the parked reverse events this forward event
	// released and applied.
	Released []string `json:"released,omitempty"`
}

// Count is one change to one participant's progress.
type Count struct {
	ProgressKey
	EventID string `json:"event_id"`
	Delta   int64  `json:"delta"`
	Value   int64  `json:"value"`
}

// Skip explains why a campaign did not count an event.
type Skip struct {
	Campaign string   `json:"campaign"`
	Reasons  []string `json:"reasons"`
}

// Change is what happened to a grant.
type Change string

// Grant changes.
const (
	ChangeAwarded         Change = "awarded"
	ChangeClawedBack      Change = "clawed_back"
	ChangeBudgetExhausted Change = "budget_exhausted"
)

// GrantChange is an award given, taken back or refused.
type GrantChange struct {
	GrantKey
	Change Change `json:"change"`
	Award  Award  `json:"award"`
	Seq    int64  `json:"seq,omitempty"`
}

// Handle counts one host event, once: a redelivered event (same ID and
// payload) returns the first outcome and changes nothing, even when
// several host instances receive it at once. A forward event is matched
// against the active campaigns that listen to its type; each that
// accepts it gets a flow by its indicator strategy, which moves the
// participant's progress and, in a CHALLENGE, gives (or claws back) tier
// awards. A reverse event takes back what its forward event contributed,
// or waits for the forward when it arrives first.
//
// Errors: an *EventError (ErrInvalidEvent, and ErrMissingEventID,
// ErrUnknownEventType or ErrMalformedEvent) for bad input, which counts
// nothing; storage.ErrIdempotencyMismatch for a reused ID with another
// payload; storage.ErrInvalidTenant; the Awarder's and the store's errors,
// which roll the event back so that redelivery retries it.
func (e *Engine) Handle(ctx context.Context, tenant storage.TenantID, ev Event) (Outcome, error) {
	if err := tenant.Validate(); err != nil {
		return Outcome{}, err
	}
	if err := e.types.validate(&ev); err != nil {
		return Outcome{}, err
	}
	h := e.handling()
	h.tenant, h.ev = tenant, ev
	if err := h.fingerprint(); err != nil {
		e.release(h)
		return Outcome{}, err
	}
	if err := e.tx.InTx(ctx, h.run); err != nil {
		e.release(h)
		return Outcome{}, err
	}
	out := h.out
	e.release(h)
	return out, nil
}

// handling is one Handle call: the event, its outcome, and the scratch
// the Engine works in. The Engine keeps a pool of them, so that an event
// allocates no working memory of its own: what it allocates is what it
// leaves with the store or hands to the caller.
type handling struct {
	scratch
	e      *Engine
	tenant storage.TenantID
	ev     Event
	fp     string // the event's fingerprint
	out    Outcome
	run    func(ctx context.Context) error // h.handle, bound once
}

// scratch is working memory that no store call and no caller keeps.
type scratch struct {
	buf      []byte // JSON: the event's for its fingerprint, the stored outcome
	facts    rules.Facts
	lines    []rules.Line
	attrs    map[string]any
	hits     []matched
	verdicts []ruleVerdict // the rule sets evaluated for the event
	// The event's flows and progress changes: handed to the store, which
	// does not keep them (see Store).
	flows   []Flow
	changes []ProgressChange
}

// maxScratch bounds the buffer a pooled handling keeps.
const maxScratch = 64 << 10

func (e *Engine) handling() *handling {
	if h, ok := e.calls.Get().(*handling); ok {
		return h
	}
	h := &handling{e: e}
	h.run = h.handle
	return h
}

// release returns h to the pool, dropping what belongs to its caller.
func (e *Engine) release(h *handling) {
	h.ev, h.out, h.fp = Event{}, Outcome{}, ""
	h.facts = rules.Facts{}
	clear(h.attrs)
	clear(h.lines)
	clear(h.hits)
	clear(h.verdicts)
	clear(h.flows)
	clear(h.changes)
	h.hits, h.verdicts, h.flows, h.changes = h.hits[:0], h.verdicts[:0], h.flows[:0], h.changes[:0]
	if cap(h.buf) > maxScratch {
		h.buf = nil
	}
	e.calls.Put(h)
}

// fingerprint sets h.fp to the event's fingerprint, as storage.Fingerprint
// computes it (the SHA-256 of its JSON), without allocating the JSON.
func (h *handling) fingerprint() error {
	b, err := h.ev.AppendJSON(h.buf[:0])
	if err != nil {
		return fmt.Errorf("%w: fingerprint: %w", storage.ErrInvalidArgument, err)
	}
	h.buf = b
	h.fp = storage.FingerprintJSON(b)
	return nil
}

// handle is the transaction of one event: storage.RunOnce claims the
// event ID under its fingerprint and runs the event (h.work) the first
// time; a replay with the same fingerprint decodes the stored outcome
// (the short form of result.go).
func (h *handling) handle(ctx context.Context) error {
	h.out = Outcome{}
	prior, err := storage.RunOnce(ctx, h.e.store, storage.IdempotencyRecord{
		Tenant: h.tenant, Operation: operation, Key: h.ev.ID, Fingerprint: h.fp, CreatedAt: h.e.clock.Now(),
	}, h.work)
	if err != nil || prior == nil {
		return err
	}
	return decodeResult(prior, &h.out)
}

// work runs the event the first time its ID is seen and returns the
// outcome to store.
func (h *handling) work(ctx context.Context) ([]byte, error) {
	e, ev := h.e, &h.ev
	h.out.EventID = ev.ID
	var err error
	if e.types.isReverse(ev.Type) {
		err = e.reverse(ctx, h.tenant, ev, &h.out)
	} else {
		err = e.forward(ctx, h.tenant, ev, &h.out, &h.scratch)
	}
	if err != nil {
		return nil, err
	}
	b, err := h.out.appendResult(h.buf[:0])
	if err != nil {
		return nil, fmt.Errorf("reward: encode the outcome of %q: %w", ev.ID, err)
	}
	h.buf = b
	// The store keeps the result: it gets a copy, not the scratch.
	return bytes.Clone(b), nil
}

// HandleJSON decodes payload (see ParseEvent; the Engine's custom forward
// and reverse types are known) and handles it. Errors: as ParseEvent and Handle.
func (e *Engine) HandleJSON(ctx context.Context, tenant storage.TenantID, payload []byte) (Outcome, error) {
	ev, err := e.types.parse(payload)
	if err != nil {
		return Outcome{}, err
	}
	return e.Handle(ctx, tenant, ev)
}

// matched is a campaign that accepted an event; its flow is the
// record's flow of the same index.
type matched struct {
	c  *Campaign
	cc *compiled
}

func (e *Engine) forward(ctx context.Context, tenant storage.TenantID, ev *Event, out *Outcome, sc *scratch) error {
	camps, err := e.store.ActiveCampaigns(ctx, tenant, ev.Type)
	if err != nil {
		return err
	}
	rec := EventRecord{ID: ev.ID, Type: ev.Type, Time: ev.Time}
	hits := sc.hits[:0]
	if len(camps) > 0 {
		rec.Flows = sc.flows[:0]
		f := sc.factsOf(ev)
		var periods periodKeys
		for i := range camps {
			c := &camps[i]
			cc, participant, reasons, err := e.match(ctx, tenant, c, ev, f, false, sc)
			if err != nil {
				return err
			}
			var flow Flow
			if len(reasons) == 0 {
				flow, reasons = flowOf(c, ev, participant, &periods)
			}
			if len(reasons) > 0 {
				out.Skipped = append(out.Skipped, Skip{Campaign: c.ID, Reasons: reasons})
				continue
			}
			hits = append(hits, matched{c: c, cc: cc})
			rec.Flows = append(rec.Flows, flow)
		}
	}
	sc.hits = hits
	if len(rec.Flows) == 0 {
		rec.Flows = []Flow{} // stored as an empty list, not null
	} else {
		sc.flows = rec.Flows
	}
	parked, err := e.store.SaveEvent(ctx, tenant, rec)
	if err != nil {
		return err
	}
	if len(hits) == 0 && len(parked) == 0 {
		return nil
	}
	// One progress change per hit, applied in one store call when the
	// store can (see ProgressBatchStore), then the tiers of each in turn.
	changes := slices.Grow(sc.changes[:0], len(hits))[:len(hits)]
	sc.changes = changes
	for i, h := range hits {
		f := &rec.Flows[i]
		changes[i] = ProgressChange{Key: ProgressKey{Campaign: h.c.ID, Period: f.Period, Participant: f.Participant},
			Delta: f.Delta, At: ev.Time}
	}
	// Reverses that arrived first are netted against the flows before
	// they are applied, so that a tier is not given only to be clawed back
	// in the same breath. Progress ends as if each had been applied in
	// turn: the same value, and ReachedAt the latest of their times.
	if len(parked) > 0 {
		slices.SortFunc(parked, func(a, b Event) int {
			if c := a.Time.Compare(b.Time); c != 0 {
				return c
			}
			return cmpString(a.ID, b.ID)
		})
		for _, rev := range parked {
			for i := range rec.Flows {
				f := &rec.Flows[i]
				take := f.Delta - f.Reversed
				if !rev.full() {
					take = min(partialDelta(hits[i].c, &rev), take)
				}
				f.Reversed += max(take, 0)
				if rev.Time.After(changes[i].At) {
					changes[i].At = rev.Time
				}
			}
			out.Released = append(out.Released, rev.ID)
		}
		if len(rec.Flows) > 0 {
			if err := e.store.UpdateEventFlows(ctx, tenant, rec.ID, rec.Flows); err != nil {
				return err
			}
		}
		for i := range changes {
			changes[i].Delta = rec.Flows[i].Delta - rec.Flows[i].Reversed
		}
	}
	for i, h := range hits {
		if h.c.Indicator.Strategy == AttendanceDays {
			if changes[i].Delta, err = e.markDay(ctx, tenant, rec.Flows[i], changes[i].Delta); err != nil {
				return err
			}
		}
	}
	values, err := e.addProgress(ctx, tenant, changes)
	if err != nil {
		return err
	}
	if len(hits) > 0 && out.Counted == nil {
		out.Counted = make([]Count, 0, len(hits))
	}
	for i, h := range hits {
		if err := e.settle(ctx, tenant, h.c, h.cc, &changes[i], values[i], ev.ID, out); err != nil {
			return err
		}
	}
	return nil
}

// addProgress applies changes in order and returns the value each left
// its row at: in one call when the store batches, else one call per
// change.
func (e *Engine) addProgress(ctx context.Context, tenant storage.TenantID, changes []ProgressChange) ([]int64, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if b, ok := e.store.(ProgressBatchStore); ok {
		values, err := b.AddProgressBatch(ctx, tenant, changes)
		if err == nil && len(values) != len(changes) {
			err = fmt.Errorf("reward: the store returned %d progress values for %d changes", len(values), len(changes))
		}
		return values, err
	}
	values := make([]int64, len(changes))
	for i, ch := range changes {
		p, err := e.store.AddProgress(ctx, tenant, ch.Key, ch.Delta, ch.At)
		if err != nil {
			return nil, err
		}
		values[i] = p.Value
	}
	return values, nil
}

func (e *Engine) reverse(ctx context.Context, tenant storage.TenantID, ev *Event, out *Outcome) error {
	rec, found, err := e.store.LinkReverse(ctx, tenant, ev.OriginalID, ev.clone())
	if err != nil {
		return err
	}
	if !found {
		out.Pending = true
		return nil
	}
	return e.takeBack(ctx, tenant, &rec, ev, map[string]*Campaign{}, out)
}

// takeBack applies reverse event rev to the forward record rec: each flow
// loses what rev takes (everything left for a full reverse; the amount or
// quantity rev carries, at most what is left, for a partial one).
func (e *Engine) takeBack(ctx context.Context, tenant storage.TenantID, rec *EventRecord, rev *Event, cache map[string]*Campaign, out *Outcome) error {
	changed := false
	for i := range rec.Flows {
		f := &rec.Flows[i]
		left := f.Delta - f.Reversed
		c, ok := cache[f.Campaign]
		if !ok {
			got, err := e.store.Campaign(ctx, tenant, f.Campaign)
			switch {
			case errors.Is(err, ErrCampaignNotFound):
			case err != nil:
				return err
			default:
				c = &got
			}
			cache[f.Campaign] = c
		}
		if c == nil || c.Status != StatusActive {
			out.Skipped = append(out.Skipped, Skip{Campaign: f.Campaign, Reasons: []string{"campaign is no longer active"}})
			continue
		}
		take := max(left, 0)
		if !rev.full() {
			take = min(partialDelta(c, rev), take)
		}
		if take > 0 {
			f.Reversed += take
			changed = true
		}
		// Applied even when nothing is left to take: the reverse still
		// touches ReachedAt, so that it does not depend on which of two
		// reverses of one event arrived first.
		if err := e.apply(ctx, tenant, c, *f, -take, rev.ID, rev.Time, out); err != nil {
			return err
		}
	}
	if !changed {
		return nil
	}
	return e.store.UpdateEventFlows(ctx, tenant, rec.ID, rec.Flows)
}

// apply moves a participant's progress by delta (in flow units) and
// settles the campaign's tiers against the new value.
func (e *Engine) apply(ctx context.Context, tenant storage.TenantID, c *Campaign, f Flow, delta int64, eventID string, at time.Time, out *Outcome) error {
	if c.Indicator.Strategy == AttendanceDays {
		var err error
		if delta, err = e.markDay(ctx, tenant, f, delta); err != nil {
			return err
		}
	}
	ch := ProgressChange{Key: ProgressKey{Campaign: c.ID, Period: f.Period, Participant: f.Participant}, Delta: delta, At: at}
	p, err := e.store.AddProgress(ctx, tenant, ch.Key, delta, at)
	if err != nil {
		return err
	}
	return e.settle(ctx, tenant, c, nil, &ch, p.Value, eventID, out)
}

// markDay adds delta to the attendance marks of f's day and returns how
// the day count moves: progress counts days, so it moves when a day's
// marks go from 0 to 1 or from 1 to 0.
func (e *Engine) markDay(ctx context.Context, tenant storage.TenantID, f Flow, delta int64) (int64, error) {
	marks, _, err := e.store.AddCounter(ctx, tenant, attendanceKey(f), delta, storage.Bounds{})
	if err != nil {
		return 0, err
	}
	switch {
	case delta > 0 && marks == delta:
		return 1, nil
	case delta < 0 && marks == 0:
		return -1, nil
	}
	return 0, nil // the day was already (still) present: only ReachedAt moves
}

// settle reports progress change ch, which left its row at value, and
// settles the campaign's tiers against the new value. cc, when not nil,
// holds c's tier slot names.
func (e *Engine) settle(ctx context.Context, tenant storage.TenantID, c *Campaign, cc *compiled, ch *ProgressChange, value int64, eventID string, out *Outcome) error {
	if ch.Delta == 0 {
		return nil
	}
	out.Counted = append(out.Counted, Count{ProgressKey: ch.Key, EventID: eventID, Delta: ch.Delta, Value: value})
	if c.Kind != Challenge {
		return nil
	}
	return e.settleTiers(ctx, tenant, c, cc, value-ch.Delta, ch.Key, value, eventID, ch.At, out)
}

// settleTiers acts on the tiers whose target the value crossed, going from
// before to value: crossing up gives the tier (once: the grant slot is
// claimed conditionally), crossing down under ClawbackOnReverse takes it
// back. Since every change to one participant's value is serialized by the
// store, the tiers held always match the value: they depend only on the
// final value, not on the order in which events arrived, budget
// permitting. A tier the budget refused is tried again only when the
// value crosses its target again.
func (e *Engine) settleTiers(ctx context.Context, tenant storage.TenantID, c *Campaign, cc *compiled, before int64, p ProgressKey, value int64, eventID string, at time.Time, out *Outcome) error {
	for i := range c.Tiers {
		t := &c.Tiers[i]
		up := before < t.Target && value >= t.Target
		down := before >= t.Target && value < t.Target && c.Clawback == ClawbackOnReverse
		if !up && !down {
			continue
		}
		key := GrantKey{Campaign: c.ID, Period: p.Period, Participant: p.Participant}
		if cc != nil && i < len(cc.slots) {
			key.Slot = cc.slots[i]
		} else {
			key.Slot = tierSlot(i)
		}
		if up {
			if err := e.give(ctx, tenant, c, key, t.Award, eventID, at, out); err != nil {
				return err
			}
		} else if err := e.clawBack(ctx, tenant, c, key, at, out); err != nil {
			return err
		}
	}
	return nil
}

func tierSlot(i int) string { return "tier/" + strconv.Itoa(i) }
func rankSlot(r int) string { return "rank/" + strconv.Itoa(r) }

// give takes the award's cost from the budget (a conditional increment of
// the spent counter: never past the cap), claims the grant slot and calls
// the Awarder.
func (e *Engine) give(ctx context.Context, tenant storage.TenantID, c *Campaign, key GrantKey, a Award, eventID string, at time.Time, out *Outcome) error {
	cost := a.BudgetCost()
	if c.Budget > 0 {
		_, ok, err := e.store.AddCounter(ctx, tenant, BudgetKey(c.ID), cost, storage.AtMost(c.Budget))
		if err != nil {
			return err
		}
		if !ok {
			out.Grants = append(out.Grants, GrantChange{GrantKey: key, Change: ChangeBudgetExhausted, Award: a})
			return nil
		}
	}
	g, ok, err := e.store.ClaimGrant(ctx, tenant, Grant{GrantKey: key, Award: a, Status: GrantAwarded, Seq: 1, EventID: eventID, At: at})
	if err != nil {
		return err
	}
	if !ok {
		return e.refund(ctx, tenant, c, cost)
	}
	awardKey := g.AwardKey()
	if e.awarder != nil {
		ref, err := e.awarder.Grant(ctx, tenant, AwardRequest{Key: awardKey, Campaign: c.ID, Participant: key.Participant, Slot: key.Slot, Award: a})
		if err != nil {
			return fmt.Errorf("reward: award %s: %w", awardKey, err)
		}
		if err := e.store.SetGrantRef(ctx, tenant, key, ref); err != nil {
			return err
		}
		g.Ref = ref
	}
	if err := e.publish(ctx, tenant, TopicGranted, &g, awardKey); err != nil {
		return err
	}
	out.Grants = append(out.Grants, GrantChange{GrantKey: key, Change: ChangeAwarded, Award: a, Seq: g.Seq})
	return nil
}

func (e *Engine) clawBack(ctx context.Context, tenant storage.TenantID, c *Campaign, key GrantKey, at time.Time, out *Outcome) error {
	revoked, ok, err := e.store.RevokeGrant(ctx, tenant, key, at)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // never given (the budget refused it)
	}
	if err != nil || !ok {
		return err
	}
	g := revoked
	if err := e.refund(ctx, tenant, c, revoked.Award.BudgetCost()); err != nil {
		return err
	}
	awardKey := revoked.AwardKey()
	if e.awarder != nil {
		req := AwardRequest{Key: awardKey, Campaign: c.ID, Participant: g.Participant, Slot: g.Slot, Award: revoked.Award}
		if err := e.awarder.Revoke(ctx, tenant, req, revoked.Ref); err != nil {
			return fmt.Errorf("reward: claw back %s: %w", req.Key, err)
		}
	}
	if err := e.publish(ctx, tenant, TopicRevoked, &revoked, awardKey); err != nil {
		return err
	}
	out.Grants = append(out.Grants, GrantChange{GrantKey: g.GrantKey, Change: ChangeClawedBack, Award: revoked.Award, Seq: revoked.Seq})
	return nil
}

func (e *Engine) refund(ctx context.Context, tenant storage.TenantID, c *Campaign, cost int64) error {
	if c.Budget <= 0 || cost <= 0 {
		return nil
	}
	_, _, err := e.store.AddCounter(ctx, tenant, BudgetKey(c.ID), -cost, storage.AtLeast(0))
	return err
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
