package main

import (
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPeopleInBrowser walks issue 17's "finding people and offers" in
// headless Chromium on a running circle (leaf and acorn peered): the member
// directory with a federated member, a profile picture uploaded through the
// form, an offer's picture, "Message" from an offer page, the unread count
// in the recipient's navigation bar, a reply, "Pay for this" filling the pay
// form, and a message to the author of a federated offer (dmitri@acorn). It
// saves a screenshot of every page.
func TestPeopleInBrowser(t *testing.T) {
	c := startCircle(t)
	b := newTab(t, "people")
	ctx := b.ctx

	c.member(c.leaf, "gwen")
	hugo := c.member(c.leaf, "hugo")
	dmitri := c.member(c.acorn, "dmitri")
	st, offer := c.api(c.leaf, "POST", "/api/v1/announcements", hugo, map[string]any{"kind": "offer", "title": "Bike repair",
		"description": "Punctures, brakes and gears.", "category": "services", "price": "12.50"})
	if st != 201 {
		t.Fatalf("hugo's offer: got %d %v", st, offer)
	}
	offerURL := c.leaf + "/offers/" + jsonID(offer["id"])
	if st, body := c.api(c.acorn, "POST", "/api/v1/announcements", dmitri, map[string]any{"kind": "offer", "title": "Violin lessons",
		"category": "skills", "price": "5.00"}); st != 201 {
		t.Fatalf("dmitri's offer: got %d %v", st, body)
	}
	// dmitri's offer reaches leaf through federation.
	var remoteID string
	for deadline := time.Now().Add(30 * time.Second); remoteID == ""; time.Sleep(100 * time.Millisecond) {
		_, list := c.api(c.leaf, "GET", "/api/v1/announcements?q=violin", hugo, nil)
		if items, _ := list["announcements"].([]any); len(items) == 1 {
			remoteID = jsonID(items[0].(map[string]any)["id"])
		}
		if time.Now().After(deadline) {
			t.Fatalf("dmitri's offer did not reach leaf: %v", list)
		}
	}

	photo := filepath.Join(t.TempDir(), "photo.jpg")
	writePhoto(t, photo, 1600, 1200)

	shot, open, text, click, set := b.shot, b.open, b.page, b.click, b.set
	value := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("value of %s: %v", sel, err)
		}
		return v
	}
	upload := func(sel string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{photo})); err != nil {
			t.Fatalf("choose %s for %s: %v", photo, sel, err)
		}
	}
	logIn := func(user string) {
		t.Helper()
		open(c.leaf+"/login", "#username")
		set("#username", user)
		set("#password", e2ePassword)
		click("main form button", "nav form button")
	}
	logOut := func() {
		t.Helper()
		click("nav form button", "#username")
	}

	// hugo puts a picture on his offer.
	logIn("hugo")
	open(offerURL, "#upload-offer-picture")
	upload("#picture")
	click("#upload-offer-picture", "#offer-picture")
	if p := text(); !strings.Contains(p, "The picture is saved.") {
		t.Errorf("hugo's offer after the upload: got %q", p)
	}
	shot("offer-with-picture")

	// hugo writes about himself.
	open(c.leaf+"/profile", "#bio")
	set("#bio", "I fix bikes in my garage on Saturdays.")
	click("main form button", ".notice")
	logOut()

	// gwen: her picture through the profile form, then the directory.
	logIn("gwen")
	open(c.leaf+"/profile", "#upload-picture")
	upload("#picture")
	click("#upload-picture", "#my-picture")
	if p := text(); !strings.Contains(p, "Your picture is saved.") {
		t.Errorf("profile after the upload: got %q", p)
	}
	if natural, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector("#my-picture").naturalWidth`)); err != nil || natural != 1024 {
		t.Errorf("the stored picture is %d pixels wide (%v), want 1024 (scaled from 1600)", natural, err)
	}
	shot("profile-picture")

	open(c.leaf+"/members", "#directory")
	dir := text()
	for _, want := range []string{"Gwen", "Hugo", "Bike repair", "Dmitri", "Acorn Hill", "(federated)", "Violin lessons"} {
		if !strings.Contains(dir, want) {
			t.Errorf("directory: no %q in %q", want, dir)
		}
	}
	if pics, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#directory img.avatar").length`)); err != nil || pics != 1 {
		t.Errorf("directory: got %d pictures (%v), want gwen's 1", pics, err)
	}
	shot("directory")
	set("#q", "hug")
	click("#find", "#directory")
	if d := text(); !strings.Contains(d, "Hugo") || strings.Contains(d, "Gwen") || !strings.Contains(d, "1–1 of 1") {
		t.Errorf("directory search for hug: got %q", d)
	}
	shot("directory-search")
	click("#directory a[href='/members/hugo']", "#message-member")
	if p := text(); !strings.Contains(p, "Hugo") || !strings.Contains(p, "Bike repair") || !strings.Contains(p, "I fix bikes in my garage on Saturdays.") {
		t.Errorf("hugo's profile: got %q", p)
	}
	shot("member-profile")

	// The offers list shows the offer's picture small.
	open(c.leaf+"/offers", "main table")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main img.thumb").length`)); err != nil || n != 1 {
		t.Errorf("offers list: got %d thumbnails (%v), want 1 (Bike repair)", n, err)
	}
	shot("offers-list")

	// gwen writes to hugo from his offer's page.
	open(offerURL, "#message-author")
	if p := text(); !strings.Contains(p, "Pay for this") || !strings.Contains(p, "Message hugo") {
		t.Errorf("offer page: got %q", p)
	}
	shot("offer-page")
	click("#message-author", "#body")
	if p := text(); !strings.Contains(p, "About Bike repair") {
		t.Errorf("new message: got %q, want it about Bike repair", p)
	}
	set("#body", "Hello Hugo, can you fix a puncture on Saturday?")
	click("#send", ".notice")
	if p := text(); !strings.Contains(p, "Sent to Hugo.") || !strings.Contains(p, "can you fix a puncture") {
		t.Errorf("after sending: got %q", p)
	}
	shot("message-sent")

	// A federated offer: gwen writes to dmitri@acorn through the federation.
	open(c.leaf+"/offers/"+remoteID, "#message-author")
	if p := text(); !strings.Contains(p, "Message dmitri@acorn") {
		t.Errorf("federated offer: got %q", p)
	}
	shot("federated-offer")
	click("#message-author", "#body")
	set("#body", "Hello Dmitri, do you teach beginners?")
	click("#send", ".notice")
	if p := text(); !strings.Contains(p, "Messages with dmitri@acorn (Acorn Hill)") || !strings.Contains(p, "Sent to dmitri@acorn (Acorn Hill).") ||
		!strings.Contains(p, "About Violin lessons") {
		t.Errorf("after sending to dmitri@acorn: got %q", p)
	}
	shot("federated-message-sent")
	logOut()

	// hugo sees the unread count, reads, replies.
	logIn("hugo")
	if unread, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#unread"))); err != nil || unread != "1" {
		t.Fatalf("hugo's unread count: got %q (%v), want 1", unread, err)
	}
	shot("unread-count")
	click("#nav-messages", "#conversations")
	shot("messages")
	click("#conversations a[href='/messages/gwen']", "#body")
	if p := text(); !strings.Contains(p, "can you fix a puncture") {
		t.Errorf("hugo's conversation: got %q", p)
	}
	if badges, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#unread").length`)); err != nil || badges != 0 {
		t.Errorf("after reading: got %d unread badges (%v), want none", badges, err)
	}
	set("#body", "Yes, bring it at ten.")
	click("#send", ".notice")
	shot("reply")
	logOut()

	// gwen: the reply is unread; then "Pay for this" fills the pay form.
	logIn("gwen")
	if unread, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#unread"))); err != nil || unread != "1" {
		t.Errorf("gwen's unread count: got %q (%v), want 1", unread, err)
	}
	open(offerURL, "#pay-for-this")
	click("#pay-for-this", "#amount")
	if to, amount, desc := value("#to"), value("#amount"), value("#description"); to != "hugo" || amount != "12.50" || desc != "Bike repair" {
		t.Errorf("pay form: got to %q amount %q description %q, want hugo 12.50 Bike repair", to, amount, desc)
	}
	shot("pay-for-this")
	click("main form button", "#confirm") // the review step
	click("#confirm", ".notice")
	if p := text(); !strings.Contains(p, "Paid 12.50 LEAF to hugo.") {
		t.Errorf("after paying: got %q", p)
	}
	shot("paid")
}

func jsonID(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}

// writePhoto writes a w×h JPEG: sky, sun and a hill.
func writePhoto(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(120 + 100*y/h), uint8(170 + 60*y/h), 240, 255}
			if dx, dy := x-w*3/4, y-h/4; dx*dx+dy*dy < (h/8)*(h/8) {
				c = color.RGBA{250, 210, 60, 255}
			}
			if y > h*2/3-(x*(w-x))/(w*3/2) {
				c = color.RGBA{60, uint8(120 + 40*x/w), 70, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
}
