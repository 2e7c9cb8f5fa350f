package clearing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

// The arbiter T of design.md's contract-signing protocol. Parties call it
// only on conflict: POST /arbiter/v1/resolve with the contract, their index,
// a level l and the evidence M[l], signed. T verifies everything before it
// touches the database (a refusal records nothing), then, in one
// serializable transaction on the contract's one row, applies
// contract.Decide (the same pure rule the fairness proof explores) and
// answers with its signed token. Its Ed25519 key is made on first use and
// sealed at rest under SXP_CLEARING_SECRET like the communities' keys.

// ResolveRequest is the body of POST /arbiter/v1/resolve.
type ResolveRequest struct {
	Contract json.RawMessage `json:"contract"`
	Party    *int            `json:"party"`
	Level    *int            `json:"level"`
	Evidence []string        `json:"evidence"`
	Request  string          `json:"request"`
}

// ArbiterCase is what T holds about one contract.
type ArbiterCase struct {
	Hash      string          `json:"hash"`
	Contract  json.RawMessage `json:"contract"`
	Parties   int             `json:"parties"`
	Decision  string          `json:"decision"`
	Asked     []int           `json:"asked"`
	Seen      []int           `json:"seen"`
	S         []bool          `json:"s"`
	Requests  int             `json:"requests"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// arbiterKeyAD binds the sealed seed to its use (':' is in no community id,
// so no community's sealed key opens as T's).
const arbiterKeyAD = "arbiter:key"

// ArbiterKey returns T's key pair, making and storing it on first use.
func (h *House) ArbiterKey(ctx context.Context) (ed25519.PrivateKey, error) {
	h.arbiterMu.Lock()
	defer h.arbiterMu.Unlock()
	if h.arbiterKey != nil {
		return h.arbiterKey, nil
	}
	if h.aead == nil {
		return nil, &Error{Code: ErrUnavailable, Message: "the arbiter needs SXP_CLEARING_SECRET to keep its key"}
	}
	load := func() (ed25519.PrivateKey, error) {
		var pub, sealed []byte
		err := h.pool.QueryRow(ctx, `SELECT public_key, sealed FROM clearing_arbiter_keys WHERE one`).Scan(&pub, &sealed)
		if err != nil {
			return nil, err
		}
		seed, err := h.open(arbiterKeyAD, sealed)
		if err != nil {
			return nil, err
		}
		if len(seed) != ed25519.SeedSize {
			return nil, errors.New("clearing: the arbiter's sealed key is not an Ed25519 seed")
		}
		key := ed25519.NewKeyFromSeed(seed)
		if !key.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(pub)) {
			return nil, errors.New("clearing: the arbiter's sealed key does not match its public key")
		}
		return key, nil
	}
	key, err := load()
	if errors.Is(err, pgx.ErrNoRows) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("clearing: arbiter key: %w", err)
		}
		fresh := ed25519.NewKeyFromSeed(seed)
		sealed, serr := h.seal(arbiterKeyAD, string(seed))
		if serr != nil {
			return nil, serr
		}
		// Another process may make one at the same time: the first stays.
		if _, err = h.pool.Exec(ctx, `INSERT INTO clearing_arbiter_keys (public_key, sealed, created_at) VALUES ($1, $2, $3)
			ON CONFLICT ON CONSTRAINT clearing_arbiter_keys_single DO NOTHING`,
			[]byte(fresh.Public().(ed25519.PublicKey)), sealed, h.now()); err != nil {
			return nil, fmt.Errorf("clearing: store arbiter key: %w", err)
		}
		key, err = load()
	}
	if err != nil {
		return nil, fmt.Errorf("clearing: arbiter key: %w", err)
	}
	h.arbiterKey = key
	return key, nil
}

// ArbiterPublicKey is T's public key in standard base64 with padding.
func (h *House) ArbiterPublicKey(ctx context.Context) (string, error) {
	key, err := h.ArbiterKey(ctx)
	if err != nil {
		return "", err
	}
	return contract.EncodeKey(key.Public().(ed25519.PublicKey)), nil
}

// CheckedResolve is a resolve request whose contract, signature and
// evidence verified.
type CheckedResolve struct {
	Parsed *contract.Parsed
	Party  int
	Level  int
}

// PartyKey is the public key of the requesting party, in base64 (the rate
// limit's key).
func (r CheckedResolve) PartyKey() string { return r.Parsed.Parties[r.Party].Key }

// CheckResolve verifies a resolve request without touching the database
// (beyond reading T's key): the contract, that it names this T, the party,
// the level (0 … n+1), the request's signature by that party, and the
// evidence (M[l]: one valid promise of round l of every party, in party
// order; [] when l = 0). Every refusal is ErrInvalid.
func (h *House) CheckResolve(ctx context.Context, req ResolveRequest) (CheckedResolve, error) {
	key, err := h.ArbiterKey(ctx)
	if err != nil {
		return CheckedResolve{}, err
	}
	if len(req.Contract) == 0 {
		return CheckedResolve{}, invalid("contract", "missing")
	}
	p, err := contract.Parse(req.Contract)
	if err != nil {
		return CheckedResolve{}, invalid("contract", "%v", err)
	}
	if !p.SameKey(key.Public().(ed25519.PublicKey)) {
		return CheckedResolve{}, invalid("contract", "ttp.key names another arbiter")
	}
	if req.Party == nil || *req.Party < 0 || *req.Party >= p.N() {
		return CheckedResolve{}, invalid("party", "must be a party's index 0 … %d", p.N()-1)
	}
	if req.Level == nil || *req.Level < 0 || *req.Level > p.N()+1 {
		return CheckedResolve{}, invalid("level", "must be 0 … %d", p.N()+1)
	}
	i, l := *req.Party, *req.Level
	if err := p.VerifyResolve(i, l, req.Request); err != nil {
		return CheckedResolve{}, invalid("request", "not party %d's signature of {\"t\":\"resolve\",\"c\":h,\"l\":%d}", i, l)
	}
	if l == 0 {
		if len(req.Evidence) != 0 {
			return CheckedResolve{}, invalid("evidence", "must be [] at level 0")
		}
	} else if err := p.VerifyRound(l, req.Evidence); err != nil {
		return CheckedResolve{}, invalid("evidence", "must be M[%d], one valid promise of round %d of every party in party order: %v", l, l, err)
	}
	return CheckedResolve{Parsed: p, Party: i, Level: l}, nil
}

// maxArbiterAttempts bounds the retries of one request's transaction.
const maxArbiterAttempts = 10

// Resolve applies a checked request to T's state of its contract and
// answers T's decision and token. The read, the rule and the write are one
// serializable transaction, retried a bounded number of times.
func (h *House) Resolve(ctx context.Context, r CheckedResolve) (contract.Answer, error) {
	key, err := h.ArbiterKey(ctx)
	if err != nil {
		return contract.Answer{}, err
	}
	var decision string
	for attempt := 1; ; attempt++ {
		decision, err = h.resolveTx(ctx, r)
		if err == nil {
			break
		}
		if !serializationFailure(err) {
			return contract.Answer{}, err
		}
		if attempt == maxArbiterAttempts {
			return contract.Answer{}, fmt.Errorf("clearing: arbiter: gave up after %d attempts: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return contract.Answer{}, ctx.Err()
		case <-time.After(time.Duration(mrand.Int64N(int64(attempt) * int64(2*time.Millisecond)))):
		}
	}
	return contract.Answer{Decision: decision, Token: contract.Sign(key, contract.TokenMessage(decision, r.Parsed.Hash()))}, nil
}

func serializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01" ||
		pgErr.Code == "23505" && pgErr.ConstraintName == "clearing_arbiter_contracts_pkey")
}

func (h *House) resolveTx(ctx context.Context, r CheckedResolve) (string, error) {
	tx, err := h.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return "", fmt.Errorf("clearing: arbiter: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	hash := r.Parsed.Hash()
	c, err := arbiterCase(ctx, tx, hash, true)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	st := contract.NewState(r.Parsed.N())
	if found {
		st = contract.State{Decision: c.Decision, Asked: c.Asked, Seen: c.Seen, S: c.S}
	}
	next, answer := contract.Decide(st, contract.Request{Party: r.Party, Level: r.Level, Shown: contract.EvidenceOf(r.Parsed.N(), r.Level)})
	now := h.now()
	if found {
		_, err = tx.Exec(ctx, `UPDATE clearing_arbiter_contracts SET decision = $2, asked = $3, seen = $4, in_s = $5,
			requests = requests + 1, updated_at = $6 WHERE hash = $1`, hash, next.Decision, next.Asked, next.Seen, next.S, now)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO clearing_arbiter_contracts (hash, contract, parties, decision, asked, seen, in_s, requests, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)`, hash, string(r.Parsed.Canonical()), r.Parsed.N(),
			next.Decision, next.Asked, next.Seen, next.S, now)
	}
	if err != nil {
		return "", fmt.Errorf("clearing: arbiter: write: %w", err)
	}
	type view struct {
		Party    int    `json:"party"`
		Level    int    `json:"level"`
		Decision string `json:"decision"`
		Asked    []int  `json:"asked"`
		Seen     []int  `json:"seen"`
		S        []bool `json:"s"`
	}
	var before any
	if found {
		before = view{Party: r.Party, Level: r.Level, Decision: st.Decision, Asked: st.Asked, Seen: st.Seen, S: st.S}
	}
	after := view{Party: r.Party, Level: r.Level, Decision: next.Decision, Asked: next.Asked, Seen: next.Seen, S: next.S}
	actor := "party " + r.Parsed.Parties[r.Party].Member
	if err := audit(ctx, tx, now, actor, "arbiter.resolve", hash, before, after); err != nil {
		return "", err
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("clearing: arbiter: commit: %w", err)
	}
	return answer, nil
}

