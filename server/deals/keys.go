package deals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

// The keys a contract names: every party's contract public key and the
// arbiter's (design.md, "Deals and contracts"). A local party's key is the
// member's current key (memberkeys); a remote party's came with their want
// list (the wantlist event's "key", stored in remote_wantlists.key). The
// arbiter is the one this server trusts (Config.TTP): its URL from config,
// its key from config or, when not given, fetched once from
// {url}/arbiter/v1/key and kept.

// errNotProposable: a loop cannot become a valid contract (a party has no
// known key, or a peer sent the same key for two members); it is not
// proposed, and the round goes on.
var errNotProposable = errors.New("deals: the loop is not proposed")

// arbiter caches the trusted arbiter once its key is known.
type arbiter struct {
	mu  sync.Mutex
	ttp contract.TTP // Key set once known
}

// ttp returns the arbiter this server names in proposals and trusts in
// received ones: Config.TTP, its key fetched from the arbiter when config
// did not give it.
func (s *Service) ttp(ctx context.Context) (contract.TTP, error) {
	s.arb.mu.Lock()
	defer s.arb.mu.Unlock()
	if s.arb.ttp.URL == "" {
		return contract.TTP{}, errors.New("deals: this server has no arbiter: set SXP_ARBITER_URL (--arbiter-url) or join a circle (SXP_CIRCLE_URL)")
	}
	if s.arb.ttp.Key != "" {
		return s.arb.ttp, nil
	}
	key, err := fetchArbiterKey(ctx, s.cfg.HTTP, s.arb.ttp.URL)
	if err != nil {
		return contract.TTP{}, err
	}
	s.arb.ttp.Key = key
	return s.arb.ttp, nil
}

// fetchArbiterKey reads GET {url}/arbiter/v1/key → {"key": base64}.
func fetchArbiterKey(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/arbiter/v1/key", nil)
	if err != nil {
		return "", fmt.Errorf("deals: the arbiter's key: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("deals: the arbiter's key: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("deals: the arbiter's key: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("deals: the arbiter's key: GET %s/arbiter/v1/key answered %d", url, resp.StatusCode)
	}
	var out struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("deals: the arbiter's key: %w", err)
	}
	if _, err := contract.DecodeKey(out.Key); err != nil {
		return "", fmt.Errorf("deals: the arbiter's key from %s: %w", url, err)
	}
	return out.Key, nil
}

// partyKey is the contract key of offer o's owner: a local member's current
// key, or the key a peer sent with the want list of o. errNotProposable when
// none is known.
func (s *Service) partyKey(ctx context.Context, tx pgx.Tx, o *offer) (string, error) {
	if o.member != 0 {
		pub, _, err := s.keys.Key(ctx, strings.TrimSuffix(o.owner, "@"+s.cfg.CommunityID))
		if err != nil {
			return "", fmt.Errorf("deals: key of %s: %w", o.owner, err)
		}
		return contract.EncodeKey(pub), nil
	}
	var key []byte
	err := tx.QueryRow(ctx, `SELECT key FROM remote_wantlists WHERE offer = $1 AND origin = $2`, o.eventID, o.server).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && key == nil) {
		return "", fmt.Errorf("%w: %s has no known contract key (their want list came without one)", errNotProposable, o.owner)
	}
	if err != nil {
		return "", fmt.Errorf("deals: key of %s: %w", o.owner, err)
	}
	return contract.EncodeKey(key), nil
}

// checkKeys refuses a received contract whose arbiter is not the one this
// server trusts, or that names a party of this server with a key that is
// not the member's current one.
func (s *Service) checkKeys(ctx context.Context, c contract.Contract, ttp contract.TTP) error {
	if c.TTP != ttp {
		return invalid("contract: ttp %s (key %s) is not the arbiter this server trusts (%s, key %s)", c.TTP.URL, c.TTP.Key, ttp.URL, ttp.Key)
	}
	for i, p := range c.Parties {
		if p.Server != s.cfg.BaseURL {
			continue
		}
		user, ok := strings.CutSuffix(p.Member, "@"+s.cfg.CommunityID)
		if !ok {
			return invalid("parties[%d]: %q is not a member of %s", i, p.Member, s.cfg.CommunityID)
		}
		pub, _, err := s.keys.Key(ctx, user)
		if err != nil {
			return invalid("parties[%d]: %s has no contract key here", i, p.Member)
		}
		if p.Key != contract.EncodeKey(pub) {
			return invalid("parties[%d]: key %q is not %s's contract key", i, p.Key, p.Member)
		}
	}
	return nil
}
