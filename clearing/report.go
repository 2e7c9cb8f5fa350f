package clearing

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sxp-network/sxp/ledger"
)

// StatementLine is one intertrade as seen by one community; amounts are
// base units as decimals.
type StatementLine struct {
	Time         time.Time `json:"time"`
	IntertradeID int64     `json:"intertrade_id"`
	TransferID   int64     `json:"transfer_id"`
	Counterparty string    `json:"counterparty"`
	Amount       string    `json:"amount"` // negative when the community paid
	Balance      string    `json:"balance"`
	Description  string    `json:"description"`
}

// CommunityStatement is a community's statement over [From, To).
type CommunityStatement struct {
	Community string          `json:"community"`
	Unit      string          `json:"unit"`
	From      *time.Time      `json:"from,omitempty"`
	To        *time.Time      `json:"to,omitempty"`
	Opening   string          `json:"opening"`
	Closing   string          `json:"closing"`
	Lines     []StatementLine `json:"lines"`
}

// Statement is a community's statement; from and to may be zero (unbounded).
func (h *House) Statement(ctx context.Context, id string, from, to time.Time) (CommunityStatement, error) {
	circle, err := h.Circle(ctx)
	if err != nil {
		return CommunityStatement{}, err
	}
	c, err := h.Community(ctx, id)
	if err != nil {
		return CommunityStatement{}, err
	}
	names, err := h.accountNames(ctx)
	if err != nil {
		return CommunityStatement{}, err
	}
	out := CommunityStatement{Community: id, Unit: circle.Unit, Lines: []StatementLine{}}
	if !from.IsZero() {
		out.From = &from
	}
	if !to.IsZero() {
		out.To = &to
	}
	q := ledger.StatementQuery{From: from, To: to, Limit: 1000}
	first := true
	var closing int64
	for {
		st, err := h.ledger.Statement(ctx, c.AccountID, q)
		if err != nil {
			return CommunityStatement{}, fmt.Errorf("clearing: statement: %w", err)
		}
		if first {
			out.Opening = FormatAmount(st.Opening, circle.Divisions)
			closing = st.Opening
			first = false
		}
		for _, l := range st.Lines {
			it, _ := strconv.ParseInt(l.Metadata["intertrade"], 10, 64)
			out.Lines = append(out.Lines, StatementLine{Time: l.Time, IntertradeID: it, TransferID: l.TransferID,
				Counterparty: names[l.Counterparty], Amount: FormatAmount(l.Amount, circle.Divisions),
				Balance: FormatAmount(l.Balance, circle.Divisions), Description: l.Description})
			closing = l.Balance
		}
		if st.Next == 0 {
			break
		}
		q.After = st.Next
	}
	out.Closing = FormatAmount(closing, circle.Divisions)
	return out, nil
}

func (h *House) accountNames(ctx context.Context) (map[ledger.AccountID]string, error) {
	rows, err := h.pool.Query(ctx, `SELECT account_id, id FROM clearing_communities`)
	if err != nil {
		return nil, fmt.Errorf("clearing: communities: %w", err)
	}
	defer rows.Close()
	out := map[ledger.AccountID]string{}
	for rows.Next() {
		var a int64
		var id string
		if err := rows.Scan(&a, &id); err != nil {
			return nil, err
		}
		out[ledger.AccountID(a)] = id
	}
	return out, rows.Err()
}

// WriteCSV writes the statement as CSV with a header row.
func (s CommunityStatement) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "intertrade_id", "transfer_id", "counterparty", "amount", "balance", "description"})
	for _, l := range s.Lines {
		cw.Write([]string{l.Time.UTC().Format(time.RFC3339), strconv.FormatInt(l.IntertradeID, 10),
			strconv.FormatInt(l.TransferID, 10), l.Counterparty, l.Amount, l.Balance, l.Description})
	}
	cw.Flush()
	return cw.Error()
}

// Summary is the circle's report over [From, To).
type Summary struct {
	Circle   string            `json:"circle"`
	Unit     string            `json:"unit"`
	Period   string            `json:"period"`
	From     *time.Time        `json:"from,omitempty"`
	To       *time.Time        `json:"to,omitempty"`
	Balances []BalanceRow      `json:"balances"`
	Volume   []VolumeRow       `json:"volume"`
	Matrix   []MatrixRow       `json:"matrix"`
	Totals   map[string]string `json:"totals"`
}

// BalanceRow is a community's balance and limits now.
type BalanceRow struct {
	Community string `json:"community"`
	Status    string `json:"status"`
	Ticks     string `json:"ticks"`
	Balance   string `json:"balance"`
	Min       string `json:"min"`
	Max       string `json:"max"`
}

