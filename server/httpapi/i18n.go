package httpapi

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/pelletier/go-toml/v2"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The pages' languages. Every page string is a message in
// locales/active.LANG.toml, looked up by its id: {{t "id"}} in templates,
// h.tr with the gin context and the id in page handlers. English is the default and the fallback;
// TestCataloguesComplete keeps every language as complete as English.
//
// A message id with the prefix "err." is a domain refusal: its English text
// is the domain's own sentence, with {{.X}} where the domain puts a value,
// so a page can show the refusal in the reader's language (localRefusal).
//
//go:embed locales/*.toml
var localesFS embed.FS

// pageLanguage is one language of the pages.
type pageLanguage struct {
	Code string // the BCP 47 tag, e.g. "es"
	Name string // the language's name in itself, for the menu
	tag  language.Tag
}

// pageLanguages are the languages offered, English first (the default).
var pageLanguages = []pageLanguage{
	{Code: "en", Name: "English", tag: language.English},
	{Code: "es", Name: "Español", tag: language.Spanish},
}

// langCookie keeps the language a reader chose from the menu.
const langCookie = "sxp_lang"

// catalogue is the loaded message files: a localizer per language and the
// patterns that recognise the domains' English refusals.
type catalogue struct {
	bundle   *i18n.Bundle
	matcher  language.Matcher
	loc      map[string]*i18n.Localizer
	refusals []refusalPattern
}

// refusalPattern recognises one domain sentence: the English text of an
// "err." message with its {{.X}} holes as capture groups named X.
type refusalPattern struct {
	id    string
	re    *regexp.Regexp
	names []string
}

// loadCatalogue reads every locales/active.*.toml.
func loadCatalogue() (*catalogue, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	tags := make([]language.Tag, len(pageLanguages))
	cat := &catalogue{bundle: b, loc: map[string]*i18n.Localizer{}}
	for i, l := range pageLanguages {
		if _, err := b.LoadMessageFileFS(localesFS, "locales/active."+l.Code+".toml"); err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		tags[i] = l.tag
		cat.loc[l.Code] = i18n.NewLocalizer(b, l.Code)
	}
	cat.matcher = language.NewMatcher(tags)
	en, err := readMessages("en")
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(en))
	for id := range en {
		if strings.HasPrefix(id, "err.") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids) // the same order every run: the first pattern that matches wins
	for _, id := range ids {
		cat.refusals = append(cat.refusals, compileRefusal(id, en[id]))
	}
	return cat, nil
}

// holeRE finds a message's {{.X}} holes.
var holeRE = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// compileRefusal turns "there is no member {{.Name}}" into a pattern that
// matches the whole sentence and captures Name.
func compileRefusal(id, text string) refusalPattern {
	var re strings.Builder
	var names []string
	re.WriteString(`^`)
	last := 0
	for _, m := range holeRE.FindAllStringSubmatchIndex(text, -1) {
		re.WriteString(regexp.QuoteMeta(text[last:m[0]]))
		re.WriteString(`(.+?)`)
		names = append(names, text[m[2]:m[3]])
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(text[last:]))
	re.WriteString(`$`)
	return refusalPattern{id: id, re: regexp.MustCompile(re.String()), names: names}
}

// readMessages reads one language's file into id → text (a plural
// message's "other" form), for the refusal patterns and the tests.
func readMessages(code string) (map[string]string, error) {
	raw, err := fs.ReadFile(localesFS, "locales/active."+code+".toml")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	var m map[string]any
	if err := toml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("i18n: %s: %w", code, err)
	}
	out := make(map[string]string, len(m))
	for id, v := range m {
		switch v := v.(type) {
		case string:
			out[id] = v
		case map[string]any:
			s, _ := v["other"].(string)
			out[id] = s
		}
	}
	return out, nil
}

// tr is one language's lookup: id and then pairs of name and value, as in
// {{t "home.bills" "Count" .Incoming}}; a value named Count chooses the
// plural form. An unknown id is an error (the page fails, and the tests
// find it before anyone else).
func (cat *catalogue) tr(code, id string, args ...any) (string, error) {
	loc, ok := cat.loc[code]
	if !ok {
		loc = cat.loc["en"]
	}
	if len(args)%2 != 0 {
		return "", fmt.Errorf("i18n: %s: odd arguments", id)
	}
	lc := &i18n.LocalizeConfig{MessageID: id}
	if len(args) > 0 {
		data := make(map[string]any, len(args)/2)
		for i := 0; i < len(args); i += 2 {
			name, _ := args[i].(string)
			data[name] = args[i+1]
			if name == "Count" {
				lc.PluralCount = args[i+1]
				data[name] = formatCount(code, args[i+1])
			}
		}
		lc.TemplateData = data
	}
	s, err := loc.Localize(lc)
	if err != nil {
		return "", fmt.Errorf("i18n: %s: %w", id, err)
	}
	return s, nil
}

// formatCount writes a count with the language's digit grouping.
func formatCount(code string, v any) string {
	n, ok := v.(int)
	if !ok {
		if n64, ok64 := v.(int64); ok64 {
			return formatInt(code, n64)
		}
		return fmt.Sprint(v)
	}
	return formatInt(code, int64(n))
}

