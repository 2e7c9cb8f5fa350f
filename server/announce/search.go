package announce

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Query selects announcements. The zero Query lists the first page of
// active, unexpired announcements, newest first.
type Query struct {
	Text     string // websearch syntax: words, "phrases", or, -not
	Kind     Kind   // "" for both
	Category string // a category slug; "" for all
	Member   string // the author's username; "" for all
	MinPrice *int64 // minor units; a price filter excludes unvalued ones
	MaxPrice *int64
	// Lat and Lon give a point; every result then has DistanceKm. RadiusKm
	// (> 0) keeps only announcements within that distance of it.
	Lat, Lon        *float64
	RadiusKm        float64
	IncludeInactive bool   // include closed and expired announcements
	Origin          string // Local, a remote base URL, or "" for all
	Limit           int    // 1..MaxPageSize; 0 means DefaultPageSize
	Offset          int    // 0..MaxOffset
}

// Page is one page of search results.
type Page struct {
	Announcements []Announcement
	Total         int64 // matches over all pages
	Limit         int
	Offset        int
}

// NextOffset is the offset of the next page, or -1 after the last one.
func (p Page) NextOffset() int {
	if int64(p.Offset+len(p.Announcements)) >= p.Total || len(p.Announcements) == 0 {
		return -1
	}
	return p.Offset + len(p.Announcements)
}

// Normalize applies the defaults to q and checks it.
func (q Query) Normalize() (Query, error) {
	q.Text = strings.TrimSpace(q.Text)
	if err := checkText("q", q.Text, 0, MaxQueryLength, false); err != nil {
		return q, err
	}
	if q.Kind != "" && !q.Kind.Valid() {
		return q, invalid("kind", "must be offer or want, got %q", q.Kind)
	}
	if q.Category != "" && !slugPattern.MatchString(q.Category) {
		return q, refusal("category", "There is no category %q", q.Category)
	}
	if q.MinPrice != nil && *q.MinPrice < 0 {
		return q, invalid("min_price", "must not be negative")
	}
	if q.MaxPrice != nil && *q.MaxPrice < 0 {
		return q, invalid("max_price", "must not be negative")
	}
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MinPrice > *q.MaxPrice {
		return q, invalid("min_price", "must not be above max_price")
	}
	if err := checkPoint(q.Lat, q.Lon); err != nil {
		return q, err
	}
	if q.RadiusKm != 0 {
		if q.Lat == nil {
			return q, invalid("radius_km", "needs a latitude and longitude")
		}
		if !(q.RadiusKm > 0 && q.RadiusKm <= MaxRadiusKm) {
			return q, invalid("radius_km", "must be above 0 and at most %d", MaxRadiusKm)
		}
	}
	if q.Limit == 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return q, invalid("limit", "must be between 1 and %d", MaxPageSize)
	}
	if q.Offset < 0 || q.Offset > MaxOffset {
		return q, invalid("offset", "must be between 0 and %d", MaxOffset)
	}
	return q, nil
}

// earthRadiusKm is the mean radius of the Earth.
const earthRadiusKm = 6371.0088

// Search returns one page of the announcements that match q: by rank when
// q has text (ties newest first), else newest first.
func (s *Service) Search(ctx context.Context, q Query) (Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return Page{}, err
	}
	if q.Category != "" {
		if _, err := s.Category(ctx, q.Category); err != nil {
			if e, ok := AsError(err); ok && e.Code == CodeNotFound {
				return Page{}, unknownCategory(q.Category)
			}
			return Page{}, err
		}
	}
	sql, args := s.searchSQL(q, false)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return Page{}, storageError("search announcements", err)
	}
	var total int64
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Announcement, error) {
		var a Announcement
		err := row.Scan(&a.ID, &a.MemberID, &a.Author, &a.Kind, &a.Title, &a.Description,
			&a.Category.ID, &a.Category.Slug, &a.Category.Name, &a.Price, &a.Place, &a.Lat, &a.Lon,
			&a.ExpiresAt, &a.Status, &a.Origin, &a.CreatedAt, &a.UpdatedAt, &a.RemotePrice, &a.RemoteCurrency,
			&a.AuthorName, &a.OriginID, &a.Money, &a.RemoteMoney, &a.RemoteMoneyCurrency, &a.Rank, &a.DistanceKm, &total)
		return a, err
	})
	if err != nil {
		return Page{}, storageError("search announcements", err)
	}
	if len(list) == 0 && q.Offset > 0 {
		// The page is past the end: count the matches without it.
		sql, args := s.searchSQL(q, true)
		if err := s.pool.QueryRow(ctx, sql, args...).Scan(&total); err != nil {
			return Page{}, storageError("count announcements", err)
		}
	}
	if list == nil {
		list = []Announcement{}
	}
	return Page{Announcements: list, Total: total, Limit: q.Limit, Offset: q.Offset}, nil
}

