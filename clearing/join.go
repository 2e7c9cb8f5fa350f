package clearing

// Joining the circle without copying a key by hand (cxp/join.go has the
// wire side): a community's signed request waits here, pending, until a
// circle admin approves it (the community is added with limits and a rate,
// its CXP key issued and sealed to the request's X25519 key) or refuses it.
// The HTTP layer verifies the request's signature before calling
// RequestJoin, and a poll's against the stored key before JoinStatus.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// MaxPendingJoins bounds the requests waiting for an admin: one more is
// refused until some are decided, so that strangers cannot fill the table.
const MaxPendingJoins = 50

var currencyPattern = regexp.MustCompile(`^[A-Z0-9]{2,12}$`)

// JoinRequest is a community's request to join, as stored.
type JoinRequest struct {
	ID          int64             `json:"id"`
	CommunityID string            `json:"community_id"`
	Name        string            `json:"name"`
	Currency    string            `json:"currency"`
	Divisions   int               `json:"divisions"`
	BaseURL     string            `json:"base_url"`
	Ticks       string            `json:"ticks"`
	Mail        string            `json:"mail,omitempty"`
	Message     string            `json:"message,omitempty"`
	KeyID       string            `json:"keyid"`
	PublicKey   ed25519.PublicKey `json:"-"`
	BoxKey      [32]byte          `json:"-"`
	State       string            `json:"state"`
	Reason      string            `json:"reason,omitempty"`
	DecidedBy   string            `json:"decided_by,omitempty"`
	DecidedAt   *time.Time        `json:"decided_at,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	sealed      []byte
}

// Fingerprint is a short form of the request's Ed25519 key for admins to
// compare with what the community's admin sees: hex of its first 8 SHA-256 bytes.
func (r JoinRequest) Fingerprint() string { return fingerprint(string(r.PublicKey)) }

// Status is the request as its community sees it.
func (r JoinRequest) Status() cxp.JoinStatus {
	s := cxp.JoinStatus{Request: r.ID, State: r.State, Reason: r.Reason}
	if r.sealed != nil {
		s.Credentials = base64.StdEncoding.EncodeToString(r.sealed)
	}
	return s
}

const joinColumns = `id, community_id, name, currency, divisions, base_url, ticks::text, mail, message, keyid,
	public_key, box_key, state, reason, sealed, decided_by, decided_at, created_at`

func scanJoin(row pgx.Row) (JoinRequest, error) {
	var r JoinRequest
	var pub, boxKey []byte
	err := row.Scan(&r.ID, &r.CommunityID, &r.Name, &r.Currency, &r.Divisions, &r.BaseURL, &r.Ticks, &r.Mail,
		&r.Message, &r.KeyID, &pub, &boxKey, &r.State, &r.Reason, &r.sealed, &r.DecidedBy, &r.DecidedAt, &r.CreatedAt)
	r.PublicKey = pub
	copy(r.BoxKey[:], boxKey)
	return r, err
}

// CheckJoinRequest validates a request's fields, naming the first bad one in
// words, and returns them in canonical form with the decoded keys.
func CheckJoinRequest(in cxp.JoinRequest) (JoinRequest, error) {
	text := func(field, v string, max int) error {
		if !utf8.ValidString(v) || len(v) > max {
			return invalid(field, "must be valid text of at most %d bytes", max)
		}
		return nil
	}
	r := JoinRequest{CommunityID: in.ID, Name: strings.TrimSpace(in.Name), Currency: in.Currency,
		Divisions: in.Divisions, Mail: strings.TrimSpace(in.Mail), Message: strings.TrimSpace(in.Message), KeyID: in.KeyID}
	if !idPattern.MatchString(in.ID) {
		return JoinRequest{}, invalid("id", "the community id %q must be letters, digits, '.', '_' or '-' (at most 63)", in.ID)
	}
	if r.Name == "" {
		return JoinRequest{}, invalid("name", "the community's name must not be empty")
	}
	for _, f := range []struct {
		field, v string
		max      int
	}{{"name", r.Name, 100}, {"mail", r.Mail, 200}, {"message", r.Message, 1000}, {"keyid", r.KeyID, 300}} {
		if err := text(f.field, f.v, f.max); err != nil {
			return JoinRequest{}, err
		}
	}
	if !currencyPattern.MatchString(in.Currency) {
		return JoinRequest{}, invalid("currency", "the currency code %q must be 2-12 capital letters or digits", in.Currency)
	}
	if in.Divisions < 0 || in.Divisions > 8 {
		return JoinRequest{}, invalid("divisions", "the currency's decimal places must be 0 to 8, not %d", in.Divisions)
	}
	base, err := CheckURI(in.BaseURL)
	if err != nil || len(base) > 300 {
		return JoinRequest{}, invalid("base_url", "the community's address %q must be an http(s) URL without query or fragment", in.BaseURL)
	}
	r.BaseURL = base
	if r.Ticks, err = ParseTicks(in.Rate); err != nil {
		return JoinRequest{}, invalid("rate", "the declared rate: %v", err)
	}
	if !strings.HasPrefix(r.KeyID, base+"#") {
		return JoinRequest{}, invalid("keyid", "the key id must begin with the community's address followed by '#'")
	}
	pub, err := cxp.Key32(in.PublicKey)
	if err != nil {
		return JoinRequest{}, invalid("public_key", "the community's signing key %v", err)
	}
	r.PublicKey = ed25519.PublicKey(pub[:])
	boxKey, err := cxp.Key32(in.BoxKey)
	if err != nil {
		return JoinRequest{}, invalid("box_key", "the delivery key %v", err)
	}
	r.BoxKey = *boxKey
	return r, nil
}

// RequestJoin stores a checked request (CheckJoinRequest) whose signature the
// caller verified against r.PublicKey. A repeat of the pending request of the
// same community with the same content and keys is answered with it
// (created false) and writes nothing; one by the same key with other content
// (a new delivery key after a lost answer, another rate) replaces the
// waiting request's content (created false); one by another key while it
// waits is a conflict. A community id or address already in the circle is a
// conflict.
func (h *House) RequestJoin(ctx context.Context, r JoinRequest) (JoinRequest, bool, error) {
	var out JoinRequest
	created := false
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		q := tx.Conn()
		// One request at a time decides "pending or not": serialise them.
		if _, err := q.Exec(ctx, `LOCK TABLE clearing_join_requests IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("clearing: join: %w", err)
		}
		prev, err := scanJoin(q.QueryRow(ctx, `SELECT `+joinColumns+` FROM clearing_join_requests
			WHERE community_id = $1 AND state = 'pending'`, r.CommunityID))
		switch {
		case err == nil:
			switch {
			case sameJoin(prev, r):
				out = prev
				return nil
			case !prev.PublicKey.Equal(r.PublicKey) || prev.KeyID != r.KeyID:
				return conflict("id", "a request to join as %s is already waiting for the circle's admins", r.CommunityID)
			}
			// The same asker asks again (its earlier answer was lost, or
			// it changed its mind): its waiting request takes the new content.
			out, err = scanJoin(q.QueryRow(ctx, `UPDATE clearing_join_requests SET name = $2, currency = $3, divisions = $4,
				base_url = $5, ticks = $6::numeric, mail = $7, message = $8, box_key = $9 WHERE id = $1 RETURNING `+joinColumns,
				prev.ID, r.Name, r.Currency, r.Divisions, r.BaseURL, r.Ticks, r.Mail, r.Message, r.BoxKey[:]))
			if err != nil {
				return fmt.Errorf("clearing: join: %w", err)
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("clearing: join: %w", err)
		}
		var inCircle bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clearing_communities WHERE id = $1 OR uri = $2)`,
			r.CommunityID, r.BaseURL).Scan(&inCircle); err != nil {
			return fmt.Errorf("clearing: join: %w", err)
		}
		if inCircle {
			return conflict("id", "a community with id %s or address %s is in the circle already", r.CommunityID, r.BaseURL)
		}
		var pending int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM clearing_join_requests WHERE state = 'pending'`).Scan(&pending); err != nil {
			return fmt.Errorf("clearing: join: %w", err)
		}
		if pending >= MaxPendingJoins {
			return &Error{Code: ErrUnavailable, Message: "too many requests to join are waiting; try again later"}
		}
		out, err = scanJoin(q.QueryRow(ctx, `INSERT INTO clearing_join_requests (community_id, name, currency, divisions,
			base_url, ticks, mail, message, keyid, public_key, box_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9, $10, $11, $12) RETURNING `+joinColumns,
			r.CommunityID, r.Name, r.Currency, r.Divisions, r.BaseURL, r.Ticks, r.Mail, r.Message, r.KeyID,
			[]byte(r.PublicKey), r.BoxKey[:], h.now()))
		if err != nil {
			return fmt.Errorf("clearing: join: %w", err)
		}
		created = true
		return nil
	})
	return out, created, err
}

