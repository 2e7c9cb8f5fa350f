package announce_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server/announce"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// base is the creation time of the first seeded announcement; the n-th is
// created n-1 hours later, and the tests run at seedNow.
var (
	base    = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	seedNow = base.Add(100 * time.Hour)
)

// Members of the seeded community.
var (
	alice = announce.Actor{Username: "alice"}
	bob   = announce.Actor{Username: "bob"}
	carol = announce.Actor{Username: "carol", Admin: true}
)

func price(v int64) *int64 { return &v }

func pt(v float64) *float64 { return &v }

// seedItem is one seeded announcement; the seeded ids are 1..len(seed).
type seedItem struct {
	by       announce.Actor
	kind     announce.Kind
	title    string
	desc     string
	category string
	price    *int64
	place    string
	lat, lon *float64
	expired  bool // expires 1 hour after it is created
	closed   bool
}

// Coordinates of the seeded places.
var (
	leeds     = [2]float64{53.800800, -1.549100}
	york      = [2]float64{53.959000, -1.081500}
	harrogate = [2]float64{53.992100, -1.541800}
	bradford  = [2]float64{53.796000, -1.759400}
	sheffield = [2]float64{53.381100, -1.470100}
	skipton   = [2]float64{53.961700, -2.016900}
)

func at(p [2]float64) (*float64, *float64) { return pt(p[0]), pt(p[1]) }

func seedItems() []seedItem {
	loc := func(it seedItem, p [2]float64) seedItem { it.lat, it.lon = at(p); return it }
	return []seedItem{
		/* 1 */ loc(seedItem{by: alice, kind: announce.Offer, title: "Bike repair", desc: "I fix flat tyres and brakes.", category: "services", price: price(1500), place: "Leeds"}, leeds),
		/* 2 */ loc(seedItem{by: bob, kind: announce.Want, title: "Child's bike wanted", desc: "Looking for a small bicycle for my daughter.", category: "bicycles", place: "York"}, york),
		/* 3 */ loc(seedItem{by: carol, kind: announce.Offer, title: "Mountain bikes for hire", desc: "Two bikes, weekends only.", category: "transport", price: price(1000), place: "Harrogate"}, harrogate),
		/* 4 */ {by: alice, kind: announce.Offer, title: "Fresh eggs", desc: "Free range eggs from our hens every week.", category: "food", price: price(300), place: "Leeds"},
		/* 5 */ loc(seedItem{by: bob, kind: announce.Offer, title: "Vegetable box", desc: "Seasonal vegetables from the allotment, also some eggs.", category: "food", price: price(1200), place: "Bradford"}, bradford),
		/* 6 */ {by: carol, kind: announce.Want, title: "Gardening help", desc: "Need help weeding the garden on Saturdays.", category: "gardening", price: price(2000), place: "Leeds"},
		/* 7 */ {by: alice, kind: announce.Offer, title: "Guitar lessons", desc: "Beginner guitar lessons, one hour each.", category: "skills", price: price(2500), place: "Leeds"},
		/* 8 */ {by: bob, kind: announce.Offer, title: "Spanish conversation", desc: "Practise your Spanish over coffee.", category: "skills", place: "York"},
		/* 9 */ {by: carol, kind: announce.Offer, title: "Lift to the airport", desc: "Car ride to Manchester airport.", category: "transport", price: price(3000), place: "Leeds"},
		/* 10 */ {by: alice, kind: announce.Want, title: "Floor pump", desc: "A floor pump for road bikes.", category: "bicycles", price: price(500), place: "Leeds"},
		/* 11 */ {by: bob, kind: announce.Offer, title: "Homemade bread", desc: "Sourdough loaves baked on Fridays.", category: "food", price: price(400), place: "York"},
		/* 12 */ {by: carol, kind: announce.Offer, title: "Room to let", desc: "Small room in a shared house near the park.", category: "housing", price: price(40000), place: "Leeds"},
		/* 13 */ loc(seedItem{by: alice, kind: announce.Offer, title: "Sewing repairs", desc: "Hems, zips and buttons.", category: "services", price: price(800), place: "Sheffield"}, sheffield),
		/* 14 */ {by: bob, kind: announce.Want, title: "Lawn mower", desc: "Borrow a lawn mower for the garden for a day.", category: "gardening", place: "York"},
		/* 15 */ {by: carol, kind: announce.Offer, title: "Tomato seedlings", desc: "Tomato plants ready for the garden.", category: "gardening", price: price(150), place: "Leeds"},
		/* 16 */ {by: alice, kind: announce.Offer, title: "Old bike frame", desc: "Steel frame, needs work.", category: "goods", price: price(0), place: "Leeds"},
		/* 17 */ {by: bob, kind: announce.Offer, title: "Firewood", desc: "Logs for the stove, bike trailer load.", category: "goods", price: price(2500), place: "York", expired: true},
		/* 18 */ {by: carol, kind: announce.Offer, title: "Piano lessons", desc: "Piano lessons for children.", category: "skills", price: price(2000), place: "Leeds", closed: true},
		/* 19 */ {by: alice, kind: announce.Want, title: "Duck eggs", desc: "Looking for duck eggs.", category: "food", place: "Leeds"},
		/* 20 */ loc(seedItem{by: bob, kind: announce.Offer, title: "Cycling tour guide", desc: "Guided bike rides around the Dales.", category: "transport", price: price(1800), place: "Skipton"}, skipton),
	}
}

