package ledger

import (
	"strings"
	"unicode/utf8"
)

// Truncate returns s as valid UTF-8 of at most n bytes, cut at a rune
// boundary: for error texts and other free text stored in a bounded
// column (PostgreSQL refuses invalid UTF-8, which a byte cut could make).
func Truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
