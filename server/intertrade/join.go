package intertrade

// Joining a circle from the community's admin page, with no key copied by
// hand (the protocol is clearing/cxp/join.go). Ask sends the circle a
// request signed by the server's federation key, carrying that key, the
// community's details and a fresh X25519 key whose private half stays here
// (sealed at rest like the server's other keys). Poll asks, signed the same
// way, for the circle's answer; once approved it opens the credentials the
// circle sealed to that key, keeps the CXP key (sealed at rest) and hands
// them to OnJoined, which starts intertrading while the server serves.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger/money"
)

// Join states on the community's side.
const (
	JoinPending = "pending" // asked, no answer yet
	JoinJoined  = "joined"  // approved: the credentials are here
	JoinRefused = "refused"
)

// JoinConfig is what the community says about itself when it asks.
type JoinConfig struct {
	CommunityID, Name, Currency string
	Divisions                   int
	PublicURL                   string // its base URL, also its CXP uri
}

// JoinOptions are the Joiner's collaborators: the server's key (the
// federation service's), its secret for sealing at rest, an HTTP client and
// a clock.
type JoinOptions struct {
	// Key is the server's current Ed25519 key id and public key.
	Key func(ctx context.Context) (keyID string, pub ed25519.PublicKey, err error)
	// Sign signs a request with the server's key keyID (RFC 9421, label
	// sxp): the key that asked signs the polls, also after a rotation.
	Sign func(ctx context.Context, keyID string, req *http.Request, body []byte) error
	// Seal and Open keep secrets at rest (the server's SXP_FEDERATION_SECRET).
	Seal func(ad string, plain []byte) ([]byte, bool)
	Open func(ad string, b []byte, sealed bool) ([]byte, error)
	// OnJoined is told the credentials once they are opened and stored.
	OnJoined func(ctx context.Context, c cxp.JoinCredentials) error
	HTTP     *http.Client
	Logger   *slog.Logger
	Now      func() time.Time
}

// Joiner asks a circle to let the community join and waits for its answer.
type Joiner struct {
	cfg  JoinConfig
	pool *pgxpool.Pool
	opts JoinOptions
}

// NewJoiner returns the community's Joiner.
func NewJoiner(pool *pgxpool.Pool, cfg JoinConfig, opts JoinOptions) *Joiner {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Joiner{cfg: cfg, pool: pool, opts: opts}
}

