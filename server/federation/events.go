package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/jackc/pgx/v5"
)

// TypeAnnouncement is the event type of offers and wants.
const TypeAnnouncement = "announcement"

// Event is the latest version of one object, as sxp-fed/1 replicates it.
// On the wire its "object" is Object (type announcement) or WantList (type
// wantlist); see MarshalJSON.
type Event struct {
	Type     string
	ID       string
	Origin   string
	Version  int64
	Deleted  bool
	Object   *Object
	WantList *WantList
}

// Object is an announcement as it crosses to peers: only what the community
// publishes (no e-mail, no balance, no member id).
type Object struct {
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Category    string    `json:"category"`
	Price       *string   `json:"price"`
	Currency    string    `json:"currency"`
	Money       *Money    `json:"money,omitempty"` // a money offer (deals)
	Place       string    `json:"place"`
	Lat         *float64  `json:"lat"`
	Lon         *float64  `json:"lon"`
	ExpiresAt   time.Time `json:"expires_at"`
	Author      Author    `json:"author"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Money is a money offer's amount: a decimal in its author's currency.
type Money struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

// Author is an announcement's author as peers see them.
type Author struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// outboxLock is the advisory lock every outbox write holds to its commit, so
// that events are numbered (seq) in the order they commit and a reader that
// has seen seq n will never later find a smaller one appear.
const outboxLock = 0x5358504645440001

// Publish writes the event of local announcement id, as it stands in tx, into
// the outbox: call it in the transaction that changed the announcement. An
// active, unexpired announcement is sent whole; one that is gone, closed or
// expired is sent once as deleted (and not at all if it was never sent).
func (s *Service) Publish(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(outboxLock)); err != nil {
		return fmt.Errorf("federation: outbox lock: %w", err)
	}
	now := s.now()
	obj, live, err := s.localObject(ctx, tx, id, now)
	if err != nil {
		return err
	}
	objectID := s.cfg.BaseURL + "/announcements/" + strconv.FormatInt(id, 10)
	var wasDeleted *bool
	err = tx.QueryRow(ctx, `SELECT deleted FROM federation_events WHERE object_id = $1`, objectID).Scan(&wasDeleted)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("federation: outbox: %w", err)
	}
	if !live && (wasDeleted == nil || *wasDeleted) {
		return s.PublishWantList(ctx, tx, id) // the announcement was never sent, or its deletion already was
	}
	var body []byte
	if live {
		if body, err = json.Marshal(obj); err != nil {
			return fmt.Errorf("federation: outbox: %w", err)
		}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO federation_events (object_id, seq, local_id, version, deleted, object, changed_at)
		VALUES ($1, nextval('federation_events_seq'), $2, 1, $3, $4, $5)
		ON CONFLICT ON CONSTRAINT federation_events_pkey DO UPDATE
		   SET seq = EXCLUDED.seq, version = federation_events.version + 1, deleted = EXCLUDED.deleted,
		       object = EXCLUDED.object, changed_at = EXCLUDED.changed_at`,
		objectID, id, !live, body, now)
	if err != nil {
		return fmt.Errorf("federation: outbox: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify('federation_events', '')`); err != nil {
		return fmt.Errorf("federation: outbox notify: %w", err)
	}
	return s.PublishWantList(ctx, tx, id) // an offer that goes takes its want list along
}

