package clearing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/ledger"
)

// Community statuses.
const (
	StatusTrading = "trading"
	StatusBlocked = "blocked"
)

// Community is a member community of the circle and its virtual customer.
type Community struct {
	ID            string           `json:"id"`
	Name          string           `json:"name"`
	URI           string           `json:"uri"`
	Mail          string           `json:"mail"`
	AccountID     ledger.AccountID `json:"account_id"`
	Ticks         string           `json:"ticks"`
	DeclaredTicks string           `json:"declared_ticks,omitempty"`
	DeclaredAt    *time.Time       `json:"declared_at,omitempty"`
	Floating      bool             `json:"floating"`
	Status        string           `json:"status"`
	BlockReason   string           `json:"block_reason,omitempty"`
	// LimitsOverride is set when an admin fixed the limits: the limit policy leaves them alone.
	LimitsOverride bool `json:"limits_override"`

	// The statement data of the last handshake.
	API             string     `json:"api,omitempty"`
	Traders         int64      `json:"traders"`
	Transactions    int64      `json:"transactions"`
	FirstTrade      *time.Time `json:"first_trade,omitempty"`
	DivisionsText   string     `json:"divisions,omitempty"`
	Visibility      bool       `json:"visibility"`
	Logo            string     `json:"logo,omitempty"`
	Lat             string     `json:"lat,omitempty"`
	Lon             string     `json:"lon,omitempty"`
	LastHandshakeAt *time.Time `json:"last_handshake_at,omitempty"`

	// What the community reported at its last prepare, in base minor units.
	ReportedBalance   *int64     `json:"reported_balance,omitempty"`
	ReportedVolume    *int64     `json:"reported_volume,omitempty"`
	ReportedIntegrity *bool      `json:"reported_integrity,omitempty"`
	ReportedAt        *time.Time `json:"reported_at,omitempty"`
	// IntegrityOK is false when the reported balance was not minus the virtual customer's.
	IntegrityOK *bool `json:"integrity_ok,omitempty"`

	CreatedAt time.Time `json:"created_at"`

	// From the ledger: the virtual customer's limits and balance (base minor units).
	Min            int64 `json:"min"`
	Max            int64 `json:"max"`
	Balance        int64 `json:"balance"`
	PendingDebits  int64 `json:"pending_debits"`
	PendingCredits int64 `json:"pending_credits"`
}

const communityColumns = `c.id, c.name, c.uri, c.mail, c.account_id, c.ticks::text, coalesce(c.declared_ticks::text, ''),
	c.declared_at, c.floating, c.status, c.block_reason, c.limits_override, c.api, c.traders, c.transactions,
	c.first_trade, c.divisions_text, c.visibility, c.logo, coalesce(c.lat::text, ''), coalesce(c.lon::text, ''),
	c.last_handshake_at, c.reported_balance, c.reported_volume, c.reported_integrity, c.reported_at,
	c.integrity_ok, c.created_at`

func scanCommunity(row pgx.Row) (Community, error) {
	var c Community
	var acct int64
	err := row.Scan(&c.ID, &c.Name, &c.URI, &c.Mail, &acct, &c.Ticks, &c.DeclaredTicks, &c.DeclaredAt,
		&c.Floating, &c.Status, &c.BlockReason, &c.LimitsOverride, &c.API, &c.Traders, &c.Transactions,
		&c.FirstTrade, &c.DivisionsText, &c.Visibility, &c.Logo, &c.Lat, &c.Lon, &c.LastHandshakeAt,
		&c.ReportedBalance, &c.ReportedVolume, &c.ReportedIntegrity, &c.ReportedAt, &c.IntegrityOK, &c.CreatedAt)
	c.AccountID = ledger.AccountID(acct)
	return c, err
}

func (c *Community) setAccount(a ledger.Account) {
	c.Min, c.Max, c.Balance, c.PendingDebits, c.PendingCredits = a.Min, a.Max, a.Balance, a.PendingDebits, a.PendingCredits
}

