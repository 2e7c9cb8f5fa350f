package announce

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Category is one entry of the community's category list. Slug names it in
// URLs and the API; Name is shown and searched.
type Category struct {
	ID   int64
	Slug string
	Name string
}

// CategoryCount is a category with the number of its active announcements.
type CategoryCount struct {
	Category
	Active int64
}

// MaxCategoryName is the longest category name, in characters.
const MaxCategoryName = 60

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// CheckCategory checks a category's slug and name.
func CheckCategory(slug, name string) error {
	if !slugPattern.MatchString(slug) {
		return invalid("slug", "must be 1-40 lowercase letters, digits or '-', starting with a letter or digit")
	}
	return checkText("name", name, 1, MaxCategoryName, false)
}

// Categories lists the community's categories by name, each with its
// number of active, unexpired announcements.
func (s *Service) Categories(ctx context.Context) ([]CategoryCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.id, c.slug, c.name,
		       count(a.id) FILTER (WHERE a.status = 'active' AND a.expires_at > $1)
		  FROM announcement_categories c LEFT JOIN announcements a ON a.category_id = c.id
		 GROUP BY c.id
		 ORDER BY c.name, c.id`, s.now())
	if err != nil {
		return nil, storageError("list categories", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CategoryCount, error) {
		var c CategoryCount
		err := row.Scan(&c.ID, &c.Slug, &c.Name, &c.Active)
		return c, err
	})
	if err != nil {
		return nil, storageError("list categories", err)
	}
	return list, nil
}

// Category returns one category by slug.
func (s *Service) Category(ctx context.Context, slug string) (Category, error) {
	var c Category
	err := s.pool.QueryRow(ctx, `SELECT id, slug, name FROM announcement_categories WHERE slug = $1`, slug).
		Scan(&c.ID, &c.Slug, &c.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return Category{}, &Error{Code: CodeNotFound, Message: "no category " + quote(slug)}
	}
	if err != nil {
		return Category{}, storageError("get category", err)
	}
	return c, nil
}

// CreateCategory adds a category. Admins only: the caller checks.
func (s *Service) CreateCategory(ctx context.Context, slug, name string) (Category, error) {
	slug, name = strings.TrimSpace(slug), strings.TrimSpace(name)
	if err := CheckCategory(slug, name); err != nil {
		return Category{}, err
	}
	c := Category{Slug: slug, Name: name}
	err := s.pool.QueryRow(ctx, `INSERT INTO announcement_categories (slug, name) VALUES ($1, $2) RETURNING id`,
		slug, name).Scan(&c.ID)
	if err != nil {
		return Category{}, storageError("create category", err)
	}
	return c, nil
}

// UpdateCategory renames a category or changes its slug (unset fields stay);
// renaming reindexes its announcements. Admins only: the caller checks.
func (s *Service) UpdateCategory(ctx context.Context, slug string, newSlug, newName Field[string]) (Category, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Category{}, storageError("update category", err)
	}
	defer tx.Rollback(ctx)
	var c Category
	err = tx.QueryRow(ctx, `SELECT id, slug, name FROM announcement_categories WHERE slug = $1 FOR UPDATE`, slug).
		Scan(&c.ID, &c.Slug, &c.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return Category{}, &Error{Code: CodeNotFound, Message: "no category " + quote(slug)}
	}
	if err != nil {
		return Category{}, storageError("update category", err)
	}
	if newSlug.Set {
		c.Slug = strings.TrimSpace(newSlug.Value)
	}
	if newName.Set {
		c.Name = strings.TrimSpace(newName.Value)
	}
	if err := CheckCategory(c.Slug, c.Name); err != nil {
		return Category{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE announcement_categories SET slug = $2, name = $3 WHERE id = $1`,
		c.ID, c.Slug, c.Name); err != nil {
		return Category{}, storageError("update category", err)
	}
	if s.publish != nil {
		// Peers know announcements by their category's name: send the renamed ones again.
		rows, err := tx.Query(ctx, `SELECT id FROM announcements WHERE category_id = $1 AND origin = 'local' ORDER BY id`, c.ID)
		if err != nil {
			return Category{}, storageError("update category", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return Category{}, storageError("update category", err)
		}
		for _, id := range ids {
			if err := s.published(ctx, tx, id); err != nil {
				return Category{}, err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Category{}, storageError("update category", err)
	}
	return c, nil
}

// DeleteCategory removes a category that no announcement uses. Admins only:
// the caller checks.
func (s *Service) DeleteCategory(ctx context.Context, slug string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM announcement_categories WHERE slug = $1`, slug)
	if err != nil {
		return storageError("delete category", err)
	}
	if tag.RowsAffected() == 0 {
		return &Error{Code: CodeNotFound, Message: "no category " + quote(slug)}
	}
	return nil
}

func quote(s string) string { return `"` + s + `"` }
