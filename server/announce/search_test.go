package announce_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/announce"
)

func ids(p announce.Page) []int64 {
	out := make([]int64, len(p.Announcements))
	for i, a := range p.Announcements {
		out[i] = a.ID
	}
	return out
}

// every active, unexpired seeded announcement, newest first (17 expired, 18 closed).
var allActive = []int64{20, 19, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}

func TestSearch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	ctx := context.Background()

	tests := []struct {
		name  string
		q     announce.Query
		want  []int64
		total int64
	}{
		{name: "no query lists active ones newest first", q: announce.Query{Limit: 100}, want: allActive},

		// Rankings: title (A) above category name (B) above description (C)
		// above place (D); equal ranks newest first.
		{name: "bike: title and description beat title only, then description", q: announce.Query{Text: "bike"},
			want: []int64{3, 16, 2, 1, 20, 10}},
		{name: "bikes stems to bike", q: announce.Query{Text: "bikes"}, want: []int64{3, 16, 2, 1, 20, 10}},
		{name: "category name matches", q: announce.Query{Text: "bicycles"}, want: []int64{2, 10}},
		{name: "gardening: title+category+description, then category+description", q: announce.Query{Text: "gardening"},
			want: []int64{6, 15, 14}},
		{name: "eggs: title+description, then description", q: announce.Query{Text: "eggs"}, want: []int64{19, 4, 5}},
		{name: "place matches", q: announce.Query{Text: "sheffield"}, want: []int64{13}},
		{name: "phrase", q: announce.Query{Text: `"guitar lessons"`}, want: []int64{7}},
		{name: "or", q: announce.Query{Text: "bread or airport"}, want: []int64{9, 11}},
		{name: "and of two words", q: announce.Query{Text: "eggs duck"}, want: []int64{19}},
		// 8 is in "Skills and lessons": a category-name match (B) ranks below a title (A).
		{name: "not", q: announce.Query{Text: "lessons -piano", IncludeInactive: true}, want: []int64{7, 8}},
		{name: "no match", q: announce.Query{Text: "submarine"}, want: []int64{}},

		// Filters.
		{name: "kind want", q: announce.Query{Kind: announce.Want}, want: []int64{19, 14, 10, 6, 2}},
		{name: "kind offer with text", q: announce.Query{Text: "bike", Kind: announce.Offer}, want: []int64{3, 16, 1, 20}},
		{name: "category", q: announce.Query{Category: "food"}, want: []int64{19, 11, 5, 4}},
		{name: "category with text", q: announce.Query{Category: "transport", Text: "bike"}, want: []int64{3, 20}},
		{name: "member", q: announce.Query{Member: "bob"}, want: []int64{20, 14, 11, 8, 5, 2}},
		{name: "member with inactive", q: announce.Query{Member: "bob", IncludeInactive: true}, want: []int64{20, 17, 14, 11, 8, 5, 2}},
		{name: "min price excludes unvalued", q: announce.Query{MinPrice: price(2000)}, want: []int64{12, 9, 7, 6}},
		{name: "max price", q: announce.Query{MaxPrice: price(400)}, want: []int64{16, 15, 11, 4}},
		{name: "price range inclusive", q: announce.Query{MinPrice: price(1000), MaxPrice: price(1800)}, want: []int64{20, 5, 3, 1}},
		{name: "free ones", q: announce.Query{MaxPrice: price(0)}, want: []int64{16}},
		{name: "within 10 km of Leeds", q: announce.Query{Lat: pt(leeds[0]), Lon: pt(leeds[1]), RadiusKm: 10}, want: []int64{1}},
		{name: "within 25 km of Leeds", q: announce.Query{Lat: pt(leeds[0]), Lon: pt(leeds[1]), RadiusKm: 25}, want: []int64{5, 3, 1}},
		{name: "within 45 km of Leeds", q: announce.Query{Lat: pt(leeds[0]), Lon: pt(leeds[1]), RadiusKm: 45}, want: []int64{20, 5, 3, 2, 1}},
		{name: "within 60 km of Leeds", q: announce.Query{Lat: pt(leeds[0]), Lon: pt(leeds[1]), RadiusKm: 60}, want: []int64{20, 13, 5, 3, 2, 1}},
		{name: "distance with text", q: announce.Query{Text: "bike", Lat: pt(leeds[0]), Lon: pt(leeds[1]), RadiusKm: 30}, want: []int64{3, 1}},
		{name: "expired and closed included on request", q: announce.Query{Text: "lessons", IncludeInactive: true}, want: []int64{18, 7, 8}},
		{name: "expired excluded", q: announce.Query{Text: "firewood"}, want: []int64{}},
		{name: "expired included", q: announce.Query{Text: "firewood", IncludeInactive: true}, want: []int64{17}},
		{name: "closed excluded", q: announce.Query{Text: "piano"}, want: []int64{}},
		{name: "origin local", q: announce.Query{Origin: announce.Local, Kind: announce.Want}, want: []int64{19, 14, 10, 6, 2}},

		// Pagination.
		{name: "first page", q: announce.Query{Limit: 5}, want: []int64{20, 19, 16, 15, 14}, total: 18},
		{name: "second page", q: announce.Query{Limit: 5, Offset: 5}, want: []int64{13, 12, 11, 10, 9}, total: 18},
		{name: "last page", q: announce.Query{Limit: 5, Offset: 15}, want: []int64{3, 2, 1}, total: 18},
		{name: "past the end", q: announce.Query{Limit: 5, Offset: 30}, want: []int64{}, total: 18},
		{name: "ranked pages", q: announce.Query{Text: "bike", Limit: 2, Offset: 2}, want: []int64{2, 1}, total: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.Search(ctx, tt.q)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if got := ids(page); !slices.Equal(got, tt.want) {
				t.Errorf("got ids %v, want %v%s", got, tt.want, ranks(page))
			}
			total := tt.total
			if total == 0 {
				total = int64(len(tt.want))
			}
			if page.Total != total {
				t.Errorf("got total %d, want %d", page.Total, total)
			}
		})
	}
}

