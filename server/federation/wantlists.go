package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger"
)

// TypeWantList is the event type of want lists.
const TypeWantList = "wantlist"

// MaxWantList is the most offers a want list event may name (the same cap
// as a member's want list here).
const MaxWantList = 100

// WantList is a want list as it crosses to peers: for one offer (its event
// id), the offers its author would take for it (event ids), best first, and
// its author's contract public key (standard base64 with padding), which
// the peers name in the contracts they propose. "key" is an extension of
// design.md's {offer, accepts}: absent from an older peer's want lists.
type WantList struct {
	Offer   string   `json:"offer"`
	Accepts []string `json:"accepts"`
	Key     string   `json:"key,omitempty"`
}

// eventWire is an Event on the wire: its object is an announcement or a
// want list, as Type says.
type eventWire struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Origin  string          `json:"origin"`
	Version int64           `json:"version"`
	Deleted bool            `json:"deleted"`
	Object  json.RawMessage `json:"object,omitempty"`
}

// MarshalJSON writes e with its announcement or want list as "object".
func (e Event) MarshalJSON() ([]byte, error) {
	w := eventWire{Type: e.Type, ID: e.ID, Origin: e.Origin, Version: e.Version, Deleted: e.Deleted}
	var obj any
	switch {
	case e.Object != nil:
		obj = e.Object
	case e.WantList != nil:
		obj = e.WantList
	}
	if obj != nil {
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		w.Object = raw
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads "object" as Type says; an unknown type keeps none.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w eventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{Type: w.Type, ID: w.ID, Origin: w.Origin, Version: w.Version, Deleted: w.Deleted}
	if len(w.Object) == 0 || bytes.Equal(w.Object, []byte("null")) {
		return nil
	}
	switch w.Type {
	case TypeAnnouncement:
		e.Object = new(Object)
		return json.Unmarshal(w.Object, e.Object)
	case TypeWantList:
		e.WantList = new(WantList)
		return json.Unmarshal(w.Object, e.WantList)
	}
	return nil
}

// wantListObjectID is the event id of the want list of local offer offerID.
func (s *Service) wantListObjectID(offerID int64) string {
	return s.cfg.BaseURL + "/wantlists/" + strconv.FormatInt(offerID, 10)
}

// PublishWantList writes the event of the want list of local offer offerID,
// as it stands in tx, into the outbox: call it in the transaction that
// changed it. A live offer's want list with live entries is sent whole;
// otherwise it is sent once as deleted (if it was ever sent). An unchanged
// want list writes nothing.
func (s *Service) PublishWantList(ctx context.Context, tx pgx.Tx, offerID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(outboxLock)); err != nil {
		return fmt.Errorf("federation: outbox lock: %w", err)
	}
	now := s.now()
	rows, err := tx.Query(ctx, `
		SELECT CASE WHEN b.origin = 'local' THEN $3 || '/announcements/' || b.id ELSE b.origin_id END
		  FROM wantlist_entries w
		  JOIN announcements a ON a.id = w.offer_id
		  JOIN announcements b ON b.id = w.accepts_id
		 WHERE w.offer_id = $1 AND a.origin = 'local' AND a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $2
		   AND b.kind = 'offer' AND b.status = 'active' AND b.expires_at > $2
		 ORDER BY w.rank`, offerID, now, s.cfg.BaseURL)
	if err != nil {
		return fmt.Errorf("federation: want list %d: %w", offerID, err)
	}
	accepts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("federation: want list %d: %w", offerID, err)
	}
	live := len(accepts) > 0
	objectID := s.wantListObjectID(offerID)
	var wasDeleted *bool
	var was []byte
	err = tx.QueryRow(ctx, `SELECT deleted, object FROM federation_events WHERE object_id = $1`, objectID).Scan(&wasDeleted, &was)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("federation: outbox: %w", err)
	}
	if !live && (wasDeleted == nil || *wasDeleted) {
		return nil // never sent, or its deletion already was
	}
	var body []byte
	if live {
		w := WantList{Offer: s.cfg.BaseURL + "/announcements/" + strconv.FormatInt(offerID, 10), Accepts: accepts}
		if w.Key, err = authorKey(ctx, tx, offerID); err != nil {
			return err
		}
		if body, err = json.Marshal(w); err != nil {
			return fmt.Errorf("federation: outbox: %w", err)
		}
		if wasDeleted != nil && !*wasDeleted && sameWantList(was, w) {
			return nil
		}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO federation_events (object_id, seq, local_id, version, deleted, object, changed_at, type)
		VALUES ($1, nextval('federation_events_seq'), $2, 1, $3, $4, $5, 'wantlist')
		ON CONFLICT ON CONSTRAINT federation_events_pkey DO UPDATE
		   SET seq = EXCLUDED.seq, version = federation_events.version + 1, deleted = EXCLUDED.deleted,
		       object = EXCLUDED.object, changed_at = EXCLUDED.changed_at`,
		objectID, offerID, !live, body, now)
	if err != nil {
		return fmt.Errorf("federation: outbox: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify('federation_events', '')`); err != nil {
		return fmt.Errorf("federation: outbox notify: %w", err)
	}
	return nil
}

func sameWantList(stored []byte, w WantList) bool {
	var old WantList
	if json.Unmarshal(stored, &old) != nil || old.Offer != w.Offer || old.Key != w.Key || len(old.Accepts) != len(w.Accepts) {
		return false
	}
	for i := range w.Accepts {
		if old.Accepts[i] != w.Accepts[i] {
			return false
		}
	}
	return true
}