func sameJoin(a, b JoinRequest) bool {
	return a.CommunityID == b.CommunityID && a.Name == b.Name && a.Currency == b.Currency && a.Divisions == b.Divisions &&
		a.BaseURL == b.BaseURL && a.Ticks == b.Ticks && a.Mail == b.Mail && a.Message == b.Message && a.KeyID == b.KeyID &&
		a.PublicKey.Equal(b.PublicKey) && a.BoxKey == b.BoxKey
}

// JoinRequestByID returns one request (the HTTP layer verifies a poll
// against its PublicKey before showing its Status).
func (h *House) JoinRequestByID(ctx context.Context, id int64) (JoinRequest, error) {
	r, err := scanJoin(h.pool.QueryRow(ctx, `SELECT `+joinColumns+` FROM clearing_join_requests WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return JoinRequest{}, notFound("no request to join numbered %d", id)
	}
	if err != nil {
		return JoinRequest{}, fmt.Errorf("clearing: join request: %w", err)
	}
	return r, nil
}

// PendingJoins counts the requests waiting for an admin.
func (h *House) PendingJoins(ctx context.Context) (int, error) {
	var n int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_join_requests WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("clearing: pending joins: %w", err)
	}
	return n, nil
}

// JoinRequests lists the pending requests, oldest first, then the latest
// decided ones (at most limit of those), newest first.
func (h *House) JoinRequests(ctx context.Context, limit int) (pending, decided []JoinRequest, err error) {
	rows, err := h.pool.Query(ctx, `(SELECT `+joinColumns+` FROM clearing_join_requests WHERE state = 'pending' ORDER BY id)
		UNION ALL (SELECT `+joinColumns+` FROM clearing_join_requests WHERE state <> 'pending' ORDER BY id DESC LIMIT $1)`, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("clearing: join requests: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JoinRequest, error) { return scanJoin(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("clearing: join requests: %w", err)
	}
	for _, r := range all {
		if r.State == cxp.JoinPending {
			pending = append(pending, r)
		} else {
			decided = append(decided, r)
		}
	}
	return pending, decided, nil
}

// JoinApproval is a circle admin's decision to let a community in.
type JoinApproval struct {
	Ticks    string // the rate put in force (the declared one, or another)
	Min, Max int64  // the community's limits, base minor units
	// CircleURL is the circle's base URL as the community should call it.
	CircleURL string
}

// ApproveJoin adds the pending request's community with the given rate and
// limits, issues its CXP key and seals the credentials to the request's
// X25519 key, all in one transaction, audited as join.approve (and
// community.add). The key is never shown: only the community opens it.
func (h *House) ApproveJoin(ctx context.Context, actor string, id int64, a JoinApproval) (JoinRequest, error) {
	if err := h.CheckSecret(ctx); err != nil {
		return JoinRequest{}, err
	}
	key, err := newKey()
	if err != nil {
		return JoinRequest{}, err
	}
	var out JoinRequest
	err = h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		q := tx.Conn()
		r, err := lockPendingJoin(ctx, q, id)
		if err != nil {
			return err
		}
		n := NewCommunity{ID: r.CommunityID, Name: r.Name, URI: r.BaseURL, Mail: r.Mail, Ticks: a.Ticks, Min: a.Min, Max: a.Max}
		if err := n.check(); err != nil {
			return err
		}
		circle, err := circleOf(ctx, q)
		if err != nil {
			return err
		}
		com, err := h.addCommunity(ctx, tx, actor, n, key)
		if err != nil {
			return err
		}
		sealed, err := cxp.SealCredentials(cxp.JoinCredentials{CircleID: circle.ID, CircleURL: strings.TrimRight(a.CircleURL, "/"),
			CommunityID: com.ID, Key: key, Ticks: com.Ticks, Unit: circle.Unit,
			Min: FormatAmount(com.Min, circle.Divisions), Max: FormatAmount(com.Max, circle.Divisions)}, &r.BoxKey)
		if err != nil {
			return err
		}
		now := h.now()
		out, err = scanJoin(q.QueryRow(ctx, `UPDATE clearing_join_requests SET state = 'approved', sealed = $2,
			decided_by = $3, decided_at = $4 WHERE id = $1 RETURNING `+joinColumns, id, sealed, actor, now))
		if err != nil {
			return fmt.Errorf("clearing: approve join: %w", err)
		}
		return audit(ctx, q, now, actor, "join.approve", r.CommunityID,
			map[string]any{"request": id, "state": r.State, "declared_ticks": r.Ticks, "keyid": r.KeyID, "key_fingerprint": r.Fingerprint()},
			map[string]any{"request": id, "state": out.State, "ticks": com.Ticks, "min": com.Min, "max": com.Max})
	})
	return out, err
}

// RefuseJoin refuses a pending request with a reason its community is told.
// Nothing else changes.
func (h *House) RefuseJoin(ctx context.Context, actor string, id int64, reason string) (JoinRequest, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return JoinRequest{}, invalid("reason", "say why the request is refused: the community is told")
	}
	if len(reason) > 500 {
		return JoinRequest{}, invalid("reason", "the reason must be at most 500 characters")
	}
	var out JoinRequest
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		q := tx.Conn()
		r, err := lockPendingJoin(ctx, q, id)
		if err != nil {
			return err
		}
		now := h.now()
		out, err = scanJoin(q.QueryRow(ctx, `UPDATE clearing_join_requests SET state = 'refused', reason = $2,
			decided_by = $3, decided_at = $4 WHERE id = $1 RETURNING `+joinColumns, id, reason, actor, now))
		if err != nil {
			return fmt.Errorf("clearing: refuse join: %w", err)
		}
		return audit(ctx, q, now, actor, "join.refuse", r.CommunityID,
			map[string]any{"request": id, "state": r.State}, map[string]any{"request": id, "state": out.State, "reason": reason})
	})
	return out, err
}

func lockPendingJoin(ctx context.Context, q querier, id int64) (JoinRequest, error) {
	r, err := scanJoin(q.QueryRow(ctx, `SELECT `+joinColumns+` FROM clearing_join_requests WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return JoinRequest{}, notFound("no request to join numbered %d", id)
	}
	if err != nil {
		return JoinRequest{}, fmt.Errorf("clearing: join request: %w", err)
	}
	if r.State != cxp.JoinPending {
		return JoinRequest{}, conflict("state", "the request of %s was %s already", r.CommunityID, r.State)
	}
	return r, nil
}

// JoinKeyListed fetches the request's {base_url}/.well-known/sxp (the
// sxp-fed/1 discovery document every community server serves) and reports
// whether it lists the request's key under its keyid: that the server at
// that address made the request. An error says why it could not be told.
func (h *House) JoinKeyListed(ctx context.Context, r JoinRequest) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.BaseURL+"/.well-known/sxp", nil)
	if err != nil {
		return false, err
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return false, errors.New("its server did not answer")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("its server answered HTTP %d", resp.StatusCode)
	}
	var d struct {
		BaseURL string `json:"base_url"`
		Keys    []struct {
			KeyID     string `json:"keyid"`
			PublicKey string `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&d); err != nil {
		return false, errors.New("its server's discovery document is not JSON")
	}
	want := base64.StdEncoding.EncodeToString(r.PublicKey)
	for _, k := range d.Keys {
		if k.KeyID == r.KeyID && k.PublicKey == want {
			return true, nil
		}
	}
	return false, nil
}
