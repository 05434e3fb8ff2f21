package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

var _ reward.Store = (*RewardStore)(nil)

type rewardQueries struct {
	insertCampaign, updateCampaign, campaign, active, setStatus, campaignExists string
	deleteTypes, insertType                                                     string

	slot, lockSlot, saveEvent, updateFlows, park, parked, unpark string

	addProgress, progress, list, board, rankCount string

	claimGrant, grant, revokeGrant, setRef, grants string
}

func buildRewardQueries(d Dialect, prefix string) rewardQueries {
	c, ct, ev, pk, pr, g := prefix+"reward_campaigns", prefix+"reward_campaign_types", prefix+"reward_events",
		prefix+"reward_parked", prefix+"reward_progress", prefix+"reward_grants"
	// The row lock that serializes a reverse with its forward event: a
	// plain read on SQLite, whose single writer serializes anyway.
	lock := ""
	if d == Postgres {
		lock = " FOR UPDATE"
	}
	const grantCols = "period, participant, slot, award, status, seq, ref, event_id, at"
	return rewardQueries{
		insertCampaign: d.rebind(d.insertIgnore(c, []string{"tenant", "id", "status", "version", "body"}, []string{"tenant", "id"})),
		updateCampaign: d.rebind("UPDATE " + c + " SET status = ?, version = ?, body = ? WHERE tenant = ? AND id = ? AND version = ?"),
		campaign:       d.rebind("SELECT status, version, body FROM " + c + " WHERE tenant = ? AND id = ?"),
		active: d.rebind("SELECT c.status, c.version, c.body FROM " + ct + " t JOIN " + c + " c ON c.tenant = t.tenant AND c.id = t.campaign_id" +
			" WHERE t.tenant = ? AND t.event_type = ? AND c.status = 'active' ORDER BY t.campaign_id"),
		setStatus:      d.rebind("UPDATE " + c + " SET status = ? WHERE tenant = ? AND id = ? AND status = ?"),
		campaignExists: d.rebind("SELECT 1 FROM " + c + " WHERE tenant = ? AND id = ?"),
		deleteTypes:    d.rebind("DELETE FROM " + ct + " WHERE tenant = ? AND campaign_id = ?"),
		insertType:     d.rebind(d.insertIgnore(ct, []string{"tenant", "event_type", "campaign_id"}, []string{"tenant", "event_type", "campaign_id"})),

		slot:     d.rebind(d.insertIgnore(ev, []string{"tenant", "id", "saved", "event_type", "at", "flows"}, []string{"tenant", "id"})),
		lockSlot: d.rebind("SELECT saved, event_type, at, flows FROM " + ev + " WHERE tenant = ? AND id = ?" + lock),
		saveEvent: d.rebind(d.upsert(ev, []string{"tenant", "id", "saved", "event_type", "at", "flows"}, []string{"tenant", "id"},
			"saved = 1, event_type = excluded.event_type, at = excluded.at, flows = excluded.flows", ev+".saved = 0")),
		updateFlows: d.rebind("UPDATE " + ev + " SET flows = ? WHERE tenant = ? AND id = ? AND saved = 1"),
		park:        d.rebind(d.insertIgnore(pk, []string{"tenant", "forward_id", "reverse_id", "body"}, []string{"tenant", "forward_id", "reverse_id"})),
		parked:      d.rebind("SELECT body FROM " + pk + " WHERE tenant = ? AND forward_id = ? ORDER BY reverse_id"),
		unpark:      d.rebind("DELETE FROM " + pk + " WHERE tenant = ? AND forward_id = ?"),

		addProgress: d.rebind(d.upsert(pr, []string{"tenant", "campaign", "period", "participant", "value", "reached_at"},
			[]string{"tenant", "campaign", "period", "participant"},
			"value = "+pr+".value + excluded.value, reached_at = CASE WHEN excluded.reached_at > "+pr+".reached_at THEN excluded.reached_at ELSE "+pr+".reached_at END", "")),
		progress: d.rebind("SELECT value, reached_at FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND participant = ?"),
		list: d.rebind("SELECT participant, value, reached_at FROM " + pr +
			" WHERE tenant = ? AND campaign = ? AND period = ? AND participant > ? ORDER BY participant LIMIT ?"),
		board: d.rebind("SELECT participant, value, reached_at FROM " + pr +
			" WHERE tenant = ? AND campaign = ? AND period = ? ORDER BY value DESC, reached_at, participant LIMIT ?"),
		// Three range counts on the rank index rather than one OR, which
		// no index range can serve.
		rankCount: d.rebind("SELECT (SELECT COUNT(*) FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND value > ?)" +
			" + (SELECT COUNT(*) FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND value = ? AND reached_at < ?)" +
			" + (SELECT COUNT(*) FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND value = ? AND reached_at = ? AND participant < ?)"),

		claimGrant: d.rebind(d.upsert(g, []string{"tenant", "campaign", "period", "participant", "slot", "award", "status", "seq", "ref", "event_id", "at"},
			[]string{"tenant", "campaign", "period", "participant", "slot"},
			"award = excluded.award, status = excluded.status, seq = "+g+".seq + 1, ref = '', event_id = excluded.event_id, at = excluded.at",
			g+".status <> 'awarded'")),
		grant: d.rebind("SELECT " + grantCols + " FROM " + g + " WHERE tenant = ? AND campaign = ? AND period = ? AND participant = ? AND slot = ?"),
		revokeGrant: d.rebind("UPDATE " + g + " SET status = 'clawed_back', at = ? WHERE tenant = ? AND campaign = ? AND period = ? AND participant = ? AND slot = ?" +
			" AND status = 'awarded'"),
		setRef: d.rebind("UPDATE " + g + " SET ref = ? WHERE tenant = ? AND campaign = ? AND period = ? AND participant = ? AND slot = ?"),
		grants: d.rebind("SELECT " + grantCols + " FROM " + g + " WHERE tenant = ? AND campaign = ? AND (? = '' OR period = ?) AND (? = '' OR participant = ?)" +
			" ORDER BY period, participant, slot"),
	}
}

