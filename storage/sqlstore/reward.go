package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

var (
	_ reward.Store              = (*RewardStore)(nil)
	_ reward.ProgressBatchStore = (*RewardStore)(nil)
)

type rewardQueries struct {
	insertCampaign, updateCampaign, campaign, active, setStatus, campaignExists string
	deleteTypes, insertType                                                     string

	slot, lockSlot, saveEvent, updateFlows, park, parked, unpark string

	addProgress, progress, list, board, rankCount string

	insertGrant, claimGrant, grant, revokeGrant, setRef, grants string
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
	// A grant row as ClaimGrant writes it (a fresh insert or an upsert).
	grantRow := []string{"tenant", "campaign", "period", "participant", "slot", "award", "status", "seq", "ref", "event_id", "at"}
	grantKey := []string{"tenant", "campaign", "period", "participant", "slot"}
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

		addProgress: d.rebind(progressUpsert(d, pr, 1)),
		progress:    d.rebind("SELECT value, reached_at FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND participant = ?"),
		list: d.rebind("SELECT participant, value, reached_at FROM " + pr +
			" WHERE tenant = ? AND campaign = ? AND period = ? AND participant > ? ORDER BY participant LIMIT ?"),
		board: d.rebind("SELECT participant, value, reached_at FROM " + pr +
			" WHERE tenant = ? AND campaign = ? AND period = ? ORDER BY value DESC, reached_at, participant LIMIT ?"),
		// Three range counts on the rank index rather than one OR, which
		// no index range can serve.
		rankCount: d.rebind("SELECT (SELECT COUNT(*) FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND value > ?)" +
			" + (SELECT COUNT(*) FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND value = ? AND reached_at < ?)" +
			" + (SELECT COUNT(*) FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND value = ? AND reached_at = ? AND participant < ?)"),

		insertGrant: d.rebind(d.insertIgnore(g, grantRow, grantKey)),
		claimGrant: d.rebind(d.upsert(g, grantRow, grantKey,
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

// progressUpsert is the upsert of rows progress changes into table pr,
// not yet rebound: add the value, keep the later ReachedAt.
func progressUpsert(d Dialect, pr string, rows int) string {
	return d.upsertRows(pr, []string{"tenant", "campaign", "period", "participant", "value", "reached_at"},
		[]string{"tenant", "campaign", "period", "participant"},
		"value = "+pr+".value + excluded.value, reached_at = CASE WHEN excluded.reached_at > "+pr+".reached_at THEN excluded.reached_at ELSE "+pr+".reached_at END", "", rows)
}

// RewardStore is the Store's implementation of reward.Store; get it with
// Store.Rewards. Its methods join the Store's transactions; pass the Store
// itself as the reward Engine's Transactor.
type RewardStore struct {
	s *Store
	q rewardQueries

	batches sync.Map // int -> progressBatch: the statements of AddProgressBatch by row count
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
		args := []any{string(tenant), rec.ID, 1, string(rec.Type), r.s.dialect.timeArg(rec.Time), string(flows)}
		// Usually the event's row does not exist yet: inserting it is all.
		// A reverse parks only after creating the row (LinkReverse), so a
		// fresh insert has no reverse waiting.
		n, err := affected(q.ExecContext(ctx, r.q.slot, args...))
		if err != nil || n == 1 {
			return err
		}
		n, err = affected(q.ExecContext(ctx, r.q.saveEvent, args...))
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

// maxProgressBatch bounds the rows of one AddProgressBatch statement
// (SQLite caps the parameters of a statement).
const maxProgressBatch = 64

// progressBatch is the pair of statements that apply n progress changes:
// one upsert of n rows and one read of those rows.
type progressBatch struct{ upsert, read string }

// progressBatch returns the statements for n changes, built once per n.
func (r *RewardStore) progressBatch(n int) progressBatch {
	if b, ok := r.batches.Load(n); ok {
		return b.(progressBatch)
	}
	pr := r.s.opts.TablePrefix + "reward_progress"
	upsert := progressUpsert(r.s.dialect, pr, n)
	// The read is n point reads on the primary key, glued by UNION ALL: a
	// row-value IN list leaves PostgreSQL's generic plan scanning the
	// tenant's whole key range.
	point := "SELECT campaign, period, participant, value FROM " + pr + " WHERE tenant = ? AND campaign = ? AND period = ? AND participant = ?"
	b := progressBatch{
		upsert: r.s.dialect.rebind(upsert),
		read:   r.s.dialect.rebind(strings.Repeat(point+" UNION ALL ", n-1) + point),
	}
	r.batches.Store(n, b)
	return b
}

// AddProgressBatch implements reward.ProgressBatchStore: one upsert of
// every row and one read of their values, rather than two statements per
// row. A batch that names one row twice (which one upsert statement cannot
// change twice) runs as one AddProgress per change.
func (r *RewardStore) AddProgressBatch(ctx context.Context, tenant storage.TenantID, changes []reward.ProgressChange) ([]int64, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := make([]int64, len(changes))
	if len(changes) == 0 {
		return out, nil
	}
	if len(changes) > maxProgressBatch || hasRepeatedKey(changes) {
		err := r.s.InTx(ctx, func(ctx context.Context) error {
			for i, ch := range changes {
				p, err := r.AddProgress(ctx, tenant, ch.Key, ch.Delta, ch.At)
				if err != nil {
					return err
				}
				out[i] = p.Value
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	b := r.progressBatch(len(changes))
	up := make([]any, 0, 6*len(changes))
	keys := make([]any, 0, 4*len(changes))
	for _, ch := range changes {
		up = append(up, string(tenant), ch.Key.Campaign, ch.Key.Period, ch.Key.Participant, ch.Delta, r.s.dialect.timeArg(ch.At))
		keys = append(keys, string(tenant), ch.Key.Campaign, ch.Key.Period, ch.Key.Participant)
	}
	err := r.s.write(ctx, "add progress", func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, b.upsert, up...); err != nil {
			return dbErr("add progress", err)
		}
		rows, err := q.QueryContext(ctx, b.read, keys...)
		if err != nil {
			return dbErr("add progress", err)
		}
		defer rows.Close()
		seen := 0
		for rows.Next() {
			var k reward.ProgressKey
			var v int64
			if err := rows.Scan(&k.Campaign, &k.Period, &k.Participant, &v); err != nil {
				return dbErr("add progress", err)
			}
			for i := range changes {
				if changes[i].Key == k {
					out[i] = v
					seen++
					break
				}
			}
		}
		if err := rows.Err(); err != nil {
			return dbErr("add progress", err)
		}
		if seen != len(changes) {
			return dbErr("add progress", fmt.Errorf("read back %d of %d progress rows", seen, len(changes)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func hasRepeatedKey(changes []reward.ProgressChange) bool {
	for i := range changes {
		for j := range i {
			if changes[i].Key == changes[j].Key {
				return true
			}
		}
	}
	return false
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

// ClaimGrant implements reward.Store. A slot never awarded (the usual
// case) takes one insert; otherwise one conditional upsert, judged by rows
// affected, and a read of the grant as it now is.
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
		args := []any{string(tenant), g.Campaign, g.Period, g.Participant, g.Slot,
			string(award), string(reward.GrantAwarded), int64(1), "", g.EventID, r.s.dialect.timeArg(g.At)}
		n, err := affected(q.ExecContext(ctx, r.q.insertGrant, args...))
		if err != nil {
			return err
		}
		if n == 1 {
			// New: the row is what was inserted, decoded as a read
			// would decode it.
			out, ok = g, true
			out.Status, out.Seq, out.Ref = reward.GrantAwarded, 1, ""
			out.At = g.At.UTC().Truncate(time.Microsecond)
			out.Award = reward.Award{}
			if err := json.Unmarshal(award, &out.Award); err != nil {
				return fmt.Errorf("sqlstore: decode award: %w", err)
			}
			return nil
		}
		n, err = affected(q.ExecContext(ctx, r.q.claimGrant, args...))
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

var _ reward.LoyaltyStore = (*LoyaltyStore)(nil)

type loyaltyQueries struct {
	insertMember, member, members, addAccrual, bumpLifetime, touch, spend, setTier, tierVersion, insertTier, tiers string
}

func buildLoyaltyQueries(d Dialect, prefix string) loyaltyQueries {
	m, a, tc := prefix+"reward_members", prefix+"reward_accruals", prefix+"reward_tier_changes"
	const cols = "id, email, name, tier, lifetime, registered_at, last_activity, tier_since, tier_version"
	return loyaltyQueries{
		insertMember: d.rebind(d.insertIgnore(m, []string{"tenant", "id", "email", "name", "tier", "lifetime", "registered_at", "last_activity", "tier_since", "tier_version"},
			[]string{"tenant", "id"})),
		member:     d.rebind("SELECT " + cols + " FROM " + m + " WHERE tenant = ? AND id = ?"),
		members:    d.rebind("SELECT " + cols + " FROM " + m + " WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?"),
		addAccrual: d.rebind(d.insertIgnore(a, []string{"tenant", "member", "key", "at", "spend", "points"}, []string{"tenant", "member", "key"})),
		// One conditional write: lifetime grows by the accrual's points,
		// last_activity moves only forward.
		bumpLifetime: d.rebind("UPDATE " + m + " SET lifetime = lifetime + ?, last_activity = CASE WHEN ? > last_activity THEN ? ELSE last_activity END" +
			" WHERE tenant = ? AND id = ?"),
		touch:       d.rebind("UPDATE " + m + " SET last_activity = ? WHERE tenant = ? AND id = ? AND last_activity < ?"),
		spend:       d.rebind("SELECT COALESCE(SUM(spend), 0) FROM " + a + " WHERE tenant = ? AND member = ? AND at >= ?"),
		setTier:     d.rebind("UPDATE " + m + " SET tier = ?, tier_since = ?, tier_version = tier_version + 1 WHERE tenant = ? AND id = ? AND tier = ?"),
		tierVersion: d.rebind("SELECT tier_version FROM " + m + " WHERE tenant = ? AND id = ?"),
		insertTier:  d.rebind("INSERT INTO " + tc + " (tenant, member, seq, from_tier, to_tier, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		tiers:       d.rebind("SELECT seq, from_tier, to_tier, at, reason FROM " + tc + " WHERE tenant = ? AND member = ? ORDER BY seq"),
	}
}

// LoyaltyStore is the Store's implementation of reward.LoyaltyStore; get
// it with Store.Loyalty. Its methods join the Store's transactions; pass
// the Store itself as the Loyalty program's Transactor.
type LoyaltyStore struct {
	s *Store
	q loyaltyQueries
}

// Loyalty returns the loyalty store of package reward (what
// reward.LoyaltyConfig.Store takes).
func (s *Store) Loyalty() reward.LoyaltyStore {
	return &LoyaltyStore{s: s, q: buildLoyaltyQueries(s.dialect, s.opts.TablePrefix)}
}

// ClaimIdempotencyKey implements storage.IdempotencyStore.
func (l *LoyaltyStore) ClaimIdempotencyKey(ctx context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	return l.s.ClaimIdempotencyKey(ctx, rec)
}

// CompleteIdempotencyKey implements storage.IdempotencyStore.
func (l *LoyaltyStore) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	return l.s.CompleteIdempotencyKey(ctx, tenant, operation, key, result)
}

// InsertMember implements reward.LoyaltyStore: reward.ErrMemberExists.
func (l *LoyaltyStore) InsertMember(ctx context.Context, tenant storage.TenantID, m reward.MemberRecord) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	d := l.s.dialect
	return l.s.write(ctx, "insert member", func(ctx context.Context, q querier) error {
		n, err := affected(q.ExecContext(ctx, l.q.insertMember, string(tenant), m.ID, m.Email, m.Name, m.Tier, m.Lifetime,
			d.timeArg(m.RegisteredAt), d.timeArg(m.LastActivity), d.timeArg(m.TierSince), m.TierVersion))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: %q", reward.ErrMemberExists, m.ID)
		}
		return nil
	})
}

type memberScanner interface{ Scan(dest ...any) error }

func scanMember(row memberScanner) (reward.MemberRecord, error) {
	var m reward.MemberRecord
	var reg, last, since dbTime
	err := row.Scan(&m.ID, &m.Email, &m.Name, &m.Tier, &m.Lifetime, &reg, &last, &since, &m.TierVersion)
	m.RegisteredAt, m.LastActivity, m.TierSince = reg.Time, last.Time, since.Time
	return m, err
}

func (l *LoyaltyStore) member(ctx context.Context, q querier, tenant storage.TenantID, id string) (reward.MemberRecord, error) {
	m, err := scanMember(q.QueryRowContext(ctx, l.q.member, string(tenant), id))
	if isNoRows(err) {
		return reward.MemberRecord{}, fmt.Errorf("%w: %q", reward.ErrMemberNotFound, id)
	}
	return m, wrap("read member", err)
}

// Member implements reward.LoyaltyStore: reward.ErrMemberNotFound.
func (l *LoyaltyStore) Member(ctx context.Context, tenant storage.TenantID, id string) (reward.MemberRecord, error) {
	if err := tenant.Validate(); err != nil {
		return reward.MemberRecord{}, err
	}
	return l.member(ctx, l.s.reader(ctx), tenant, id)
}

// Members implements reward.LoyaltyStore.
func (l *LoyaltyStore) Members(ctx context.Context, tenant storage.TenantID, after string, limit int) ([]reward.MemberRecord, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	rows, err := l.s.reader(ctx).QueryContext(ctx, l.q.members, string(tenant), after, limit)
	if err != nil {
		return nil, wrap("read members", err)
	}
	defer rows.Close()
	var out []reward.MemberRecord
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, wrap("read members", err)
		}
		out = append(out, m)
	}
	return out, wrap("read members", rows.Err())
}

// AddAccrual implements reward.LoyaltyStore: storage.ErrDuplicate,
// reward.ErrMemberNotFound.
func (l *LoyaltyStore) AddAccrual(ctx context.Context, tenant storage.TenantID, a reward.AccrualRecord) (reward.MemberRecord, error) {
	if err := tenant.Validate(); err != nil {
		return reward.MemberRecord{}, err
	}
	d := l.s.dialect
	var out reward.MemberRecord
	err := l.s.write(ctx, "add accrual", func(ctx context.Context, q querier) error {
		at := d.timeArg(a.At)
		n, err := affected(q.ExecContext(ctx, l.q.addAccrual, string(tenant), a.Member, a.Key, at, a.Spend, a.Points))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: accrual %q of member %q", storage.ErrDuplicate, a.Key, a.Member)
		}
		n, err = affected(q.ExecContext(ctx, l.q.bumpLifetime, a.Points, at, at, string(tenant), a.Member))
		if err != nil {
			return err
		}
		if n == 0 {
			// The accrual row above must not commit: roll the transaction back.
			return &dbError{err: fmt.Errorf("%w: %q", reward.ErrMemberNotFound, a.Member)}
		}
		out, err = l.member(ctx, q, tenant, a.Member)
		return err
	})
	return out, err
}

// TouchMember implements reward.LoyaltyStore: reward.ErrMemberNotFound.
func (l *LoyaltyStore) TouchMember(ctx context.Context, tenant storage.TenantID, id string, at time.Time) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	return l.s.write(ctx, "touch member", func(ctx context.Context, q querier) error {
		t := l.s.dialect.timeArg(at)
		n, err := affected(q.ExecContext(ctx, l.q.touch, t, string(tenant), id, t))
		if err != nil || n == 1 {
			return err
		}
		_, err = l.member(ctx, q, tenant, id)
		return err
	})
}

// QualifyingSpend implements reward.LoyaltyStore.
func (l *LoyaltyStore) QualifyingSpend(ctx context.Context, tenant storage.TenantID, member string, since time.Time) (int64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var sum int64
	err := l.s.reader(ctx).QueryRowContext(ctx, l.q.spend, string(tenant), member, l.s.dialect.timeArg(since)).Scan(&sum)
	return sum, wrap("read qualifying spend", err)
}

// SetTier implements reward.LoyaltyStore: reward.ErrMemberNotFound.
func (l *LoyaltyStore) SetTier(ctx context.Context, tenant storage.TenantID, c reward.TierChange) (reward.TierChange, bool, error) {
	if err := tenant.Validate(); err != nil {
		return reward.TierChange{}, false, err
	}
	var ok bool
	err := l.s.write(ctx, "set tier", func(ctx context.Context, q querier) error {
		at := l.s.dialect.timeArg(c.At)
		n, err := affected(q.ExecContext(ctx, l.q.setTier, c.To, at, string(tenant), c.Member, c.From))
		if err != nil {
			return err
		}
		if n == 0 {
			_, err := l.member(ctx, q, tenant, c.Member)
			return err
		}
		if err := q.QueryRowContext(ctx, l.q.tierVersion, string(tenant), c.Member).Scan(&c.Seq); err != nil {
			return dbErr("set tier", err)
		}
		if _, err := q.ExecContext(ctx, l.q.insertTier, string(tenant), c.Member, c.Seq, c.From, c.To, at, c.Reason); err != nil {
			return dbErr("set tier", err)
		}
		ok = true
		return nil
	})
	return c, ok, err
}

// TierChanges implements reward.LoyaltyStore.
func (l *LoyaltyStore) TierChanges(ctx context.Context, tenant storage.TenantID, member string) ([]reward.TierChange, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	rows, err := l.s.reader(ctx).QueryContext(ctx, l.q.tiers, string(tenant), member)
	if err != nil {
		return nil, wrap("read tier changes", err)
	}
	defer rows.Close()
	var out []reward.TierChange
	for rows.Next() {
		c := reward.TierChange{Member: member}
		var at dbTime
		if err := rows.Scan(&c.Seq, &c.From, &c.To, &at, &c.Reason); err != nil {
			return nil, wrap("read tier changes", err)
		}
		c.At = at.Time
		out = append(out, c)
	}
	return out, wrap("read tier changes", rows.Err())
}
