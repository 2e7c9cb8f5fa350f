package server

import (
	"fmt"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger/money"
	"github.com/sxp-network/sxp/server/mail"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// Config is every setting of a community server. cmd/sxp fills it from
// flags and environment variables (DATABASE_URL, SXP_COMMUNITY_ID, …);
// Validate checks it and names the bad setting.
type Config struct {
	DatabaseURL       string // DATABASE_URL, --database
	Listen            string // --listen, e.g. 127.0.0.1:8081
	CommunityID       string // SXP_COMMUNITY_ID, --community-id
	CommunityName     string // SXP_COMMUNITY_NAME, --community-name
	Currency          string // SXP_CURRENCY, --currency, e.g. LEAF
	CurrencyDivisions int    // SXP_CURRENCY_DIVISIONS, --currency-divisions (default 2)
	PublicURL         string // SXP_PUBLIC_URL, --public-url: base URL, also the CXP uri
	DefaultMin        string // SXP_DEFAULT_MIN, --default-min: decimal, <= 0
	DefaultMax        string // SXP_DEFAULT_MAX, --default-max: decimal, >= 0
	Registration      string // SXP_REGISTRATION, --registration: open | approval
	// NewcomerMin and NewcomerMax (SXP_NEWCOMER_MIN/MAX, --newcomer-min/max)
	// are the limits of a member who registers, until an admin approves
	// them (then the default limits apply); both empty: new members get the
	// default limits at once. Admins can change them on the web.
	NewcomerMin string
	NewcomerMax string

	// Intertrading; all empty means the community runs alone.
	CircleURL string // SXP_CIRCLE_URL, --circle-url
	CircleID  string // SXP_CIRCLE_ID, --circle-id
	CircleKey string // SXP_CIRCLE_KEY, --circle-key
	Rate      string // SXP_RATE, --rate: base units per unit of the currency (decimal)
	// HandshakeInterval is how often intertrading handshakes, settles and
	// checks integrity (SXP_HANDSHAKE_INTERVAL); 5 minutes when zero.
	HandshakeInterval time.Duration
	// CircleTimeout bounds one call to the circle (SXP_CIRCLE_TIMEOUT); 30 s
	// when zero. An unanswered payment is retried twice this long after it.
	CircleTimeout time.Duration

	// HashConcurrency bounds the password hashes (argon2id, 19 MiB each)
	// computed at once (SXP_HASH_CONCURRENCY, --hash-concurrency); GOMAXPROCS
	// when zero. Log-ins and registrations beyond it wait up to 2 s, then get 429.
	HashConcurrency int

	// MetricsToken, when set, is the bearer token GET /metrics requires
	// (SXP_METRICS_TOKEN, --metrics-token).
	MetricsToken string

	// Federation: FederationTimeout bounds every request to a peer
	// (SXP_FEDERATION_TIMEOUT, 10 s when zero); FederationRetry is the first
	// retry delay of a failed delivery (SXP_FEDERATION_RETRY, 2 s when zero);
	// FederationPull is how often peers' events are pulled (SXP_FEDERATION_PULL,
	// 5 min when zero). FederationTrace, when set, appends every request sent
	// to a peer (headers and body) to that file: for tests that check what
	// leaves the server.
	// FederationSecret, when set (SXP_FEDERATION_SECRET), seals the server's
	// federation private keys and its members' contract keys in the database.
	FederationSecret  string
	FederationTimeout time.Duration
	FederationRetry   time.Duration
	FederationPull    time.Duration
	FederationTrace   string

	// The arbiter (T) of signed contracts: ArbiterURL (SXP_ARBITER_URL,
	// --arbiter-url) is its base URL, the circle's clearing house
	// (SXP_CIRCLE_URL) when empty; ArbiterKey (SXP_ARBITER_KEY,
	// --arbiter-key), its base64 Ed25519 public key, pins it; when empty it
	// is fetched from {url}/arbiter/v1/key on first need and kept. Proposals
	// name this arbiter, and proposals naming another are refused.
	ArbiterURL string
	ArbiterKey string
	// E-mail (optional; README "E-mail"): SMTPURL is SXP_SMTP_URL (--smtp-url),
	// smtp://user:password@host:587 (STARTTLS when offered) or
	// smtps://user:password@host:465 (TLS); SMTPFrom is the sender
	// (SXP_SMTP_FROM, --smtp-from). Both empty: e-mail is off.
	// MailInterval is how often the outbox is sent and notices are looked
	// for (SXP_MAIL_INTERVAL, 10 s when zero).
	SMTPURL      string
	SMTPFrom     string
	MailInterval time.Duration
	// DealsRoundEvery, when positive, runs a deals round this often
	// (SXP_DEALS_ROUND_EVERY, --deals-round-every; off when zero), as the
	// background job deal_rounds.
	DealsRoundEvery time.Duration

	// SearchLanguage is the PostgreSQL text search configuration of
	// announcements (SXP_SEARCH_LANGUAGE, --search-language), "english" when empty.
	SearchLanguage string
}

// Registration modes.
const (
	RegistrationOpen     = "open"
	RegistrationApproval = "approval"
)

var (
	communityIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	currencyPattern    = regexp.MustCompile(`^[A-Z0-9]{2,12}$`)
)

// InCircle reports whether intertrading settings are given.
func (c Config) InCircle() bool {
	return c.CircleURL != "" || c.CircleID != "" || c.CircleKey != "" || c.Rate != ""
}

// Money is the community currency.
func (c Config) Money() payments.Currency {
	return payments.Currency{Code: c.Currency, Divisions: c.CurrencyDivisions}
}

// TTP is the arbiter of signed contracts this server names and trusts: its
// URL (SXP_ARBITER_URL, else the circle's) and its key when pinned; an
// empty URL when the server has none.
func (c Config) TTP() contract.TTP {
	u := c.ArbiterURL
	if u == "" {
		u = c.CircleURL
	}
	return contract.TTP{URL: strings.TrimRight(u, "/"), Key: c.ArbiterKey}
}

// Limits returns the members' default balance limits in minor units.
func (c Config) Limits() (min, max int64, err error) {
	cur := c.Money()
	if min, err = cur.Parse(c.DefaultMin); err != nil {
		return 0, 0, fmt.Errorf("setting SXP_DEFAULT_MIN (--default-min): %q %v", c.DefaultMin, err)
	}
	if max, err = cur.Parse(c.DefaultMax); err != nil {
		return 0, 0, fmt.Errorf("setting SXP_DEFAULT_MAX (--default-max): %q %v", c.DefaultMax, err)
	}
	if min > 0 {
		return 0, 0, fmt.Errorf("setting SXP_DEFAULT_MIN (--default-min): %q must be zero or negative", c.DefaultMin)
	}
	if max < 0 {
		return 0, 0, fmt.Errorf("setting SXP_DEFAULT_MAX (--default-max): %q must be zero or positive", c.DefaultMax)
	}
	return min, max, nil
}

// Newcomer returns the newcomers' limits in minor units, or nil when none
// are set.
func (c Config) Newcomer() (*members.Limits, error) {
	if c.NewcomerMin == "" && c.NewcomerMax == "" {
		return nil, nil
	}
	if c.NewcomerMin == "" || c.NewcomerMax == "" {
		return nil, fmt.Errorf("setting SXP_NEWCOMER_MIN and SXP_NEWCOMER_MAX (--newcomer-min, --newcomer-max): give both or neither")
	}
	cur := c.Money()
	min, err := cur.Parse(c.NewcomerMin)
	if err == nil && min > 0 {
		err = fmt.Errorf("must be zero or negative")
	}
	if err != nil {
		return nil, fmt.Errorf("setting SXP_NEWCOMER_MIN (--newcomer-min): %q %v", c.NewcomerMin, err)
	}
	max, err := cur.Parse(c.NewcomerMax)
	if err == nil && max < 0 {
		err = fmt.Errorf("must be zero or positive")
	}
	if err != nil {
		return nil, fmt.Errorf("setting SXP_NEWCOMER_MAX (--newcomer-max): %q %v", c.NewcomerMax, err)
	}
	return &members.Limits{Min: min, Max: max}, nil
}

// Validate checks every setting and returns an error naming the first bad
// one by its environment variable and flag.
func (c Config) Validate() error {
	bad := func(env, flag, format string, a ...any) error {
		return fmt.Errorf("setting %s (--%s): %s", env, flag, fmt.Sprintf(format, a...))
	}
	if c.DatabaseURL == "" {
		return bad("DATABASE_URL", "database", "missing: a PostgreSQL URL such as postgres://user@127.0.0.1:5432/leaf")
	}
	if c.Listen == "" {
		return fmt.Errorf("setting --listen: missing: an address such as 127.0.0.1:8081")
	}
	if !communityIDPattern.MatchString(c.CommunityID) {
		return bad("SXP_COMMUNITY_ID", "community-id", "%q must be 1-63 lowercase letters, digits, '-' or '_'", c.CommunityID)
	}
	if strings.TrimSpace(c.CommunityName) == "" {
		return bad("SXP_COMMUNITY_NAME", "community-name", "missing: the community's display name")
	}
	if !currencyPattern.MatchString(c.Currency) {
		return bad("SXP_CURRENCY", "currency", "%q must be 2-12 uppercase letters or digits, e.g. LEAF", c.Currency)
	}
	if c.CurrencyDivisions < 0 || c.CurrencyDivisions > 8 {
		return bad("SXP_CURRENCY_DIVISIONS", "currency-divisions", "%d must be between 0 and 8", c.CurrencyDivisions)
	}
	if err := checkURL(c.PublicURL); err != nil {
		return bad("SXP_PUBLIC_URL", "public-url", "%q %v", c.PublicURL, err)
	}
	if _, _, err := c.Limits(); err != nil {
		return err
	}
	if _, err := c.Newcomer(); err != nil {
		return err
	}
	switch c.Registration {
	case RegistrationOpen, RegistrationApproval:
	default:
		return bad("SXP_REGISTRATION", "registration", "%q must be open or approval", c.Registration)
	}
	if c.HashConcurrency < 0 || c.HashConcurrency > 1024 {
		return bad("SXP_HASH_CONCURRENCY", "hash-concurrency", "%d must be between 0 (the number of CPUs) and 1024", c.HashConcurrency)
	}
	if c.ArbiterURL != "" {
		if err := checkURL(c.ArbiterURL); err != nil {
			return bad("SXP_ARBITER_URL", "arbiter-url", "%q %v", c.ArbiterURL, err)
		}
	}
	if c.ArbiterKey != "" {
		if _, err := contract.DecodeKey(c.ArbiterKey); err != nil {
			return bad("SXP_ARBITER_KEY", "arbiter-key", "%q is %v", c.ArbiterKey, err)
		}
		if c.ArbiterURL == "" && c.CircleURL == "" {
			return bad("SXP_ARBITER_KEY", "arbiter-key", "the arbiter's key needs its URL: set SXP_ARBITER_URL (--arbiter-url) or SXP_CIRCLE_URL")
		}
	}
	if err := c.validMail(); err != nil {
		return err
	}
	if c.DealsRoundEvery < 0 {
		return bad("SXP_DEALS_ROUND_EVERY", "deals-round-every", "%s must not be negative (0: no scheduled rounds)", c.DealsRoundEvery)
	}
	if !c.InCircle() {
		return nil
	}
	if err := checkURL(c.CircleURL); err != nil {
		return bad("SXP_CIRCLE_URL", "circle-url", "%q %v (all four circle settings go together)", c.CircleURL, err)
	}
	if strings.TrimSpace(c.CircleID) == "" {
		return bad("SXP_CIRCLE_ID", "circle-id", "missing: the circle's id (all four circle settings go together)")
	}
	if c.CircleKey == "" {
		return bad("SXP_CIRCLE_KEY", "circle-key", "missing: the key printed by 'sxp admin community add' (all four circle settings go together)")
	}
	if _, err := money.ParseRate(c.Rate); err != nil {
		return bad("SXP_RATE", "rate", "%q must be a positive decimal number of base units per unit of %s (%v)", c.Rate, c.Currency, err)
	}
	return nil
}

// validMail checks the e-mail settings: both or neither.
func (c Config) validMail() error {
	if c.SMTPURL == "" {
		if c.SMTPFrom != "" {
			return fmt.Errorf("setting SXP_SMTP_FROM (--smtp-from): given without SXP_SMTP_URL (--smtp-url); set both to send e-mail, or neither")
		}
		return nil
	}
	if _, err := mail.ParseSMTPURL(c.SMTPURL); err != nil {
		return fmt.Errorf("setting SXP_SMTP_URL (--smtp-url): %v", err)
	}
	if a, err := netmail.ParseAddress(c.SMTPFrom); err != nil || a.Address == "" {
		return fmt.Errorf("setting SXP_SMTP_FROM (--smtp-from): %q must be the sender, such as \"Leaf Valley <leaf@example.org>\"", c.SMTPFrom)
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return fmt.Errorf("missing: an absolute http(s) URL")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL")
	}
	return nil
}
