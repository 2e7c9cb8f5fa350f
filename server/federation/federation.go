// Package federation is the community server's side of sxp-fed/1: its own
// Ed25519 keys and /.well-known/sxp, peering with other community servers,
// signed server-to-server requests, the outbox of announcement events with
// its delivery worker, and the inbox that applies a peer's events.
//
// The HTTP layer (server/httpapi) verifies signatures at the edge with
// Authenticate and hands the handlers a verified Peer; nothing here sees gin.
package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger/seal"
	"github.com/sxp-network/sxp/server/payments"
)

// Protocol is the protocol name of /.well-known/sxp.
const Protocol = "sxp-fed/1"

// Label is the RFC 9421 signature label of federation requests.
const Label = "sxp"

// DefaultKeyOverlap is how long a rotated key stays listed and verifying: a
// week, so that a peer that was down for a few days still picks up the change.
const DefaultKeyOverlap = 7 * 24 * time.Hour

// Limits of what a server sends and reads.
const (
	MaxBatchEvents   = 100
	MaxBatchBytes    = 1 << 20
	MaxPullLimit     = 500
	maxDiscoveryBody = 64 << 10
	maxResponseBody  = 8 << 20
)

// Config configures a Service.
type Config struct {
	BaseURL   string // the server's own base URL (SXP_PUBLIC_URL)
	ID        string // the community's id
	Name      string
	Currency  payments.Currency
	CircleID  string // "" when the community runs alone
	CircleURL string
	// Language is the text search configuration federated announcements are indexed with.
	Language string
	// Secret, when set (SXP_FEDERATION_SECRET), seals the server's private
	// keys in the database with AES-256-GCM; keys made without it stay readable.
	Secret string

	Now    func() time.Time
	Logger *slog.Logger
	// Registerer receives the per-peer metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Timeout bounds every outbound request (10 s when zero).
	Timeout time.Duration
	// Delivery tuning; zero values take the defaults of DefaultDelivery.
	Delivery Delivery
	// Transport, when set, carries outbound requests (tests record them).
	Transport http.RoundTripper
}

// Delivery tunes the outbox worker.
type Delivery struct {
	RetryBase    time.Duration // first retry after about this long (2 s)
	RetryMax     time.Duration // backoff cap (5 min)
	PauseAfter   int           // consecutive failures before a peer is paused (10)
	PauseFor     time.Duration // how long a paused peer waits (30 min)
	Poll         time.Duration // how often a peer's backlog is checked without a notification (2 s)
	PullInterval time.Duration // how often peers' events are pulled (5 min)
	KeyRefresh   time.Duration // how often peers' keys are refetched (1 h)
	Sweep        time.Duration // how often expiries are published (30 s)
}

// DefaultDelivery is the delivery tuning used for zero fields.
var DefaultDelivery = Delivery{RetryBase: 2 * time.Second, RetryMax: 5 * time.Minute, PauseAfter: 10,
	PauseFor: 30 * time.Minute, Poll: 2 * time.Second, PullInterval: 5 * time.Minute, KeyRefresh: time.Hour,
	Sweep: 30 * time.Second}

func (d Delivery) withDefaults() Delivery {
	def := DefaultDelivery
	d.RetryBase = orDefault(d.RetryBase, def.RetryBase)
	d.RetryMax = orDefault(d.RetryMax, def.RetryMax)
	d.PauseAfter = orDefault(d.PauseAfter, def.PauseAfter)
	d.PauseFor = orDefault(d.PauseFor, def.PauseFor)
	d.Poll = orDefault(d.Poll, def.Poll)
	d.PullInterval = orDefault(d.PullInterval, def.PullInterval)
	d.KeyRefresh = orDefault(d.KeyRefresh, def.KeyRefresh)
	d.Sweep = orDefault(d.Sweep, def.Sweep)
	return d
}

// orDefault is v, or def when v is not positive (unset).
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Service is the federation of one community server.
type Service struct {
	pool    *pgxpool.Pool
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	client  *http.Client
	metrics *metrics
	wake    *broadcaster
	unknown unknownKeys
	box     *seal.Box // nil without Config.Secret
	// currencies caches other servers' currencies (CurrencyOf).
	currencies currencyCache
	circle     circleState // the circle joined while serving (circle.go)
}

