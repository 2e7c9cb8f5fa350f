// Package deals runs the market's rounds: it gathers every want list the
// community server holds (its members' and its peers'), exports them in
// TradeMaximizer's format, runs the deal finder on them, and turns each
// loop into a proposal, an sxp-contract/1 contract. The finder and the
// format are the pure packages finder and wantlist.
package deals

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger/money"
	"github.com/sxp-network/sxp/server/deals/finder"
	"github.com/sxp-network/sxp/server/deals/wantlist"
	"github.com/sxp-network/sxp/server/memberkeys"
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
	TTP         contract.TTP // the arbiter named in proposals and trusted in received ones (keys.go)
	Now         func() time.Time
	// Send, when set, sends body to target on another party's home server
	// (a signed POST /federation/v1/contracts, or …/{h}/accept|decline).
	Send func(ctx context.Context, target string, body []byte) error
	// Logger receives failed sends; may be nil.
	Logger *slog.Logger
	// Keys holds the members' contract keys (an unsealing store on pool
	// when nil). HTTP fetches the arbiter's key when TTP has a URL and no
	// Key (10 s timeout when nil).
	Keys *memberkeys.Store
	HTTP *http.Client
	// RetryBase and RetryMax bound the backoff of a failed send
	// (DefaultRetryBase, DefaultRetryMax when zero); Deliver runs every RetryBase.
	RetryBase, RetryMax time.Duration
	// RoundEvery, when positive, runs a round this often (the deal_rounds job).
	RoundEvery time.Duration
}

// Service runs rounds over one community server's database.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
	keys *memberkeys.Store
	arb  arbiter
	bg   background
}

// New returns the deals service.
func New(pool *pgxpool.Pool, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.TTP.URL = strings.TrimRight(cfg.TTP.URL, "/")
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Service{pool: pool, cfg: cfg, keys: cfg.Keys, arb: arbiter{ttp: cfg.TTP}}
	if s.keys == nil {
		s.keys, _ = memberkeys.New(pool, "") // no secret: no error
	}
	return s
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
	amount  int64 // a local money offer's amount (minor units)
	room    int64 // and what its member can pay now (minor units)
}

