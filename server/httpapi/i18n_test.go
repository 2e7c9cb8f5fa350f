package httpapi

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template/parse"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/mail"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// untranslatedTemplates are the templates TestPagesHaveNoLooseText does not
// read yet, by name: each is a page whose words are still English only.
// They are the community admins' pages; every member's page is translated.
var untranslatedTemplates = map[string]bool{}

// allowedWords are the words a template may show outside {{t …}}: the
// product's name and abbreviations that read the same in every language.
var allowedWords = map[string]bool{"SXP": true, "UTC": true, "CSV": true, "km": true}

// parseTemplate reads one template file into its parse trees.
func parseTemplate(t *testing.T, name string) map[string]*parse.Tree {
	t.Helper()
	raw, err := fs.ReadFile(templatesFS, "templates/"+name)
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]any{}
	for _, k := range strings.Fields("and call html index slice js len not or print printf println urlquery eq ge gt le lt ne") {
		funcs[k] = fmt.Sprint // the builtins, by name only: parse checks names
	}
	for k, v := range (&Handlers{}).templateFuncs() {
		funcs[k] = v
	}
	for k, v := range (&Handlers{}).langFuncs("en") {
		funcs[k] = v
	}
	trees, err := parse.Parse(name, string(raw), "", "", funcs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return trees
}

func templateNames(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	return names
}

// walk calls text for every text node and action for every action,
// in order.
func walk(n parse.Node, text func(string), action func(*parse.PipeNode)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, text, action)
		}
	case *parse.TextNode:
		text(string(n.Text))
	case *parse.ActionNode:
		action(n.Pipe)
	case *parse.IfNode:
		action(n.Pipe)
		walk(n.List, text, action)
		action(nil) // {{else}} parts words too
		walk(n.ElseList, text, action)
	case *parse.RangeNode:
		action(n.Pipe)
		walk(n.List, text, action)
		action(nil) // {{else}} parts words too
		walk(n.ElseList, text, action)
	case *parse.WithNode:
		action(n.Pipe)
		walk(n.List, text, action)
		action(nil) // {{else}} parts words too
		walk(n.ElseList, text, action)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			action(n.Pipe)
		}
	}
}

// messageIDs are the ids of {{t "id" …}} anywhere in a pipeline.
func messageIDs(p *parse.PipeNode, add func(string)) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for i, arg := range cmd.Args {
			if id, ok := arg.(*parse.IdentifierNode); ok && id.Ident == "t" && i+1 < len(cmd.Args) {
				if s, ok := cmd.Args[i+1].(*parse.StringNode); ok {
					add(s.Text)
				}
			}
			if sub, ok := arg.(*parse.PipeNode); ok {
				messageIDs(sub, add)
			}
		}
	}
}

// trCallRE finds h.tr(c, "id" …) in the page handlers.
var trCallRE = regexp.MustCompile(`\.tr\(c, "([^"]+)"[,)]`) // a whole id, not a prefix ("x."+v)

// dynamicIDs are the ids a template builds from a value,
// {{tv "bill_status" .Status}}: every value needs its message.
func dynamicIDs() []string {
	var ids []string
	for _, s := range []payments.RequestStatus{payments.RequestOpen, payments.RequestPaid, payments.RequestRejected, payments.RequestCancelled} {
		ids = append(ids, "bill_status."+string(s))
	}
	for _, k := range []announce.Kind{announce.Offer, announce.Want} {
		ids = append(ids, "offer_kind."+string(k))
	}
	for _, s := range []announce.Status{announce.Active, announce.Closed, announce.Expired} {
		ids = append(ids, "offer_status."+string(s))
	}
	for _, k := range mail.Kinds() {
		ids = append(ids, "notice."+string(k))
	}
	for _, a := range []string{"approve", "block", "unblock", "unlock", "role", "limits", "password"} { // adminMemberAction
		ids = append(ids, "admin_action."+a)
	}
	for _, st := range []members.Status{members.StatusPending, members.StatusActive, members.StatusBlocked} {
		ids = append(ids, "member_status."+string(st))
	}
	for _, r := range []members.Role{members.RoleMember, members.RoleAdmin} {
		ids = append(ids, "role."+string(r))
	}
	for _, s := range []string{"proposed", "ready", "ended"} { // deal_proposals_state_check
		ids = append(ids, "proposal_state."+s)
	}
	for _, s := range []string{"signing", "resolving", "signed", "aborted", "failed"} { // contracts_state_check
		ids = append(ids, "contract_state."+s)
	}
	for _, s := range []string{"pending", "paid", "refused", "confirmed"} { // contract_legs_state_check
		ids = append(ids, "leg_state."+s)
	}
	return ids
}

