package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/ledger/chart"
)

// TestPageTemplates renders every admin page with typical data, so a
// template mistake fails here rather than in front of an admin.
func TestPageTemplates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	yes, no := true, false
	reported := "-12.50"
	leaf := clearing.Community{ID: "leaf", Name: "Leaf <Valley>", URI: "http://leaf", Ticks: "1", Status: clearing.StatusTrading,
		Min: -100000, Max: 100000, Balance: -1250, LastHandshakeAt: &now, IntegrityOK: &yes}
	acorn := clearing.Community{ID: "acorn", Name: "Acorn Hill", URI: "http://acorn", Ticks: "2", Status: clearing.StatusBlocked,
		BlockReason: "fees", Min: -1000, Max: 1000, Balance: 950, IntegrityOK: &no}
	circle := clearing.Circle{ID: "valley", Name: "Valley", Unit: "VAL", Divisions: 2}
	bars := chart.Limits([]chart.Bar{{Label: "leaf", Balance: -1250, Min: -100000, Max: 100000}}, nil)
	tests := []struct {
		page  string
		data  pageData
		wants []string
	}{
		{"login", pageData{Title: "Log in", Body: "/admin/trade", Error: "unknown or revoked token"},
			[]string{`name="token"`, `value="/admin/trade"`, "unknown or revoked token"}},
		{"overview", pageData{Title: "Communities", Actor: "ops", CSRF: "c5rf", Circle: circle, Body: struct {
			Communities []communityRow
			Chart       string
		}{[]communityRow{rowOf(leaf, 2), rowOf(acorn, 2)}, bars}},
			[]string{`<svg`, `data-community="leaf"`, `<td class="num" data-field="balance">-12.50</td>`,
				`<td class="num near" data-field="balance">9.50</td>`, "Leaf &lt;Valley&gt;", `value="c5rf"`, "2026-03-01 12:00:00 UTC",
				`<span class="badge mismatch" data-field="integrity">mismatch</span>`}},
		{"trade", pageData{Title: "Trade", Actor: "ops", Circle: circle, Body: tradeBody{Days: 30, Chart: "<svg></svg>", Matrix: "<svg></svg>",
			Labels: []string{"acorn", "leaf"}, Cells: [][]string{{"0.00", "1.00"}, {"2.00", "0.00"}},
			Totals: []communityTotal{{"acorn", "1.00", "2.00"}, {"leaf", "2.00", "1.00"}}}},
			[]string{`<tr data-payer="leaf"><th>leaf</th><td class="num" data-payee="acorn">2.00</td>`, `last 30 days`}},
		{"alerts", pageData{Title: "Alerts", Actor: "ops", Body: struct {
			Alerts    []clearing.Alert
			Integrity []clearing.IntegrityRow
		}{[]clearing.Alert{{Kind: "near_limit", Community: "acorn", Message: "acorn uses 95% of its limit"}},
			[]clearing.IntegrityRow{{Community: "leaf", VirtualCustomerBalance: "12.50", Expected: "-12.50", ReportedBalance: &reported, ReportedAt: &now, OK: &yes, State: "ok"},
				{Community: "acorn", VirtualCustomerBalance: "9.50", Expected: "-9.50", OK: &no, State: "mismatch"},
				{Community: "elm", VirtualCustomerBalance: "22.00", Expected: "-22.00", ReportedBalance: &reported, ReportedAt: &now, OK: &yes, State: "unknown (data from 2026-03-01 12:00 UTC)"},
				{Community: "oak", VirtualCustomerBalance: "0.00", Expected: "0.00", State: "unknown (no report yet)"}}}},
			[]string{"acorn uses 95% of its limit", `<span class="badge ok" data-field="state">ok</span>`, `<td class="num" data-field="expected">-12.50</td>`,
				`<span class="badge mismatch" data-field="state">mismatch</span>`, `<span class="badge unknown" data-field="state">unknown (no report yet)</span>`,
				`<span class="badge unknown" data-field="state">unknown (data from 2026-03-01 12:00 UTC)</span>`}},
		{"audit", pageData{Title: "Audit", Actor: "ops", Body: struct {
			Entries []clearing.AuditEntry
			Next    int64
		}{[]clearing.AuditEntry{{ID: 7, Actor: "ops", Action: "community.block", Subject: "acorn",
			Before: json.RawMessage(`{"status":"trading"}`), After: json.RawMessage(`{"status":"blocked"}`), CreatedAt: now}}, 7}},
			[]string{`<td data-field="action">community.block</td>`, `{&#34;status&#34;:&#34;blocked&#34;}`, `/admin/audit?before=7`}},
		{"community", pageData{Title: "Acorn Hill", Actor: "ops", CSRF: "c5rf", Circle: circle, Body: communityBody{
			C: rowOf(acorn, 2), Chart: bars, Declared: "2.5"}},
			[]string{`action="/admin/communities/acorn/unblock"`, "— fees", `value="-10.00"`,
				`action="/admin/communities/acorn/rate/approve"`, `<strong data-field="declared">2.5</strong>`}},
		{"confirm", pageData{Title: "Block?", Actor: "ops", CSRF: "c5rf", Body: confirmBody{Action: "/admin/communities/leaf/block",
			Summary: []string{"Block leaf"}, Fields: map[string]string{"reason": `a "quoted" reason`}, Cancel: "/admin/communities/leaf", Severity: "danger"}},
			[]string{`<input type="hidden" name="reason" value="a &#34;quoted&#34; reason">`, `name="confirm" value="yes"`, `class="danger"`}},
		{"error", pageData{Title: "Refused", Error: "a block needs a reason"}, []string{`id="error">a block needs a reason<`}},
		{"arbiter", pageData{Title: "Arbiter", Nav: "arbiter", Actor: "ops", Body: struct {
			Key   string
			Cases []clearing.ArbiterCase
		}{"S2V5", []clearing.ArbiterCase{{Hash: strings.Repeat("ab", 32), Parties: 3, Decision: "aborted",
			Asked: []int{0, -1, 1}, Seen: []int{1, 1, 1}, S: []bool{true, false, true}, Requests: 2, CreatedAt: now, UpdatedAt: now}}}},
			[]string{`<code id="arbiter-key">S2V5</code>`, `data-hash="` + strings.Repeat("ab", 32) + `"`, `<td data-field="decision">aborted</td>`,
				`<td data-field="asked">[0 — 1]</td>`, `<td data-field="s">{0, 2}</td>`, `<td data-field="requests">2</td>`,
				`href="/admin/arbiter" class="on"`}},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			var b bytes.Buffer
			if err := pageTemplates[tt.page].Execute(&b, tt.data); err != nil {
				t.Fatalf("render: %v", err)
			}
			html := b.String()
			for _, w := range append(tt.wants, `<meta name="viewport"`) {
				if !strings.Contains(html, w) {
					t.Errorf("page %s lacks %q:\n%s", tt.page, w, html)
				}
			}
			// Nothing is loaded from elsewhere: no script, no external style, image or font.
			for _, bad := range []string{"<script", " src=", "<link", "@import", "url("} {
				if strings.Contains(html, bad) {
					t.Errorf("page %s contains %q: it must work offline", tt.page, bad)
				}
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/admin/trade", "/admin/trade"},
		{"/admin/communities/leaf?done=1", "/admin/communities/leaf?done=1"},
		{"", "/admin"},
		{"https://evil.example/admin", "/admin"},
		{"//evil.example/admin", "/admin"},
		{"/admin//evil.example", "/admin"},
		{`/admin\evil`, "/admin"},
		{"/admin/api/communities", "/admin"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTradeMatrixAndPoints(t *testing.T) {
	list := []clearing.Community{{ID: "oak"}, {ID: "acorn"}, {ID: "leaf"}}
	m, err := tradeMatrix(list, []clearing.MatrixRow{
		{Payer: "leaf", Payee: "acorn", Quantity: "12.25"}, {Payer: "acorn", Payee: "oak", Quantity: "1.00"},
		{Payer: "gone", Payee: "oak", Quantity: "9.00"},
	}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Labels, ","); got != "acorn,leaf,oak" {
		t.Errorf("labels: got %s, want acorn,leaf,oak", got)
	}
	if m.Cells[1][0] != 1225 || m.Cells[0][2] != 100 || m.Cells[2][0] != 0 {
		t.Errorf("cells: got %v, want leaf→acorn 1225, acorn→oak 100", m.Cells)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := from.Add(48 * time.Hour)
	st := clearing.CommunityStatement{Opening: "-1.00", Lines: []clearing.StatementLine{
		{Time: from.Add(time.Hour), Balance: "-3.50"}, {Time: from.Add(2 * time.Hour), Balance: "2.00"}}}
	pts, err := balancePoints(st, 2, from, now, 200)
	if err != nil {
		t.Fatal(err)
	}
	want := []chart.Point{{Time: from, Value: -100}, {Time: from.Add(time.Hour), Value: -350},
		{Time: from.Add(2 * time.Hour), Value: 200}, {Time: now, Value: 200}}
	if len(pts) != len(want) {
		t.Fatalf("points: got %v, want %v", pts, want)
	}
	for i := range want {
		if !pts[i].Time.Equal(want[i].Time) || pts[i].Value != want[i].Value {
			t.Errorf("point %d: got %v, want %v", i, pts[i], want[i])
		}
	}
}
