package announce

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// MaxWantList is the most offers one want list may name.
const MaxWantList = 100

// WantList is what a member would take for one of their offers, best first.
type WantList struct {
	Offer   WantOffer
	Accepts []WantOffer
}

// WantOffer is an offer named in a want list: its id on this server, its
// event id (what peers know it by), and what a reader needs to recognise it.
type WantOffer struct {
	ID      int64
	EventID string
	Title   string
	Author  string // username, or user@community when federated
	Origin  string // Local or the origin's base URL
}

// EventID is the federation event id of announcement a on this server.
func (s *Service) EventID(a Announcement) string {
	if a.Origin != Local {
		return a.OriginID
	}
	return s.baseURL + "/announcements/" + strconv.FormatInt(a.ID, 10)
}

// liveOffer is the condition of an announcement (alias a) that may be traded:
// an active, unexpired offer. $1 is now.
const liveOffer = `a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $1`

// wantOfferColumns are the columns a WantOffer is read from (alias a).
const wantOfferColumns = `a.id, CASE WHEN a.origin = 'local' THEN $2 || '/announcements/' || a.id ELSE a.origin_id END,
	a.title, a.author, a.origin`

func scanWantOffer(row pgx.CollectableRow) (WantOffer, error) {
	var o WantOffer
	err := row.Scan(&o.ID, &o.EventID, &o.Title, &o.Author, &o.Origin)
	return o, err
}

// WantLists returns the want lists of member memberID whose offer is live,
// each with its live accepted offers, by offer id.
func (s *Service) WantLists(ctx context.Context, memberID int64) ([]WantList, error) {
	return s.wantLists(ctx, `AND a.member_id = $3`, memberID)
}

// WantListOf returns the want list of one live local offer (empty when it
// has none).
func (s *Service) WantListOf(ctx context.Context, offerID int64) (WantList, error) {
	list, err := s.wantLists(ctx, `AND a.id = $3`, offerID)
	if err != nil {
		return WantList{}, err
	}
	if len(list) == 0 {
		return WantList{}, &Error{Code: CodeNotFound, Message: fmt.Sprintf("offer %d has no want list", offerID)}
	}
	return list[0], nil
}

// AllWantLists returns every want list of this server's members (live
// offers, live accepted offers only), by offer id: what a round reads.
func (s *Service) AllWantLists(ctx context.Context) ([]WantList, error) {
	return s.wantLists(ctx, `AND $3::bigint IS NULL`, nil)
}

func (s *Service) wantLists(ctx context.Context, where string, arg any) ([]WantList, error) {
	now := s.now()
	rows, err := s.pool.Query(ctx, `
		SELECT `+wantOfferColumns+`, w.rank, b.id, CASE WHEN b.origin = 'local' THEN $2 || '/announcements/' || b.id ELSE b.origin_id END,
		       b.title, b.author, b.origin
		  FROM wantlist_entries w
		  JOIN announcements a ON a.id = w.offer_id
		  JOIN announcements b ON b.id = w.accepts_id
		 WHERE a.origin = 'local' AND `+liveOffer+`
		   AND b.kind = 'offer' AND b.status = 'active' AND b.expires_at > $1 `+where+`
		 ORDER BY a.id, w.rank`, now, s.baseURL, arg)
	if err != nil {
		return nil, storageError("read want lists", err)
	}
	var out []WantList
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var o, b WantOffer
		var rank int
		if err := row.Scan(&o.ID, &o.EventID, &o.Title, &o.Author, &o.Origin, &rank,
			&b.ID, &b.EventID, &b.Title, &b.Author, &b.Origin); err != nil {
			return struct{}{}, err
		}
		if len(out) == 0 || out[len(out)-1].Offer.ID != o.ID {
			out = append(out, WantList{Offer: o})
		}
		last := &out[len(out)-1]
		last.Accepts = append(last.Accepts, b)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, storageError("read want lists", err)
	}
	return out, nil
}