// fixture is a community with the seeded members, categories and announcements.
type fixture struct {
	pool  *pgxpool.Pool
	svc   *announce.Service
	clock *clock
	alice announce.Actor
	bob   announce.Actor
	carol announce.Actor
	dave  announce.Actor // a member with no announcements
}

// newFixture returns an empty community with members alice, bob, carol
// (admin) and dave, and the categories "bicycles" and "gardening" added to
// the default ones.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	f := &fixture{pool: pool, clock: &clock{t: base}}
	ids := map[string]int64{}
	for i, name := range []string{"alice", "bob", "carol", "dave"} {
		role := "member"
		if name == "carol" {
			role = "admin"
		}
		var id int64
		err := pool.QueryRow(ctx, `INSERT INTO members (username, password_hash, role, status, account_id)
			VALUES ($1, 'x', $2, 'active', $3) RETURNING id`, name, role, 1000+i).Scan(&id)
		if err != nil {
			t.Fatalf("insert member %s: %v", name, err)
		}
		ids[name] = id
	}
	f.alice = announce.Actor{MemberID: ids["alice"], Username: "alice"}
	f.bob = announce.Actor{MemberID: ids["bob"], Username: "bob"}
	f.carol = announce.Actor{MemberID: ids["carol"], Username: "carol", Admin: true}
	f.dave = announce.Actor{MemberID: ids["dave"], Username: "dave"}
	svc, err := announce.New(ctx, pool, announce.Config{Language: "english", Now: f.clock.Now})
	if err != nil {
		t.Fatalf("announce.New: %v", err)
	}
	f.svc = svc
	for _, c := range [][2]string{{"bicycles", "Bicycles"}, {"gardening", "Gardening"}} {
		if _, err := svc.CreateCategory(ctx, c[0], c[1]); err != nil {
			t.Fatalf("create category %s: %v", c[0], err)
		}
	}
	return f
}

func (f *fixture) actor(a announce.Actor) announce.Actor {
	switch a.Username {
	case "alice":
		return f.alice
	case "bob":
		return f.bob
	case "carol":
		return f.carol
	}
	return f.dave
}

// seed writes the seeded announcements, the n-th created at base+(n-1)h,
// and sets the clock to seedNow.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i, it := range seedItems() {
		created := base.Add(time.Duration(i) * time.Hour)
		f.clock.Set(created)
		d := announce.Draft{Kind: it.kind, Title: it.title, Description: it.desc, Category: it.category,
			Price: it.price, Place: it.place, Lat: it.lat, Lon: it.lon}
		if it.expired {
			e := created.Add(time.Hour)
			d.ExpiresAt = &e
		}
		a, err := f.svc.Create(ctx, f.actor(it.by), d)
		if err != nil {
			t.Fatalf("seed %d %q: %v", i+1, it.title, err)
		}
		if a.ID != int64(i+1) {
			t.Fatalf("seed %d got id %d, want %d", i+1, a.ID, i+1)
		}
		if it.closed {
			if _, err := f.svc.Close(ctx, f.actor(it.by), a.ID); err != nil {
				t.Fatalf("close %d: %v", a.ID, err)
			}
		}
	}
	f.clock.Set(seedNow)
}
