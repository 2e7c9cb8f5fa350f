package clearing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The caller cache. Every CXP request names its community (the signature's
// keyid) and most name a second one (dest_url): looking both up in the
// database, with their keys opened from AES-GCM each time, was about a fifth
// of the clearing house's CPU under load (issue 15). The cache keeps, per
// community, its row of clearing_communities (never its ledger balances,
// which are read fresh from the ledger on every use) and its opened keys,
// and the circle's row.
//
// Invalidation. Everything cached lives in clearing_communities,
// clearing_keys and clearing_circle. Migration 000016 puts a statement
// trigger on each that moves clearing_cache_version on in the writing
// transaction, whoever writes (this process, another clearing process,
// `sxp admin` on the database, plain SQL). Every CXP request first reads
// that version (fresh: one row by its key, the request's only read for
// the cache) and empties the cache when it moved, so a change committed
// before the request began (a block, an unblock, a rate, a key) holds for
// it: a block takes effect at once, in every process. The public lookups
// (Community, CommunityByURI, Circle), which the admin API and pages use,
// check the version too; the payment path's own lookups use what the
// request's check left. Besides, every House method that writes those
// tables empties the cache once its transaction ended (changed).
//
// A lookup that raced with an invalidation (it read the database before
// the change committed and would store after the cache was emptied) stores
// nothing: every invalidation moves a generation number on, and a lookup
// stores its result only when the generation is still the one it started
// from.

// cachedCommunity is a community's row (no ledger data) and its keys.
type cachedCommunity struct {
	row  Community
	keys []cachedKey // current first
}

type cachedKey struct {
	secret    []byte
	retiresAt *time.Time
}

type cache struct {
	mu          sync.Mutex
	gen         uint64 // moved on by every invalidation
	version     int64  // clearing_cache_version when last checked
	communities map[string]cachedCommunity
	byURI       map[string]string // uri → id
	circle      *Circle
}

// invalidate empties the cache.
func (c *cache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.communities, c.byURI, c.circle = nil, nil, nil
}

// seen records the database's version: when it moved, the cache is emptied.
func (c *cache) seen(version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version == c.version {
		return
	}
	c.version = version
	c.gen++
	c.communities, c.byURI, c.circle = nil, nil, nil
}

// begin is the generation a lookup starts from.
func (c *cache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *cache) community(id string) (cachedCommunity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.communities[id]
	return e, ok
}

func (c *cache) communityByURI(uri string) (cachedCommunity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.communities[c.byURI[uri]]
	return e, ok
}

func (c *cache) storeCommunity(gen uint64, e cachedCommunity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.communities == nil {
		c.communities, c.byURI = map[string]cachedCommunity{}, map[string]string{}
	}
	c.communities[e.row.ID] = e
	c.byURI[e.row.URI] = e.row.ID
}

func (c *cache) getCircle() (Circle, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.circle == nil {
		return Circle{}, false
	}
	return *c.circle, true
}

func (c *cache) storeCircle(gen uint64, circle Circle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.circle = &circle
	}
}

// changed is called (deferred) by every House method that writes
// clearing_communities, clearing_keys or clearing_circle, after its
// transaction ended: the next lookup reads the database.
func (h *House) changed() { h.cache.invalidate() }

// fresh checks the cache against clearing_cache_version, emptying it when
// a change committed since the last check. Every CXP request calls it
// first (through the key store).
func (h *House) fresh(ctx context.Context) error {
	var v int64
	if err := h.pool.QueryRow(ctx, `SELECT n FROM clearing_cache_version WHERE one = true`).Scan(&v); err != nil {
		return fmt.Errorf("clearing: cache version: %w", err)
	}
	h.cache.seen(v)
	return nil
}

// cachedCircle is the circle, from the cache when it holds it.
func (h *House) cachedCircle(ctx context.Context) (Circle, error) {
	if c, ok := h.cache.getCircle(); ok {
		return c, nil
	}
	gen := h.cache.begin()
	c, err := circleOf(ctx, h.pool)
	if err != nil {
		return Circle{}, err
	}
	h.cache.storeCircle(gen, c)
	return c, nil
}

// communityEntry is a community's row and opened keys, from the cache when
// it holds them. An unknown community is an ErrNotFound *Error.
func (h *House) communityEntry(ctx context.Context, id string) (cachedCommunity, error) {
	if e, ok := h.cache.community(id); ok {
		return e, nil
	}
	return h.loadCommunity(ctx, `c.id = $1`, id)
}

// communityEntryByURI is communityEntry by the community's uri.
func (h *House) communityEntryByURI(ctx context.Context, uri string) (cachedCommunity, error) {
	uri = strings.TrimRight(uri, "/")
	if e, ok := h.cache.communityByURI(uri); ok {
		return e, nil
	}
	return h.loadCommunity(ctx, `c.uri = $1`, uri)
}

func (h *House) loadCommunity(ctx context.Context, where string, arg any) (cachedCommunity, error) {
	gen := h.cache.begin()
	row, err := scanCommunity(h.pool.QueryRow(ctx, `SELECT `+communityColumns+` FROM clearing_communities c WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return cachedCommunity{}, notFound("no community %v", arg)
	}
	if err != nil {
		return cachedCommunity{}, fmt.Errorf("clearing: community: %w", err)
	}
	e := cachedCommunity{row: row}
	if h.aead != nil { // without the secret no key opens: keys() says so where one is needed
		rows, err := h.pool.Query(ctx, `SELECT sealed, retires_at FROM clearing_keys
			WHERE community_id = $1 AND (retires_at IS NULL OR retires_at > $2) ORDER BY id DESC`, row.ID, h.now())
		if err != nil {
			return cachedCommunity{}, fmt.Errorf("clearing: keys: %w", err)
		}
		type sealedKey struct {
			sealed    []byte
			retiresAt *time.Time
		}
		sealed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedKey, error) {
			var k sealedKey
			err := r.Scan(&k.sealed, &k.retiresAt)
			return k, err
		})
		if err != nil {
			return cachedCommunity{}, fmt.Errorf("clearing: keys: %w", err)
		}
		for _, s := range sealed {
			k, err := h.open(row.ID, s.sealed)
			if err != nil {
				return cachedCommunity{}, err
			}
			e.keys = append(e.keys, cachedKey{secret: k, retiresAt: s.retiresAt})
		}
	}
	h.cache.storeCommunity(gen, e)
	return e, nil
}

// secrets are the entry's keys that verify at now, current first.
func (e cachedCommunity) secrets(now time.Time) [][]byte {
	out := make([][]byte, 0, len(e.keys))
	for _, k := range e.keys {
		if k.retiresAt == nil || k.retiresAt.After(now) {
			out = append(out, k.secret)
		}
	}
	return out
}

// withAccount is the entry's community with its virtual customer's
// balance and limits read now.
func (h *House) withAccount(ctx context.Context, e cachedCommunity) (Community, error) {
	c := e.row
	acct, err := h.account(ctx, h.pool, c.AccountID)
	if err != nil {
		return Community{}, err
	}
	c.setAccount(acct)
	return c, nil
}
