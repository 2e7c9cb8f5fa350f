package announce_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/announce"
)

func TestDraftValidate(t *testing.T) {
	t.Parallel()
	now := base
	good := announce.Draft{Kind: announce.Offer, Title: "Bike repair", Category: "services"}
	past := now.Add(-time.Minute)
	far := now.Add(3 * 365 * 24 * time.Hour)
	soon := now.Add(time.Hour)
	tests := []struct {
		name   string
		change func(d *announce.Draft)
		field  string // "" when valid
	}{
		{"valid", func(d *announce.Draft) {}, ""},
		{"valid with everything", func(d *announce.Draft) {
			d.Description, d.Price, d.Place, d.Lat, d.Lon, d.ExpiresAt = "x\ny", price(0), "Leeds", pt(-90), pt(180), &soon
		}, ""},
		{"bad kind", func(d *announce.Draft) { d.Kind = "swap" }, "kind"},
		{"empty kind", func(d *announce.Draft) { d.Kind = "" }, "kind"},
		{"empty title", func(d *announce.Draft) { d.Title = "" }, "title"},
		{"title of 120 characters", func(d *announce.Draft) { d.Title = strings.Repeat("é", 120) }, ""},
		{"title of 121 characters", func(d *announce.Draft) { d.Title = strings.Repeat("é", 121) }, "title"},
		{"title with a newline", func(d *announce.Draft) { d.Title = "a\nb" }, "title"},
		{"title not UTF-8", func(d *announce.Draft) { d.Title = "a\xffb" }, "title"},
		{"description of 5001 characters", func(d *announce.Draft) { d.Description = strings.Repeat("a", 5001) }, "description"},
		{"description with NUL", func(d *announce.Draft) { d.Description = "a\x00b" }, "description"},
		{"no category", func(d *announce.Draft) { d.Category = "" }, "category"},
		{"bad category slug", func(d *announce.Draft) { d.Category = "Food!" }, "category"},
		{"negative price", func(d *announce.Draft) { d.Price = price(-1) }, "price"},
		{"place of 201 characters", func(d *announce.Draft) { d.Place = strings.Repeat("a", 201) }, "place"},
		{"lat without lon", func(d *announce.Draft) { d.Lat = pt(1) }, "lon"},
		{"lon without lat", func(d *announce.Draft) { d.Lon = pt(1) }, "lat"},
		{"lat too big", func(d *announce.Draft) { d.Lat, d.Lon = pt(90.0001), pt(0) }, "lat"},
		{"lon too small", func(d *announce.Draft) { d.Lat, d.Lon = pt(0), pt(-180.0001) }, "lon"},
		{"expiry in the past", func(d *announce.Draft) { d.ExpiresAt = &past }, "expires_at"},
		{"expiry now", func(d *announce.Draft) { d.ExpiresAt = &now }, "expires_at"},
		{"expiry too far", func(d *announce.Draft) { d.ExpiresAt = &far }, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			err := d.Validate(now)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			e, ok := announce.AsError(err)
			if !ok || e.Code != announce.CodeInvalid || e.Field != tt.field {
				t.Fatalf("got %v, want invalid %s", err, tt.field)
			}
		})
	}
}

func count(t *testing.T, f *fixture, table string) int64 {
	t.Helper()
	var n int64
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	exp := base.Add(48 * time.Hour)
	a, err := f.svc.Create(ctx, f.alice, announce.Draft{Kind: announce.Want, Title: "  Ladder  ", Description: "Tall one.\n",
		Category: "goods", Price: price(1250), Place: "Leeds", Lat: pt(53.8008), Lon: pt(-1.5491), ExpiresAt: &exp})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := f.svc.Get(ctx, a.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Title != "Ladder" || got.Description != "Tall one." || got.Kind != announce.Want || got.Author != "alice" ||
		got.MemberID != f.alice.MemberID || got.Category.Slug != "goods" || got.Category.Name != "Goods" ||
		*got.Price != 1250 || got.Place != "Leeds" || *got.Lat != 53.8008 || *got.Lon != -1.5491 ||
		!got.ExpiresAt.Equal(exp) || got.Status != announce.Active || got.Origin != announce.Local ||
		!got.CreatedAt.Equal(base) {
		t.Errorf("got %+v", got)
	}

	// No expiry given: DefaultExpiry from now. No price: unvalued.
	b, err := f.svc.Create(ctx, f.bob, announce.Draft{Kind: announce.Offer, Title: "Help", Category: "services"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if want := base.Add(announce.DefaultExpiry); !b.ExpiresAt.Equal(want) || b.Price != nil || b.Lat != nil {
		t.Errorf("got expiry %v price %v lat %v, want %v, nil, nil", b.ExpiresAt, b.Price, b.Lat, want)
	}

	if _, err := f.svc.Get(ctx, 999); !errors.Is(err, announce.ErrNotFound) {
		t.Errorf("Get 999: got %v, want not found", err)
	}
}

func TestCreateRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		actor announce.Actor
		d     announce.Draft
		code  string
		field string
	}{
		{"unknown category", f.alice, announce.Draft{Kind: announce.Offer, Title: "x", Category: "boats"}, announce.CodeInvalid, "category"},
		{"bad kind", f.alice, announce.Draft{Kind: "gift", Title: "x", Category: "food"}, announce.CodeInvalid, "kind"},
		{"blank title", f.alice, announce.Draft{Kind: announce.Offer, Title: "   ", Category: "food"}, announce.CodeInvalid, "title"},
		{"not logged in", announce.Actor{}, announce.Draft{Kind: announce.Offer, Title: "x", Category: "food"}, announce.CodeForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, tt.actor, tt.d)
			e, ok := announce.AsError(err)
			if !ok || e.Code != tt.code || e.Field != tt.field {
				t.Errorf("got %v, want %s %s", err, tt.code, tt.field)
			}
		})
	}
	if n := count(t, f, "announcements"); n != 0 {
		t.Errorf("got %d announcements, want 0", n)
	}
}