// formatInt writes n as English did before there were languages (no
// grouping), or with the language's grouping.
func formatInt(code string, n int64) string {
	if code == "en" {
		return strconv.FormatInt(n, 10)
	}
	return message.NewPrinter(language.Make(code)).Sprint(n)
}

// formatMoney writes an exact decimal amount ("-1234.50" from the
// currency's Format) in the language's way: Spanish uses a decimal comma
// and groups thousands with a point from five digits on ("12.345,50",
// "1234,50"). English keeps the amount as it is.
func formatMoney(code, s string) string {
	if code != "es" {
		return s
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if len(whole) > 4 {
		var b strings.Builder
		for i, r := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteByte('.')
			}
			b.WriteRune(r)
		}
		whole = b.String()
	}
	if hasFrac {
		return sign + whole + "," + frac
	}
	return sign + whole
}

// dateLayouts are each language's layouts of a date with time, a day and a
// time of day.
var dateLayouts = map[string][3]string{
	"en": {"2006-01-02 15:04", "2006-01-02", "15:04"},
	"es": {"02/01/2006 15:04", "02/01/2006", "15:04"},
}

func layoutsOf(code string) [3]string {
	if l, ok := dateLayouts[code]; ok {
		return l
	}
	return dateLayouts["en"]
}

// langFuncs are the template functions that depend on the language.
func (h *Handlers) langFuncs(code string) template.FuncMap {
	cur := h.Community.Currency
	l := layoutsOf(code)
	return template.FuncMap{
		"t": func(id string, args ...any) (string, error) { return h.catalogue.tr(code, id, args...) },
		// tv names a value in words: {{tv "bill_status" .Status}} is the
		// message bill_status.paid, or the value itself when a newer value
		// has no message yet (TestCataloguesComplete lists the known ones).
		"tv": func(family string, v any) string {
			value := fmt.Sprint(v)
			if s, err := h.catalogue.tr(code, family+"."+value); err == nil {
				return s
			}
			return value
		},
		"money": func(v int64) string { return formatMoney(code, cur.Format(v)) },
		"num":   func(v int64) string { return formatInt(code, v) },
		"date":  func(t time.Time) string { return t.UTC().Format(l[0]) },
		"datep": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format(l[0])
		},
		"day":   func(t time.Time) string { return t.UTC().Format(l[1]) },
		"clock": func(t time.Time) string { return t.UTC().Format(l[2]) },
	}
}

// pageLang is the language of the request: the reader's choice from the
// menu (a cookie), else the browser's Accept-Language, else English.
func (h *Handlers) pageLang(c *gin.Context) string {
	if v, ok := c.Get("lang"); ok {
		return v.(string)
	}
	code := "en"
	if v, err := c.Cookie(langCookie); err == nil && knownLang(v) {
		code = v
	} else if al := c.GetHeader("Accept-Language"); al != "" {
		tags, _, _ := language.ParseAcceptLanguage(al)
		if _, i, conf := h.catalogue.matcher.Match(tags...); conf != language.No {
			code = pageLanguages[i].Code
		}
	}
	c.Set("lang", code)
	return code
}

func knownLang(code string) bool {
	for _, l := range pageLanguages {
		if l.Code == code {
			return true
		}
	}
	return false
}

// tr is the page handlers' lookup in the request's language, for notices
// and errors, with names and values as {{t}} takes them. An unknown id is logged and
// shown as the id, so a page still answers.
func (h *Handlers) tr(c *gin.Context, id string, args ...any) string {
	s, err := h.catalogue.tr(h.pageLang(c), id, args...)
	if err != nil {
		h.logger().Error("i18n", "err", err)
		return id
	}
	return s
}

// localRefusal is a domain's English refusal in the request's language,
// when the catalogue knows the sentence; the values in it stay as they are.
func (h *Handlers) localRefusal(c *gin.Context, msg string) string {
	code := h.pageLang(c)
	if code == "en" || msg == "" {
		return msg
	}
	for _, p := range h.catalogue.refusals {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		args := make([]any, 0, 2*len(p.names))
		for i, name := range p.names {
			args = append(args, name, m[i+1])
		}
		if s, err := h.catalogue.tr(code, p.id, args...); err == nil {
			return s
		}
	}
	return msg
}

// chooseLanguage is the menu: GET /language/:lang?next=/path keeps the
// choice in a cookie for a year and goes back to the page.
func (h *Handlers) chooseLanguage(c *gin.Context) {
	code := c.Param("lang")
	if !knownLang(code) {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_language"))
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: code, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.SecureCookies})
	c.Redirect(http.StatusSeeOther, localPath(c.Query("next")))
}

// localPath is next when it is a path on this server, else "/": the menu
// must not send a reader elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f { // browsers drop tabs and newlines: "/\t/evil" would be "//evil"
			return "/"
		}
	}
	return next
}

// money is an amount of the community's currency written in the request's
// language, for what page handlers put into notices and page data.
func (h *Handlers) money(c *gin.Context, v int64) string {
	return formatMoney(h.pageLang(c), h.Community.Currency.Format(v))
}
