// Package deals runs the market's rounds: it gathers every want list the
// community server holds (its members' and its peers'), exports them in
// TradeMaximizer's format, runs the deal finder on them, and turns each
// loop into a proposal, an sxp-contract/1 contract. The finder and the
// format are the pure packages finder and wantlist.
package deals

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger/money"
	"github.com/sxp-network/sxp/server/deals/finder"
	"github.com/sxp-network/sxp/server/deals/wantlist"
)

// Defaults of Config.
const (
	DefaultMaxLoop  = 6
	DefaultDeadline = 72 * time.Hour
)

// Config configures a Service.
type Config struct {
	BaseURL     string // this server's base URL (the proposer)
	CommunityID string // this community's id (member@community)
	Currency    string // this community's currency code
	Divisions   int    // its decimal places
	Deadline    time.Duration
	TTP         contract.TTP // the arbiter named in proposals
	// ArbiterKey, when set, fetches the arbiter's key for a TTP that names
	// only its URL (the circle's clearing house serves T).
	ArbiterKey func(ctx context.Context) (string, error)
	Now        func() time.Time
	// Send, when set, sends body to target on another party's home server
	// (a signed POST /federation/v1/contracts, or …/{h}/accept|decline).
	Send func(ctx context.Context, target string, body []byte) error
	// Logger receives failed sends; may be nil.
	Logger *slog.Logger
}

// Service runs rounds over one community server's database.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
}

// New returns the deals service.
func New(pool *pgxpool.Pool, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{pool: pool, cfg: cfg}
}

// offer is a live offer that a round may trade: its event id, name in the
// export, owner (user@community), home server, title and money.
type offer struct {
	eventID string
	name    string
	owner   string
	server  string
	title   string
	money   *contract.Money
	member  int64 // local owner's member id; 0 when remote
	accepts []string
}

// gather reads every want list this server holds whose offer is live and
// not held by a live proposal, with its live, unheld accepted offers that
// have a want list themselves (no other can trade), by export name.
func (s *Service) gather(ctx context.Context) ([]*offer, error) {
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `
		WITH held AS (
		    SELECT o.offer FROM deal_proposal_offers o JOIN deal_proposals p ON p.h = o.h
		     WHERE p.state IN ('proposed', 'ready') AND p.deadline > $1),
		live AS (
		    SELECT a.id, CASE WHEN a.origin = 'local' THEN $2 || '/announcements/' || a.id ELSE a.origin_id END AS event_id,
		           a.origin, a.author, a.title, a.member_id, a.money, a.remote_money_value, a.remote_money_currency
		      FROM announcements a
		     WHERE a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $1),
		free AS (SELECT * FROM live WHERE event_id NOT IN (SELECT offer FROM held)),
		lists AS (
		    SELECT f.event_id, array_agg(b.event_id ORDER BY w.rank) AS accepts
		      FROM wantlist_entries w JOIN free f ON f.id = w.offer_id JOIN free b ON b.id = w.accepts_id
		     WHERE f.origin = 'local'
		     GROUP BY f.event_id
		    UNION ALL
		    SELECT r.offer, ARRAY(SELECT x FROM unnest(r.accepts) WITH ORDINALITY AS u(x, n)
		                           WHERE x IN (SELECT event_id FROM free) ORDER BY n)
		      FROM remote_wantlists r JOIN free f ON f.event_id = r.offer AND f.origin = r.origin)
		SELECT f.event_id, f.origin, f.author, f.title, coalesce(f.member_id, 0), f.money,
		       f.remote_money_value, coalesce(f.remote_money_currency, ''), l.accepts
		  FROM lists l JOIN free f ON f.event_id = l.event_id`, now, s.cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("deals: gather: %w", err)
	}
	var list []*offer
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var o offer
		var origin string
		var m *int64
		var remoteMoney *string
		var remoteCurrency string
		if err := r.Scan(&o.eventID, &origin, &o.owner, &o.title, &o.member, &m, &remoteMoney, &remoteCurrency, &o.accepts); err != nil {
			return struct{}{}, err
		}
		o.server = origin
		if origin == "local" {
			o.server = s.cfg.BaseURL
			o.owner += "@" + s.cfg.CommunityID
			if m != nil {
				o.money = &contract.Money{Value: money.Format(*m, s.cfg.Divisions), Currency: s.cfg.Currency}
			}
		} else if remoteMoney != nil {
			o.money = &contract.Money{Value: *remoteMoney, Currency: remoteCurrency}
		}
		community := o.owner[strings.LastIndex(o.owner, "@")+1:]
		o.name = community + "-" + o.eventID[strings.LastIndex(o.eventID, "/")+1:]
		list = append(list, &o)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("deals: gather: %w", err)
	}
	slices.SortFunc(list, func(a, b *offer) int { return strings.Compare(a.name, b.name) })
	return list, nil
}

