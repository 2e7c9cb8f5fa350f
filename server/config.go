package server

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/sxp-network/sxp/ledger/money"
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
	// federation private keys in the database.
	FederationSecret  string
	FederationTimeout time.Duration
	FederationRetry   time.Duration
	FederationPull    time.Duration
	FederationTrace   string

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
	switch c.Registration {
	case RegistrationOpen, RegistrationApproval:
	default:
		return bad("SXP_REGISTRATION", "registration", "%q must be open or approval", c.Registration)
	}
	if c.HashConcurrency < 0 || c.HashConcurrency > 1024 {
		return bad("SXP_HASH_CONCURRENCY", "hash-concurrency", "%d must be between 0 (the number of CPUs) and 1024", c.HashConcurrency)
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
