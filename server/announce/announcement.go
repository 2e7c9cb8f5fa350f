package announce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Kind says whether an announcement offers something or asks for it.
type Kind string

// Kinds.
const (
	Offer Kind = "offer"
	Want  Kind = "want"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Offer || k == Want }

// Status is the state of an announcement. Expired is derived: an active
// announcement whose expiry has passed is shown as expired.
type Status string

// Statuses.
const (
	Active  Status = "active"
	Closed  Status = "closed"
	Expired Status = "expired"
)

// Origin of the announcements of this community; remote ones carry the
// base URL of the community they came from.
const Local = "local"

// Announcement is an offer or a want.
type Announcement struct {
	ID          int64
	MemberID    int64  // the local author; 0 for a remote announcement
	Author      string // the author's username (user@community when remote)
	Kind        Kind
	Title       string
	Description string
	Category    Category
	Price       *int64 // minor units of the community's currency; nil: unvalued
	Place       string
	Lat, Lon    *float64 // both or neither
	ExpiresAt   time.Time
	Status      Status
	Origin      string // Local, or the origin community's base URL
	// Federated announcements only: the price as their origin wrote it
	// (a decimal in RemoteCurrency) and the author's display name.
	RemotePrice    *string
	RemoteCurrency string
	AuthorName     string
	OriginID       string // federated: the event id at its origin
	// Money offers: an amount of the author's currency instead of an item;
	// minor units when local, the origin's decimal and currency when federated.
	Money               *int64
	RemoteMoney         *string
	RemoteMoneyCurrency string
	CreatedAt           time.Time
	UpdatedAt           time.Time

	Rank       float64  // search rank when a text query was given
	DistanceKm *float64 // distance from the query's point, when one was given
}

// Actor is who asks for a change.
type Actor struct {
	MemberID int64
	Username string
	Admin    bool
}

// Draft is a new announcement as its author writes it.
type Draft struct {
	Kind        Kind
	Title       string
	Description string
	Category    string // a category slug
	Price       *int64 // nil: unvalued
	Money       *int64 // a money offer: this many minor units of the author's currency
	Place       string
	Lat, Lon    *float64
	ExpiresAt   *time.Time // nil: DefaultExpiry from now
}

// Field is one optional field of a Patch: Set says whether to change it.
type Field[T any] struct {
	Set   bool
	Value T
}