// RewardStore is the Store's implementation of reward.Store; get it with
// Store.Rewards. Its methods join the Store's transactions; pass the Store
// itself as the reward Engine's Transactor.
type RewardStore struct {
	s *Store
	q rewardQueries
}

// Rewards returns the store of package reward (what reward.Config.Store
// takes).
func (s *Store) Rewards() reward.Store {
	return &RewardStore{s: s, q: buildRewardQueries(s.dialect, s.opts.TablePrefix)}
}

// ClaimIdempotencyKey implements storage.IdempotencyStore.
func (r *RewardStore) ClaimIdempotencyKey(ctx context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	return r.s.ClaimIdempotencyKey(ctx, rec)
}

// CompleteIdempotencyKey implements storage.IdempotencyStore.
func (r *RewardStore) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	return r.s.CompleteIdempotencyKey(ctx, tenant, operation, key, result)
}

// AddCounter implements storage.CounterStore.
func (r *RewardStore) AddCounter(ctx context.Context, tenant storage.TenantID, key string, delta int64, bounds storage.Bounds) (int64, bool, error) {
	return r.s.AddCounter(ctx, tenant, key, delta, bounds)
}

// Counter implements storage.CounterStore.
func (r *RewardStore) Counter(ctx context.Context, tenant storage.TenantID, key string) (int64, error) {
	return r.s.Counter(ctx, tenant, key)
}

// affected returns the rows a reward statement affected, marking a
// database error as such (see Store.write).
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, dbErr("reward", err)
	}
	n, err := res.RowsAffected()
	return n, dbErr("reward", err)
}

