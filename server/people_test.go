package server_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
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