// SetWantList replaces the want list of offerID with accepts (best first),
// each an event id or this server's id of an announcement. Only the offer's
// author may; the offer must be a live local offer, and every accepted one a
// live offer (local or federated) of someone else, named once. Nothing is
// stored on a refusal. An empty list deletes the want list.
func (s *Service) SetWantList(ctx context.Context, actor Actor, offerID int64, accepts []string) (WantList, error) {
	if len(accepts) > MaxWantList {
		return WantList{}, invalid("accepts", "names %d offers, at most %d are allowed", len(accepts), MaxWantList)
	}
	now := s.now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return WantList{}, storageError("set want list", err)
	}
	defer tx.Rollback(ctx)
	cur, err := lockAnnouncement(ctx, tx, offerID)
	if err != nil {
		return WantList{}, err
	}
	if cur.origin != Local || cur.memberID != actor.MemberID || actor.MemberID <= 0 {
		return WantList{}, &Error{Code: CodeForbidden, Field: "offer",
			Message: fmt.Sprintf("announcement %d is not one of your offers: a want list is for your own offers", offerID)}
	}
	if cur.d.Kind != Offer || cur.storedStatus != Active || !cur.d.ExpiresAt.After(now) {
		return WantList{}, invalid("offer", "announcement %d is not a live offer (an active, unexpired offer)", offerID)
	}
	ids := make([]int64, 0, len(accepts))
	seen := make(map[int64]int, len(accepts))
	for i, ref := range accepts {
		field := fmt.Sprintf("accepts[%d]", i)
		id, err := s.resolveOffer(ctx, tx, ref)
		if err != nil {
			return WantList{}, invalid(field, "%v", err)
		}
		if j, dup := seen[id]; dup {
			return WantList{}, invalid(field, "names the same offer as accepts[%d]: name each offer once", j)
		}
		seen[id] = i
		var kind, status, origin string
		var memberID *int64
		var live bool
		err = tx.QueryRow(ctx, `SELECT a.kind, a.status, a.origin, a.member_id, a.expires_at > $2
			FROM announcements a WHERE a.id = $1 FOR SHARE`, id, now).Scan(&kind, &status, &origin, &memberID, &live)
		if err != nil {
			return WantList{}, storageError("set want list", err)
		}
		switch {
		case id == offerID:
			return WantList{}, invalid(field, "is the offer itself")
		case memberID != nil && *memberID == actor.MemberID:
			return WantList{}, invalid(field, "is one of your own offers")
		case kind != string(Offer):
			return WantList{}, invalid(field, "%q is a want, not an offer", ref)
		case status != string(Active) || !live:
			return WantList{}, invalid(field, "offer %q is closed or expired", ref)
		}
		ids = append(ids, id)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM wantlist_entries WHERE offer_id = $1`, offerID); err != nil {
		return WantList{}, storageError("set want list", err)
	}
	for i, id := range ids {
		if _, err := tx.Exec(ctx, `INSERT INTO wantlist_entries (offer_id, rank, accepts_id, created_at)
			VALUES ($1, $2, $3, $4)`, offerID, i+1, id, now); err != nil {
			return WantList{}, storageError("set want list", err)
		}
	}
	if err := s.wantListChanged(ctx, tx, offerID); err != nil {
		return WantList{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return WantList{}, storageError("set want list", err)
	}
	if len(ids) == 0 {
		return WantList{}, nil
	}
	return s.WantListOf(ctx, offerID)
}

// DeleteWantList deletes the want list of offerID; only its author may.
func (s *Service) DeleteWantList(ctx context.Context, actor Actor, offerID int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return storageError("delete want list", err)
	}
	defer tx.Rollback(ctx)
	cur, err := lockAnnouncement(ctx, tx, offerID)
	if err != nil {
		return err
	}
	if cur.origin != Local || (cur.memberID != actor.MemberID && !actor.Admin) {
		return &Error{Code: CodeForbidden, Field: "offer", Message: fmt.Sprintf("announcement %d is not one of your offers", offerID)}
	}
	tag, err := tx.Exec(ctx, `DELETE FROM wantlist_entries WHERE offer_id = $1`, offerID)
	if err != nil {
		return storageError("delete want list", err)
	}
	if tag.RowsAffected() == 0 {
		return &Error{Code: CodeNotFound, Message: fmt.Sprintf("offer %d has no want list", offerID)}
	}
	if err := s.wantListChanged(ctx, tx, offerID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return storageError("delete want list", err)
	}
	return nil
}

// resolveOffer finds the announcement ref names: this server's id of it
// (digits) or its event id (local or federated).
func (s *Service) resolveOffer(ctx context.Context, tx pgx.Tx, ref string) (int64, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return 0, errors.New("is empty: give an offer's event id")
	}
	if len(ref) > 500 {
		return 0, errors.New("is too long to be an event id")
	}
	var id int64
	var err error
	if n, perr := strconv.ParseInt(ref, 10, 64); perr == nil && n > 0 {
		err = tx.QueryRow(ctx, `SELECT id FROM announcements WHERE id = $1`, n).Scan(&id)
	} else if rest, ok := strings.CutPrefix(ref, s.baseURL+"/announcements/"); ok && s.baseURL != "" {
		n, perr := strconv.ParseInt(rest, 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("%q is not an offer of this server", ref)
		}
		err = tx.QueryRow(ctx, `SELECT id FROM announcements WHERE id = $1 AND origin = 'local'`, n).Scan(&id)
	} else {
		err = tx.QueryRow(ctx, `SELECT id FROM announcements WHERE origin <> 'local' AND origin_id = $1`, ref).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("no offer %q here (deleted, or not from a peer)", ref)
	}
	if err != nil {
		return 0, storageError("resolve offer", err)
	}
	return id, nil
}

// wantListChanged calls the PublishWantList hook, if any, for offerID in tx.
func (s *Service) wantListChanged(ctx context.Context, tx pgx.Tx, offerID int64) error {
	if s.publishWantList == nil {
		return nil
	}
	return s.publishWantList(ctx, tx, offerID)
}

// LiveOffers returns member memberID's live local offers, by id: what a
// want list may be made for.
func (s *Service) LiveOffers(ctx context.Context, memberID int64) ([]WantOffer, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+wantOfferColumns+` FROM announcements a
		WHERE a.origin = 'local' AND a.member_id = $3 AND `+liveOffer+` ORDER BY a.id`, s.now(), s.baseURL, memberID)
	if err != nil {
		return nil, storageError("live offers", err)
	}
	list, err := pgx.CollectRows(rows, scanWantOffer)
	if err != nil {
		return nil, storageError("live offers", err)
	}
	return list, nil
}

// AddToWantList puts the offer named accepts at the end of the want list of
// offerID (making one if there is none), with SetWantList's rules.
func (s *Service) AddToWantList(ctx context.Context, actor Actor, offerID int64, accepts string) (WantList, error) {
	cur, err := s.WantListOf(ctx, offerID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return WantList{}, err
	}
	refs := make([]string, 0, len(cur.Accepts)+1)
	for _, a := range cur.Accepts {
		refs = append(refs, a.EventID)
	}
	return s.SetWantList(ctx, actor, offerID, append(refs, accepts))
}