// TestCataloguesComplete fails on a message missing from a language: every
// id in English is in every other language and the other way round, and
// every id the templates and page handlers use is in English.
func TestCataloguesComplete(t *testing.T) {
	en, err := readMessages("en")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range pageLanguages[1:] {
		other, err := readMessages(l.Code)
		if err != nil {
			t.Fatal(err)
		}
		for id := range en {
			if other[id] == "" {
				t.Errorf("%s: message %q is missing (English: %q)", l.Code, id, en[id])
			}
		}
		for id := range other {
			if _, ok := en[id]; !ok {
				t.Errorf("%s: message %q is not in English", l.Code, id)
			}
		}
	}

	used := map[string]string{} // id → where
	for _, name := range templateNames(t) {
		for _, tree := range parseTemplate(t, name) {
			walk(tree.Root, func(string) {}, func(p *parse.PipeNode) {
				messageIDs(p, func(id string) { used[id] = name })
			})
		}
	}
	goFiles, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range trCallRE.FindAllStringSubmatch(string(src), -1) {
			used[m[1]] = f
		}
	}
	for _, id := range dynamicIDs() {
		used[id] = "dynamicIDs"
	}
	if len(used) < 50 {
		t.Fatalf("found %d message ids in use; the scan is broken", len(used))
	}
	for id, where := range used {
		if _, ok := en[id]; !ok {
			t.Errorf("%s uses message %q, which is not in the English catalogue", where, id)
		}
	}
}

// A template's text outside tags and actions, and the attributes a reader
// sees or hears.
var (
	tagRE       = regexp.MustCompile(`(?s)<[^>]*>`)
	attrRE      = regexp.MustCompile(`([a-zA-Z-]+)="([^"]*)"`)
	entityRE    = regexp.MustCompile(`&[a-zA-Z]+;|&#\d+;`)
	styleRE     = regexp.MustCompile(`(?s)<style>.*?</style>|<script[^>]*>.*?</script>`)
	wordRE      = regexp.MustCompile(`\pL+`)
	shownAttrs  = map[string]bool{"placeholder": true, "title": true, "aria-label": true, "alt": true}
	buttonValue = regexp.MustCompile(`^<(button|input[^>]*type="(submit|button|reset)")`)
)

// looseWords are the words of html (actions replaced by \x00) that are not
// in the catalogue: text between tags and the shown attributes.
func looseWords(html string) []string {
	html = styleRE.ReplaceAllString(html, "")
	var words []string
	check := func(s string) {
		s = entityRE.ReplaceAllString(s, " ")
		for _, w := range wordRE.FindAllString(s, -1) {
			if !allowedWords[w] {
				words = append(words, w)
			}
		}
	}
	for _, tag := range tagRE.FindAllString(html, -1) {
		for _, a := range attrRE.FindAllStringSubmatch(tag, -1) {
			if shownAttrs[a[1]] || (a[1] == "value" && buttonValue.MatchString(tag)) {
				check(a[2])
			}
		}
	}
	check(tagRE.ReplaceAllString(html, " "))
	return words
}

// TestPagesHaveNoLooseText fails on any page string that is not in the
// message catalogue: the words of every template outside {{t …}} and
// other actions, in text and in the attributes a reader sees.
func TestPagesHaveNoLooseText(t *testing.T) {
	var skipped []string
	for _, name := range templateNames(t) {
		if untranslatedTemplates[name] {
			skipped = append(skipped, name)
			continue
		}
		var b strings.Builder
		for _, tree := range parseTemplate(t, name) {
			walk(tree.Root, func(s string) { b.WriteString(s) }, func(*parse.PipeNode) { b.WriteString("\x00") })
		}
		if words := looseWords(b.String()); len(words) > 0 {
			t.Errorf("%s: words outside the catalogue: %q", name, words)
		}
	}
	sort.Strings(skipped)
	if len(skipped) > 0 {
		t.Logf("not yet translated, skipped by name: %s", strings.Join(skipped, ", "))
	}
}