// PutCampaign implements reward.Store: storage.ErrConflict for a stale
// version.
func (r *RewardStore) PutCampaign(ctx context.Context, tenant storage.TenantID, c reward.Campaign) (reward.Campaign, error) {
	if err := tenant.Validate(); err != nil {
		return reward.Campaign{}, err
	}
	prev := c.Version
	c = c.Clone()
	c.Version++
	body, err := json.Marshal(c)
	if err != nil {
		return reward.Campaign{}, fmt.Errorf("%w: campaign: %w", storage.ErrInvalidArgument, err)
	}
	err = r.s.write(ctx, "put campaign", func(ctx context.Context, q querier) error {
		var n int64
		var err error
		if prev == 0 {
			n, err = affected(q.ExecContext(ctx, r.q.insertCampaign, string(tenant), c.ID, string(c.Status), c.Version, string(body)))
		} else {
			n, err = affected(q.ExecContext(ctx, r.q.updateCampaign, string(c.Status), c.Version, string(body), string(tenant), c.ID, prev))
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: campaign %q version %d is stale", storage.ErrConflict, c.ID, prev)
		}
		if _, err := q.ExecContext(ctx, r.q.deleteTypes, string(tenant), c.ID); err != nil {
			return dbErr("put campaign", err)
		}
		for _, t := range c.EventTypes {
			if _, err := q.ExecContext(ctx, r.q.insertType, string(tenant), string(t), c.ID); err != nil {
				return dbErr("put campaign", err)
			}
		}
		return nil
	})
	if err != nil {
		return reward.Campaign{}, err
	}
	return c, nil
}

func decodeCampaign(status string, version int64, body string) (reward.Campaign, error) {
	var c reward.Campaign
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return reward.Campaign{}, fmt.Errorf("sqlstore: decode campaign: %w", err)
	}
	c.Status, c.Version = reward.Status(status), version
	return c, nil
}

// Campaign implements reward.Store: reward.ErrCampaignNotFound.
func (r *RewardStore) Campaign(ctx context.Context, tenant storage.TenantID, id string) (reward.Campaign, error) {
	if err := tenant.Validate(); err != nil {
		return reward.Campaign{}, err
	}
	var status, body string
	var version int64
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.campaign, string(tenant), id).Scan(&status, &version, &body)
	if isNoRows(err) {
		return reward.Campaign{}, fmt.Errorf("%w: %q", reward.ErrCampaignNotFound, id)
	}
	if err != nil {
		return reward.Campaign{}, wrap("read campaign", err)
	}
	return decodeCampaign(status, version, body)
}

// ActiveCampaigns implements reward.Store.
func (r *RewardStore) ActiveCampaigns(ctx context.Context, tenant storage.TenantID, typ reward.EventType) ([]reward.Campaign, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.q.active, string(tenant), string(typ))
	if err != nil {
		return nil, wrap("read active campaigns", err)
	}
	defer rows.Close()
	var out []reward.Campaign
	for rows.Next() {
		var status, body string
		var version int64
		if err := rows.Scan(&status, &version, &body); err != nil {
			return nil, wrap("read active campaigns", err)
		}
		c, err := decodeCampaign(status, version, body)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, wrap("read active campaigns", rows.Err())
}

// SetCampaignStatus implements reward.Store: reward.ErrCampaignNotFound.
func (r *RewardStore) SetCampaignStatus(ctx context.Context, tenant storage.TenantID, id string, from, to reward.Status) (bool, error) {
	if err := tenant.Validate(); err != nil {
		return false, err
	}
	var ok bool
	err := r.s.write(ctx, "set campaign status", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, r.q.setStatus, string(to), string(tenant), id, string(from)))
		if err != nil {
			return err
		}
		if n == 1 {
			ok = true
			return nil
		}
		var one int
		err = q.QueryRowContext(ctx, r.q.campaignExists, string(tenant), id).Scan(&one)
		if isNoRows(err) {
			return fmt.Errorf("%w: %q", reward.ErrCampaignNotFound, id)
		}
		return dbErr("set campaign status", err)
	})
	return ok, err
}

