package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rewardkit/rewardkit/storage"
)

// metrics are one App's Prometheus collectors, on a registry of its own (two
// App instances in one process do not collide).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	claims       *prometheus.CounterVec
	redemptions  *prometheus.CounterVec
	pricing      prometheus.Histogram
	postings     *prometheus.CounterVec
	events       *prometheus.CounterVec
	published    prometheus.Counter
	rateLimited  *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	risk         *prometheus.CounterVec
}

func newMetrics(outbox storage.OutboxStore, clock storage.Clock) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_http_requests_total",
			Help: "HTTP requests by route pattern and status."}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rewardkit_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_coupon_claims_total",
			Help: "Coupon claims by result (ok or the error code)."}, []string{"result"}),
		redemptions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_redemptions_total",
			Help: "Redemptions (coupon consume, code redeem, points redeem) by kind and result."}, []string{"kind", "result"}),
		pricing: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rewardkit_pricing_duration_seconds",
			Help: "Cart pricing latency (offers snapshot and Price).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		postings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_ledger_postings_total",
			Help: "Ledger transactions the server committed, by kind."}, []string{"kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_events_handled_total",
			Help: "Order events consumed from NATS, by result."}, []string{"result"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "rewardkit_outbox_published_total",
			Help: "Outbox messages published to NATS."}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_rate_limited_total",
			Help: "Requests refused by rate limits, by scope (caller, ip, risk)."}, []string{"scope"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_auth_failures_total",
			Help: "Refused tokens by reason."}, []string{"reason"}),
		risk: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rewardkit_risk_decisions_total",
			Help: "Risk engine decisions by action kind and outcome."}, []string{"kind", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.claims, m.redemptions, m.pricing, m.postings, m.events,
		m.published, m.rateLimited, m.authFailures, m.risk,
		collectors.NewGoCollector(), &outboxCollector{outbox: outbox, clock: clock})
	return m
}

// outboxCollector reports the outbox backlog at scrape time: how many
// messages wait and how old the oldest is.
type outboxCollector struct {
	outbox storage.OutboxStore
	clock  storage.Clock
}

var (
	outboxPendingDesc = prometheus.NewDesc("rewardkit_outbox_pending", "Outbox messages not yet published (counted up to 1000 per partition).", nil, nil)
	outboxAgeDesc     = prometheus.NewDesc("rewardkit_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox message.", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPendingDesc
	ch <- outboxAgeDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	pending, oldest, err := outboxLag(context.Background(), c.outbox, 1000)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxPendingDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = c.clock.Now().Sub(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
}

// outboxLag counts pending messages (up to limit per partition) and finds
// the oldest one's time.
func outboxLag(ctx context.Context, outbox storage.OutboxStore, limit int) (int, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	var oldest time.Time
	for p := 0; p < storage.OutboxPartitions; p++ {
		msgs, err := outbox.PendingOutbox(ctx, p, limit)
		if err != nil {
			return 0, time.Time{}, err
		}
		n += len(msgs)
		for _, m := range msgs {
			if oldest.IsZero() || m.CreatedAt.Before(oldest) {
				oldest = m.CreatedAt
			}
		}
	}
	return n, oldest, nil
}
