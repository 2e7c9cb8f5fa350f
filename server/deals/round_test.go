package deals_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/deals/finder"
	"github.com/sxp-network/sxp/server/deals/wantlist"
	"github.com/sxp-network/sxp/server/members"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const leaf, oak = "http://leaf.test", "http://oak.test"

// market is a community leaf with members alice and bob, holding offers
// and a want list of peer oak (carol's and dave's).
type market struct {
	t    *testing.T
	pool *pgxpool.Pool
	ann  *announce.Service
	who  map[string]announce.Actor
}

func newMarket(t *testing.T) *market {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	mem := members.New(pool, ledger.New(pool, ledger.Options{}), members.Options{Currency: "LEAF", DefaultMin: -10000, DefaultMax: 10000})
	ann, err := announce.New(ctx, pool, announce.Config{Now: func() time.Time { return now }, BaseURL: leaf})
	if err != nil {
		t.Fatal(err)
	}
	m := &market{t: t, pool: pool, ann: ann, who: map[string]announce.Actor{}}
	for _, name := range []string{"alice", "bob"} {
		mm, err := mem.Add(ctx, members.Registration{Username: name, Password: "password-" + name}, members.RoleMember)
		if err != nil {
			t.Fatal(err)
		}
		m.who[name] = announce.Actor{MemberID: mm.ID, Username: name}
	}
	return m
}

func (m *market) offer(who, title string, money *int64) string {
	m.t.Helper()
	a, err := m.ann.Create(context.Background(), m.who[who], announce.Draft{Kind: announce.Offer, Title: title, Category: "goods", Money: money})
	if err != nil {
		m.t.Fatal(err)
	}
	return fmt.Sprintf("%s/announcements/%d", leaf, a.ID)
}

func (m *market) oakOffer(id int, author, title string) string {
	m.t.Helper()
	eid := fmt.Sprintf("%s/announcements/%d", oak, id)
	_, err := m.pool.Exec(context.Background(), `
		INSERT INTO announcements (member_id, author, kind, title, remote_category, remote_currency, expires_at, origin, origin_id)
		VALUES (NULL, $1, 'offer', $2, 'Goods', 'OAK', $3, $4, $5)`, author+"@oak", title, now.Add(24*time.Hour), oak, eid)
	if err != nil {
		m.t.Fatal(err)
	}
	return eid
}

func (m *market) wants(who, offer string, accepts ...string) {
	m.t.Helper()
	var id int64
	fmt.Sscanf(offer[len(leaf+"/announcements/"):], "%d", &id)
	if _, err := m.ann.SetWantList(context.Background(), m.who[who], id, accepts); err != nil {
		m.t.Fatal(err)
	}
}

func (m *market) oakWants(offer string, accepts ...string) {
	m.t.Helper()
	_, err := m.pool.Exec(context.Background(), `INSERT INTO remote_wantlists (object_id, origin, offer, accepts, key) VALUES ($1, $2, $3, $4, $5)`,
		strings.Replace(offer, "/announcements/", "/wantlists/", 1), oak, offer, accepts, []byte(keyOf(offer)))
	if err != nil {
		m.t.Fatal(err)
	}
}