// searchSQL builds the search statement for a normalized query. Only the
// conditions that apply are written, so the planner sees plain predicates
// (and can use the GIN index for the text). With count, it counts the
// matches instead.
func (s *Service) searchSQL(q Query, count bool) (string, []any) {
	args := []any{s.now()}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var where []string
	rank := "0::float8"
	order := "a.created_at DESC, a.id DESC"
	from := "announcements a LEFT JOIN announcement_categories c ON c.id = a.category_id"
	if q.Text != "" {
		from += fmt.Sprintf(", websearch_to_tsquery(%s::regconfig, %s) tsq", arg(s.language), arg(q.Text))
		where = append(where, "a.search_vector @@ tsq")
		rank = "ts_rank_cd(a.search_vector, tsq)::float8"
		order = "rank DESC, " + order
	}
	if !q.IncludeInactive {
		where = append(where, "a.status = 'active'", "a.expires_at > $1")
	}
	if q.Kind != "" {
		where = append(where, "a.kind = "+arg(string(q.Kind)))
	}
	if q.Category != "" {
		where = append(where, "c.slug = "+arg(q.Category))
	}
	if q.Member != "" {
		where = append(where, "a.author = "+arg(q.Member))
	}
	if q.Origin != "" {
		where = append(where, "a.origin = "+arg(q.Origin))
	}
	if q.MinPrice != nil {
		where = append(where, "a.price >= "+arg(*q.MinPrice))
	}
	if q.MaxPrice != nil {
		where = append(where, "a.price <= "+arg(*q.MaxPrice))
	}
	distance := "NULL::float8"
	if q.Lat != nil {
		// Haversine on doubles: distance is not money.
		lat, lon := arg(*q.Lat), arg(*q.Lon)
		distance = fmt.Sprintf(`CASE WHEN a.lat IS NULL THEN NULL ELSE %g * 2 * asin(least(1, sqrt(
			power(sin(radians(a.lat::float8 - %s::float8) / 2), 2)
			+ cos(radians(%s::float8)) * cos(radians(a.lat::float8))
			* power(sin(radians(a.lon::float8 - %s::float8) / 2), 2)))) END`, earthRadiusKm, lat, lat, lon)
		if q.RadiusKm > 0 {
			where = append(where, fmt.Sprintf("(%s) <= %s", distance, arg(q.RadiusKm)))
		}
	}
	var sql string
	if count {
		sql = `SELECT count(*) FROM ` + from
		if len(where) > 0 {
			sql += " WHERE " + strings.Join(where, " AND ")
		}
		return sql, args
	}
	sql = `
	SELECT a.id, coalesce(a.member_id, 0), a.author, a.kind, a.title, a.description,
	       ` + categoryColumns + `, a.price, a.place, a.lat::float8, a.lon::float8, a.expires_at,
	       CASE WHEN a.status = 'active' AND a.expires_at <= $1 THEN 'expired' ELSE a.status END,
	       a.origin, a.created_at, a.updated_at, ` + remoteColumns + `, ` + rank + ` AS rank, ` + distance + ` AS distance_km,
	       count(*) OVER () AS total
	  FROM ` + from
	if len(where) > 0 {
		sql += "\n WHERE " + strings.Join(where, "\n   AND ")
	}
	sql += "\n ORDER BY " + order
	sql += fmt.Sprintf("\n LIMIT %s OFFSET %s", arg(q.Limit), arg(q.Offset))
	return sql, args
}