// TestLooseWordsFinds checks the scanner itself: it must see words in text
// and shown attributes, and nothing in actions, tags or other attributes.
func TestLooseWordsFinds(t *testing.T) {
	tests := []struct {
		name, html string
		want       []string
	}{
		{"text", `<p>Hello \x00</p>`, []string{"Hello"}},
		{"action only", "<p>\x00</p>", nil},
		{"placeholder", `<input placeholder="your name" name="n">`, []string{"your", "name"}},
		{"button value", `<input type="submit" value="Send">`, []string{"Send"}},
		{"other attributes", `<a href="/offers" class="button">` + "\x00</a>", nil},
		{"style", `<style>body{font:system-ui}</style>`, nil},
		{"allowed", `<span>SXP · 12 UTC &amp;</span>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := looseWords(strings.ReplaceAll(tt.html, `\x00`, "\x00"))
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRefusalsInSpanish: a domain's English refusal is shown in Spanish
// with its values kept, English stays as the domain wrote it, and a
// sentence the catalogue does not know stays English.
func TestRefusalsInSpanish(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	h := &Handlers{catalogue: cat}
	tests := []struct{ in, lang, want string }{
		{"Choose a category", "es", "Elige una categoría"},
		{"Title must not be empty", "es", "El título no puede estar vacío"},
		{"Title must not be empty", "en", "Title must not be empty"},
		{`there is no member "zoe"`, "es", `no existe el miembro "zoe"`},
		{`Amount "1.234": too many decimal places: LEAF allows at most 2`, "es", `Importe "1.234": demasiados decimales: LEAF admite como máximo 2`},
		{"a sentence nobody translated", "es", "a sentence nobody translated"},
	}
	for _, tt := range tests {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		c.Request.Header.Set("Accept-Language", tt.lang)
		if got := h.localRefusal(c, tt.in); got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.lang, tt.in, got, tt.want)
		}
	}
}

// TestPageLanguage: the menu's cookie wins over Accept-Language, which wins
// over English; an unknown language falls back to English; money and dates
// follow the language.
func TestPageLanguage(t *testing.T) {
	cat, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	h := &Handlers{catalogue: cat}
	tests := []struct{ name, accept, cookie, want string }{
		{"nothing", "", "", "en"},
		{"spanish browser", "es-ES,es;q=0.9,en;q=0.5", "", "es"},
		{"mexican spanish", "es-MX", "", "es"},
		{"english first", "en-GB,es;q=0.5", "", "en"},
		{"unknown", "de-DE", "", "en"},
		{"menu wins", "es", "en", "en"},
		{"menu spanish", "en-US", "es", "es"},
		{"bad cookie", "es", "xx", "es"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/", nil)
			if tt.accept != "" {
				c.Request.Header.Set("Accept-Language", tt.accept)
			}
			if tt.cookie != "" {
				c.Request.AddCookie(&http.Cookie{Name: langCookie, Value: tt.cookie})
			}
			if got := h.pageLang(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	money := []struct{ code, in, want string }{
		{"en", "-12345.50", "-12345.50"}, {"es", "-12345.50", "-12.345,50"}, {"es", "1234.50", "1234,50"},
		{"es", "1234567", "1.234.567"}, {"es", "0.05", "0,05"},
	}
	for _, m := range money {
		if got := formatMoney(m.code, m.in); got != m.want {
			t.Errorf("formatMoney(%s, %s): got %q, want %q", m.code, m.in, got, m.want)
		}
	}
	tv := h.langFuncs("es")["tv"].(func(string, any) string)
	if got, want := tv("bill_status", payments.RequestPaid), "pagada"; got != want {
		t.Errorf("tv of a known value: got %q, want %q", got, want)
	}
	if got, want := tv("bill_status", "disputed"), "disputed"; got != want {
		t.Errorf("tv of a value without a message: got %q, want %q", got, want)
	}
	if got := cat.mustTr(t, "es", "home.bills_to_pay", "Count", 3); got != "Facturas (3 por pagar)" {
		t.Errorf("plural: got %q", got)
	}
	for in, want := range map[string]string{"//evil.example/x": "/", "/\t/evil.example": "/", "/\\evil.example": "/",
		"https://evil.example": "/", "": "/", "/statement?from=2026-01-01": "/statement?from=2026-01-01"} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q): got %q, want %q", in, got, want)
		}
	}
}

func (cat *catalogue) mustTr(t *testing.T, code, id string, args ...any) string {
	t.Helper()
	s, err := cat.tr(code, id, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