// gather reads every want list this server holds whose offer is live and
// not held by a live proposal, with its live, unheld accepted offers, by
// export name. It works on sets: the live offers, those held, and the want
// lists' entries are each read once (each CTE materialized) and joined by
// hash or merge joins, where the old query's correlated IN over the remote
// want lists, under a nested loop, ran per offer (it did not end in 400 s
// for 2,000 want lists). A local money offer its member cannot afford now (their
// balance, less pending debits and money held by live proposals, above
// their lower limit) is left out; unfunded counts those.
func (s *Service) gather(ctx context.Context) (list []*offer, unfunded int, err error) {
	now := s.cfg.Now()
	// A read-only transaction in which the planner joins by hashing or
	// merging, never by nested loops: right after many want lists or offers
	// arrive (a peer's catch-up, a generated market), the row estimates say
	// one row where there are thousands, and a nested loop over them runs
	// the remote want lists' branch once per offer (33 s instead of 0.2 s
	// for 2,000 want lists). JIT is off too: the cost a disabled nested
	// loop adds to a plan would make PostgreSQL compile it, for seconds.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, fmt.Errorf("deals: gather: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL enable_nestloop = off; SET LOCAL jit = off`); err != nil {
		return nil, 0, fmt.Errorf("deals: gather: %w", err)
	}
	rows, err := tx.Query(ctx, gatherSQL, now, s.cfg.BaseURL)
	if err != nil {
		return nil, 0, fmt.Errorf("deals: gather: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var o offer
		var origin string
		var m, room *int64
		var remoteMoney *string
		var remoteCurrency string
		if err := r.Scan(&o.eventID, &origin, &o.owner, &o.title, &o.member, &m, &remoteMoney, &remoteCurrency, &o.accepts, &room); err != nil {
			return struct{}{}, err
		}
		o.server = origin
		if origin == "local" {
			o.server = s.cfg.BaseURL
			o.owner += "@" + s.cfg.CommunityID
			if m != nil {
				if room == nil || *m > *room {
					unfunded++
					return struct{}{}, nil // its member cannot pay it now
				}
				o.amount, o.room = *m, *room
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
		return nil, 0, fmt.Errorf("deals: gather: %w", err)
	}
	slices.SortFunc(list, func(a, b *offer) int { return strings.Compare(a.name, b.name) })
	return list, unfunded, nil
}

// gatherSQL reads the free want lists ($1: now, $2: this server's base URL).
const gatherSQL = `
		WITH live AS MATERIALIZED (
		    SELECT a.id, CASE WHEN a.origin = 'local' THEN $2 || '/announcements/' || a.id ELSE a.origin_id END AS event_id,
		           a.origin, a.author, a.title, a.member_id, a.money, a.remote_money_value, a.remote_money_currency
		      FROM announcements a
		     WHERE a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $1),
		held AS MATERIALIZED (
		    SELECT o.offer FROM deal_proposal_offers o JOIN deal_proposals p ON p.h = o.h
		     WHERE p.state IN ('proposed', 'ready') AND p.deadline > $1),
		free AS MATERIALIZED (
		    SELECT l.* FROM live l WHERE NOT EXISTS (SELECT FROM held WHERE held.offer = l.event_id)),
		wants AS MATERIALIZED (
		    SELECT w.offer_id, w.rank AS n, b.event_id AS accepts
		      FROM wantlist_entries w JOIN free b ON b.id = w.accepts_id
		    UNION ALL
		    SELECT f.id, u.n, u.x
		      FROM remote_wantlists r JOIN free f ON f.event_id = r.offer AND f.origin = r.origin
		     CROSS JOIN LATERAL unnest(r.accepts) WITH ORDINALITY AS u(x, n)
		      JOIN free b ON b.event_id = u.x),
		lists AS MATERIALIZED (
		    SELECT offer_id, array_agg(accepts ORDER BY n) AS accepts FROM wants GROUP BY offer_id),
		held_money AS (
		    SELECT l.member_id, sum(l.money) AS money FROM live l JOIN held ON held.offer = l.event_id
		     WHERE l.money IS NOT NULL GROUP BY l.member_id)
		SELECT f.event_id, f.origin, f.author, f.title, coalesce(f.member_id, 0), f.money,
		       f.remote_money_value, coalesce(f.remote_money_currency, ''), l.accepts,
		       acc.balance - acc.pending_debits - acc.min_balance - coalesce(hm.money, 0)
		  FROM lists l JOIN free f ON f.id = l.offer_id
		  LEFT JOIN members m ON m.id = f.member_id AND f.money IS NOT NULL
		  LEFT JOIN ledger_accounts acc ON acc.id = m.account_id
		  LEFT JOIN held_money hm ON hm.member_id = f.member_id`

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
	list, _, err := s.gather(ctx)
	if err != nil {
		return err
	}
	return writeExport(w, list)
}

// Options are a round's caps, who starts it, and where its progress goes.
type Options struct {
	MaxLoop        int // items in a loop; 0: DefaultMaxLoop
	MaxCommunities int // distinct communities in a loop; 0: no cap
	// By says who started the round (shown on the admin page): "admin",
	// "command", "schedule"; "" is "command".
	By string
	// Progress, when set, is told the round's status at each phase and
	// after each batch of proposals.
	Progress func(RoundStatus)
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
	Round     int64 // its id among the rounds
	WantLists int
	Loops     [][]string // each proposed loop's offers (event ids), in the finder's order
	Trades    int
	Proposals []Proposal
	// UnfundedOffers is how many money offers were left out because their
	// member cannot pay them now; UnfundedLoops how many loops found were
	// not proposed because, with the round's earlier loops, a payer could not.
	UnfundedOffers int
	UnfundedLoops  int
	Elapsed        time.Duration
}

// proposeBatch is how many loops are stored in one transaction.
const proposeBatch = 100

// Round runs the deal finder over every want list this server holds and
// stores each loop as a proposal (state proposed) whose offers are held
// until it ends; then it sends the proposals to the other parties'
// servers (what fails is retried by Deliver). One round runs at a time
// (across processes on the database): another gets CodeConflict. Its
// progress is recorded (Rounds) and told to opt.Progress.
func (s *Service) Round(ctx context.Context, opt Options) (Result, error) {
	opt, err := checkOptions(opt)
	if err != nil {
		return Result{}, err
	}
	unlock, err := s.lockRound(ctx)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	st, err := s.startRound(ctx, opt)
	if err != nil {
		return Result{}, err
	}
	return s.roundStarted(ctx, opt, st)
}

func checkOptions(opt Options) (Options, error) {
	if opt.MaxLoop == 0 {
		opt.MaxLoop = DefaultMaxLoop
	}
	if opt.MaxLoop < 2 || opt.MaxCommunities < 0 {
		return opt, invalid("a loop has at least 2 items (max loop %d) and a cap is not negative", opt.MaxLoop)
	}
	if opt.By == "" {
		opt.By = "command"
	}
	return opt, nil
}

// roundStarted is Round once it holds the round lock and has recorded st.
func (s *Service) roundStarted(ctx context.Context, opt Options, st RoundStatus) (Result, error) {
	start := time.Now()
	res, err := s.round(ctx, opt, &st)
	res.Round, res.Elapsed = st.ID, time.Since(start)
	if err != nil {
		st.Phase, st.Error = PhaseFailed, err.Error()
	} else {
		st.Phase = PhaseDone
	}
	// The record of its end outlives a cancelled round.
	if rerr := s.recordRound(context.WithoutCancel(ctx), &st, opt); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return res, err
	}
	if len(res.Proposals) > 0 {
		if _, err := s.Deliver(ctx); err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Warn("deals: sending proposals (retried later)", "err", err)
		}
	}
	return res, nil
}