// localObject reads local announcement id; live is false when it is gone,
// closed or expired.
func (s *Service) localObject(ctx context.Context, tx pgx.Tx, id int64, now time.Time) (Object, bool, error) {
	var o Object
	var price, money *int64
	var status string
	err := tx.QueryRow(ctx, `
		SELECT a.kind, a.title, a.description, c.name, a.price, a.place, a.lat::float8, a.lon::float8,
		       a.expires_at, m.username, m.display_name, a.created_at, a.updated_at, a.status, a.money
		  FROM announcements a
		  JOIN announcement_categories c ON c.id = a.category_id
		  JOIN members m ON m.id = a.member_id
		 WHERE a.id = $1 AND a.origin = 'local'`, id).Scan(&o.Kind, &o.Title, &o.Description, &o.Category, &price,
		&o.Place, &o.Lat, &o.Lon, &o.ExpiresAt, &o.Author.Username, &o.Author.DisplayName, &o.CreatedAt, &o.UpdatedAt, &status, &money)
	if errors.Is(err, pgx.ErrNoRows) {
		return Object{}, false, nil
	}
	if err != nil {
		return Object{}, false, fmt.Errorf("federation: read announcement %d: %w", id, err)
	}
	o.Currency = s.cfg.Currency.Code
	if price != nil {
		p := s.cfg.Currency.Format(*price)
		o.Price = &p
	}
	if money != nil {
		o.Money = &Money{Value: s.cfg.Currency.Format(*money), Currency: s.cfg.Currency.Code}
	}
	o.ExpiresAt, o.CreatedAt, o.UpdatedAt = o.ExpiresAt.UTC(), o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	if o.Author.DisplayName == "" {
		o.Author.DisplayName = o.Author.Username
	}
	return o, status == "active" && o.ExpiresAt.After(now), nil
}