func TestRound(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	twenty := int64(2000)
	bike := m.offer("alice", "Bike", nil)
	money := m.offer("alice", "Twenty leaves", &twenty)
	lamp := m.offer("bob", "Lamp", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	drill := m.oakOffer(6, "dave", "Drill")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, lamp, "http://elsewhere.test/announcements/1") // an offer this server does not hold is left out
	m.wants("bob", lamp, bike)
	m.wants("alice", money, drill)
	m.oakWants(drill, money)

	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }, TTP: testTTP})
	var export bytes.Buffer
	if err := svc.Export(ctx, &export); err != nil {
		t.Fatal(err)
	}
	// The export, solved as 'sxp deals solve' does, gives the round's loops.
	f, err := wantlist.Parse(bytes.NewReader(export.Bytes()))
	if err != nil {
		t.Fatalf("export does not parse: %v\n%s", err, export.String())
	}
	r, err := finder.Solve(&f.Graph, finder.Options{Metric: f.Options.Metric, Iterations: f.Options.Iterations, MaxLoop: 6})
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	if err := wantlist.WriteReport(&report, f, r, wantlist.Report{MaxLoop: 6}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), "TRADE LOOPS (5 total trades):") {
		t.Fatalf("solve of the export: want 5 trades, got:\n%s\nexport:\n%s", report.String(), export.String())
	}
	names := regexp.MustCompile(`# (\S+) = (\S+)`).FindAllStringSubmatch(export.String(), -1)
	eventOf := map[string]string{}
	for _, n := range names {
		eventOf[n[1]] = n[2]
	}
	var solved []string
	for _, loop := range r.Loops {
		var ids []string
		for _, i := range loop {
			ids = append(ids, eventOf[f.Items[i].Name])
		}
		solved = append(solved, strings.Join(ids, " "))
	}

	res, err := svc.Round(ctx, deals.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, loop := range res.Loops {
		got = append(got, strings.Join(loop, " "))
	}
	slices.Sort(got)
	slices.Sort(solved)
	if !slices.Equal(got, solved) || res.Trades != 5 || len(res.Proposals) != 2 || res.WantLists != 5 {
		t.Fatalf("round: got loops %q, %d trades, %d proposals over %d lists; want the solve's %q, 5, 2, 5",
			got, res.Trades, len(res.Proposals), res.WantLists, solved)
	}
	// Each proposal: parties and legs, who gives what to whom.
	var legs []string
	for _, p := range res.Proposals {
		for _, l := range p.Contract.Legs {
			s := fmt.Sprintf("%s→%s:%s", p.Contract.Parties[l.From].Member, p.Contract.Parties[l.To].Member, l.Title)
			if l.Money != nil {
				s += "(" + l.Money.Value + " " + l.Money.Currency + ")"
			}
			legs = append(legs, s)
		}
		for _, party := range p.Contract.Parties {
			local := strings.HasSuffix(party.Member, "@leaf")
			if (party.Server == leaf) != local || party.Key == "" {
				t.Errorf("party %+v: a local party has this server, every party a key", party)
			}
		}
		if p.Contract.Type != "sxp-contract/1" || p.Contract.TTP != testTTP || p.Contract.Proposer != leaf || p.State != "proposed" || len(p.H) != 64 {
			t.Errorf("proposal %s: got %+v", p.H, p.Contract)
		}
	}
	slices.Sort(legs)
	want := []string{"alice@leaf→bob@leaf:Bike", "alice@leaf→dave@oak:Twenty leaves(20.00 LEAF)", "bob@leaf→carol@oak:Lamp",
		"carol@oak→alice@leaf:Canoe", "dave@oak→alice@leaf:Drill"}
	if !slices.Equal(legs, want) {
		t.Errorf("legs: got %q, want %q", legs, want)
	}
	// Its offers are held: a second round proposes nothing.
	res, err = svc.Round(ctx, deals.Options{})
	if err != nil || len(res.Proposals) != 0 || res.WantLists != 0 {
		t.Errorf("second round: got %d proposals over %d lists, %v; want none", len(res.Proposals), res.WantLists, err)
	}
	var n int
	if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM member_deal_keys`).Scan(&n); err != nil || n != 2 {
		t.Errorf("member keys: got %d %v, want 2 (alice, bob)", n, err)
	}
}

func TestRoundCaps(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	bike, lamp := m.offer("alice", "Bike", nil), m.offer("bob", "Lamp", nil)
	canoe := m.oakOffer(5, "carol", "Canoe")
	m.wants("alice", bike, canoe)
	m.oakWants(canoe, lamp)
	m.wants("bob", lamp, bike)
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2,
		Now: func() time.Time { return now }, TTP: testTTP})
	for _, tt := range []struct {
		name  string
		opt   deals.Options
		loops int
	}{{"loop of 2", deals.Options{MaxLoop: 2}, 0}, {"one community", deals.Options{MaxCommunities: 1}, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := svc.Round(ctx, tt.opt)
			if err != nil || len(res.Loops) != tt.loops {
				t.Errorf("got %d loops, %v; want %d", len(res.Loops), err, tt.loops)
			}
		})
	}
	if _, err := svc.Round(ctx, deals.Options{MaxLoop: 1}); err == nil {
		t.Errorf("max loop 1: got no error")
	}
}