// round gathers, solves and proposes, recording each phase in st.
func (s *Service) round(ctx context.Context, opt Options, st *RoundStatus) (Result, error) {
	list, unfunded, err := s.gather(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{WantLists: len(list), UnfundedOffers: unfunded}
	st.WantLists, st.UnfundedOffers, st.Phase = len(list), unfunded, PhaseSolve
	if err := s.recordRound(ctx, st, opt); err != nil {
		return res, err
	}
	if len(list) == 0 {
		return res, nil // nothing to trade
	}
	var export bytes.Buffer
	if err := writeExport(&export, list); err != nil {
		return res, err
	}
	last := time.Now()
	loops, err := solve(export.Bytes(), opt, func(phase string, done, total int) {
		if time.Since(last) < time.Second { // a long solve shows where it is, once a second
			return
		}
		last = time.Now()
		st.Step = fmt.Sprintf("%s %d/%d", phase, done, total)
		if err := s.recordRound(ctx, st, opt); err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Warn("deals: round progress", "err", err)
		}
	})
	if err != nil {
		return res, err
	}
	st.Loops, st.Phase, st.Step = len(loops), PhasePropose, ""
	if err := s.recordRound(ctx, st, opt); err != nil {
		return res, err
	}
	byName := make(map[string]*offer, len(list))
	room := map[int64]int64{} // what each local payer can still pay this round
	for _, o := range list {
		byName[o.name] = o
		if o.amount > 0 {
			room[o.member] = o.room
		}
	}
	var ttp contract.TTP
	if len(loops) > 0 {
		if ttp, err = s.ttp(ctx); err != nil { // the arbiter every proposal names
			return res, err
		}
	}
	for len(loops) > 0 {
		batch := loops[:min(proposeBatch, len(loops))]
		loops = loops[len(batch):]
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return res, fmt.Errorf("deals: propose: %w", err)
		}
		var proposed []Proposal
		var ids [][]string
		for _, names := range batch {
			loop := make([]*offer, len(names))
			for i, n := range names {
				loop[i] = byName[n]
			}
			if !fund(loop, room) {
				res.UnfundedLoops++
				continue
			}
			p, err := s.propose(ctx, tx, ttp, loop)
			if errors.Is(err, errNotProposable) { // nothing written: the batch goes on
				if s.cfg.Logger != nil {
					s.cfg.Logger.Info("deals: a loop is not proposed", "offers", names, "err", err)
				}
				continue
			}
			if err == nil {
				err = s.enqueueProposal(ctx, tx, p)
			}
			if err != nil {
				tx.Rollback(ctx)
				return res, err
			}
			proposed = append(proposed, p)
			loopIDs := make([]string, len(loop))
			for i, o := range loop {
				loopIDs[i] = o.eventID
			}
			ids = append(ids, loopIDs)
		}
		if err := tx.Commit(ctx); err != nil {
			return res, fmt.Errorf("deals: propose: %w", err)
		}
		for i, p := range proposed {
			res.Proposals = append(res.Proposals, p)
			res.Loops = append(res.Loops, ids[i])
			res.Trades += len(ids[i])
		}
		st.Proposed, st.Trades, st.UnfundedLoops = len(res.Proposals), res.Trades, res.UnfundedLoops
		if err := s.recordRound(ctx, st, opt); err != nil {
			return res, err
		}
	}
	return res, nil
}