// NewCommunity describes a community to add. Min and Max are base minor units.
type NewCommunity struct {
	ID, Name, URI, Mail string
	Ticks               string
	Min, Max            int64
}

// accountCode is the ledger code of a community's virtual customer.
func accountCode(communityID string) string { return "vc:" + communityID }

// CheckURI checks a community's CXP uri: an absolute http(s) URL without
// query or fragment, written without a trailing slash.
func CheckURI(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an http(s) URL without query, fragment or user", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// AddCommunity creates a community, its virtual customer and its first key,
// and returns the key: the only time it is shown.
func (h *House) AddCommunity(ctx context.Context, actor string, n NewCommunity) (Community, string, error) {
	defer h.changed()
	if err := n.check(); err != nil {
		return Community{}, "", err
	}
	if err := h.CheckSecret(ctx); err != nil {
		return Community{}, "", err
	}
	key, err := newKey()
	if err != nil {
		return Community{}, "", err
	}
	var out Community
	err = h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		out, err = h.addCommunity(ctx, tx, actor, n, key)
		return err
	})
	if err != nil {
		return Community{}, "", err
	}
	return out, key, nil
}

// check validates a new community's fields, naming the first bad one.
func (n *NewCommunity) check() error {
	if !idPattern.MatchString(n.ID) {
		return invalid("id", "%q: use letters, digits, '.', '_' or '-' (at most 63)", n.ID)
	}
	if strings.TrimSpace(n.Name) == "" {
		return invalid("name", "must not be empty")
	}
	uri, err := CheckURI(n.URI)
	if err != nil {
		return invalid("uri", "%v", err)
	}
	ticks, err := ParseTicks(n.Ticks)
	if err != nil {
		return invalid("rate", "%v", err)
	}
	if n.Min > 0 || n.Max < 0 {
		return invalid("min", "limits must satisfy min <= 0 <= max")
	}
	n.URI, n.Ticks = uri, ticks
	return nil
}

// addCommunity writes a checked new community with its key inside tx.
func (h *House) addCommunity(ctx context.Context, tx *ledgerTx, actor string, n NewCommunity, key string) (Community, error) {
	q := tx.Conn()
	circle, err := circleOf(ctx, q)
	if err != nil {
		return Community{}, err
	}
	acct, err := tx.CreateAccount(ctx, ledger.NewAccount{Code: accountCode(n.ID), Currency: circle.Unit,
		Min: n.Min, Max: n.Max, Metadata: map[string]string{"community": n.ID}})
	if err != nil {
		if ledger.CodeOf(err) == ledger.CodeDuplicateAccount {
			return Community{}, conflict("id", "community %s exists already", n.ID)
		}
		return Community{}, fmt.Errorf("clearing: add community: %w", err)
	}
	now := h.now()
	out, err := scanCommunity(q.QueryRow(ctx, `INSERT INTO clearing_communities AS c (id, name, uri, mail, account_id, ticks, created_at)
		VALUES ($1, $2, $3, $4, $5, $6::numeric, $7) RETURNING `+communityColumns,
		n.ID, n.Name, n.URI, n.Mail, int64(acct.ID), n.Ticks, now))
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			if pe.ConstraintName == "clearing_communities_uri_key" {
				return Community{}, conflict("uri", "another community has uri %s", n.URI)
			}
			return Community{}, conflict("id", "community %s exists already", n.ID)
		}
		return Community{}, fmt.Errorf("clearing: add community: %w", err)
	}
	out.setAccount(acct)
	if _, err := q.Exec(ctx, `INSERT INTO clearing_rates (community_id, ticks, source, actor, created_at)
		VALUES ($1, $2::numeric, 'created', $3, $4)`, n.ID, n.Ticks, actor, now); err != nil {
		return Community{}, fmt.Errorf("clearing: add community: %w", err)
	}
	if err := h.insertKey(ctx, q, n.ID, key, now); err != nil {
		return Community{}, err
	}
	return out, audit(ctx, q, now, actor, "community.add", n.ID, nil, out)
}

