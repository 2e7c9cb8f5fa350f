package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing"
)

// TestJoinAndCommunityFormTemplates renders the pages added for the circle
// admins (add a community, its key, requests to join) with fixed data and
// checks what they show and that their forms carry the CSRF token.
func TestJoinAndCommunityFormTemplates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	circle := clearing.Circle{ID: "valley", Name: "Valley", Unit: "VAL", Divisions: 2}
	pending := clearing.JoinRequest{ID: 4, CommunityID: "oak", Name: "Oak Town", Currency: "OAK", Divisions: 2,
		BaseURL: "http://oak.example", Ticks: "0.5", Message: "hello <b>", KeyID: "http://oak.example#k1",
		PublicKey: ed25519.PublicKey(make([]byte, 32)), State: "pending", CreatedAt: now}
	refused := clearing.JoinRequest{ID: 3, CommunityID: "elm", Name: "Elm", BaseURL: "http://elm.example", State: "refused",
		Reason: "unknown", DecidedBy: "ops", DecidedAt: &now}
	tests := []struct {
		page  string
		data  pageData
		wants []string
	}{
		{"community_new", pageData{Title: "Add a community", Actor: "ops", CSRF: "c5rf", Circle: circle, Error: "Name must not be empty",
			Body: communityForm{ID: "pine", Rate: "0.8"}},
			[]string{`action="/admin/communities/new"`, `name="csrf" value="c5rf"`, `id="id" value="pine"`, `id="rate" value="0.8"`,
				`Lower limit (VAL)`, `id="error">Name must not be empty<`}},
		{"community_key", pageData{Title: "Pine is in the circle", Actor: "ops", Circle: circle, Body: struct {
			C   communityRow
			Key string
		}{communityRow{ID: "pine", Name: "Pine", Rate: "0.8", Min: "-3.00", Max: "3.00"}, "s3cret-key"}},
			[]string{`<code id="key">s3cret-key</code>`, "SXP_CIRCLE_ID=valley"}},
		{"joins", pageData{Title: "Requests to join", Nav: "joins", Actor: "ops", CSRF: "c5rf", Circle: circle, PendingJoins: 1,
			Body: struct{ Pending, Decided []clearing.JoinRequest }{[]clearing.JoinRequest{pending}, []clearing.JoinRequest{refused}}},
			[]string{`action="/admin/joins/4/approve"`, `action="/admin/joins/4/refuse"`, `name="csrf" value="c5rf"`,
				`<code data-field="fingerprint">` + pending.Fingerprint() + `</code>`, `class="rate" value="0.5"`, "hello &lt;b&gt;",
				`<span class="badge refused" data-field="state">refused</span> — unknown`, `href="/admin/joins" class="on"`, `<span class="badge pending" id="pending-joins">1</span>`}},
		{"joins", pageData{Title: "Requests to join", Nav: "joins", Actor: "ops", Circle: circle,
			Body: struct{ Pending, Decided []clearing.JoinRequest }{}},
			[]string{`id="no-pending"`}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := pageTemplates[tt.page].Execute(&b, tt.data); err != nil {
			t.Fatalf("%s: render: %v", tt.page, err)
		}
		for _, w := range tt.wants {
			if !strings.Contains(b.String(), w) {
				t.Errorf("page %s lacks %q:\n%s", tt.page, w, b.String())
			}
		}
	}
	if fp := pending.Fingerprint(); len(fp) != 16 {
		t.Errorf("fingerprint %q: want 16 hex digits", fp)
	}
}