// fund reports whether every local payer of loop can pay its money legs
// out of room (what each can still pay this round), and if so takes them
// from room. A pure rule: room comes from the ledger at gather time.
func fund(loop []*offer, room map[int64]int64) bool {
	need := map[int64]int64{}
	for _, o := range loop {
		if o.amount > 0 {
			need[o.member] += o.amount
		}
	}
	for m, n := range need {
		if n > room[m] {
			return false
		}
	}
	for m, n := range need {
		room[m] -= n
	}
	return true
}

// solve parses an export and runs the finder as 'sxp deals solve' does,
// returning each loop's item names; progress (may be nil) is told where
// the finder is.
func solve(export []byte, opt Options, progress func(phase string, done, total int)) ([][]string, error) {
	f, err := wantlist.Parse(bytes.NewReader(export))
	if err != nil {
		return nil, fmt.Errorf("deals: the export does not parse: %w", err)
	}
	o := f.Options
	r, err := finder.Solve(&f.Graph, finder.Options{Metric: o.Metric, Iterations: o.Iterations, Seed: o.Seed,
		NonTradeCost: o.NonTradeCost, MaxLoop: opt.MaxLoop, MaxCommunities: opt.MaxCommunities, Progress: progress})
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
// into a contract naming the arbiter ttp and stores it in tx.
func (s *Service) propose(ctx context.Context, tx pgx.Tx, ttp contract.TTP, loop []*offer) (Proposal, error) {
	now := s.cfg.Now().UTC()
	c := contract.Contract{Type: "sxp-contract/1", ID: newUUID(), Proposer: s.cfg.BaseURL,
		CreatedAt: now.Format(time.RFC3339), Deadline: now.Add(s.cfg.Deadline).Format(time.RFC3339),
		RoundTimeoutS: 60, Nonce: randomHex(16), TTP: ttp}
	party := map[string]int{}
	partyOf := func(o *offer) (int, error) {
		if i, ok := party[o.owner]; ok {
			return i, nil
		}
		key, err := s.partyKey(ctx, tx, o)
		if err != nil {
			return 0, err
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
	if _, err := contract.Parse(body); err != nil {
		return Proposal{}, fmt.Errorf("%w: %v", errNotProposable, err)
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
	offers := make([]string, len(loop))
	for i, o := range loop {
		offers[i] = o.eventID
	}
	if _, err := tx.Exec(ctx, `INSERT INTO deal_proposal_offers (h, offer) SELECT $1, unnest($2::text[])`, h, offers); err != nil {
		return Proposal{}, fmt.Errorf("deals: propose: %w", err)
	}
	return Proposal{H: h, Contract: c, State: "proposed", Deadline: deadline}, nil
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