// New returns the service. It makes no request and writes nothing: call
// EnsureKey before serving.
func New(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	base, err := NormalizeURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("federation: base URL: %w", err)
	}
	cfg.BaseURL = base
	cfg.Delivery = cfg.Delivery.withDefaults()
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Language == "" {
		cfg.Language = "simple"
	}
	s := &Service{pool: pool, cfg: cfg, now: cfg.Now, log: cfg.Logger, wake: newBroadcaster()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	s.client = &http.Client{Timeout: cfg.Timeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s.metrics = newMetrics(cfg.Registerer)
	if cfg.Secret != "" {
		if s.box, err = seal.New(cfg.Secret); err != nil {
			return nil, fmt.Errorf("federation: secret: %w", err)
		}
	}
	return s, nil
}

// seal encrypts a private key under the secret, bound to its keyid.
func (s *Service) seal(keyID string, priv []byte) []byte {
	return s.box.Seal(keyID, priv)
}

// open decrypts a sealed private key.
func (s *Service) open(keyID string, sealed []byte) ([]byte, error) {
	if s.box == nil {
		return nil, errors.New("federation: the server's key is sealed: set SXP_FEDERATION_SECRET (--federation-secret)")
	}
	priv, err := s.box.Open(keyID, sealed)
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("federation: cannot open the server's key (wrong SXP_FEDERATION_SECRET?)")
	}
	return priv, nil
}

// CircleID is the intertrading circle of this server ("" when alone).
func (s *Service) CircleID() string {
	id, _ := s.circleOf()
	return id
}

// BaseURL is the server's own base URL as peers know it.
func (s *Service) BaseURL() string { return s.cfg.BaseURL }

// NormalizeURL checks that u is an absolute http(s) URL without query or
// fragment and returns it with a lowercase scheme and host and no trailing slash.
func NormalizeURL(u string) (string, error) {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", u)
	}
	if p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return "", fmt.Errorf("%q must not have a query, fragment or user", u)
	}
	return strings.ToLower(p.Scheme) + "://" + strings.ToLower(p.Host) + strings.TrimRight(p.EscapedPath(), "/"), nil
}

// ---- keys

// Key is one of the server's public keys.
type Key struct {
	KeyID     string
	PublicKey ed25519.PublicKey
	CreatedAt time.Time
	RetiresAt *time.Time // nil for the current key
}

