package httpapi

import (
	"net/url"
	"testing"
)

// TestListLinks: the next and previous pages' links keep the list's
// parameters, replace its offset, and drop offset 0.
func TestListLinks(t *testing.T) {
	for _, tc := range []struct {
		query                  url.Values
		offset, limit, next    int
		wantNext, wantPrevious string
	}{
		{url.Values{}, 0, 20, 20, "/offers?offset=20", ""},
		{url.Values{}, 20, 20, -1, "", "/offers"},
		{url.Values{"q": {"bike"}, "offset": {"30"}}, 30, 20, 50, "/offers?offset=50&q=bike", "/offers?offset=10&q=bike"},
		{url.Values{"q": {"bike"}}, 10, 20, -1, "", "/offers?q=bike"},
	} {
		next, prev := listLinks("/offers", tc.query, tc.offset, tc.limit, tc.next)
		if next != tc.wantNext || prev != tc.wantPrevious {
			t.Errorf("listLinks(%v, %d, %d, %d): got %q, %q; want %q, %q", tc.query, tc.offset, tc.limit, tc.next, next, prev, tc.wantNext, tc.wantPrevious)
		}
	}
}
