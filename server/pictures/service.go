package pictures

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger/ratelimit"
)

// maxDecoding bounds the uploads decoded and resized at once: each may take
// up to 100 MB while it is (see MaxSourcePixels).
const maxDecoding = 2

// Each member may upload UploadBurst pictures at once, then one every
// UploadEvery (decoding and resizing costs up to a second of CPU).
const (
	UploadBurst = 10
	UploadEvery = 10 * time.Second
)

// Service keeps the pictures of one community in its database.
type Service struct {
	pool     *pgxpool.Pool
	decoding chan struct{} // a token per upload being processed
	uploads  *ratelimit.Limiter
	now      func() time.Time
}

// New returns the pictures service on pool; now is the clock of the
// upload limit (time.Now when nil).
func New(pool *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, decoding: make(chan struct{}, maxDecoding),
		uploads: ratelimit.New(1/UploadEvery.Seconds(), UploadBurst), now: now}
}

// process is Process, at most maxDecoding at once; a caller that gives up
// while waiting gets ctx's error.
func (s *Service) process(ctx context.Context, data []byte) (Picture, error) {
	select {
	case s.decoding <- struct{}{}:
	case <-ctx.Done():
		return Picture{}, fmt.Errorf("pictures: waiting to decode: %w", ctx.Err())
	}
	defer func() { <-s.decoding }()
	return Process(data)
}

// SetProfile checks, resizes and keeps data as the member's profile
// picture, replacing the one they had.
func (s *Service) SetProfile(ctx context.Context, memberID int64, data []byte) (Picture, error) {
	return s.set(ctx, memberID, 0, data)
}

// SetAnnouncement keeps data as the picture of the local announcement
// announcementID, written by authorID, replacing the one it had. The
// caller has checked that the actor may change that announcement.
func (s *Service) SetAnnouncement(ctx context.Context, authorID, announcementID int64, data []byte) (Picture, error) {
	if announcementID < 1 {
		return Picture{}, &Error{Code: CodeNotFound, Message: "no such announcement"}
	}
	return s.set(ctx, authorID, announcementID, data)
}

func (s *Service) set(ctx context.Context, memberID, announcementID int64, data []byte) (Picture, error) {
	if ok, wait := s.uploads.Allow(strconv.FormatInt(memberID, 10), s.now()); !ok {
		wait = max(time.Second, wait.Round(time.Second))
		return Picture{}, &Error{Code: CodeTooMany, RetryAfter: wait,
			Message: fmt.Sprintf("you have uploaded many pictures just now; try again in %s", wait)}
	}
	p, err := s.process(ctx, data)
	if err != nil {
		return Picture{}, err
	}
	p.MemberID, p.AnnouncementID = memberID, announcementID
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Picture{}, fmt.Errorf("pictures: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := deleteIn(ctx, tx, memberID, announcementID); err != nil {
		return Picture{}, err
	}
	var ann *int64
	if announcementID > 0 {
		ann = &announcementID
	}
	err = tx.QueryRow(ctx, `INSERT INTO pictures (member_id, announcement_id, content_type, data, width, height, sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		memberID, ann, p.ContentType, p.Data, p.Width, p.Height, p.SHA256[:]).Scan(&p.ID)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" { // foreign key: the owner is gone
			return Picture{}, &Error{Code: CodeNotFound, Message: "the member or announcement no longer exists"}
		}
		return Picture{}, fmt.Errorf("pictures: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Picture{}, fmt.Errorf("pictures: commit: %w", err)
	}
	return p, nil
}

func deleteIn(ctx context.Context, tx pgx.Tx, memberID, announcementID int64) error {
	var err error
	if announcementID > 0 {
		_, err = tx.Exec(ctx, `DELETE FROM pictures WHERE announcement_id = $1`, announcementID)
	} else {
		_, err = tx.Exec(ctx, `DELETE FROM pictures WHERE member_id = $1 AND announcement_id IS NULL`, memberID)
	}
	if err != nil {
		return fmt.Errorf("pictures: delete: %w", err)
	}
	return nil
}

// DeleteProfile removes the member's profile picture; CodeNotFound when
// there is none.
func (s *Service) DeleteProfile(ctx context.Context, memberID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM pictures WHERE member_id = $1 AND announcement_id IS NULL`, memberID)
	return deleted(tag, err)
}

// DeleteAnnouncement removes the announcement's picture; CodeNotFound when
// there is none. (Deleting the announcement deletes it too.)
func (s *Service) DeleteAnnouncement(ctx context.Context, announcementID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM pictures WHERE announcement_id = $1`, announcementID)
	return deleted(tag, err)
}

func deleted(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return fmt.Errorf("pictures: delete: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return &Error{Code: CodeNotFound, Message: "there is no picture to delete"}
	}
	return nil
}

// Get returns a picture with its data.
func (s *Service) Get(ctx context.Context, id int64) (Picture, error) {
	var p Picture
	var ann *int64
	var sum []byte
	err := s.pool.QueryRow(ctx, `SELECT id, member_id, announcement_id, content_type, data, width, height, sha256
		FROM pictures WHERE id = $1`, id).Scan(&p.ID, &p.MemberID, &ann, &p.ContentType, &p.Data, &p.Width, &p.Height, &sum)
	if errors.Is(err, pgx.ErrNoRows) {
		return Picture{}, &Error{Code: CodeNotFound, Message: fmt.Sprintf("no picture %d", id)}
	}
	if err != nil {
		return Picture{}, fmt.Errorf("pictures: get %d: %w", id, err)
	}
	if ann != nil {
		p.AnnouncementID = *ann
	}
	copy(p.SHA256[:], sum)
	return p, nil
}

// Profiles returns the profile picture id of each member that has one.
func (s *Service) Profiles(ctx context.Context, memberIDs []int64) (map[int64]int64, error) {
	return s.ids(ctx, `SELECT member_id, id FROM pictures WHERE announcement_id IS NULL AND member_id = ANY($1)`, memberIDs)
}

// Announcements returns the picture id of each announcement that has one.
func (s *Service) Announcements(ctx context.Context, announcementIDs []int64) (map[int64]int64, error) {
	return s.ids(ctx, `SELECT announcement_id, id FROM pictures WHERE announcement_id = ANY($1)`, announcementIDs)
}

func (s *Service) ids(ctx context.Context, sql string, keys []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, sql, keys)
	if err != nil {
		return nil, fmt.Errorf("pictures: ids: %w", err)
	}
	var k, id int64
	_, err = pgx.ForEachRow(rows, []any{&k, &id}, func() error { out[k] = id; return nil })
	if err != nil {
		return nil, fmt.Errorf("pictures: ids: %w", err)
	}
	return out, nil
}