// EnsureKey makes the server's first key when it has none, and drops keys
// whose overlap has ended. The private key is never logged nor sent.
func (s *Service) EnsureKey(ctx context.Context) error {
	now := s.now()
	if _, err := s.pool.Exec(ctx, `DELETE FROM federation_keys WHERE retires_at IS NOT NULL AND retires_at <= $1`, now); err != nil {
		return fmt.Errorf("federation: drop retired keys: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("federation: ensure key: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE federation_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("federation: ensure key: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM federation_keys WHERE retires_at IS NULL`).Scan(&n); err != nil {
		return fmt.Errorf("federation: ensure key: %w", err)
	}
	if n > 0 {
		return tx.Commit(ctx)
	}
	if _, err := s.insertKey(ctx, tx, now); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("federation: ensure key: %w", err)
	}
	return nil
}

func (s *Service) insertKey(ctx context.Context, tx pgx.Tx, now time.Time) (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("federation: generate key: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	k := Key{KeyID: s.cfg.BaseURL + "#k" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b), PublicKey: pub, CreatedAt: now}
	stored, sealed := []byte(priv), false
	if s.box != nil {
		stored, sealed = s.seal(k.KeyID, priv), true
	}
	if _, err := tx.Exec(ctx, `INSERT INTO federation_keys (keyid, public_key, private_key, sealed, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.KeyID, []byte(pub), stored, sealed, now); err != nil {
		return Key{}, fmt.Errorf("federation: store key: %w", err)
	}
	return k, nil
}

// Rotate adds a new current key; the keys current until now stay listed and
// verifying for overlap (DefaultKeyOverlap when zero), then are dropped.
func (s *Service) Rotate(ctx context.Context, overlap time.Duration) (Key, error) {
	if overlap <= 0 {
		overlap = DefaultKeyOverlap
	}
	now := s.now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Key{}, fmt.Errorf("federation: rotate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE federation_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return Key{}, fmt.Errorf("federation: rotate: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE federation_keys SET retires_at = $1 WHERE retires_at IS NULL`, now.Add(overlap)); err != nil {
		return Key{}, fmt.Errorf("federation: rotate: %w", err)
	}
	k, err := s.insertKey(ctx, tx, now)
	if err != nil {
		return Key{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Key{}, fmt.Errorf("federation: rotate: %w", err)
	}
	return k, nil
}

// Keys lists the server's keys that are listed now: the current one first.
func (s *Service) Keys(ctx context.Context) ([]Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT keyid, public_key, created_at, retires_at FROM federation_keys
		WHERE retires_at IS NULL OR retires_at > $1 ORDER BY retires_at DESC NULLS FIRST, created_at DESC`, s.now())
	if err != nil {
		return nil, fmt.Errorf("federation: keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		var k Key
		var pub []byte
		err := r.Scan(&k.KeyID, &pub, &k.CreatedAt, &k.RetiresAt)
		k.PublicKey = pub
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("federation: keys: %w", err)
	}
	return keys, nil
}

// signer returns the signer with the current key.
func (s *Service) signer(ctx context.Context) (httpsig.Signer, error) {
	var keyID string
	var priv []byte
	var sealed bool
	err := s.pool.QueryRow(ctx, `SELECT keyid, private_key, sealed FROM federation_keys WHERE retires_at IS NULL
		ORDER BY created_at DESC LIMIT 1`).Scan(&keyID, &priv, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return httpsig.Signer{}, errors.New("federation: the server has no key yet (start the server once)")
	}
	if err != nil {
		return httpsig.Signer{}, fmt.Errorf("federation: signing key: %w", err)
	}
	if sealed {
		if priv, err = s.open(keyID, priv); err != nil {
			return httpsig.Signer{}, err
		}
	}
	return httpsig.Signer{KeyID: keyID, Alg: httpsig.AlgEd25519, Ed25519Key: ed25519.PrivateKey(priv), Label: Label, Now: s.now}, nil
}

// ---- discovery

// Discovery is the body of GET /.well-known/sxp.
type Discovery struct {
	Protocol  string      `json:"protocol"`
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	BaseURL   string      `json:"base_url"`
	Currency  string      `json:"currency"`
	Divisions int         `json:"divisions"`
	CXPURI    string      `json:"cxp_uri"`
	Circle    *Circle     `json:"circle"`
	Keys      []PublicKey `json:"keys"`
}

// Circle is the intertrading circle a server belongs to.
type Circle struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// PublicKey is a key as /.well-known/sxp lists it.
type PublicKey struct {
	KeyID     string `json:"keyid"`
	Alg       string `json:"alg"`
	PublicKey string `json:"public_key"` // base64 of the 32 raw bytes
}

// Discovery is this server's /.well-known/sxp.
func (s *Service) Discovery(ctx context.Context) (Discovery, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return Discovery{}, err
	}
	d := Discovery{Protocol: Protocol, ID: s.cfg.ID, Name: s.cfg.Name, BaseURL: s.cfg.BaseURL,
		Currency: s.cfg.Currency.Code, Divisions: s.cfg.Currency.Divisions, CXPURI: s.cfg.BaseURL,
		Keys: []PublicKey{}}
	if id, url := s.circleOf(); id != "" {
		d.Circle = &Circle{ID: id, URL: url}
	}
	for _, k := range keys {
		d.Keys = append(d.Keys, PublicKey{KeyID: k.KeyID, Alg: httpsig.AlgEd25519, PublicKey: base64.StdEncoding.EncodeToString(k.PublicKey)})
	}
	return d, nil
}

// fetchDiscovery reads base/.well-known/sxp and checks it: the protocol, the
// base_url it claims, and every key (an ed25519 key whose keyid is base#…).
func (s *Service) fetchDiscovery(ctx context.Context, base string) (Discovery, map[string]ed25519.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/sxp", nil)
	if err != nil {
		return Discovery{}, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return Discovery{}, nil, fmt.Errorf("fetching %s/.well-known/sxp: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody+1))
	if err != nil {
		return Discovery{}, nil, fmt.Errorf("reading %s/.well-known/sxp: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp answered %s", base, resp.Status)
	}
	if len(body) > maxDiscoveryBody {
		return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp is larger than %d bytes", base, maxDiscoveryBody)
	}
	var d Discovery
	if err := decodeJSON(body, &d); err != nil {
		return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp: %w", base, err)
	}
	if d.Protocol != Protocol {
		return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp speaks %q, not %s", base, d.Protocol, Protocol)
	}
	claimed, err := NormalizeURL(d.BaseURL)
	if err != nil || claimed != base {
		return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp names base_url %q, not %s", base, d.BaseURL, base)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range d.Keys {
		raw, err := base64.StdEncoding.DecodeString(k.PublicKey)
		named := strings.HasPrefix(k.KeyID, base+"#") || strings.HasPrefix(k.KeyID, strings.TrimSpace(d.BaseURL)+"#")
		if k.Alg != httpsig.AlgEd25519 || err != nil || len(raw) != ed25519.PublicKeySize || !named || len(k.KeyID) > cxp.MaxStringLen {
			return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp lists a bad key %q", base, k.KeyID)
		}
		keys[k.KeyID] = raw
	}
	if len(keys) == 0 {
		return Discovery{}, nil, fmt.Errorf("%s/.well-known/sxp lists no key", base)
	}
	d.BaseURL = claimed
	return d, keys, nil
}
