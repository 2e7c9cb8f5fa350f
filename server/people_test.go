package server_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/sxp-network/sxp/server/pictures"
)

// uploadRoutes are the routes that take a picture, with a larger body limit.
var uploadRoutes = map[string]bool{
	"PUT /api/v1/me/picture":                true,
	"PUT /api/v1/announcements/:id/picture": true,
	"POST /profile/picture":                 true,
	"POST /offers/:id/picture":              true,
}

// testPNG draws a w×h PNG.
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(40 * x), uint8(40 * y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// putPicture stores a small picture for username (on their announcement
// announcementID, or as their profile picture when 0) straight in the
// database, past the upload limit, and returns its id.
func (e *env) putPicture(username string, announcementID int64) int64 {
	e.t.Helper()
	p, err := pictures.Process(testPNG(e.t, 4, 3))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	var id int64
	var ann *int64
	if announcementID > 0 {
		ann = &announcementID
		_, err = e.pool.Exec(ctx, `DELETE FROM pictures WHERE announcement_id = $1`, announcementID)
	} else {
		_, err = e.pool.Exec(ctx, `DELETE FROM pictures WHERE announcement_id IS NULL AND member_id = (SELECT id FROM members WHERE username = $1)`, username)
	}
	if err == nil {
		err = e.pool.QueryRow(ctx, `INSERT INTO pictures (member_id, announcement_id, content_type, data, width, height, sha256)
			SELECT id, $2, $3, $4, $5, $6, $7 FROM members WHERE username = $1 RETURNING id`,
			username, ann, p.ContentType, p.Data, p.Width, p.Height, p.SHA256[:]).Scan(&id)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}