// writeExport writes list in TradeMaximizer's format: one line per want
// list, "(owner) NAME : WANTED…", wants that have no want list left out.
func writeExport(w io.Writer, list []*offer) error {
	byID := make(map[string]*offer, len(list))
	for _, o := range list {
		byID[o.eventID] = o
	}
	var b bytes.Buffer
	b.WriteString("#! LINEAR-PRIORITIES\n# sxp deals export: each item is <community>-<id> of an offer's event id\n")
	for _, o := range list {
		fmt.Fprintf(&b, "# %s = %s\n", o.name, o.eventID)
	}
	for _, o := range list {
		fmt.Fprintf(&b, "(%s) %s :", o.owner, o.name)
		for _, a := range o.accepts {
			if t, ok := byID[a]; ok {
				b.WriteString(" " + t.name)
			}
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Export writes every want list a round would read, in TradeMaximizer's
// format ('sxp deals export').
func (s *Service) Export(ctx context.Context, w io.Writer) error {
	list, err := s.gather(ctx)
	if err != nil {
		return err
	}
	return writeExport(w, list)
}

// Options are a round's caps.
type Options struct {
	MaxLoop        int // items in a loop; 0: DefaultMaxLoop
	MaxCommunities int // distinct communities in a loop; 0: no cap
}

// Proposal is a stored proposal: its contract and hash.
type Proposal struct {
	H        string
	Contract contract.Contract
	State    string
	Deadline time.Time
}

// Result is what a round did.
type Result struct {
	WantLists int
	Loops     [][]string // each loop's offers (event ids), in the finder's order
	Trades    int
	Proposals []Proposal
	Elapsed   time.Duration
}

// Round runs the deal finder over every want list this server holds and
// stores each loop as a proposal (state proposed) whose offers are held
// until it ends.
func (s *Service) Round(ctx context.Context, opt Options) (Result, error) {
	start := time.Now()
	if opt.MaxLoop == 0 {
		opt.MaxLoop = DefaultMaxLoop
	}
	if opt.MaxLoop < 2 || opt.MaxCommunities < 0 {
		return Result{}, fmt.Errorf("deals: a loop has at least 2 items (max loop %d) and a cap is not negative", opt.MaxLoop)
	}
	list, err := s.gather(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{WantLists: len(list)}
	if len(list) == 0 {
		res.Elapsed = time.Since(start)
		return res, nil // nothing to trade
	}
	var export bytes.Buffer
	if err := writeExport(&export, list); err != nil {
		return Result{}, err
	}
	loops, err := solve(export.Bytes(), opt)
	if err != nil {
		return Result{}, err
	}
	byName := make(map[string]*offer, len(list))
	for _, o := range list {
		byName[o.name] = o
	}
	for _, names := range loops {
		var loop []*offer
		var ids []string
		for _, n := range names {
			loop = append(loop, byName[n])
			ids = append(ids, byName[n].eventID)
		}
		p, err := s.propose(ctx, loop)
		if err != nil {
			return Result{}, err
		}
		s.send(ctx, p)
		res.Loops = append(res.Loops, ids)
		res.Trades += len(loop)
		res.Proposals = append(res.Proposals, p)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// solve parses an export and runs the finder as 'sxp deals solve' does,
// returning each loop's item names.
func solve(export []byte, opt Options) ([][]string, error) {
	f, err := wantlist.Parse(bytes.NewReader(export))
	if err != nil {
		return nil, fmt.Errorf("deals: the export does not parse: %w", err)
	}
	o := f.Options
	r, err := finder.Solve(&f.Graph, finder.Options{Metric: o.Metric, Iterations: o.Iterations, Seed: o.Seed,
		NonTradeCost: o.NonTradeCost, MaxLoop: opt.MaxLoop, MaxCommunities: opt.MaxCommunities})
	if err != nil {
		return nil, fmt.Errorf("deals: solve: %w", err)
	}
	out := make([][]string, len(r.Loops))
	for k, loop := range r.Loops {
		for _, i := range loop {
			out[k] = append(out[k], f.Items[i].Name)
		}
	}
	return out, nil
}

// propose turns a loop (loop[t] receives loop[t+1], the last the first)
// into a contract and stores it.
func (s *Service) propose(ctx context.Context, loop []*offer) (Proposal, error) {
	now := s.cfg.Now().UTC()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Proposal{}, fmt.Errorf("deals: propose: %w", err)
	}
	defer tx.Rollback(ctx)
	ttp := s.cfg.TTP
	if ttp.URL != "" && ttp.Key == "" && s.cfg.ArbiterKey != nil {
		key, err := s.cfg.ArbiterKey(ctx)
		if err != nil {
			return Proposal{}, fmt.Errorf("deals: the arbiter's key: %w", err)
		}
		ttp.Key = key
	}
	c := contract.Contract{Type: "sxp-contract/1", ID: newUUID(), Proposer: s.cfg.BaseURL,
		CreatedAt: now.Format(time.RFC3339), Deadline: now.Add(s.cfg.Deadline).Format(time.RFC3339),
		RoundTimeoutS: 60, Nonce: randomHex(16), TTP: ttp}
	party := map[string]int{}
	partyOf := func(o *offer) (int, error) {
		if i, ok := party[o.owner]; ok {
			return i, nil
		}
		key := ""
		if o.member != 0 {
			pub, err := memberKey(ctx, tx, o.member)
			if err != nil {
				return 0, err
			}
			key = contract.EncodeKey(pub)
		}
		party[o.owner] = len(c.Parties)
		c.Parties = append(c.Parties, contract.Party{Member: o.owner, Server: o.server, Key: key})
		return party[o.owner], nil
	}
	for t, recv := range loop {
		give := loop[(t+1)%len(loop)]
		from, err := partyOf(give)
		if err != nil {
			return Proposal{}, err
		}
		to, err := partyOf(recv)
		if err != nil {
			return Proposal{}, err
		}
		c.Legs = append(c.Legs, contract.Leg{From: from, To: to, Offer: give.eventID, Title: give.title, Money: give.money})
	}
	body, err := json.Marshal(c)
	if err != nil {
		return Proposal{}, fmt.Errorf("deals: propose: %w", err)
	}
	h, err := contract.HashOf(body)
	if err != nil {
		return Proposal{}, err
	}
	deadline := now.Add(s.cfg.Deadline)
	if _, err := tx.Exec(ctx, `INSERT INTO deal_proposals (h, contract, deadline, created_at) VALUES ($1, $2, $3, $4)`,
		h, body, deadline, now); err != nil {
		return Proposal{}, fmt.Errorf("deals: propose: %w", err)
	}
	for _, o := range loop {
		if _, err := tx.Exec(ctx, `INSERT INTO deal_proposal_offers (h, offer) VALUES ($1, $2)`, h, o.eventID); err != nil {
			return Proposal{}, fmt.Errorf("deals: propose: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Proposal{}, fmt.Errorf("deals: propose: %w", err)
	}
	return Proposal{H: h, Contract: c, State: "proposed", Deadline: deadline}, nil
}

// send sends proposal p to the home server of every other party, once each.
// A failed send is logged; the proposal stands here.
func (s *Service) send(ctx context.Context, p Proposal) {
	if s.cfg.Send == nil {
		return
	}
	body, err := json.Marshal(map[string]any{"contract": p.Contract})
	if err != nil {
		return
	}
	sent := map[string]bool{s.cfg.BaseURL: true}
	for _, party := range p.Contract.Parties {
		if sent[party.Server] {
			continue
		}
		sent[party.Server] = true
		if err := s.cfg.Send(ctx, party.Server+"/federation/v1/contracts", body); err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Warn("deals: sending a proposal failed", "h", p.H, "server", party.Server, "err", err)
		}
	}
}

// memberKey returns member id's contract key, made on first use.
func memberKey(ctx context.Context, tx pgx.Tx, id int64) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("deals: member key: %w", err)
	}
	var stored []byte
	err = tx.QueryRow(ctx, `
		INSERT INTO member_deal_keys (member_id, public_key, private_key) VALUES ($1, $2, $3)
		ON CONFLICT ON CONSTRAINT member_deal_keys_pkey DO UPDATE SET member_id = EXCLUDED.member_id
		RETURNING public_key`, id, []byte(pub), []byte(priv)).Scan(&stored)
	if err != nil {
		return nil, fmt.Errorf("deals: member key: %w", err)
	}
	return ed25519.PublicKey(stored), nil
}

// Proposals lists the stored proposals, newest first.
func (s *Service) Proposals(ctx context.Context) ([]Proposal, error) {
	rows, err := s.pool.Query(ctx, `SELECT h, contract, state, deadline FROM deal_proposals ORDER BY created_at DESC, h`)
	if err != nil {
		return nil, fmt.Errorf("deals: proposals: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Proposal, error) {
		var p Proposal
		var body []byte
		if err := r.Scan(&p.H, &body, &p.State, &p.Deadline); err != nil {
			return p, err
		}
		return p, json.Unmarshal(body, &p.Contract)
	})
	if err != nil {
		return nil, fmt.Errorf("deals: proposals: %w", err)
	}
	return list, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