func ranks(p announce.Page) string {
	s := "\n"
	for _, a := range p.Announcements {
		d := "-"
		if a.DistanceKm != nil {
			d = fmt.Sprintf("%.1fkm", *a.DistanceKm)
		}
		s += fmt.Sprintf("  %d %q rank=%.4f dist=%s\n", a.ID, a.Title, a.Rank, d)
	}
	return s
}

func TestSearchResultFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	ctx := context.Background()
	page, err := f.svc.Search(ctx, announce.Query{Text: "mountain", Lat: pt(leeds[0]), Lon: pt(leeds[1])})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(page.Announcements) != 1 {
		t.Fatalf("got %d results, want 1", len(page.Announcements))
	}
	a := page.Announcements[0]
	if a.ID != 3 || a.Author != "carol" || a.MemberID != f.carol.MemberID || a.Kind != announce.Offer ||
		a.Category.Slug != "transport" || a.Category.Name != "Transport" || a.Price == nil || *a.Price != 1000 ||
		a.Place != "Harrogate" || a.Status != announce.Active || a.Origin != announce.Local {
		t.Errorf("got %+v", a)
	}
	if a.Lat == nil || *a.Lat != harrogate[0] || a.Lon == nil || *a.Lon != harrogate[1] {
		t.Errorf("got lat %v lon %v, want %v", a.Lat, a.Lon, harrogate)
	}
	// Leeds to Harrogate is 21.3 km as the crow flies.
	if a.DistanceKm == nil || math.Abs(*a.DistanceKm-21.3) > 0.1 {
		t.Errorf("got distance %v, want 21.3 km", a.DistanceKm)
	}
	if a.Rank <= 0 {
		t.Errorf("got rank %v, want > 0", a.Rank)
	}
	if want := base.Add(2 * time.Hour); !a.CreatedAt.Equal(want) || !a.UpdatedAt.Equal(want) {
		t.Errorf("got created %v updated %v, want %v", a.CreatedAt, a.UpdatedAt, want)
	}

	exp, err := f.svc.Get(ctx, 17)
	if err != nil {
		t.Fatalf("Get 17: %v", err)
	}
	if exp.Status != announce.Expired {
		t.Errorf("got status %q for 17, want expired", exp.Status)
	}
	closed, err := f.svc.Get(ctx, 18)
	if err != nil {
		t.Fatalf("Get 18: %v", err)
	}
	if closed.Status != announce.Closed {
		t.Errorf("got status %q for 18, want closed", closed.Status)
	}
}

func TestSearchBadQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		q     announce.Query
		field string
	}{
		{"bad kind", announce.Query{Kind: "swap"}, "kind"},
		{"unknown category", announce.Query{Category: "boats"}, "category"},
		{"bad category slug", announce.Query{Category: "Bo ats"}, "category"},
		{"negative min price", announce.Query{MinPrice: price(-1)}, "min_price"},
		{"negative max price", announce.Query{MaxPrice: price(-1)}, "max_price"},
		{"min above max", announce.Query{MinPrice: price(5), MaxPrice: price(4)}, "min_price"},
		{"lat without lon", announce.Query{Lat: pt(1)}, "lon"},
		{"lat out of range", announce.Query{Lat: pt(91), Lon: pt(0)}, "lat"},
		{"lon out of range", announce.Query{Lat: pt(0), Lon: pt(-180.5)}, "lon"},
		{"radius without point", announce.Query{RadiusKm: 5}, "radius_km"},
		{"negative radius", announce.Query{Lat: pt(0), Lon: pt(0), RadiusKm: -5}, "radius_km"},
		{"huge radius", announce.Query{Lat: pt(0), Lon: pt(0), RadiusKm: 30000}, "radius_km"},
		{"page too large", announce.Query{Limit: 101}, "limit"},
		{"negative limit", announce.Query{Limit: -1}, "limit"},
		{"negative offset", announce.Query{Offset: -1}, "offset"},
		{"offset too large", announce.Query{Offset: 10001}, "offset"},
		{"query too long", announce.Query{Text: string(make([]byte, 501))}, "q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Search(ctx, tt.q)
			e, ok := announce.AsError(err)
			if !ok || e.Code != announce.CodeInvalid || e.Field != tt.field {
				t.Errorf("got %v, want invalid %s", err, tt.field)
			}
		})
	}
}

// TestSearchWeights checks the weights alone: the oldest matches in its
// title (A), then the category's name (B), the description (C) and the
// place (D), each newer than the one before, so only the weights can put
// them in this order.
func TestSearchWeights(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateCategory(ctx, "harbour", "Harbour"); err != nil {
		t.Fatalf("CreateCategory: %v", err)
	}
	drafts := []announce.Draft{
		{Kind: announce.Offer, Title: "Harbour boat trips", Category: "transport"},
		{Kind: announce.Offer, Title: "Fishing nets", Category: "harbour"},
		{Kind: announce.Offer, Title: "Rowing lessons", Description: "We meet at the harbour.", Category: "skills"},
		{Kind: announce.Offer, Title: "Room with a view", Category: "housing", Place: "Harbour"},
		{Kind: announce.Offer, Title: "Sea shanties", Category: "skills"},
	}
	for i, d := range drafts {
		f.clock.Set(base.Add(time.Duration(i) * time.Hour))
		if _, err := f.svc.Create(ctx, f.alice, d); err != nil {
			t.Fatalf("Create %d: %v", i+1, err)
		}
	}
	page, err := f.svc.Search(ctx, announce.Query{Text: "harbours"})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if got, want := ids(page), []int64{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v%s", got, want, ranks(page))
	}
	// ts_rank_cd's default weights: A 1.0, B 0.4, C 0.2, D 0.1.
	for i, want := range []float64{1.0, 0.4, 0.2, 0.1} {
		if got := page.Announcements[i].Rank; math.Abs(got-want) > 1e-6 {
			t.Errorf("rank of %d: got %v, want %v", i+1, got, want)
		}
	}
}