func TestUpdateAndAuthorisation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	ctx := context.Background()

	// 1 is alice's.
	tests := []struct {
		name  string
		actor announce.Actor
		code  string // "" when allowed
	}{
		{"another member", f.bob, announce.CodeForbidden},
		{"a member with none", f.dave, announce.CodeForbidden},
		{"nobody", announce.Actor{}, announce.CodeForbidden},
		{"the author", f.alice, ""},
		{"an admin", f.carol, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title := "Bike repair by " + tt.actor.Username
			a, err := f.svc.Update(ctx, tt.actor, 1, announce.Patch{Title: announce.To(title)})
			if tt.code != "" {
				if e, ok := announce.AsError(err); !ok || e.Code != tt.code {
					t.Fatalf("Update: got %v, want %s", err, tt.code)
				}
				if _, err := f.svc.Close(ctx, tt.actor, 1); !errors.Is(err, announce.ErrForbidden) {
					t.Errorf("Close: got %v, want forbidden", err)
				}
				if err := f.svc.Delete(ctx, tt.actor, 1); !errors.Is(err, announce.ErrForbidden) {
					t.Errorf("Delete: got %v, want forbidden", err)
				}
				got, _ := f.svc.Get(ctx, 1)
				if got.Title == title || got.Status != announce.Active {
					t.Errorf("got title %q status %q after a refused change", got.Title, got.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if a.Title != title || !a.UpdatedAt.Equal(seedNow) || !a.CreatedAt.Equal(base) {
				t.Errorf("got title %q updated %v created %v", a.Title, a.UpdatedAt, a.CreatedAt)
			}
		})
	}
	if n := count(t, f, "announcements"); n != 20 {
		t.Errorf("got %d announcements, want 20", n)
	}

	// A full patch by the author; the search index follows.
	exp := seedNow.Add(24 * time.Hour)
	a, err := f.svc.Update(ctx, f.alice, 1, announce.Patch{
		Kind: announce.To(announce.Want), Title: announce.To("Tandem wanted"), Description: announce.To("For two."),
		Category: announce.To("bicycles"), Price: announce.To[*int64](nil), Place: announce.To("Otley"),
		Lat: announce.To[*float64](nil), Lon: announce.To[*float64](nil), ExpiresAt: announce.To(exp)})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if a.Kind != announce.Want || a.Title != "Tandem wanted" || a.Description != "For two." || a.Category.Slug != "bicycles" ||
		a.Price != nil || a.Place != "Otley" || a.Lat != nil || !a.ExpiresAt.Equal(exp) {
		t.Errorf("got %+v", a)
	}
	page, err := f.svc.Search(ctx, announce.Query{Text: "tandem otley"})
	if err != nil || !slices.Equal(ids(page), []int64{1}) {
		t.Errorf("search tandem otley: got %v %v, want [1]", ids(page), err)
	}
	page, err = f.svc.Search(ctx, announce.Query{Text: "brakes"})
	if err != nil || len(page.Announcements) != 0 {
		t.Errorf("search brakes: got %v %v, want []", ids(page), err)
	}

	// Bad patches change nothing.
	past := seedNow.Add(-time.Hour)
	bad := []struct {
		name  string
		p     announce.Patch
		field string
	}{
		{"empty title", announce.Patch{Title: announce.To("")}, "title"},
		{"unknown category", announce.Patch{Category: announce.To("boats")}, "category"},
		{"negative price", announce.Patch{Price: announce.To(price(-5))}, "price"},
		{"past expiry", announce.Patch{ExpiresAt: announce.To(past)}, "expires_at"},
		{"status expired", announce.Patch{Status: announce.To(announce.Expired)}, "status"},
		{"lat alone", announce.Patch{Lat: announce.To(pt(1))}, "lat"},
		{"bad kind", announce.Patch{Kind: announce.To(announce.Kind("x"))}, "kind"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Update(ctx, f.alice, 1, tt.p)
			if e, ok := announce.AsError(err); !ok || e.Code != announce.CodeInvalid || e.Field != tt.field {
				t.Fatalf("got %v, want invalid %s", err, tt.field)
			}
			got, _ := f.svc.Get(ctx, 1)
			if got.Title != "Tandem wanted" || got.Category.Slug != "bicycles" || got.Price != nil || !got.ExpiresAt.Equal(exp) {
				t.Errorf("got %+v after a refused change", got)
			}
		})
	}

	// Reopening an expired one needs a new expiry.
	if _, err := f.svc.Update(ctx, f.bob, 17, announce.Patch{Status: announce.To(announce.Active)}); !errors.Is(err, announce.ErrInvalid) {
		t.Errorf("reopen expired: got %v, want invalid", err)
	}
	a, err = f.svc.Update(ctx, f.bob, 17, announce.Patch{Status: announce.To(announce.Active), ExpiresAt: announce.To(exp)})
	if err != nil || a.Status != announce.Active {
		t.Errorf("reopen expired with expiry: got %v %v, want active", a.Status, err)
	}

	// Close and delete.
	a, err = f.svc.Close(ctx, f.alice, 4)
	if err != nil || a.Status != announce.Closed {
		t.Errorf("Close: got %v %v, want closed", a.Status, err)
	}
	if err := f.svc.Delete(ctx, f.carol, 4); err != nil {
		t.Errorf("admin Delete: %v", err)
	}
	if err := f.svc.Delete(ctx, f.alice, 4); !errors.Is(err, announce.ErrNotFound) {
		t.Errorf("Delete again: got %v, want not found", err)
	}
	if _, err := f.svc.Update(ctx, f.alice, 999, announce.Patch{}); !errors.Is(err, announce.ErrNotFound) {
		t.Errorf("Update 999: got %v, want not found", err)
	}
	if n := count(t, f, "announcements"); n != 19 {
		t.Errorf("got %d announcements, want 19", n)
	}
}

