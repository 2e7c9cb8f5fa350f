// Package announce holds the offers and wants of a community's members
// (announcements), the community's category list, and their full-text
// search in PostgreSQL.
package announce

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits of the fields of an announcement, in characters.
const (
	MaxTitle       = 120
	MaxDescription = 5000
	MaxPlace       = 200
	MaxPageSize    = 100
	MaxOffset      = 10000
	MaxRadiusKm    = 20100 // half the Earth's circumference: every point
	MaxQueryLength = 500
)

// DefaultPageSize is the page size when none is asked for.
const DefaultPageSize = 20

// Defaults of Config.
const (
	DefaultLanguage  = "english"
	FallbackLanguage = "simple"
	DefaultExpiry    = 90 * 24 * time.Hour
	MaxExpiry        = 2 * 365 * 24 * time.Hour
)

// Config configures a Service.
type Config struct {
	// Language is the PostgreSQL text search configuration used for
	// stemming (SXP_SEARCH_LANGUAGE, e.g. "english", "german", "simple").
	// An unknown one falls back to "simple".
	Language string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives the language fallback and reindexing notes; may be nil.
	Logger *slog.Logger
	// Publish, when set, is called in the transaction of every change of a
	// local announcement (create, update, delete) with its id: federation
	// writes its outbox event there, so the change and its event commit together.
	Publish func(ctx context.Context, tx pgx.Tx, id int64) error
	// PublishWantList, when set, is called in the transaction of every
	// change of a want list with its offer's id, like Publish.
	PublishWantList func(ctx context.Context, tx pgx.Tx, offerID int64) error
	// BaseURL is this server's base URL: local announcements' event ids
	// are BaseURL/announcements/ID.
	BaseURL string
	// KeepIndex skips reindexing for the language: for command-line tools,
	// which must not reindex with a language other than the server's.
	KeepIndex bool
}

// Service is the announcements and categories of one community.
type Service struct {
	pool     *pgxpool.Pool
	language string
	now      func() time.Time
	publish  func(ctx context.Context, tx pgx.Tx, id int64) error

	publishWantList func(ctx context.Context, tx pgx.Tx, offerID int64) error
	baseURL         string
}

var languagePattern = regexp.MustCompile(`^[a-z_]{1,63}$`)

// New returns the service for the community whose database pool is given.
// It resolves the search language and reindexes every announcement indexed
// with another one, so that a changed setting takes effect at once.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Service, error) {
	s := &Service{pool: pool, now: cfg.Now, publish: cfg.Publish, publishWantList: cfg.PublishWantList,
		baseURL: strings.TrimRight(cfg.BaseURL, "/")}
	if s.now == nil {
		s.now = time.Now
	}
	lang := cfg.Language
	if lang == "" {
		lang = DefaultLanguage
	}
	ok, err := languageExists(ctx, pool, lang)
	if err != nil {
		return nil, err
	}
	if !ok {
		if cfg.Logger != nil {
			cfg.Logger.Warn("unknown text search language, using simple", "language", lang)
		}
		lang = FallbackLanguage
	}
	s.language = lang
	if cfg.KeepIndex {
		return s, nil
	}
	n, err := s.reindex(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 && cfg.Logger != nil {
		cfg.Logger.Info("reindexed announcements for the search language", "language", lang, "announcements", n)
	}
	return s, nil
}

// Language is the text search configuration in use.
func (s *Service) Language() string { return s.language }

func languageExists(ctx context.Context, pool *pgxpool.Pool, lang string) (bool, error) {
	if !languagePattern.MatchString(lang) {
		return false, nil
	}
	var ok bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = $1)`, lang).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("announce: search language: %w", err)
	}
	return ok, nil
}

// reindex moves every announcement to the service's search language; the
// table's trigger recomputes the search vector.
func (s *Service) reindex(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx,
		`UPDATE announcements SET search_config = $1::regconfig WHERE search_config <> $1::regconfig`, s.language)
	if err != nil {
		return 0, fmt.Errorf("announce: reindex: %w", err)
	}
	return tag.RowsAffected(), nil
}

// published calls the Publish hook, if any, for announcement id in tx.
func (s *Service) published(ctx context.Context, tx pgx.Tx, id int64) error {
	if s.publish == nil {
		return nil
	}
	return s.publish(ctx, tx, id)
}