// Sweep publishes what changed without a write through announce: local
// announcements that expired (sent as deleted), active ones that were never
// sent (e.g. written before this server federated), and sent ones whose
// category name or author's display name changed since (e.g. renamed on the
// command line, or in the member's profile). It returns how
// many events it wrote.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	rows, err := s.pool.Query(ctx, `
		SELECT e.local_id FROM federation_events e
		  LEFT JOIN announcements a ON a.id = e.local_id AND a.origin = 'local'
		 WHERE e.type = 'announcement' AND NOT e.deleted AND (a.id IS NULL OR a.status <> 'active' OR a.expires_at <= $1)
		UNION
		SELECT a.id FROM announcements a
		 WHERE a.origin = 'local' AND a.status = 'active' AND a.expires_at > $1
		   AND NOT EXISTS (SELECT 1 FROM federation_events e WHERE e.type = 'announcement' AND e.local_id = a.id)
		UNION
		SELECT e.local_id FROM federation_events e
		  JOIN announcements a ON a.id = e.local_id AND a.origin = 'local'
		  JOIN announcement_categories c ON c.id = a.category_id
		  JOIN members m ON m.id = a.member_id
		 WHERE e.type = 'announcement' AND NOT e.deleted
		   AND (e.object->>'category' IS DISTINCT FROM c.name
		        OR e.object->'author'->>'display_name' IS DISTINCT FROM coalesce(nullif(m.display_name, ''), m.username))
		 ORDER BY 1 LIMIT 1000`, now)
	if err != nil {
		return 0, fmt.Errorf("federation: sweep: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("federation: sweep: %w", err)
	}
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.Publish(ctx, tx, id) })
		if err != nil {
			return 0, err
		}
	}
	if _, err := s.sweepWantLists(ctx); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// storedEvent is an outbox row.
type storedEvent struct {
	seq     int64
	event   Event
	encoded []byte
}

// eventsAfter reads at most limit outbox events after seq, in change order.
func (s *Service) eventsAfter(ctx context.Context, seq int64, limit int) ([]storedEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, object_id, version, deleted, object, type FROM federation_events
		WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("federation: events: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedEvent, error) {
		var e storedEvent
		var obj []byte
		if err := r.Scan(&e.seq, &e.event.ID, &e.event.Version, &e.event.Deleted, &obj, &e.event.Type); err != nil {
			return e, err
		}
		e.event.Origin = s.cfg.BaseURL
		switch {
		case obj == nil:
		case e.event.Type == TypeWantList:
			e.event.WantList = new(WantList)
			if err := json.Unmarshal(obj, e.event.WantList); err != nil {
				return e, err
			}
		default:
			e.event.Object = new(Object)
			if err := json.Unmarshal(obj, e.event.Object); err != nil {
				return e, err
			}
		}
		var err error
		e.encoded, err = json.Marshal(e.event)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("federation: events: %w", err)
	}
	return list, nil
}

// Events answers GET /federation/v1/events: at most limit events after the
// cursor (empty: from the beginning), in change order, and the next cursor.
func (s *Service) Events(ctx context.Context, after string, limit int) ([]Event, string, error) {
	var seq int64
	if after != "" {
		v, err := strconv.ParseInt(after, 10, 64)
		if err != nil || v < 0 {
			return nil, "", refuse(CodeInvalid, "after %q is not a cursor of this server", after)
		}
		seq = v
	}
	if limit < 1 || limit > MaxPullLimit {
		return nil, "", refuse(CodeInvalid, "limit must be between 1 and %d", MaxPullLimit)
	}
	list, err := s.eventsAfter(ctx, seq, limit)
	if err != nil {
		return nil, "", err
	}
	events := make([]Event, 0, len(list))
	for _, e := range list {
		events = append(events, e.event)
		seq = e.seq
	}
	return events, strconv.FormatInt(seq, 10), nil
}

// Apply applies a batch of events from peer (pushed or pulled): an event
// whose origin is not the peer refuses the whole batch; each other one is
// applied when its version is greater than the one held, else ignored.
func (s *Service) Apply(ctx context.Context, p Peer, events []Event) (applied, ignored int, err error) {
	for i, e := range events {
		if e.Origin != p.BaseURL {
			return 0, 0, refuse(CodeForeignOrigin,
				"event %d has origin %q: a peer sends only its own events (no relaying in sxp-fed/1)", i, e.Origin)
		}
	}
	// Rows are locked in one order (by id) whoever applies, so that a push
	// and a pull of the same peer never deadlock.
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(x, y Event) int { return strings.Compare(x.ID, y.ID) })
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("federation: apply: %w", err)
	}
	defer tx.Rollback(ctx)
	for _, e := range sorted {
		ok, err := s.applyOne(ctx, tx, p, e)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			applied++
		} else {
			ignored++
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("federation: apply: %w", err)
	}
	s.metrics.applied(p.BaseURL, applied, ignored)
	return applied, ignored, nil
}

func (s *Service) applyOne(ctx context.Context, tx pgx.Tx, p Peer, e Event) (bool, error) {
	switch {
	case len(e.ID) > 500 || e.Version < 1:
		return false, nil // malformed
	case e.Type == TypeWantList && strings.HasPrefix(e.ID, p.BaseURL+"/wantlists/"):
		if !e.Deleted && (e.WantList == nil || checkWantList(p.BaseURL, *e.WantList) != nil) {
			s.log.Warn("federation: ignoring a malformed want list", "peer", p.BaseURL, "id", e.ID)
			return false, nil
		}
	case e.Type == TypeAnnouncement && strings.HasPrefix(e.ID, p.BaseURL+"/announcements/"):
	default:
		return false, nil // another type or a malformed event
	}
	if e.Type == TypeAnnouncement && !e.Deleted {
		if e.Object == nil || checkObject(*e.Object) != nil {
			s.log.Warn("federation: ignoring a malformed event", "peer", p.BaseURL, "id", e.ID)
			return false, nil
		}
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO federation_objects (object_id, origin, version, deleted) VALUES ($1, $2, $3, $4)
		ON CONFLICT ON CONSTRAINT federation_objects_pkey DO UPDATE
		   SET version = EXCLUDED.version, deleted = EXCLUDED.deleted
		 WHERE federation_objects.version < EXCLUDED.version AND federation_objects.origin = EXCLUDED.origin`,
		e.ID, p.BaseURL, e.Version, e.Deleted)
	if err != nil {
		return false, fmt.Errorf("federation: apply: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if e.Type == TypeWantList {
		if err := applyWantList(ctx, tx, p, e); err != nil {
			return false, fmt.Errorf("federation: apply %s: %w", e.ID, err)
		}
		return true, nil
	}
	if e.Deleted {
		if _, err := tx.Exec(ctx, `DELETE FROM announcements WHERE origin = $1 AND origin_id = $2`, p.BaseURL, e.ID); err != nil {
			return false, fmt.Errorf("federation: apply: %w", err)
		}
		return true, nil
	}
	o := e.Object
	var price *string
	if o.Price != nil {
		price = o.Price
	}
	author := o.Author.Username + "@" + p.CommunityID
	var moneyValue, moneyCurrency *string
	if o.Money != nil {
		moneyValue, moneyCurrency = &o.Money.Value, &o.Money.Currency
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO announcements (member_id, author, author_name, kind, title, description, category_id, remote_category,
		                           price, remote_price, remote_currency, place, lat, lon, expires_at, status, origin,
		                           origin_id, search_config, created_at, updated_at, remote_money_value, remote_money_currency)
		VALUES (NULL, $1, $2, $3, $4, $5, NULL, $6, NULL, $7::numeric, $8, $9, $10, $11, $12, 'active', $13, $14,
		        $15::regconfig, $16, $17, $18, $19)
		ON CONFLICT ON CONSTRAINT announcements_origin_key DO UPDATE
		   SET author = EXCLUDED.author, author_name = EXCLUDED.author_name, kind = EXCLUDED.kind,
		       title = EXCLUDED.title, description = EXCLUDED.description, remote_category = EXCLUDED.remote_category,
		       remote_price = EXCLUDED.remote_price, remote_currency = EXCLUDED.remote_currency, place = EXCLUDED.place,
		       lat = EXCLUDED.lat, lon = EXCLUDED.lon, expires_at = EXCLUDED.expires_at,
		       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
		       remote_money_value = EXCLUDED.remote_money_value, remote_money_currency = EXCLUDED.remote_money_currency`,
		author, o.Author.DisplayName, o.Kind, o.Title, o.Description, o.Category, price, o.Currency, o.Place,
		o.Lat, o.Lon, o.ExpiresAt, p.BaseURL, e.ID, s.cfg.Language, o.CreatedAt, o.UpdatedAt, moneyValue, moneyCurrency)
	if err != nil {
		return false, fmt.Errorf("federation: apply %s: %w", e.ID, err)
	}
	return true, nil
}

// checkObject checks a federated announcement against this server's limits
// (the same as its own announcements').
func checkObject(o Object) error {
	if o.Kind != "offer" && o.Kind != "want" {
		return errors.New("kind")
	}
	for _, f := range []struct {
		s         string
		min, max  int
		multiline bool
	}{{o.Title, 1, 120, false}, {o.Description, 0, 5000, true}, {o.Place, 0, 200, false},
		{o.Category, 1, 60, false}, {o.Currency, 1, 12, false}, {o.Author.Username, 1, 100, false},
		{o.Author.DisplayName, 0, 200, false}} {
		n := utf8.RuneCountInString(f.s)
		if !utf8.ValidString(f.s) || n < f.min || n > f.max {
			return errors.New("text")
		}
		for _, r := range f.s {
			if unicode.IsControl(r) && !(f.multiline && (r == '\n' || r == '\r' || r == '\t')) {
				return errors.New("control character")
			}
		}
	}
	if strings.ContainsAny(o.Author.Username, "@ ") {
		return errors.New("username")
	}
	if o.Price != nil {
		d, _, err := apd.NewFromString(*o.Price)
		if err != nil || d.Negative || d.Form != apd.Finite || len(*o.Price) > 40 {
			return errors.New("price")
		}
	}
	if o.Money != nil {
		d, _, err := apd.NewFromString(o.Money.Value)
		if err != nil || d.Negative || d.IsZero() || d.Form != apd.Finite || len(o.Money.Value) > 40 ||
			o.Kind != "offer" || o.Money.Currency == "" || len(o.Money.Currency) > 12 {
			return errors.New("money")
		}
	}
	if (o.Lat == nil) != (o.Lon == nil) {
		return errors.New("coordinates")
	}
	if o.Lat != nil && !(*o.Lat >= -90 && *o.Lat <= 90 && *o.Lon >= -180 && *o.Lon <= 180) {
		return errors.New("coordinates")
	}
	if o.ExpiresAt.IsZero() {
		return errors.New("expires_at")
	}
	return nil
}