// To returns a Field that sets v.
func To[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// apply stores f's value in *dst when f is set.
func (f Field[T]) apply(dst *T) {
	if f.Set {
		*dst = f.Value
	}
}

// Patch changes some fields of an announcement; unset fields stay.
type Patch struct {
	Kind        Field[Kind]
	Title       Field[string]
	Description Field[string]
	Category    Field[string]
	Price       Field[*int64]
	Money       Field[*int64]
	Place       Field[string]
	Lat, Lon    Field[*float64] // set both to change the location
	ExpiresAt   Field[time.Time]
	Status      Field[Status] // active or closed
}

// Apply returns d changed by p.
func (p Patch) Apply(d Draft) Draft {
	p.Kind.apply(&d.Kind)
	p.Title.apply(&d.Title)
	p.Description.apply(&d.Description)
	p.Category.apply(&d.Category)
	p.Price.apply(&d.Price)
	p.Money.apply(&d.Money)
	p.Place.apply(&d.Place)
	p.Lat.apply(&d.Lat)
	p.Lon.apply(&d.Lon)
	if p.ExpiresAt.Set {
		t := p.ExpiresAt.Value
		d.ExpiresAt = &t
	}
	return d
}

// normalize trims the text fields of d.
func (d Draft) normalize() Draft {
	d.Title = strings.TrimSpace(d.Title)
	d.Description = strings.TrimSpace(d.Description)
	d.Place = strings.TrimSpace(d.Place)
	d.Category = strings.TrimSpace(d.Category)
	return d
}

// Validate checks every rule of a draft that needs no database, as of now;
// the category's existence is checked when it is written.
func (d Draft) Validate(now time.Time) error {
	if !d.Kind.Valid() {
		return invalid("kind", "must be offer or want, got %q", d.Kind)
	}
	if err := checkText("title", d.Title, 1, MaxTitle, false); err != nil {
		return err
	}
	if err := checkText("description", d.Description, 0, MaxDescription, true); err != nil {
		return err
	}
	if d.Category == "" {
		return refusal("category", "Choose a category")
	}
	if !slugPattern.MatchString(d.Category) {
		return refusal("category", "There is no category %q", d.Category)
	}
	if d.Price != nil && *d.Price < 0 {
		return invalid("price", "must not be negative")
	}
	if d.Money != nil {
		if d.Kind != Offer {
			return invalid("money", "only an offer can be an amount of money")
		}
		if *d.Money <= 0 {
			return invalid("money", "must be a positive amount")
		}
	}
	if err := checkText("place", d.Place, 0, MaxPlace, false); err != nil {
		return err
	}
	if err := checkPoint(d.Lat, d.Lon); err != nil {
		return err
	}
	if d.ExpiresAt != nil {
		if !d.ExpiresAt.After(now) {
			return invalid("expires_at", "must be in the future")
		}
		if d.ExpiresAt.After(now.Add(MaxExpiry)) {
			return invalid("expires_at", "must be at most %d days ahead", int(MaxExpiry/(24*time.Hour)))
		}
	}
	return nil
}

func checkText(field, s string, min, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n < min {
		if min == 1 {
			return invalid(field, "must not be empty")
		}
		return invalid(field, "must have at least %d characters", min)
	}
	if n > max {
		return invalid(field, "has %d characters, at most %d are allowed", n, max)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

func checkPoint(lat, lon *float64) error {
	if (lat == nil) != (lon == nil) {
		if lat == nil {
			return invalid("lat", "is required with longitude")
		}
		return invalid("lon", "is required with latitude")
	}
	if lat == nil {
		return nil
	}
	if !(*lat >= -90 && *lat <= 90) {
		return invalid("lat", "must be between -90 and 90")
	}
	if !(*lon >= -180 && *lon <= 180) {
		return invalid("lon", "must be between -180 and 180")
	}
	return nil
}

// Create writes a new local announcement by actor.
func (s *Service) Create(ctx context.Context, actor Actor, d Draft) (Announcement, error) {
	if actor.MemberID <= 0 || actor.Username == "" {
		return Announcement{}, &Error{Code: CodeForbidden, Message: "log in to post an announcement"}
	}
	now := s.now()
	d = d.normalize()
	if err := d.Validate(now); err != nil {
		return Announcement{}, err
	}
	expires := now.Add(DefaultExpiry)
	if d.ExpiresAt != nil {
		expires = *d.ExpiresAt
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Announcement{}, storageError("create announcement", err)
	}
	defer tx.Rollback(ctx)
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO announcements (member_id, author, kind, title, description, category_id, price,
		                           place, lat, lon, expires_at, search_config, created_at, updated_at, money)
		SELECT $1, $2, $3, $4, $5, c.id, $7, $8, $9, $10, $11, $12::regconfig, $13, $13, $14
		  FROM announcement_categories c WHERE c.slug = $6
		RETURNING id`,
		actor.MemberID, actor.Username, d.Kind, d.Title, d.Description, d.Category, d.Price,
		d.Place, d.Lat, d.Lon, expires, s.language, now, d.Money).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Announcement{}, unknownCategory(d.Category)
	}
	if err != nil {
		return Announcement{}, storageError("create announcement", err)
	}
	if err := s.published(ctx, tx, id); err != nil {
		return Announcement{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Announcement{}, storageError("create announcement", err)
	}
	return s.Get(ctx, id)
}

// Get returns one announcement, whatever its status.
func (s *Service) Get(ctx context.Context, id int64) (Announcement, error) {
	rows, err := s.pool.Query(ctx, selectAnnouncement+` WHERE a.id = $2`, s.now(), id)
	if err != nil {
		return Announcement{}, storageError("get announcement", err)
	}
	list, err := pgx.CollectRows(rows, scanAnnouncement)
	if err != nil {
		return Announcement{}, storageError("get announcement", err)
	}
	if len(list) == 0 {
		return Announcement{}, notFound(id)
	}
	return list[0], nil
}

// Update changes an announcement; only its author or an admin may.
func (s *Service) Update(ctx context.Context, actor Actor, id int64, p Patch) (Announcement, error) {
	now := s.now()
	if p.Status.Set && p.Status.Value != Active && p.Status.Value != Closed {
		return Announcement{}, invalid("status", "must be active or closed, got %q", p.Status.Value)
	}
	if p.Lat.Set != p.Lon.Set {
		return Announcement{}, refusal("lat", "Latitude and longitude change together")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Announcement{}, storageError("update announcement", err)
	}
	defer tx.Rollback(ctx)
	cur, err := lockAnnouncement(ctx, tx, id)
	if err != nil {
		return Announcement{}, err
	}
	if err := authorize(actor, cur, "edit"); err != nil {
		return Announcement{}, err
	}
	d := p.Apply(cur.d).normalize()
	// The stored expiry may have passed; only a new one is checked.
	check := d
	if !p.ExpiresAt.Set {
		check.ExpiresAt = nil
	}
	if err := check.Validate(now); err != nil {
		return Announcement{}, err
	}
	status := cur.storedStatus
	if p.Status.Set {
		status = p.Status.Value
	}
	if p.Status.Set && status == Active && !d.ExpiresAt.After(now) {
		return Announcement{}, invalid("expires_at", "has passed: give a new expiry to make the announcement active again")
	}
	tag, err := tx.Exec(ctx, `
		UPDATE announcements a
		   SET kind = $2, title = $3, description = $4, category_id = c.id, price = $6,
		       place = $7, lat = $8, lon = $9, expires_at = $10, status = $11, updated_at = $12, money = $13
		  FROM announcement_categories c
		 WHERE a.id = $1 AND c.slug = $5`,
		id, d.Kind, d.Title, d.Description, d.Category, d.Price, d.Place, d.Lat, d.Lon,
		*d.ExpiresAt, status, now, d.Money)
	if err != nil {
		return Announcement{}, storageError("update announcement", err)
	}
	if tag.RowsAffected() == 0 {
		return Announcement{}, unknownCategory(d.Category)
	}
	if err := s.published(ctx, tx, id); err != nil {
		return Announcement{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Announcement{}, storageError("update announcement", err)
	}
	return s.Get(ctx, id)
}

// Close marks an announcement closed; only its author or an admin may.
func (s *Service) Close(ctx context.Context, actor Actor, id int64) (Announcement, error) {
	return s.Update(ctx, actor, id, Patch{Status: To(Closed)})
}

// Delete removes an announcement; only its author or an admin may.
func (s *Service) Delete(ctx context.Context, actor Actor, id int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return storageError("delete announcement", err)
	}
	defer tx.Rollback(ctx)
	cur, err := lockAnnouncement(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := authorize(actor, cur, "delete"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM announcements WHERE id = $1`, id); err != nil {
		return storageError("delete announcement", err)
	}
	if err := s.published(ctx, tx, id); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return storageError("delete announcement", err)
	}
	return nil
}

// CanEdit reports whether actor may change a.
func CanEdit(actor Actor, a Announcement) bool {
	return authorize(actor, current{memberID: a.MemberID, origin: a.Origin}, "edit") == nil
}

func authorize(actor Actor, cur current, verb string) error {
	if actor.MemberID <= 0 && !actor.Admin {
		return &Error{Code: CodeForbidden, Message: "log in to " + verb + " an announcement"}
	}
	if cur.origin != Local {
		return &Error{Code: CodeForbidden, Message: "an announcement from another community can only be changed there"}
	}
	if !actor.Admin && cur.memberID != actor.MemberID {
		return &Error{Code: CodeForbidden, Message: "only the author or an admin may " + verb + " this announcement"}
	}
	return nil
}

// current is the stored state of an announcement locked for a change.
type current struct {
	memberID     int64
	origin       string
	storedStatus Status
	d            Draft
}

func lockAnnouncement(ctx context.Context, tx pgx.Tx, id int64) (current, error) {
	var c current
	var memberID *int64
	var expires time.Time
	err := tx.QueryRow(ctx, `
		SELECT a.member_id, a.origin, a.status, a.kind, a.title, a.description, coalesce(c.slug, ''), a.price,
		       a.place, a.lat::float8, a.lon::float8, a.expires_at, a.money
		  FROM announcements a LEFT JOIN announcement_categories c ON c.id = a.category_id
		 WHERE a.id = $1
		   FOR UPDATE OF a`, id).Scan(&memberID, &c.origin, &c.storedStatus, &c.d.Kind, &c.d.Title,
		&c.d.Description, &c.d.Category, &c.d.Price, &c.d.Place, &c.d.Lat, &c.d.Lon, &expires, &c.d.Money)
	if errors.Is(err, pgx.ErrNoRows) {
		return current{}, notFound(id)
	}
	if err != nil {
		return current{}, storageError("lock announcement", err)
	}
	if memberID != nil {
		c.memberID = *memberID
	}
	c.d.ExpiresAt = &expires
	return c, nil
}

// selectAnnouncement reads announcements with their category; $1 is now.
const selectAnnouncement = `
	SELECT a.id, coalesce(a.member_id, 0), a.author, a.kind, a.title, a.description,
	       ` + categoryColumns + `, a.price, a.place, a.lat::float8, a.lon::float8, a.expires_at,
	       CASE WHEN a.status = 'active' AND a.expires_at <= $1 THEN 'expired' ELSE a.status END,
	       a.origin, a.created_at, a.updated_at, ` + remoteColumns + `, 0::float8, NULL::float8
	  FROM announcements a LEFT JOIN announcement_categories c ON c.id = a.category_id`

// categoryColumns are the category of an announcement: a remote one has no
// local category, only its origin's category name.
const categoryColumns = `coalesce(c.id, 0), coalesce(c.slug, ''), coalesce(c.name, a.remote_category, '')`

// remoteColumns are what only federated announcements carry.
const remoteColumns = `a.remote_price::text, coalesce(a.remote_currency, ''), coalesce(a.author_name, ''),
	coalesce(a.origin_id, ''), a.money, a.remote_money_value, coalesce(a.remote_money_currency, '')`

func scanAnnouncement(row pgx.CollectableRow) (Announcement, error) {
	var a Announcement
	err := row.Scan(&a.ID, &a.MemberID, &a.Author, &a.Kind, &a.Title, &a.Description,
		&a.Category.ID, &a.Category.Slug, &a.Category.Name, &a.Price, &a.Place, &a.Lat, &a.Lon,
		&a.ExpiresAt, &a.Status, &a.Origin, &a.CreatedAt, &a.UpdatedAt, &a.RemotePrice, &a.RemoteCurrency,
		&a.AuthorName, &a.OriginID, &a.Money, &a.RemoteMoney, &a.RemoteMoneyCurrency, &a.Rank, &a.DistanceKm)
	return a, err
}

func notFound(id int64) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("no announcement %d", id)}
}