// SaveEvent implements reward.Store: storage.ErrDuplicate when saved
// before.
func (r *RewardStore) SaveEvent(ctx context.Context, tenant storage.TenantID, rec reward.EventRecord) ([]reward.Event, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	flows, err := json.Marshal(rec.Flows)
	if err != nil {
		return nil, fmt.Errorf("%w: flows: %w", storage.ErrInvalidArgument, err)
	}
	var parked []reward.Event
	err = r.s.write(ctx, "save event", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, r.q.saveEvent, string(tenant), rec.ID, 1, string(rec.Type), r.s.dialect.timeArg(rec.Time), string(flows)))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: event %q", storage.ErrDuplicate, rec.ID)
		}
		rows, err := q.QueryContext(ctx, r.q.parked, string(tenant), rec.ID)
		if err != nil {
			return dbErr("save event", err)
		}
		defer rows.Close()
		for rows.Next() {
			var body string
			if err := rows.Scan(&body); err != nil {
				return dbErr("save event", err)
			}
			var ev reward.Event
			if err := json.Unmarshal([]byte(body), &ev); err != nil {
				return fmt.Errorf("sqlstore: decode parked event: %w", err)
			}
			parked = append(parked, ev)
		}
		if err := rows.Err(); err != nil {
			return dbErr("save event", err)
		}
		if len(parked) > 0 {
			if _, err := q.ExecContext(ctx, r.q.unpark, string(tenant), rec.ID); err != nil {
				return dbErr("save event", err)
			}
		}
		return nil
	})
	return parked, err
}

// LinkReverse implements reward.Store. The forward event's row, created
// empty when missing, is locked for the rest of the transaction, which
// serializes a reverse with its forward's SaveEvent.
func (r *RewardStore) LinkReverse(ctx context.Context, tenant storage.TenantID, forwardID string, rev reward.Event) (reward.EventRecord, bool, error) {
	if err := tenant.Validate(); err != nil {
		return reward.EventRecord{}, false, err
	}
	body, err := json.Marshal(rev)
	if err != nil {
		return reward.EventRecord{}, false, fmt.Errorf("%w: reverse event: %w", storage.ErrInvalidArgument, err)
	}
	var out reward.EventRecord
	var found bool
	err = r.s.write(ctx, "link reverse", func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, r.q.slot, string(tenant), forwardID, 0, "", nil, "[]"); err != nil {
			return dbErr("link reverse", err)
		}
		var saved int
		var typ, flows string
		var at dbTime
		if err := q.QueryRowContext(ctx, r.q.lockSlot, string(tenant), forwardID).Scan(&saved, &typ, &at, &flows); err != nil {
			return dbErr("link reverse", err)
		}
		if saved == 1 {
			out = reward.EventRecord{ID: forwardID, Type: reward.EventType(typ), Time: at.Time}
			if err := json.Unmarshal([]byte(flows), &out.Flows); err != nil {
				return fmt.Errorf("sqlstore: decode flows: %w", err)
			}
			found = true
			return nil
		}
		_, err := q.ExecContext(ctx, r.q.park, string(tenant), forwardID, rev.ID, string(body))
		return dbErr("link reverse", err)
	})
	return out, found, err
}

// UpdateEventFlows implements reward.Store: storage.ErrNotFound.
func (r *RewardStore) UpdateEventFlows(ctx context.Context, tenant storage.TenantID, id string, flows []reward.Flow) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(flows)
	if err != nil {
		return fmt.Errorf("%w: flows: %w", storage.ErrInvalidArgument, err)
	}
	return r.s.write(ctx, "update flows", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, r.q.updateFlows, string(b), string(tenant), id))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: event %q", storage.ErrNotFound, id)
		}
		return nil
	})
}

