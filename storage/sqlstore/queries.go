package sqlstore

// queries holds every statement of the core, built once per store for its
// dialect and table prefix.
type queries struct {
	idem    idempotencyQueries
	outbox  outboxQueries
	lease   leaseQueries
	counter counterQueries
	risk    riskQueries
}

func buildQueries(d Dialect, prefix string) queries {
	return queries{
		idem:    buildIdempotencyQueries(d, prefix+"idempotency"),
		outbox:  buildOutboxQueries(d, prefix+"outbox"),
		lease:   buildLeaseQueries(d, prefix+"leases"),
		counter: buildCounterQueries(d, prefix+"counters"),
		risk:    buildRiskQueries(d, prefix),
	}
}