// VolumeRow is the written intertrades of one period.
type VolumeRow struct {
	Period   time.Time `json:"period"`
	Count    int64     `json:"count"`
	Quantity string    `json:"quantity"`
}

// MatrixRow is what one community paid another over the range.
type MatrixRow struct {
	Payer    string `json:"payer"`
	Payee    string `json:"payee"`
	Count    int64  `json:"count"`
	Quantity string `json:"quantity"`
}

// Summarise reports balances, volume per period (day, week, month or year)
// and the payer × payee matrix of written intertrades in [from, to).
func (h *House) Summarise(ctx context.Context, from, to time.Time, period string) (Summary, error) {
	switch period {
	case "":
		period = "month"
	case "day", "week", "month", "year":
	default:
		return Summary{}, invalid("period", "%q: want day, week, month or year", period)
	}
	circle, err := h.Circle(ctx)
	if err != nil {
		return Summary{}, err
	}
	list, err := h.Communities(ctx)
	if err != nil {
		return Summary{}, err
	}
	f := func(v int64) string { return FormatAmount(v, circle.Divisions) }
	s := Summary{Circle: circle.ID, Unit: circle.Unit, Period: period, Balances: []BalanceRow{}, Volume: []VolumeRow{}, Matrix: []MatrixRow{}}
	if !from.IsZero() {
		s.From = &from
	}
	if !to.IsZero() {
		s.To = &to
	}
	for _, c := range list {
		s.Balances = append(s.Balances, BalanceRow{Community: c.ID, Status: c.Status, Ticks: c.Ticks,
			Balance: f(c.Balance), Min: f(c.Min), Max: f(c.Max)})
	}
	lo, hi := from, to
	if lo.IsZero() {
		lo = time.Unix(0, 0)
	}
	if hi.IsZero() {
		hi = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var totalCount, totalQty int64
	rows, err := h.pool.Query(ctx, `SELECT date_trunc($1, created_at AT TIME ZONE 'UTC'), count(*), sum(quantity)::bigint
		FROM clearing_intertrades WHERE status = 'posted' AND created_at >= $2 AND created_at < $3
		GROUP BY 1 ORDER BY 1`, period, lo, hi)
	if err != nil {
		return Summary{}, fmt.Errorf("clearing: summary: %w", err)
	}
	for rows.Next() {
		var p time.Time
		var n, q int64
		if err := rows.Scan(&p, &n, &q); err != nil {
			rows.Close()
			return Summary{}, err
		}
		s.Volume = append(s.Volume, VolumeRow{Period: p.UTC(), Count: n, Quantity: f(q)})
		totalCount += n
		totalQty += q
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Summary{}, err
	}
	rows, err = h.pool.Query(ctx, `SELECT payer_community, payee_community, count(*), sum(quantity)::bigint
		FROM clearing_intertrades WHERE status = 'posted' AND created_at >= $1 AND created_at < $2
		GROUP BY 1, 2 ORDER BY 1, 2`, lo, hi)
	if err != nil {
		return Summary{}, fmt.Errorf("clearing: summary: %w", err)
	}
	for rows.Next() {
		var m MatrixRow
		var q int64
		if err := rows.Scan(&m.Payer, &m.Payee, &m.Count, &q); err != nil {
			rows.Close()
			return Summary{}, err
		}
		m.Quantity = f(q)
		s.Matrix = append(s.Matrix, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Summary{}, err
	}
	s.Totals = map[string]string{"count": strconv.FormatInt(totalCount, 10), "quantity": f(totalQty)}
	return s, nil
}

// WriteCSV writes one part of the summary (balances, volume or matrix) as CSV.
func (s Summary) WriteCSV(w io.Writer, part string) error {
	cw := csv.NewWriter(w)
	switch part {
	case "balances":
		cw.Write([]string{"community", "status", "ticks", "balance", "min", "max"})
		for _, b := range s.Balances {
			cw.Write([]string{b.Community, b.Status, b.Ticks, b.Balance, b.Min, b.Max})
		}
	case "volume", "":
		cw.Write([]string{"period", "count", "quantity"})
		for _, v := range s.Volume {
			cw.Write([]string{v.Period.Format("2006-01-02"), strconv.FormatInt(v.Count, 10), v.Quantity})
		}
	case "matrix":
		cw.Write([]string{"payer", "payee", "count", "quantity"})
		for _, m := range s.Matrix {
			cw.Write([]string{m.Payer, m.Payee, strconv.FormatInt(m.Count, 10), m.Quantity})
		}
	default:
		return invalid("part", "%q: want balances, volume or matrix", part)
	}
	cw.Flush()
	return cw.Error()
}