// Join is the community's latest request to join, as its admin sees it.
type Join struct {
	ID          int64
	CircleURL   string
	Request     int64 // the circle's number for it
	Ticks       string
	State       string
	Reason      string
	CircleID    string
	Fingerprint string // of the server's key that asked, as the circle's admins see it
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const joinColumns = `id, circle_url, request_id, ticks, state, reason, circle_id, public_key, created_at, updated_at`

func scanJoinRow(row pgx.Row) (Join, error) {
	var j Join
	var pub []byte
	err := row.Scan(&j.ID, &j.CircleURL, &j.Request, &j.Ticks, &j.State, &j.Reason, &j.CircleID, &pub, &j.CreatedAt, &j.UpdatedAt)
	j.Fingerprint = KeyFingerprint(pub)
	return j, err
}

// KeyFingerprint is how both sides show an Ed25519 key: hex of the first 8
// bytes of its SHA-256.
func KeyFingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Latest is the latest request to join; ok is false when there is none.
func (j *Joiner) Latest(ctx context.Context) (Join, bool, error) {
	out, err := scanJoinRow(j.pool.QueryRow(ctx, `SELECT `+joinColumns+` FROM circle_joins ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return Join{}, false, nil
	}
	if err != nil {
		return Join{}, false, fmt.Errorf("intertrade: join: %w", err)
	}
	return out, true, nil
}

// Ask sends the circle at circleURL a request to join, declaring rate
// (base units per unit of our currency), with an optional message to its
// admins. A request already waiting or approved is a conflict; the circle's
// refusal is ErrRefused with its reason.
func (j *Joiner) Ask(ctx context.Context, circleURL, rate, message string) (Join, error) {
	circleURL = strings.TrimRight(strings.TrimSpace(circleURL), "/")
	if err := checkCircleURL(circleURL); err != nil {
		return Join{}, invalid("circle_url", "must be an http(s) address such as https://circle.example.org")
	}
	r, err := money.ParseRate(strings.TrimSpace(rate))
	if err != nil {
		return Join{}, invalid("rate", "must be a number above 0: how many of the circle's base units one %s is worth, e.g. 1 or 0.5", j.cfg.Currency)
	}
	ticks := r.String()
	if message = strings.TrimSpace(message); len(message) > 1000 {
		return Join{}, invalid("message", "must be at most 1000 characters")
	}
	keyID, pub, err := j.opts.Key(ctx)
	if err != nil {
		return Join{}, fmt.Errorf("intertrade: join: %w", err)
	}
	boxPub, boxPriv, err := cxp.NewBoxKey()
	if err != nil {
		return Join{}, fmt.Errorf("intertrade: join: %w", err)
	}
	now := j.opts.Now()
	sealedPriv, sealed := j.opts.Seal(boxAD(boxPub), boxPriv[:])
	// The private half is kept before the request leaves: an approval is
	// never sealed to a key this server has lost.
	var id int64
	err = j.pool.QueryRow(ctx, `INSERT INTO circle_joins (circle_url, ticks, keyid, public_key, box_public, box_private, box_sealed, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`, circleURL, ticks, keyID, []byte(pub), boxPub[:], sealedPriv, sealed, now).Scan(&id)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.ConstraintName == "circle_joins_open_key" {
		return Join{}, &Error{Code: ErrAlreadyAsked, Message: "this community has asked a circle already, or is in one: see its answer below"}
	}
	if err != nil {
		return Join{}, fmt.Errorf("intertrade: join: %w", err)
	}
	req := cxp.JoinRequest{ID: j.cfg.CommunityID, Name: j.cfg.Name, Currency: j.cfg.Currency, Divisions: j.cfg.Divisions,
		BaseURL: j.cfg.PublicURL, Rate: ticks, Message: message, KeyID: keyID,
		PublicKey: base64.StdEncoding.EncodeToString(pub), BoxKey: base64.StdEncoding.EncodeToString(boxPub[:])}
	status, err := j.send(ctx, keyID, http.MethodPost, circleURL+"/join/v1/requests", req)
	if err != nil {
		if _, derr := j.pool.Exec(ctx, `DELETE FROM circle_joins WHERE id = $1`, id); derr != nil {
			j.opts.Logger.Warn("intertrade: forget a request to join that was not sent", "err", derr)
		}
		return Join{}, err
	}
	if _, err := j.pool.Exec(ctx, `UPDATE circle_joins SET request_id = $2, updated_at = $3 WHERE id = $1`, id, status.Request, j.opts.Now()); err != nil {
		return Join{}, fmt.Errorf("intertrade: join: %w", err)
	}
	j.opts.Logger.Info("asked to join a circle", "circle", circleURL, "request", status.Request)
	out, _, err := j.Latest(ctx)
	return out, err
}

// Poll asks the circle for the answer to the pending request, if any, and
// acts on it: approved → the credentials are opened, stored and handed to
// OnJoined; refused → the reason is stored. It returns whether it joined.
func (j *Joiner) Poll(ctx context.Context) (bool, error) {
	var (
		id, request        int64
		circleURL, keyID   string
		boxPub, boxPrivRaw []byte
		boxSealed          bool
	)
	err := j.pool.QueryRow(ctx, `SELECT id, request_id, circle_url, keyid, box_public, box_private, box_sealed FROM circle_joins
		WHERE state = 'pending' AND request_id > 0`).Scan(&id, &request, &circleURL, &keyID, &boxPub, &boxPrivRaw, &boxSealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("intertrade: join: %w", err)
	}
	status, err := j.send(ctx, keyID, http.MethodGet, circleURL+"/join/v1/requests/"+strconv.FormatInt(request, 10), nil)
	if errors.Is(err, errKeyGone) {
		// Rotated out while it waited: the circle cannot tell us its answer
		// any more. Given up here, so that the admin can ask again.
		_, err = j.pool.Exec(ctx, `UPDATE circle_joins SET state = 'refused', reason = $2, updated_at = $3 WHERE id = $1 AND state = 'pending'`,
			id, "this server's key changed since it asked, so the circle's answer cannot be fetched; ask again (the circle's admins may have to refuse the old request first)", j.opts.Now())
		if err != nil {
			return false, fmt.Errorf("intertrade: join: %w", err)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := j.opts.Now()
	switch status.State {
	case cxp.JoinPending:
		return false, nil
	case cxp.JoinRefused:
		_, err := j.pool.Exec(ctx, `UPDATE circle_joins SET state = 'refused', reason = $2, updated_at = $3 WHERE id = $1 AND state = 'pending'`,
			id, status.Reason, now)
		if err != nil {
			return false, fmt.Errorf("intertrade: join: %w", err)
		}
		j.opts.Logger.Info("the circle refused the request to join", "circle", circleURL, "reason", status.Reason)
		return false, nil
	case cxp.JoinApproved:
	default:
		return false, fmt.Errorf("intertrade: join: the circle answered the state %q", status.State)
	}
	var pub [32]byte
	copy(pub[:], boxPub)
	privBytes, err := j.opts.Open(boxAD(&pub), boxPrivRaw, boxSealed)
	if err != nil || len(privBytes) != 32 {
		return false, fmt.Errorf("intertrade: join: the delivery key does not open: %v", err)
	}
	var priv [32]byte
	copy(priv[:], privBytes)
	sealedCreds, err := base64.StdEncoding.DecodeString(status.Credentials)
	if err != nil {
		return false, errors.New("intertrade: join: the circle's credentials are not base64")
	}
	creds, err := cxp.OpenCredentials(sealedCreds, &pub, &priv)
	if err != nil {
		return false, fmt.Errorf("intertrade: join: %w", err)
	}
	if creds.CommunityID != j.cfg.CommunityID {
		return false, fmt.Errorf("intertrade: join: the circle sent credentials for %q, we are %q", creds.CommunityID, j.cfg.CommunityID)
	}
	if _, err := money.ParseRate(creds.Ticks); err != nil {
		return false, fmt.Errorf("intertrade: join: the circle's rate %q: %w", creds.Ticks, err)
	}
	key, keySealed := j.opts.Seal(keyAD(creds.CircleID), []byte(creds.Key))
	tag, err := j.pool.Exec(ctx, `UPDATE circle_joins SET state = 'joined', circle_id = $2, circle_key = $3, key_sealed = $4,
		ticks = $5, updated_at = $6 WHERE id = $1 AND state = 'pending'`, id, creds.CircleID, key, keySealed, creds.Ticks, now)
	if err != nil {
		return false, fmt.Errorf("intertrade: join: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil // another poll got there first
	}
	creds.CircleURL = circleURL // the address we reached it at, which our signatures cover
	j.opts.Logger.Info("joined the circle", "circle", creds.CircleID, "url", circleURL, "ticks", creds.Ticks)
	if j.opts.OnJoined != nil {
		if err := j.opts.OnJoined(ctx, creds); err != nil {
			return true, fmt.Errorf("intertrade: start intertrading: %w", err)
		}
	}
	return true, nil
}

// Joined returns the credentials a circle sent, once joined; ok is false
// before (or when the community never asked).
func (j *Joiner) Joined(ctx context.Context) (cxp.JoinCredentials, bool, error) {
	var (
		c      cxp.JoinCredentials
		key    []byte
		sealed bool
	)
	err := j.pool.QueryRow(ctx, `SELECT circle_url, circle_id, circle_key, key_sealed, ticks FROM circle_joins WHERE state = 'joined'`).
		Scan(&c.CircleURL, &c.CircleID, &key, &sealed, &c.Ticks)
	if errors.Is(err, pgx.ErrNoRows) {
		return cxp.JoinCredentials{}, false, nil
	}
	if err != nil {
		return cxp.JoinCredentials{}, false, fmt.Errorf("intertrade: joined: %w", err)
	}
	plain, err := j.opts.Open(keyAD(c.CircleID), key, sealed)
	if err != nil {
		return cxp.JoinCredentials{}, false, fmt.Errorf("intertrade: joined: %w", err)
	}
	c.Key, c.CommunityID = string(plain), j.cfg.CommunityID
	return c, true, nil
}

// errKeyGone: the server no longer has the key a request to join was made with.
var errKeyGone = &Error{Code: ErrRefused, Message: "this server no longer has the key it asked with"}

func boxAD(pub *[32]byte) string {
	return "circle-join-box:" + base64.StdEncoding.EncodeToString(pub[:])
}
func keyAD(circleID string) string { return "circle-key:" + circleID }

// send signs and sends a join request or poll and reads the circle's
// answer: a JoinStatus, or its refusal as ErrRefused with its message.
func (j *Joiner) send(ctx context.Context, keyID, method, url string, v any) (cxp.JoinStatus, error) {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return cxp.JoinStatus{}, fmt.Errorf("intertrade: join: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return cxp.JoinStatus{}, invalid("circle_url", "the circle's address %q is not usable: %v", url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body, req.ContentLength = nil, 0
	}
	if err := j.opts.Sign(ctx, keyID, req, body); err != nil {
		j.opts.Logger.Warn("intertrade: sign a request to join", "keyid", keyID, "err", err)
		return cxp.JoinStatus{}, errKeyGone
	}
	resp, err := j.opts.HTTP.Do(req)
	if err != nil {
		return cxp.JoinStatus{}, &Error{Code: ErrRefused, Field: "circle_url", Message: "the circle at " + strings.TrimSuffix(url, req.URL.Path) + " did not answer; check its address"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return cxp.JoinStatus{}, fmt.Errorf("intertrade: join: read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		msg := "the circle refused the request (HTTP " + strconv.Itoa(resp.StatusCode) + ")"
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			msg = "the circle refused the request: " + e.Error.Message
		}
		return cxp.JoinStatus{}, &Error{Code: ErrRefused, Message: msg}
	}
	var s cxp.JoinStatus
	if err := json.Unmarshal(raw, &s); err != nil || s.Request <= 0 {
		return cxp.JoinStatus{}, &Error{Code: ErrRefused, Message: "the circle's answer is not a request's status; is this the address of a clearing house?"}
	}
	return s, nil
}

func checkCircleURL(u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return errors.New("not http(s)")
	}
	rest := u[strings.Index(u, "://")+3:]
	if rest == "" || strings.ContainsAny(rest, "?# ") {
		return errors.New("bad address")
	}
	return nil
}
