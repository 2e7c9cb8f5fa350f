package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/server/members"
)

// TestInstallableApp fetches the web app manifest and its icons as a phone
// does, and checks that every page links them from its <head>.
func TestInstallableApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.member("alice", members.RoleMember)

	st, raw, hdr := e.raw("", "GET", "/manifest.webmanifest", "")
	if st != http.StatusOK || hdr.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("manifest: got %d %q, want 200 application/manifest+json", st, hdr.Get("Content-Type"))
	}
	var m struct {
		Name, ShortName, StartURL, Display, ThemeColor string
		Icons                                          []struct{ Src, Sizes, Type string }
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatal(err)
	}
	m.Name, _ = fields["name"].(string)
	m.ShortName, _ = fields["short_name"].(string)
	m.StartURL, _ = fields["start_url"].(string)
	m.Display, _ = fields["display"].(string)
	m.ThemeColor, _ = fields["theme_color"].(string)
	if m.Name != "Leaf Valley" || m.ShortName != "Leaf Valley" || m.StartURL != "/" || m.Display != "standalone" || m.ThemeColor != "#2f6f4f" {
		t.Errorf("manifest: got %s", raw)
	}
	if err := json.Unmarshal([]byte(raw), &struct {
		Icons *[]struct{ Src, Sizes, Type string } `json:"icons"`
	}{&m.Icons}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"/icons/icon-192.png": 192, "/icons/icon-512.png": 512, "/apple-touch-icon.png": 180}
	listed := 0
	for _, ic := range m.Icons {
		size, ok := want[ic.Src]
		if !ok || ic.Type != "image/png" || ic.Sizes != fmt.Sprintf("%dx%d", size, size) {
			t.Errorf("manifest icon %+v: unexpected", ic)
		}
		listed++
	}
	if listed != 2 {
		t.Errorf("manifest icons: got %d, want 192 and 512", listed)
	}
	for src, size := range want {
		st, body, hdr := e.raw("", "GET", src, "")
		if st != http.StatusOK || hdr.Get("Content-Type") != "image/png" {
			t.Errorf("%s: got %d %q, want 200 image/png", src, st, hdr.Get("Content-Type"))
			continue
		}
		img, err := png.Decode(bytes.NewReader([]byte(body)))
		if err != nil {
			t.Errorf("%s: not a PNG: %v", src, err)
			continue
		}
		b := img.Bounds()
		if b.Dx() != size || b.Dy() != size {
			t.Errorf("%s: got %dx%d, want %dx%d", src, b.Dx(), b.Dy(), size, size)
		}
		// The theme colour in the corner, white (the initial) in the middle band.
		r, g, bl, _ := img.At(1, 1).RGBA()
		if r>>8 != 0x2f || g>>8 != 0x6f || bl>>8 != 0x4f {
			t.Errorf("%s: corner colour %02x%02x%02x, want 2f6f4f", src, r>>8, g>>8, bl>>8)
		}
		white := 0
		for x := 0; x < size; x++ {
			if r, g, bl, _ := img.At(x, size/2).RGBA(); r>>8 > 0xf0 && g>>8 > 0xf0 && bl>>8 > 0xf0 {
				white++
			}
		}
		if white == 0 {
			t.Errorf("%s: no white pixel across the middle: the initial is missing", src)
		}
	}
	if st, _, _ := e.raw("", "GET", "/icons/icon-1.png", ""); st != http.StatusNotFound {
		t.Errorf("unknown icon: got %d, want 404", st)
	}

	// Every page's head: the log-in page and a member's page.
	web := newBrowserish(t, e.http.URL)
	for _, page := range []string{"/login", "/register", "/password/forgot"} {
		if _, body := web.get(page); !headLinks(body) {
			t.Errorf("%s: <head> lacks the manifest, theme colour or icons", page)
		}
	}
	if st, _, _ := web.submit("/login", "/login", map[string][]string{"username": {"alice"}, "password": {"password-alice"}}); st != http.StatusSeeOther {
		t.Fatalf("log-in: got %d", st)
	}
	for _, page := range []string{"/", "/pay", "/settings", "/offers"} {
		if _, body := web.get(page); !headLinks(body) {
			t.Errorf("%s: <head> lacks the manifest, theme colour or icons", page)
		}
	}
}

func headLinks(page string) bool {
	head, _, ok := strings.Cut(page, "</head>")
	return ok && strings.Contains(head, `<link rel="manifest" href="/manifest.webmanifest">`) &&
		strings.Contains(head, `<meta name="theme-color" content="#2f6f4f">`) &&
		strings.Contains(head, `<link rel="apple-touch-icon" href="/apple-touch-icon.png">`) &&
		strings.Contains(head, `href="/icons/icon-192.png"`)
}