// Community returns one community with its virtual customer's balance and
// limits (the community's row from the cache once checked, the ledger's
// data read now).
func (h *House) Community(ctx context.Context, id string) (Community, error) {
	if err := h.fresh(ctx); err != nil {
		return Community{}, err
	}
	return h.community(ctx, id)
}

// CommunityByURI returns the community registered with uri.
func (h *House) CommunityByURI(ctx context.Context, uri string) (Community, error) {
	if err := h.fresh(ctx); err != nil {
		return Community{}, err
	}
	return h.communityByURI(ctx, uri)
}

// community is Community without checking the cache's version: for a CXP
// request, whose key lookup checked it.
func (h *House) community(ctx context.Context, id string) (Community, error) {
	e, err := h.communityEntry(ctx, id)
	if err != nil {
		return Community{}, err
	}
	return h.withAccount(ctx, e)
}

func (h *House) communityByURI(ctx context.Context, uri string) (Community, error) {
	e, err := h.communityEntryByURI(ctx, uri)
	if err != nil {
		return Community{}, err
	}
	return h.withAccount(ctx, e)
}

func (h *House) communityWhere(ctx context.Context, q querier, where string, arg any) (Community, error) {
	c, err := scanCommunity(q.QueryRow(ctx, `SELECT `+communityColumns+` FROM clearing_communities c WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return Community{}, notFound("no community %v", arg)
	}
	if err != nil {
		return Community{}, fmt.Errorf("clearing: community: %w", err)
	}
	acct, err := h.account(ctx, q, c.AccountID)
	if err != nil {
		return Community{}, err
	}
	c.setAccount(acct)
	return c, nil
}

// account reads a virtual customer, inside tx when q is one.
func (h *House) account(ctx context.Context, q querier, id ledger.AccountID) (ledger.Account, error) {
	var a ledger.Account
	var err error
	if tx, ok := q.(*txQuerier); ok {
		a, err = tx.lt.Account(ctx, id)
	} else {
		a, err = h.ledger.Account(ctx, id)
	}
	if err != nil {
		return ledger.Account{}, fmt.Errorf("clearing: virtual customer %d: %w", id, err)
	}
	return a, nil
}

// txQuerier is a ledger transaction seen as a querier, so reads of the
// virtual customers go through the same transaction.
type txQuerier struct {
	pgx.Tx
	lt *ledger.Tx
}

func inTx(tx *ledger.Tx) *txQuerier { return &txQuerier{Tx: tx.Conn(), lt: tx} }

// Communities lists every community by id, with balances and limits.
func (h *House) Communities(ctx context.Context) ([]Community, error) {
	list, err := h.communityRows(ctx, `true`)
	if err != nil {
		return nil, err
	}
	circle, err := h.Circle(ctx)
	if err != nil {
		return nil, err
	}
	accts, err := h.ledger.Accounts(ctx, circle.Unit)
	if err != nil {
		return nil, fmt.Errorf("clearing: communities: %w", err)
	}
	byID := make(map[ledger.AccountID]ledger.Account, len(accts))
	for _, a := range accts {
		byID[a.ID] = a
	}
	for i := range list {
		list[i].setAccount(byID[list[i].AccountID])
	}
	return list, nil
}

// lockCommunity reads a community FOR UPDATE inside tx.
func (h *House) lockCommunity(ctx context.Context, tx *ledger.Tx, id string) (Community, error) {
	return h.communityWhere(ctx, inTx(tx), `c.id = $1 FOR UPDATE`, id)
}

// Block stops a community from intertrading (seed item 7): its requests are
// refused with code 16 and payments to it are refused too.
func (h *House) Block(ctx context.Context, actor, id, reason string) (Community, error) {
	if strings.TrimSpace(reason) == "" {
		return Community{}, invalid("reason", "a block needs a reason")
	}
	return h.setStatus(ctx, actor, id, StatusBlocked, reason)
}

// Unblock lets a blocked community trade again.
func (h *House) Unblock(ctx context.Context, actor, id string) (Community, error) {
	return h.setStatus(ctx, actor, id, StatusTrading, "")
}

func (h *House) setStatus(ctx context.Context, actor, id, status, reason string) (Community, error) {
	defer h.changed()
	var out Community
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		before, err := h.lockCommunity(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.Status == status && before.BlockReason == reason {
			out = before // already so: nothing to change or audit
			return nil
		}
		if _, err := tx.Conn().Exec(ctx, `UPDATE clearing_communities SET status = $2, block_reason = $3 WHERE id = $1`, id, status, reason); err != nil {
			return fmt.Errorf("clearing: set status: %w", err)
		}
		out, err = h.lockCommunity(ctx, tx, id)
		if err != nil {
			return err
		}
		action := "community.unblock"
		if status == StatusBlocked {
			action = "community.block"
		}
		return audit(ctx, tx.Conn(), h.now(), actor, action, id,
			map[string]string{"status": before.Status, "reason": before.BlockReason},
			map[string]string{"status": out.Status, "reason": out.BlockReason})
	})
	return out, err
}

// SetLimits fixes a community's limits (base minor units) as an admin
// override: the limit policy no longer recomputes them until ClearOverride.
func (h *House) SetLimits(ctx context.Context, actor, id string, min, max int64) (Community, error) {
	if min > 0 || max < 0 {
		return Community{}, invalid("min", "limits must satisfy min <= 0 <= max")
	}
	return h.changeLimits(ctx, actor, "community.limits", id, min, max, true)
}

// ClearOverride hands a community's limits back to the circle's limit policy.
func (h *House) ClearOverride(ctx context.Context, actor, id string) (Community, error) {
	defer h.changed()
	var out Community
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		before, err := h.lockCommunity(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Conn().Exec(ctx, `UPDATE clearing_communities SET limits_override = false WHERE id = $1`, id); err != nil {
			return err
		}
		out = before
		out.LimitsOverride = false
		return audit(ctx, tx.Conn(), h.now(), actor, "community.limits_policy", id,
			map[string]bool{"limits_override": before.LimitsOverride}, map[string]bool{"limits_override": false})
	})
	return out, err
}

func (h *House) changeLimits(ctx context.Context, actor, action, id string, min, max int64, override bool) (Community, error) {
	defer h.changed()
	var out Community
	err := h.ledger.InTx(ctx, func(tx *ledgerTx) error {
		before, err := h.lockCommunity(ctx, tx, id)
		if err != nil {
			return err
		}
		acct, err := tx.SetLimits(ctx, before.AccountID, min, max)
		if err != nil {
			if ledger.CodeOf(err) == ledger.CodeLimitsExcludeBalance {
				return invalid("min", "limits %d..%d exclude the balance %d (with holds)", min, max, before.Balance)
			}
			return fmt.Errorf("clearing: set limits: %w", err)
		}
		if override {
			if _, err := tx.Conn().Exec(ctx, `UPDATE clearing_communities SET limits_override = true WHERE id = $1`, id); err != nil {
				return err
			}
		}
		out = before
		out.setAccount(acct)
		out.LimitsOverride = before.LimitsOverride || override
		return audit(ctx, tx.Conn(), h.now(), actor, action, id,
			map[string]int64{"min": before.Min, "max": before.Max}, map[string]int64{"min": out.Min, "max": out.Max})
	})
	return out, err
}

// SpendHeadroom is how much the community can pay now, in base minor units.
func (c Community) SpendHeadroom() int64 { return c.Balance - c.PendingDebits - c.Min }

// EarnHeadroom is how much the community can receive now, in base minor units.
func (c Community) EarnHeadroom() int64 { return c.Max - c.Balance - c.PendingCredits }

// IntegrityState is "ok" or "mismatch" after the community's last report
// (IntegrityOK), "unknown" before it.
func (c Community) IntegrityState() string {
	switch {
	case c.IntegrityOK == nil:
		return "unknown"
	case *c.IntegrityOK:
		return "ok"
	}
	return "mismatch"
}
