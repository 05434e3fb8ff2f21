package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// OutboxPartitions is the number of partitions the outbox is split into.
// Every message of one aggregate lands in the same partition, and one relay
// at a time drains a partition, which is what keeps order per aggregate
// while several relays share the work.
const OutboxPartitions = 16

// Message is a domain event written to the outbox in the same transaction
// as the state change it reports.
type Message struct {
	ID            int64    // assigned by the store; increases within a partition in append order of one aggregate
	EventID       string   // globally unique event ID, for consumers to deduplicate on
	Tenant        TenantID // whose event it is
	Topic         string   // e.g. "coupon.used"; hosts map it to a subject or topic
	AggregateType string   // e.g. "coupon"
	AggregateID   string   // e.g. the coupon ID; order is kept per (tenant, type, ID)
	Payload       []byte   // JSON
	CreatedAt     time.Time
}

// Partition returns the outbox partition of the message's aggregate.
func (m Message) Partition() int {
	return PartitionOf(m.Tenant, m.AggregateType, m.AggregateID)
}

// PartitionOf returns the outbox partition of an aggregate.
func PartitionOf(tenant TenantID, aggregateType, aggregateID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(aggregateType))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(aggregateID))
	return int(h.Sum32() % OutboxPartitions)
}

// Validate reports ErrInvalidArgument for a message that misses what the
// relay and consumers rely on.
func (m Message) Validate() error {
	var errs []error
	if err := m.Tenant.Validate(); err != nil {
		errs = append(errs, err)
	}
	if m.EventID == "" {
		errs = append(errs, fmt.Errorf("%w: outbox message without event ID", ErrInvalidArgument))
	}
	if m.Topic == "" {
		errs = append(errs, fmt.Errorf("%w: outbox message without topic", ErrInvalidArgument))
	}
	if m.AggregateType == "" || m.AggregateID == "" {
		errs = append(errs, fmt.Errorf("%w: outbox message without aggregate", ErrInvalidArgument))
	}
	return errors.Join(errs...)
}

// OutboxStore keeps outbox messages. AppendOutbox joins the transaction in
// ctx; the relay's reads run on their own.
type OutboxStore interface {
	// AppendOutbox stores messages (assigning their IDs) in the
	// transaction in ctx, so they commit or roll back with the state change.
	AppendOutbox(ctx context.Context, msgs ...Message) error
	// PendingOutbox returns up to limit unpublished messages of one
	// partition, lowest ID first.
	PendingOutbox(ctx context.Context, partition, limit int) ([]Message, error)
	// MarkOutboxPublished marks messages of one partition (as
	// PendingOutbox returned them) as published at the given time; IDs
	// not pending in that partition are ignored.
	MarkOutboxPublished(ctx context.Context, at time.Time, partition int, ids ...int64) error
}

// Publisher delivers one message to the host's broker (Kafka, RocketMQ,
// NATS, ...). It returns nil only once the broker has accepted it.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, m Message) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, m Message) error { return f(ctx, m) }

// Relay moves outbox messages to a Publisher: at least once, in order per
// aggregate. Several relays (one per host instance) may run at once: each
// partition is drained under a lease, so only one relay works on it at a
// time, and a relay that dies hands its partitions over when its leases
// expire. A message whose publication fails stops its partition for this
// round (later messages of its aggregate must not overtake it) and is tried
// again in the next.
type Relay struct {
	Outbox    OutboxStore
	Leases    LeaseStore
	Publisher Publisher
	Clock     Clock
	Owner     string        // this relay's name in the leases; unique per instance
	BatchSize int           // messages read per partition and round; default 100
	LeaseTTL  time.Duration // default 30s; must exceed the time one round takes
}

// Validate reports every missing field.
func (r *Relay) Validate() error {
	var errs []error
	if r.Outbox == nil {
		errs = append(errs, errors.New("storage: relay needs an Outbox"))
	}
	if r.Leases == nil {
		errs = append(errs, errors.New("storage: relay needs Leases"))
	}
	if r.Publisher == nil {
		errs = append(errs, errors.New("storage: relay needs a Publisher"))
	}
	if r.Clock == nil {
		errs = append(errs, errors.New("storage: relay needs a Clock"))
	}
	if r.Owner == "" {
		errs = append(errs, errors.New("storage: relay needs an Owner"))
	}
	return errors.Join(errs...)
}

// RunOnce drains, once, every partition whose lease this relay can take,
// and returns how many messages it published. Errors of single partitions
// are joined; the other partitions go on.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	batch := r.BatchSize
	if batch <= 0 {
		batch = 100
	}
	ttl := r.LeaseTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	total := 0
	var errs []error
	for p := range OutboxPartitions {
		name := fmt.Sprintf("outbox/%02d", p)
		_, ok, err := r.Leases.AcquireLease(ctx, name, r.Owner, r.Clock.Now(), ttl)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		n, err := r.drain(ctx, p, batch)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("outbox partition %d: %w", p, err))
		}
	}
	return total, errors.Join(errs...)
}

func (r *Relay) drain(ctx context.Context, partition, batch int) (int, error) {
	msgs, err := r.Outbox.PendingOutbox(ctx, partition, batch)
	if err != nil {
		return 0, err
	}
	published := 0
	for _, m := range msgs {
		if err := r.Publisher.Publish(ctx, m); err != nil {
			return published, err
		}
		// Marked one by one: a crash after Publish re-delivers only this
		// message (at least once), never skips one.
		if err := r.Outbox.MarkOutboxPublished(ctx, r.Clock.Now(), partition, m.ID); err != nil {
			return published, err
		}
		published++
	}
	return published, nil
}

// Run calls RunOnce every interval until ctx is done, and then releases
// the relay's leases. Errors of a round are passed to onError (may be nil).
func (r *Relay) Run(ctx context.Context, interval time.Duration, onError func(error)) error {
	if err := r.Validate(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			rctx := context.WithoutCancel(ctx)
			for p := range OutboxPartitions {
				_ = r.Leases.ReleaseLease(rctx, fmt.Sprintf("outbox/%02d", p), r.Owner)
			}
			return nil
		case <-t.C:
		}
	}
}