// PublishMemberWantLists republishes, in tx, every want list of member
// memberID's offers: their contract key changed (memberkeys.Store.OnChange).
func (s *Service) PublishMemberWantLists(ctx context.Context, tx pgx.Tx, memberID int64) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT w.offer_id FROM wantlist_entries w JOIN announcements a ON a.id = w.offer_id
		WHERE a.member_id = $1 AND a.origin = 'local' ORDER BY 1`, memberID)
	if err != nil {
		return fmt.Errorf("federation: want lists of member %d: %w", memberID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("federation: want lists of member %d: %w", memberID, err)
	}
	for _, id := range ids {
		if err := s.PublishWantList(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

// authorKey is the contract public key of the author of local offer
// offerID (memberkeys), "" when they have none yet.
func authorKey(ctx context.Context, tx pgx.Tx, offerID int64) (string, error) {
	var key []byte
	err := tx.QueryRow(ctx, `SELECT k.public_key FROM announcements a JOIN member_deal_keys k ON k.member_id = a.member_id
		WHERE a.id = $1`, offerID).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("federation: want list %d: key: %w", offerID, err)
	}
	return contract.EncodeKey(key), nil
}

// sweepWantLists republishes the want lists that may have changed without
// a write through announce (an offer in them expired, closed or was
// deleted, here or at a peer): every sent one and every unsent one. An
// unchanged one writes nothing. It returns how many it looked at.
func (s *Service) sweepWantLists(ctx context.Context) (int, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT local_id FROM federation_events WHERE type = 'wantlist' AND NOT deleted
		UNION
		SELECT DISTINCT w.offer_id FROM wantlist_entries w
		 WHERE NOT EXISTS (SELECT 1 FROM federation_events e WHERE e.type = 'wantlist' AND e.local_id = w.offer_id)
		ORDER BY 1 LIMIT 5000`)
	if err != nil {
		return 0, fmt.Errorf("federation: sweep want lists: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("federation: sweep want lists: %w", err)
	}
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.PublishWantList(ctx, tx, id) })
		if err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// checkWantList checks a peer's want list event: its offer is one of the
// peer's announcements, its entries are event ids, named once, at most
// MaxWantList.
func checkWantList(peer string, w WantList) error {
	if !strings.HasPrefix(w.Offer, peer+"/announcements/") || len(w.Offer) > 500 {
		return errors.New("offer")
	}
	if len(w.Accepts) == 0 || len(w.Accepts) > MaxWantList {
		return errors.New("accepts")
	}
	if w.Key != "" {
		if _, err := contract.DecodeKey(w.Key); err != nil {
			return errors.New("key")
		}
	}
	seen := make(map[string]bool, len(w.Accepts))
	for _, a := range w.Accepts {
		if a == "" || len(a) > 500 || seen[a] || a == w.Offer || !strings.Contains(a, "/announcements/") {
			return errors.New("accepts")
		}
		seen[a] = true
	}
	return nil
}

// applyWantList applies a peer's want list event whose version is new.
func applyWantList(ctx context.Context, tx pgx.Tx, p Peer, e Event) error {
	if e.Deleted {
		_, err := tx.Exec(ctx, `DELETE FROM remote_wantlists WHERE object_id = $1 AND origin = $2`, e.ID, p.BaseURL)
		return err
	}
	var key []byte // NULL when the peer sent none
	if e.WantList.Key != "" {
		k, err := contract.DecodeKey(e.WantList.Key)
		if err != nil {
			return err
		}
		key = []byte(k)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO remote_wantlists (object_id, origin, offer, accepts, key, updated_at) VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT ON CONSTRAINT remote_wantlists_pkey DO UPDATE
		   SET offer = EXCLUDED.offer, accepts = EXCLUDED.accepts, key = EXCLUDED.key, updated_at = EXCLUDED.updated_at
		 WHERE remote_wantlists.origin = EXCLUDED.origin`,
		e.ID, p.BaseURL, e.WantList.Offer, e.WantList.Accepts, key)
	return err
}

// Post sends a signed POST of body to target, a URL of a peer (deals:
// proposals and answers to /federation/v1/contracts…); an answer other
// than 200 or 201 is an error, an *AnswerError.
func (s *Service) Post(ctx context.Context, target string, body []byte) error {
	st, answer, err := s.call(ctx, "POST", target, body)
	if err != nil {
		return fmt.Errorf("federation: POST %s: %w", target, err)
	}
	if st != 200 && st != 201 {
		return &AnswerError{Target: target, Status: st, Body: ledger.Truncate(string(answer), 300)}
	}
	return nil
}

// AnswerError is a peer's answer other than success to a request of Post:
// the caller tells a refusal (4xx) from a failure worth retrying by
// HTTPStatus.
type AnswerError struct {
	Target string
	Status int
	Body   string
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("federation: POST %s: %d %s", e.Target, e.Status, e.Body)
}

// HTTPStatus is the peer's status code.
func (e *AnswerError) HTTPStatus() int { return e.Status }

// Refused reports whether err is a peer's final refusal of a message sent
// with Post (400, 404, 409, 410, 413, 422; not 403: peering may come
// back), which an outbox must not send again.
func Refused(err error) bool {
	var st interface{ HTTPStatus() int }
	if !errors.As(err, &st) {
		return false
	}
	switch st.HTTPStatus() {
	case 400, 404, 409, 410, 413, 422:
		return true
	}
	return false
}

// RetryAfter is an outbox's wait after the attempts-th failed try: base
// doubled with each failure, at most ceiling.
func RetryAfter(base, ceiling time.Duration, attempts int) time.Duration {
	d := base << min(max(attempts-1, 0), 30)
	if d <= 0 || d > ceiling {
		return ceiling
	}
	return d
}