// AddProgress implements reward.Store: one upsert that adds delta and
// keeps the later ReachedAt, then a read of the row (locked by the upsert
// until the transaction ends).
func (r *RewardStore) AddProgress(ctx context.Context, tenant storage.TenantID, key reward.ProgressKey, delta int64, at time.Time) (reward.Progress, error) {
	if err := tenant.Validate(); err != nil {
		return reward.Progress{}, err
	}
	out := reward.Progress{ProgressKey: key}
	err := r.s.write(ctx, "add progress", func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, r.q.addProgress, string(tenant), key.Campaign, key.Period, key.Participant, delta, r.s.dialect.timeArg(at)); err != nil {
			return dbErr("add progress", err)
		}
		var reached dbTime
		if err := q.QueryRowContext(ctx, r.q.progress, string(tenant), key.Campaign, key.Period, key.Participant).Scan(&out.Value, &reached); err != nil {
			return dbErr("add progress", err)
		}
		out.ReachedAt = reached.Time
		return nil
	})
	return out, err
}

// Progress implements reward.Store: reward.ErrNoProgress.
func (r *RewardStore) Progress(ctx context.Context, tenant storage.TenantID, key reward.ProgressKey) (reward.Progress, error) {
	if err := tenant.Validate(); err != nil {
		return reward.Progress{}, err
	}
	out := reward.Progress{ProgressKey: key}
	var reached dbTime
	err := r.s.reader(ctx).QueryRowContext(ctx, r.q.progress, string(tenant), key.Campaign, key.Period, key.Participant).Scan(&out.Value, &reached)
	if isNoRows(err) {
		return reward.Progress{}, fmt.Errorf("%w: %s/%s/%s", reward.ErrNoProgress, key.Campaign, key.Period, key.Participant)
	}
	if err != nil {
		return reward.Progress{}, wrap("read progress", err)
	}
	out.ReachedAt = reached.Time
	return out, nil
}

func (r *RewardStore) scanProgress(ctx context.Context, op, query string, campaign, period string, args ...any) ([]reward.Progress, error) {
	rows, err := r.s.reader(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []reward.Progress
	for rows.Next() {
		p := reward.Progress{ProgressKey: reward.ProgressKey{Campaign: campaign, Period: period}}
		var reached dbTime
		if err := rows.Scan(&p.Participant, &p.Value, &reached); err != nil {
			return nil, wrap(op, err)
		}
		p.ReachedAt = reached.Time
		out = append(out, p)
	}
	return out, wrap(op, rows.Err())
}

// ListProgress implements reward.Store.
func (r *RewardStore) ListProgress(ctx context.Context, tenant storage.TenantID, campaign, period, after string, limit int) ([]reward.Progress, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	return r.scanProgress(ctx, "list progress", r.q.list, campaign, period, string(tenant), campaign, period, after, limit)
}

// Leaderboard implements reward.Store, reading the rank index in order.
func (r *RewardStore) Leaderboard(ctx context.Context, tenant storage.TenantID, campaign, period string, limit int) ([]reward.Progress, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	return r.scanProgress(ctx, "read leaderboard", r.q.board, campaign, period, string(tenant), campaign, period, limit)
}

// Rank implements reward.Store: the participants ahead of this one in rank
// order, plus one. reward.ErrNoProgress.
func (r *RewardStore) Rank(ctx context.Context, tenant storage.TenantID, key reward.ProgressKey) (int, reward.Progress, error) {
	p, err := r.Progress(ctx, tenant, key)
	if err != nil {
		return 0, reward.Progress{}, err
	}
	at := r.s.dialect.timeArg(p.ReachedAt)
	var ahead int
	t, c, per := string(tenant), key.Campaign, key.Period
	err = r.s.reader(ctx).QueryRowContext(ctx, r.q.rankCount, t, c, per, p.Value, t, c, per, p.Value, at,
		t, c, per, p.Value, at, key.Participant).Scan(&ahead)
	if err != nil {
		return 0, reward.Progress{}, wrap("read rank", err)
	}
	return ahead + 1, p, nil
}

func (r *RewardStore) scanGrant(row interface{ Scan(...any) error }, g *reward.Grant) error {
	var award, status string
	var at dbTime
	if err := row.Scan(&g.Period, &g.Participant, &g.Slot, &award, &status, &g.Seq, &g.Ref, &g.EventID, &at); err != nil {
		return err
	}
	g.Status, g.At = reward.GrantStatus(status), at.Time
	if err := json.Unmarshal([]byte(award), &g.Award); err != nil {
		return fmt.Errorf("sqlstore: decode award: %w", err)
	}
	return nil
}

func (r *RewardStore) readGrant(ctx context.Context, q querier, tenant storage.TenantID, k reward.GrantKey) (reward.Grant, error) {
	g := reward.Grant{GrantKey: reward.GrantKey{Campaign: k.Campaign}}
	err := r.scanGrant(q.QueryRowContext(ctx, r.q.grant, string(tenant), k.Campaign, k.Period, k.Participant, k.Slot), &g)
	if isNoRows(err) {
		return reward.Grant{}, fmt.Errorf("%w: grant %s/%s/%s/%s", storage.ErrNotFound, k.Campaign, k.Period, k.Participant, k.Slot)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return reward.Grant{}, dbErr("read grant", err)
	}
	return g, err
}

// ClaimGrant implements reward.Store: one conditional upsert, judged by
// rows affected.
func (r *RewardStore) ClaimGrant(ctx context.Context, tenant storage.TenantID, g reward.Grant) (reward.Grant, bool, error) {
	if err := tenant.Validate(); err != nil {
		return reward.Grant{}, false, err
	}
	award, err := json.Marshal(g.Award)
	if err != nil {
		return reward.Grant{}, false, fmt.Errorf("%w: award: %w", storage.ErrInvalidArgument, err)
	}
	var out reward.Grant
	var ok bool
	err = r.s.write(ctx, "claim grant", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, r.q.claimGrant, string(tenant), g.Campaign, g.Period, g.Participant, g.Slot,
			string(award), string(reward.GrantAwarded), int64(1), "", g.EventID, r.s.dialect.timeArg(g.At)))
		if err != nil {
			return err
		}
		ok = n == 1
		out, err = r.readGrant(ctx, q, tenant, g.GrantKey)
		return err
	})
	return out, ok, err
}