func TestCategories(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	ctx := context.Background()

	list, err := f.svc.Categories(ctx)
	if err != nil {
		t.Fatalf("Categories: %v", err)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.Slug+":"+c.Name+":"+strconv.FormatInt(c.Active, 10))
	}
	want := []string{"bicycles:Bicycles:2", "food:Food:4", "gardening:Gardening:3", "goods:Goods:1",
		"housing:Housing:1", "other:Other:0", "services:Services:2", "skills:Skills and lessons:2", "transport:Transport:3"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// Renaming reindexes: "cycling" now finds the bicycles category by name.
	if _, err := f.svc.UpdateCategory(ctx, "bicycles", announce.Field[string]{}, announce.To("Cycling")); err != nil {
		t.Fatalf("UpdateCategory: %v", err)
	}
	page, err := f.svc.Search(ctx, announce.Query{Text: "cycling"})
	if err != nil || !slices.Equal(ids(page), []int64{20, 10, 2}) {
		t.Errorf("search cycling: got %v %v, want [20 10 2]%s", ids(page), err, ranks(page))
	}
	c, err := f.svc.UpdateCategory(ctx, "bicycles", announce.To("cycling"), announce.Field[string]{})
	if err != nil || c.Slug != "cycling" || c.Name != "Cycling" {
		t.Errorf("change slug: got %+v %v", c, err)
	}

	bad := []struct {
		name      string
		run       func() error
		code, fld string
	}{
		{"duplicate slug", func() error { _, err := f.svc.CreateCategory(ctx, "food", "Meals"); return err }, announce.CodeConflict, "slug"},
		{"duplicate name", func() error { _, err := f.svc.CreateCategory(ctx, "meals", "Food"); return err }, announce.CodeConflict, "name"},
		{"bad slug", func() error { _, err := f.svc.CreateCategory(ctx, "Meals!", "Meals"); return err }, announce.CodeInvalid, "slug"},
		{"empty name", func() error { _, err := f.svc.CreateCategory(ctx, "meals", " "); return err }, announce.CodeInvalid, "name"},
		{"long name", func() error { _, err := f.svc.CreateCategory(ctx, "meals", strings.Repeat("m", 61)); return err }, announce.CodeInvalid, "name"},
		{"rename to an existing name", func() error {
			_, err := f.svc.UpdateCategory(ctx, "food", announce.Field[string]{}, announce.To("Goods"))
			return err
		}, announce.CodeConflict, "name"},
		{"update unknown", func() error {
			_, err := f.svc.UpdateCategory(ctx, "boats", announce.Field[string]{}, announce.To("Boats"))
			return err
		}, announce.CodeNotFound, ""},
		{"delete in use", func() error { return f.svc.DeleteCategory(ctx, "food") }, announce.CodeConflict, "category"},
		{"delete unknown", func() error { return f.svc.DeleteCategory(ctx, "boats") }, announce.CodeNotFound, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := announce.AsError(tt.run())
			if !ok || e.Code != tt.code || e.Field != tt.fld {
				t.Errorf("got %v, want %s %s", e, tt.code, tt.fld)
			}
		})
	}
	if n := count(t, f, "announcement_categories"); n != 9 {
		t.Errorf("got %d categories, want 9", n)
	}
	if _, err := f.svc.CreateCategory(ctx, "meals", "Meals"); err != nil {
		t.Errorf("CreateCategory: %v", err)
	}
	if err := f.svc.DeleteCategory(ctx, "meals"); err != nil {
		t.Errorf("DeleteCategory: %v", err)
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	ctx := context.Background()

	// With "simple" there is no stemming: "bikes" finds only the word bikes.
	simple, err := announce.New(ctx, f.pool, announce.Config{Language: "simple", Now: f.clock.Now})
	if err != nil {
		t.Fatalf("New simple: %v", err)
	}
	if simple.Language() != "simple" {
		t.Errorf("got language %q, want simple", simple.Language())
	}
	page, err := simple.Search(ctx, announce.Query{Text: "bikes"})
	if err != nil || !slices.Equal(ids(page), []int64{3, 10}) {
		t.Errorf("simple bikes: got %v %v, want [3 10]%s", ids(page), err, ranks(page))
	}
	var n int64
	f.pool.QueryRow(ctx, `SELECT count(*) FROM announcements WHERE search_config <> 'simple'::regconfig`).Scan(&n)
	if n != 0 {
		t.Errorf("got %d rows not reindexed, want 0", n)
	}

	// An unknown language falls back to simple.
	unknown, err := announce.New(ctx, f.pool, announce.Config{Language: "klingon", Now: f.clock.Now})
	if err != nil || unknown.Language() != "simple" {
		t.Errorf("klingon: got %q %v, want simple", unknown.Language(), err)
	}

	// Back to english: stemming again.
	english, err := announce.New(ctx, f.pool, announce.Config{Language: "english", Now: f.clock.Now})
	if err != nil {
		t.Fatalf("New english: %v", err)
	}
	page, err = english.Search(ctx, announce.Query{Text: "bikes"})
	if err != nil || !slices.Equal(ids(page), []int64{3, 16, 2, 1, 20, 10}) {
		t.Errorf("english bikes: got %v %v, want [3 16 2 1 20 10]", ids(page), err)
	}
}