func arbiterCase(ctx context.Context, q querier, hash string, lock bool) (ArbiterCase, error) {
	sql := `SELECT hash, contract, parties, decision, asked, seen, in_s, requests, created_at, updated_at
		FROM clearing_arbiter_contracts WHERE hash = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var c ArbiterCase
	var text string
	err := q.QueryRow(ctx, sql, hash).Scan(&c.Hash, &text, &c.Parties, &c.Decision, &c.Asked, &c.Seen, &c.S,
		&c.Requests, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return ArbiterCase{}, err
		}
		return ArbiterCase{}, fmt.Errorf("clearing: arbiter: read: %w", err)
	}
	c.Contract = json.RawMessage(text)
	return c, nil
}

// ArbiterDecision is T's current decision on the contract with hash h and
// its token; ErrNotFound when T has none.
func (h *House) ArbiterDecision(ctx context.Context, hash string) (contract.Answer, error) {
	if !contract.ValidHash(hash) { // names no contract: there is no decision on it
		return contract.Answer{}, notFound("the arbiter has no decision on %q (a contract is named by 64 lowercase hex digits)", hash)
	}
	key, err := h.ArbiterKey(ctx)
	if err != nil {
		return contract.Answer{}, err
	}
	c, err := arbiterCase(ctx, h.pool, hash, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return contract.Answer{}, notFound("the arbiter has no decision on %s", hash)
	}
	if err != nil {
		return contract.Answer{}, err
	}
	return contract.Answer{Decision: c.Decision, Token: contract.Sign(key, contract.TokenMessage(c.Decision, hash))}, nil
}

// ArbiterCase is everything T holds about one contract (admin).
func (h *House) ArbiterCase(ctx context.Context, hash string) (ArbiterCase, error) {
	if !contract.ValidHash(hash) {
		return ArbiterCase{}, invalid("hash", "must be 64 lowercase hex digits")
	}
	c, err := arbiterCase(ctx, h.pool, hash, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return ArbiterCase{}, notFound("the arbiter has no decision on %s", hash)
	}
	return c, err
}

// ArbiterCases lists the contracts T was asked about, most recently asked
// first (at most limit, 100 by default).
func (h *House) ArbiterCases(ctx context.Context, limit int) ([]ArbiterCase, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := h.pool.Query(ctx, `SELECT hash, contract, parties, decision, asked, seen, in_s, requests, created_at, updated_at
		FROM clearing_arbiter_contracts ORDER BY updated_at DESC, hash LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("clearing: arbiter: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ArbiterCase, error) {
		var c ArbiterCase
		var text string
		err := r.Scan(&c.Hash, &text, &c.Parties, &c.Decision, &c.Asked, &c.Seen, &c.S, &c.Requests, &c.CreatedAt, &c.UpdatedAt)
		c.Contract = json.RawMessage(text)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("clearing: arbiter: list: %w", err)
	}
	return out, nil
}