func unknownCategory(slug string) *Error {
	return refusal("category", "There is no category %q in this community", slug)
}

// storageError translates the constraint names of the schema into domain
// errors; anything else is an internal error, wrapped.
func storageError(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.ConstraintName {
		case "announcement_categories_slug_key":
			return &Error{Code: CodeConflict, Field: "slug", Message: "a category with this slug exists"}
		case "announcement_categories_name_key":
			return &Error{Code: CodeConflict, Field: "name", Message: "a category with this name exists"}
		case "announcements_category_fkey":
			return &Error{Code: CodeConflict, Field: "category", Message: "the category has announcements; move or delete them first"}
		case "announcements_title_check":
			return invalid("title", "must have 1 to %d characters", MaxTitle)
		case "announcements_description_check":
			return invalid("description", "must have at most %d characters", MaxDescription)
		case "announcements_place_check":
			return invalid("place", "must have at most %d characters", MaxPlace)
		case "announcements_money_check":
			return invalid("money", "only an offer can be an amount of money, and a positive one")
		case "announcements_price_check":
			return invalid("price", "must not be negative")
		case "announcements_lat_check", "announcements_coordinates_check":
			return invalid("lat", "must be between -90 and 90, given together with longitude")
		case "announcements_lon_check":
			return invalid("lon", "must be between -180 and 180")
		}
	}
	return fmt.Errorf("announce: %s: %w", op, err)
}