// TestDraftMessagesNameTheField: a refusal is a sentence a member
// understands on its own (the form shows it above the fields), naming the
// field in words, never a slug or a JSON name.
func TestDraftMessagesNameTheField(t *testing.T) {
	t.Parallel()
	good := announce.Draft{Kind: announce.Offer, Title: "Bike repair", Category: "services"}
	tests := []struct {
		name   string
		change func(d *announce.Draft)
		want   string
	}{
		{"empty title", func(d *announce.Draft) { d.Title = "" }, "Title must not be empty"},
		{"long title", func(d *announce.Draft) { d.Title = strings.Repeat("a", 121) }, "Title has 121 characters, at most 120 are allowed"},
		{"no category", func(d *announce.Draft) { d.Category = "" }, "Choose a category"},
		{"bad category", func(d *announce.Draft) { d.Category = "Food!" }, `There is no category "Food!"`},
		{"negative price", func(d *announce.Draft) { d.Price = price(-1) }, "Price must not be negative"},
		{"long place", func(d *announce.Draft) { d.Place = strings.Repeat("a", 201) }, "Place has 201 characters, at most 200 are allowed"},
		{"lat without lon", func(d *announce.Draft) { d.Lat = pt(1) }, "Longitude is required with latitude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			e, ok := announce.AsError(d.Validate(base))
			if !ok || e.Message != tt.want {
				t.Fatalf("got %v, want the message %q", e, tt.want)
			}
		})
	}
}
