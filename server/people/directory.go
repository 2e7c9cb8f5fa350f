// Package people is the member directory: the community's active members
// and the authors of federated announcements it holds (known through
// replication), with the offers of each, searchable by name and paged.
package people

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Page sizes.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	MaxOffset       = 10000
	MaxQuery        = 100
	// OffersShown is how many offers each person lists.
	OffersShown = 3
)

// Error is a refusal of a bad query; it says which field.
type Error struct {
	Field, Message string
}

func (e *Error) Error() string { return "people: invalid: " + e.Field + ": " + e.Message }

// CodeInvalid is the one code of this package.
const CodeInvalid = "invalid"

// Query is a directory search.
type Query struct {
	Text   string // part of a username or display name; "" for all
	Limit  int    // 1..MaxPageSize; 0: DefaultPageSize
	Offset int    // 0..MaxOffset
}

// Normalize checks q and fills in defaults.
func (q Query) Normalize() (Query, error) {
	q.Text = strings.TrimSpace(q.Text)
	if !utf8.ValidString(q.Text) || utf8.RuneCountInString(q.Text) > MaxQuery || strings.ContainsRune(q.Text, 0) {
		return q, &Error{"q", fmt.Sprintf("the search must be text of at most %d characters", MaxQuery)}
	}
	if q.Limit == 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		return q, &Error{"limit", fmt.Sprintf("limit must be from 1 to %d", MaxPageSize)}
	}
	if q.Offset < 0 || q.Offset > MaxOffset {
		return q, &Error{"offset", fmt.Sprintf("offset must be from 0 to %d", MaxOffset)}
	}
	return q, nil
}

// Person is one entry of the directory.
type Person struct {
	// Username is a local username, or user@community for a federated author.
	Username    string
	DisplayName string
	Local       bool
	MemberID    int64  // local members only
	Origin      string // federated: the community's base URL
	Community   string // federated: the community's name (its id, or its URL when unknown)
	CommunityID string // federated: the community's id, "" when unknown
	Offers      []Offer
	OfferCount  int
}

// Offer is an active offer of a person, as the directory lists it.
type Offer struct {
	ID    int64
	Title string
}

// Page is one page of the directory.
type Page struct {
	People        []Person
	Total         int64
	Limit, Offset int
}

// NextOffset is the offset of the next page, or -1 after the last.
func (p Page) NextOffset() int {
	if len(p.People) == 0 || int64(p.Offset+len(p.People)) >= p.Total {
		return -1
	}
	return p.Offset + len(p.People)
}

// Directory is the directory of one community.
type Directory struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns the directory on pool; now is the clock (time.Now when nil),
// which says which announcements have expired.
func New(pool *pgxpool.Pool, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	return &Directory{pool: pool, now: now}
}

// Search returns one page of people whose username or display name
// contains q.Text (case-insensitive): local members first, then federated
// authors, each by name.
func (d *Directory) Search(ctx context.Context, q Query) (Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return Page{}, err
	}
	now := d.now()
	pattern := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Text) + "%"
	rows, err := d.pool.Query(ctx, `
		WITH people AS (
			SELECT m.username AS handle, m.display_name AS name, 'local'::text AS origin, m.id AS member_id
			  FROM members m WHERE m.status = 'active'
			UNION ALL
			SELECT a.author, coalesce(max(a.author_name), a.author), a.origin, NULL::bigint
			  FROM announcements a
			 WHERE a.origin <> 'local' AND a.status = 'active' AND a.expires_at > $1
			 GROUP BY a.origin, a.author)
		SELECT p.handle, p.name, p.origin, coalesce(p.member_id, 0),
		       coalesce(nullif(f.name, ''), nullif(f.community_id, ''), p.origin), coalesce(f.community_id, ''), count(*) OVER ()
		  FROM people p LEFT JOIN federation_peers f ON f.base_url = p.origin
		 WHERE p.handle ILIKE $2 OR p.name ILIKE $2
		 ORDER BY p.origin <> 'local', lower(p.name), p.handle
		 LIMIT $3 OFFSET $4`, now, pattern, q.Limit, q.Offset)
	if err != nil {
		return Page{}, fmt.Errorf("people: search: %w", err)
	}
	var total int64
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Person, error) {
		var p Person
		err := r.Scan(&p.Username, &p.DisplayName, &p.Origin, &p.MemberID, &p.Community, &p.CommunityID, &total)
		p.Local = p.Origin == "local"
		if p.Local {
			p.Origin, p.Community, p.CommunityID = "", "", ""
		}
		return p, err
	})
	if err != nil {
		return Page{}, fmt.Errorf("people: search: %w", err)
	}
	if len(list) == 0 && q.Offset > 0 {
		// Past the end: count without the page.
		if err := d.pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM members WHERE status = 'active' AND (username ILIKE $2 OR display_name ILIKE $2))
			     + (SELECT count(*) FROM (SELECT 1 FROM announcements
			          WHERE origin <> 'local' AND status = 'active' AND expires_at > $1
			          GROUP BY origin, author HAVING author ILIKE $2 OR coalesce(max(author_name), author) ILIKE $2) x)`,
			now, pattern).Scan(&total); err != nil {
			return Page{}, fmt.Errorf("people: count: %w", err)
		}
	}
	if err := d.offers(ctx, list, now); err != nil {
		return Page{}, err
	}
	if list == nil {
		list = []Person{}
	}
	return Page{People: list, Total: total, Limit: q.Limit, Offset: q.Offset}, nil
}

// offers fills in each person's active offers: the newest OffersShown and their count.
func (d *Directory) offers(ctx context.Context, list []Person, now time.Time) error {
	if len(list) == 0 {
		return nil
	}
	authors := make([]string, 0, len(list))
	origins := make([]string, 0, len(list))
	at := map[[2]string]int{}
	for i, p := range list {
		origin := p.Origin
		if p.Local {
			origin = "local"
		}
		authors, origins = append(authors, p.Username), append(origins, origin)
		at[[2]string{origin, p.Username}] = i
	}
	rows, err := d.pool.Query(ctx, `
		SELECT origin, author, id, title, n FROM (
			SELECT a.origin, a.author, a.id, a.title, count(*) OVER w AS n, row_number() OVER w AS k
			  FROM announcements a
			  JOIN unnest($1::text[], $2::text[]) AS who(origin, author) ON who.origin = a.origin AND who.author = a.author
			 WHERE a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $3
			WINDOW w AS (PARTITION BY a.origin, a.author ORDER BY a.created_at DESC, a.id DESC
			             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) t
		 WHERE k <= $4 ORDER BY origin, author, k`, origins, authors, now, OffersShown)
	if err != nil {
		return fmt.Errorf("people: offers: %w", err)
	}
	var origin, author, title string
	var id int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&origin, &author, &id, &title, &n}, func() error {
		i, ok := at[[2]string{origin, author}]
		if !ok {
			return errors.New("an offer of nobody asked for")
		}
		list[i].Offers = append(list[i].Offers, Offer{ID: id, Title: title})
		list[i].OfferCount = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("people: offers: %w", err)
	}
	return nil
}