// RevokeGrant implements reward.Store: storage.ErrNotFound.
func (r *RewardStore) RevokeGrant(ctx context.Context, tenant storage.TenantID, key reward.GrantKey, at time.Time) (reward.Grant, bool, error) {
	if err := tenant.Validate(); err != nil {
		return reward.Grant{}, false, err
	}
	var out reward.Grant
	var ok bool
	err := r.s.write(ctx, "revoke grant", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, r.q.revokeGrant, r.s.dialect.timeArg(at), string(tenant), key.Campaign, key.Period, key.Participant, key.Slot))
		if err != nil {
			return err
		}
		ok = n == 1
		out, err = r.readGrant(ctx, q, tenant, key)
		return err
	})
	return out, ok, err
}

// SetGrantRef implements reward.Store: storage.ErrNotFound.
func (r *RewardStore) SetGrantRef(ctx context.Context, tenant storage.TenantID, key reward.GrantKey, ref string) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	return r.s.write(ctx, "set grant ref", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, r.q.setRef, ref, string(tenant), key.Campaign, key.Period, key.Participant, key.Slot))
		if err != nil {
			return err
		}
		if n == 0 {
			_, err := r.readGrant(ctx, q, tenant, key)
			return err
		}
		return nil
	})
}

// Grants implements reward.Store.
func (r *RewardStore) Grants(ctx context.Context, tenant storage.TenantID, campaign, period, participant string) ([]reward.Grant, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := r.s.reader(ctx).QueryContext(ctx, r.q.grants, string(tenant), campaign, period, period, participant, participant)
	if err != nil {
		return nil, wrap("read grants", err)
	}
	defer rows.Close()
	var out []reward.Grant
	for rows.Next() {
		g := reward.Grant{GrantKey: reward.GrantKey{Campaign: campaign}}
		if err := r.scanGrant(rows, &g); err != nil {
			return nil, wrap("read grants", err)
		}
		out = append(out, g)
	}
	return out, wrap("read grants", rows.Err())
}
