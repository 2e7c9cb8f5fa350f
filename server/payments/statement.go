package payments

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/members"
)

// StatementQuery selects a page of a member's statement. Search keeps the
// lines whose description or counterparty contains it (case-insensitive).
type StatementQuery struct {
	From, To time.Time // To exclusive; zero is unbounded
	Search   string
	After    int64 // a previous page's Next
	Limit    int   // 100 by default, at most 1000
}

// StatementLine is a ledger statement line with the counterparty's name:
// the transfer's "counterparty" metadata if set (e.g. "bob@other" for an
// intertrade), else the member's username, else the ledger account's code.
type StatementLine struct {
	ledger.StatementLine
	CounterpartyName string
	// CounterpartyCommunity is the name of another community's member's
	// community ("Leaf Valley"), "" for a member of this one.
	CounterpartyCommunity string
}

// Statement is one page of a member's statement, oldest first, with
// running balances.
type Statement struct {
	Account ledger.Account
	Opening int64
	Lines   []StatementLine
	Next    int64
}

// Statement returns a page of m's own statement.
func (s *Service) Statement(ctx context.Context, m members.Member, q StatementQuery) (Statement, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	if q.Limit > 1000 {
		return Statement{}, invalid("limit", "limit must be at most 1000")
	}
	if !q.To.IsZero() && !q.From.IsZero() && !q.To.After(q.From) {
		return Statement{}, invalid("to", "to must be after from")
	}
	if err := checkText("q", q.Search, 200); err != nil {
		return Statement{}, err
	}
	search := strings.ToLower(strings.TrimSpace(q.Search))
	lq := ledger.StatementQuery{From: q.From, To: q.To, After: q.After, Limit: q.Limit}
	var out Statement
	first := true
	names := map[ledger.AccountID]string{}
	for {
		page, err := s.ledger.Statement(ctx, m.Account, lq)
		if err != nil {
			return Statement{}, fmt.Errorf("payments: statement: %w", err)
		}
		if first {
			out.Account, out.Opening, first = page.Account, page.Opening, false
		}
		if err := s.names(ctx, page.Lines, names); err != nil {
			return Statement{}, err
		}
		for i, l := range page.Lines {
			line := StatementLine{StatementLine: l, CounterpartyName: counterpartyName(l, names), CounterpartyCommunity: l.Metadata["community_name"]}
			if search != "" && !strings.Contains(strings.ToLower(l.Description), search) &&
				!strings.Contains(strings.ToLower(line.CounterpartyName), search) {
				continue
			}
			out.Lines = append(out.Lines, line)
			if len(out.Lines) == q.Limit {
				if i < len(page.Lines)-1 || page.Next != 0 {
					out.Next = l.TransferID
				}
				return out, nil
			}
		}
		if search == "" || page.Next == 0 {
			out.Next = page.Next
			return out, nil
		}
		lq.After = page.Next
	}
}

func counterpartyName(l ledger.StatementLine, names map[ledger.AccountID]string) string {
	if n := l.Metadata["counterparty"]; n != "" {
		return n
	}
	if l.Metadata["kind"] == "intertrade" {
		// The intertrade service records the remote party as "to" (a
		// payment out, e.g. "bob@acorn") or "from" (a relay in).
		n := l.Metadata[map[bool]string{true: "to", false: "from"}[l.Metadata["direction"] == "out"]]
		if strings.Contains(n, "://") {
			// A relay recorded before "from" was member@community kept the
			// sending community's URL there; the description names the payer.
			if f := strings.Fields(strings.TrimPrefix(l.Description, "from ")); len(f) > 0 && strings.Contains(f[0], "@") {
				return f[0]
			}
		}
		if n != "" {
			return n
		}
	}
	return names[l.Counterparty]
}

// Recent returns the last n lines of m's statement since since, newest
// first, and m's account.
func (s *Service) Recent(ctx context.Context, m members.Member, since time.Time, n int) (ledger.Account, []StatementLine, error) {
	q := StatementQuery{From: since, Limit: 1000}
	var tail []StatementLine
	for {
		st, err := s.Statement(ctx, m, q)
		if err != nil {
			return ledger.Account{}, nil, err
		}
		tail = append(tail, st.Lines...)
		if len(tail) > n {
			tail = tail[len(tail)-n:]
		}
		if st.Next == 0 {
			out := make([]StatementLine, len(tail))
			for i, l := range tail {
				out[len(tail)-1-i] = l
			}
			return st.Account, out, nil
		}
		q.After = st.Next
	}
}

// names fills in the names of the counterparties of lines not yet known.
func (s *Service) names(ctx context.Context, lines []ledger.StatementLine, names map[ledger.AccountID]string) error {
	var missing []ledger.AccountID
	for _, l := range lines {
		if _, ok := names[l.Counterparty]; !ok {
			missing = append(missing, l.Counterparty)
			names[l.Counterparty] = ""
		}
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := s.members.Usernames(ctx, missing)
	if err != nil {
		return err
	}
	for _, id := range missing {
		if n, ok := found[id]; ok {
			names[id] = n
			continue
		}
		a, err := s.ledger.Account(ctx, id)
		if err != nil {
			return fmt.Errorf("payments: statement: %w", err)
		}
		names[id] = a.Code
	}
	return nil
}

// WriteCSV writes statement lines as CSV with a header row: time (RFC
// 3339, UTC), transfer id, counterparty, description, amount, balance,
// amounts as decimal strings in the currency.
func (s *Service) WriteCSV(w io.Writer, lines []StatementLine) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "transfer_id", "counterparty", "description", "amount", "balance", "currency"})
	for _, l := range lines {
		cw.Write([]string{l.Time.UTC().Format(time.RFC3339), strconv.FormatInt(l.TransferID, 10), l.CounterpartyName,
			csvSafe(l.Description), s.cur.Format(l.Amount), s.cur.Format(l.Balance), s.cur.Code})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas in free text.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
