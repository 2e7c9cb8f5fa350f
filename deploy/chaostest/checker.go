// Package chaostest is the chaos bank test (Jepsen's bank workload in our
// own terms): a clearing house and three communities run as real sxp
// processes on loopback, members pay each other locally and across the
// circle while servers are killed, PostgreSQL clusters stopped and the
// network between the servers broken on a seeded schedule; afterwards a
// checker compares what clients were told with what every database holds.
//
// The checker (Check) is a pure function of a recorded History and a final
// Snapshot, so its own tests feed it broken histories and prove it fails.
//
// Dependency rule: this is a test harness at the top of the tree. It talks
// to the servers only as outsiders do: the community API through
// server/client, the databases through SQL, the processes through the
// built binary. It imports no domain package of either server.
package chaostest

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// Outcome is what a client was told about a payment, last.
type Outcome string

const (
	Completed Outcome = "completed" // 201 with status completed
	Failed    Outcome = "failed"    // a refusal (4xx), or status failed
	Pending   Outcome = "pending"   // 202: the circle has not answered yet
	Unknown   Outcome = "unknown"   // no answer at all (timeout, reset, 5xx)
)

// Op is one payment the workload made, with the last answer it got
// (after retries with the same idempotency key).
type Op struct {
	Key            string // the member's idempotency key, unique in a run
	PayerCommunity string
	Payer          string
	PayeeCommunity string // == PayerCommunity for a local payment
	Payee          string
	Amount         int64 // minor units of the payer's currency
	Outcome        Outcome
	Attempts       int
	Code           string // the API error code of a refusal
	// Copies is how many identical requests (same key) were sent at once,
	// as a client double-submitting; Disagree names the differing final
	// answers they got ("" when they agreed): every copy must get the first
	// result.
	Copies   int
	Disagree string
}

// Remote says whether the payment went through the circle.
func (o Op) Remote() bool { return o.PayerCommunity != o.PayeeCommunity }

// Sample is one balance seen during the run.
type Sample struct {
	Where    string // community id or "clearing"
	Account  string // account code
	Balance  int64
	Min, Max int64
}

// History is what the workload saw.
type History struct {
	Ops     []Op
	Samples []Sample
}

// Account is a ledger account in a final snapshot.
type Account struct {
	Code     string // ledger code; a member's account is named by its Owner
	Owner    string // the member's username, "" for system accounts
	Currency string
	Balance  int64
	Min, Max int64
}

// Transfer is a ledger transfer (posted money) in a final snapshot.
type Transfer struct {
	Key    string // ledger idempotency key
	Debit  string // account code
	Credit string
	Amount int64
}

// Intertrade is a community's row of a payment through the circle.
type Intertrade struct {
	Direction string // out | in
	State     string // pending | completed | failed
	TempID    string
	Local     string // the local member's username
	Remote    string // the other member, "user@community" when known
	Key       string // the member's idempotency key (out only)
	Amount    int64  // local minor units
	Quantity  int64  // base minor units
	Ticks     string // the rate the conversion used; "": the community's Ticks
	Rounding  string // the remainder the community recorded, in base units; "": none recorded
}

// ClearingIntertrade is a row of the clearing house.
type ClearingIntertrade struct {
	Payer, Payee string // community ids
	TempID       string
	Status       string // pending | posted | voided | expired
	Quantity     int64  // base minor units
}

// Community is one community's final state.
type Community struct {
	ID           string
	Divisions    int
	Ticks        string // its rate: base units per unit
	ImportExport string // its import/export account code
	Accounts     []Account
	Transfers    []Transfer
	Intertrades  []Intertrade
	PendingHolds int // ledger holds still pending
}

// Clearing is the clearing house's final state.
type Clearing struct {
	Divisions   int
	Accounts    []Account // vc:<community> and any others (a rounding account)
	Transfers   []Transfer
	Intertrades []ClearingIntertrade
}

// Snapshot is every database's state after healing and recovery.
type Snapshot struct {
	Communities map[string]*Community
	Clearing    Clearing
}

// Options tune the checker.
type Options struct {
	// RoundingAccount marks an account (clearing or community) that holds
	// conversion remainders; nil: any code containing "rounding".
	RoundingAccount func(code string) bool
}

// Violation is one broken invariant.
type Violation struct {
	Kind   string // lost, doubled, one_sided, moved_on_failure, mismatch, idempotency, unresolved, limit, sum, journal, import_export, remainder
	Detail string
}

func (v Violation) String() string { return v.Kind + ": " + v.Detail }

// Report is the checker's result.
type Report struct {
	Ops                         int
	Completed, Failed, Pending  int
	Unknown                     int
	Local, Remote               int
	Samples                     int
	Violations                  []Violation
	Remainder                   string // base units the conversions left over, circle-wide
	RoundingBalance             string // base units held by rounding accounts
	ClearingIntertrades, Posted int
}

// OK says whether no invariant broke.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// String prints the report, one violation a line.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ops=%d (local %d, remote %d) completed=%d failed=%d pending=%d unknown=%d samples=%d clearing_rows=%d posted=%d remainder=%s rounding=%s violations=%d\n",
		r.Ops, r.Local, r.Remote, r.Completed, r.Failed, r.Pending, r.Unknown, r.Samples, r.ClearingIntertrades, r.Posted, r.Remainder, r.RoundingBalance, len(r.Violations))
	counts := map[string]int{}
	for _, v := range r.Violations {
		counts[v.Kind]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %s: %d\n", k, counts[k])
	}
	for i, v := range r.Violations {
		if i == 50 {
			fmt.Fprintf(&b, "  ... %d more\n", len(r.Violations)-50)
			break
		}
		fmt.Fprintf(&b, "  VIOLATION %s\n", v)
	}
	return b.String()
}

// Check compares a history with a final snapshot and reports every broken
// invariant:
//   - an op acknowledged completed is on the payer's ledger, the clearing
//     house (remote) and the payee's ledger exactly once, with the same
//     base amount on all three;
//   - an op acknowledged failed moved nothing anywhere, and concurrent
//     copies of one op (one key) all got the same answer;
//   - every intertrade, acknowledged or not, ended completed or failed the
//     same way on every side (no one-sided credit), and nothing is pending;
//   - no sampled or final balance is outside its limits;
//   - each currency of each database sums to zero, and each balance is the
//     sum of its journal;
//   - each community's import/export account matches its intertrades, and
//     its virtual customer is minus their base amounts;
//   - the conversion remainder, summed over completed intertrades (the
//     local amount at the community's rate against the base amount moved),
//     is held by the rounding accounts (Options.RoundingAccount; either
//     sign convention is accepted); with no rounding account it must be 0.
func Check(h History, s Snapshot, opt Options) Report {
	isRounding := opt.RoundingAccount
	if isRounding == nil {
		isRounding = func(code string) bool { return strings.Contains(code, "rounding") }
	}
	r := Report{Ops: len(h.Ops), Samples: len(h.Samples)}
	bad := func(kind, format string, a ...any) {
		r.Violations = append(r.Violations, Violation{Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}

	// Index the snapshot.
	type txKey struct{ community, key string }
	memberKeyed := map[txKey][]Transfer{} // by the member's idempotency key of a local payment or a posted hold
	inByTemp := map[string][]Intertrade{}
	outByKey := map[txKey][]Intertrade{}
	for id, c := range s.Communities {
		owner := map[string]string{}
		for _, a := range c.Accounts {
			owner[a.Code] = a.Owner
		}
		for _, t := range c.Transfers {
			if k, ok := memberKey(t.Key); ok {
				t.Debit, t.Credit = nameOf(owner, t.Debit), nameOf(owner, t.Credit)
				memberKeyed[txKey{id, k}] = append(memberKeyed[txKey{id, k}], t)
			}
		}
		for _, it := range c.Intertrades {
			switch it.Direction {
			case "in":
				inByTemp[it.TempID] = append(inByTemp[it.TempID], it)
			case "out":
				outByKey[txKey{id, it.Key}] = append(outByKey[txKey{id, it.Key}], it)
			}
		}
	}
	clearingByTemp := map[string][]ClearingIntertrade{}
	for _, ci := range s.Clearing.Intertrades {
		clearingByTemp[ci.TempID] = append(clearingByTemp[ci.TempID], ci)
		r.ClearingIntertrades++
		if ci.Status == "posted" {
			r.Posted++
		}
	}
	posted := func(temp string) (n int, q int64) {
		for _, ci := range clearingByTemp[temp] {
			if ci.Status == "posted" {
				n++
				q = ci.Quantity
			}
		}
		return n, q
	}
	credited := func(temp string) (n int, q int64) {
		for _, it := range inByTemp[temp] {
			if it.State == "completed" {
				n++
				q = it.Quantity
			}
		}
		return n, q
	}

	// Each acknowledged op.
	for _, op := range h.Ops {
		switch op.Outcome {
		case Completed:
			r.Completed++
		case Failed:
			r.Failed++
		case Pending:
			r.Pending++
		default:
			r.Unknown++
		}
		name := fmt.Sprintf("%s %s@%s -> %s@%s %d", op.Key, op.Payer, op.PayerCommunity, op.Payee, op.PayeeCommunity, op.Amount)
		if op.Disagree != "" {
			bad("idempotency", "%s: %d concurrent copies with one key got different answers: %s", name, op.Copies, op.Disagree)
		}
		debits := memberKeyed[txKey{op.PayerCommunity, op.Key}]
		if !op.Remote() {
			r.Local++
			switch {
			case op.Outcome == Completed && len(debits) == 0:
				bad("lost", "%s: acknowledged completed, no transfer on %s", name, op.PayerCommunity)
			case len(debits) > 1:
				bad("doubled", "%s: %d transfers on %s", name, len(debits), op.PayerCommunity)
			case op.Outcome == Failed && len(debits) != 0:
				bad("moved_on_failure", "%s: acknowledged failed (%s), but transferred", name, op.Code)
			case len(debits) == 1 && (debits[0].Debit != op.Payer || debits[0].Credit != op.Payee || debits[0].Amount != op.Amount):
				bad("mismatch", "%s: transfer %s -> %s %d", name, debits[0].Debit, debits[0].Credit, debits[0].Amount)
			}
			continue
		}
		r.Remote++
		outs := outByKey[txKey{op.PayerCommunity, op.Key}]
		if len(outs) > 1 {
			bad("doubled", "%s: %d outgoing intertrades on %s", name, len(outs), op.PayerCommunity)
		}
		if len(debits) > 1 {
			bad("doubled", "%s: %d posted debits on %s", name, len(debits), op.PayerCommunity)
		}
		if len(outs) == 0 {
			switch {
			case op.Outcome == Completed:
				bad("lost", "%s: acknowledged completed, no intertrade on %s", name, op.PayerCommunity)
			case len(debits) != 0:
				bad("moved_on_failure", "%s: no intertrade row, but %d debits on %s", name, len(debits), op.PayerCommunity)
			}
			continue
		}
		out := outs[0]
		nPosted, qClearing := posted(out.TempID)
		nCredited, qPayee := credited(out.TempID)
		switch op.Outcome {
		case Completed:
			if out.State != "completed" || len(debits) != 1 {
				bad("lost", "%s: acknowledged completed, payer side is %s with %d debits", name, out.State, len(debits))
			}
			if nPosted != 1 {
				bad("lost", "%s: acknowledged completed, %d posted rows at the clearing house", name, nPosted)
			}
			if nCredited != 1 {
				bad("lost", "%s: acknowledged completed, %d completed credits on %s", name, nCredited, op.PayeeCommunity)
			}
			if nPosted == 1 && nCredited == 1 && (out.Quantity != qClearing || qClearing != qPayee) {
				bad("mismatch", "%s: base amounts payer %d, clearing %d, payee %d", name, out.Quantity, qClearing, qPayee)
			}
			if len(debits) == 1 && debits[0].Amount != op.Amount {
				bad("mismatch", "%s: payer debited %d", name, debits[0].Amount)
			}
		case Failed:
			if len(debits) != 0 || nPosted != 0 || nCredited != 0 || out.State == "completed" {
				bad("moved_on_failure", "%s: acknowledged failed (%s), but payer %s with %d debits, clearing %d posted, payee %d credits",
					name, op.Code, out.State, len(debits), nPosted, nCredited)
			}
		}
	}

	// Every intertrade, acknowledged or not: the three sides agree.
	for id, c := range s.Communities {
		for _, out := range c.Intertrades {
			if out.Direction != "out" {
				continue
			}
			name := fmt.Sprintf("%s out %s (%s, key %s)", id, out.TempID, out.Local, out.Key)
			nPosted, _ := posted(out.TempID)
			nCredited, _ := credited(out.TempID)
			debits := len(memberKeyed[txKey{id, out.Key}])
			switch out.State {
			case "pending":
				bad("unresolved", "%s: still pending after recovery", name)
			case "completed":
				if nPosted != 1 || nCredited != 1 || debits != 1 {
					bad("one_sided", "%s: payer completed (%d debits), clearing %d posted, payee %d credits", name, debits, nPosted, nCredited)
				}
			case "failed":
				if nPosted != 0 || nCredited != 0 || debits != 0 {
					bad("one_sided", "%s: payer failed (%d debits), clearing %d posted, payee %d credits", name, debits, nPosted, nCredited)
				}
			}
		}
		for _, in := range c.Intertrades {
			if in.Direction == "in" && in.State == "pending" {
				bad("unresolved", "%s in %s: still pending after recovery", id, in.TempID)
			}
		}
		if c.PendingHolds != 0 {
			bad("unresolved", "%s: %d ledger holds still pending after recovery", id, c.PendingHolds)
		}
	}
	for temp, cis := range clearingByTemp {
		n, _ := posted(temp)
		nCredited, _ := credited(temp)
		for _, ci := range cis {
			if ci.Status == "pending" {
				bad("unresolved", "clearing %s %s: still pending after recovery", ci.Payer, temp)
			}
		}
		if n > 1 || nCredited > 1 {
			bad("doubled", "temp_id %s: %d posted at the clearing house, %d credits at the payee", temp, n, nCredited)
		}
		if n != nCredited {
			bad("one_sided", "temp_id %s: %d posted at the clearing house, %d credits at the payee", temp, n, nCredited)
		}
	}

	// Limits, sampled during the run and at the end.
	for _, sm := range h.Samples {
		if sm.Balance < sm.Min || sm.Balance > sm.Max {
			bad("limit", "%s %s: balance %d outside [%d, %d] during the run", sm.Where, sm.Account, sm.Balance, sm.Min, sm.Max)
		}
	}
	ledgerChecks := func(where string, accounts []Account, transfers []Transfer) {
		sums := map[string]int64{}
		journal := map[string]int64{}
		for _, t := range transfers {
			journal[t.Debit] -= t.Amount
			journal[t.Credit] += t.Amount
		}
		for _, a := range accounts {
			sums[a.Currency] += a.Balance
			if a.Balance < a.Min || a.Balance > a.Max {
				bad("limit", "%s %s: final balance %d outside [%d, %d]", where, a.Code, a.Balance, a.Min, a.Max)
			}
			if journal[a.Code] != a.Balance {
				bad("journal", "%s %s: balance %d, journal sums to %d", where, a.Code, a.Balance, journal[a.Code])
			}
		}
		for cur, sum := range sums {
			if sum != 0 {
				bad("sum", "%s: %s sums to %d, not zero", where, cur, sum)
			}
		}
	}
	ledgerChecks("clearing", s.Clearing.Accounts, s.Clearing.Transfers)

	// Import/export against intertrades and the virtual customers; the remainder.
	vc := map[string]int64{}
	rounding := new(big.Rat)
	baseScale := pow10(s.Clearing.Divisions)
	for _, a := range s.Clearing.Accounts {
		if id, ok := strings.CutPrefix(a.Code, "vc:"); ok {
			vc[id] = a.Balance
		} else if isRounding(a.Code) {
			rounding.Add(rounding, big.NewRat(a.Balance, 1))
		}
	}
	remainder := new(big.Rat)
	ids := make([]string, 0, len(s.Communities))
	for id := range s.Communities {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := s.Communities[id]
		ledgerChecks(id, c.Accounts, c.Transfers)
		var ie int64
		for _, a := range c.Accounts {
			if a.Code == c.ImportExport {
				ie = a.Balance
			}
		}
		var local, base int64
		for _, it := range c.Intertrades {
			if it.State != "completed" {
				continue
			}
			if it.Direction == "out" {
				local, base = local+it.Amount, base+it.Quantity
			} else {
				local, base = local-it.Amount, base-it.Quantity
			}
		}
		if ie != local {
			bad("import_export", "%s: import/export balance %d, its completed intertrades sum to %d", id, ie, local)
		}
		if vc[id] != -base {
			bad("import_export", "%s: virtual customer %d, minus its intertrades' base amounts is %d", id, vc[id], -base)
		}
		ticks, ok := new(big.Rat).SetString(c.Ticks)
		if !ok {
			bad("remainder", "%s: rate %q is not a number", id, c.Ticks)
			continue
		}
		// What each completed intertrade's local amount is worth in base
		// minor units, against the base amount the circle moved: the
		// conversion's remainder, signed as the import/export account moved.
		// A community that records each conversion's remainder (its
		// rounding column, in base units) keeps its rounding account that
		// way: each recorded remainder must be the conversion's exact one,
		// and none may be negative (value created).
		for _, it := range c.Intertrades {
			if it.State != "completed" {
				continue
			}
			rate := ticks
			if it.Ticks != "" {
				if rate, ok = new(big.Rat).SetString(it.Ticks); !ok {
					bad("remainder", "%s: intertrade %s: rate %q is not a number", id, it.TempID, it.Ticks)
					continue
				}
			}
			toBase := new(big.Rat).Mul(rate, new(big.Rat).SetFrac(baseScale, pow10(c.Divisions)))
			diff := new(big.Rat).Mul(big.NewRat(it.Amount, 1), toBase)
			diff.Sub(diff, big.NewRat(it.Quantity, 1))
			if it.Direction == "in" {
				diff.Neg(diff)
			}
			remainder.Add(remainder, diff)
			if it.Rounding == "" {
				continue
			}
			rec, ok := new(big.Rat).SetString(it.Rounding)
			if !ok {
				bad("remainder", "%s: intertrade %s: recorded rounding %q is not a number", id, it.TempID, it.Rounding)
				continue
			}
			rec.Mul(rec, new(big.Rat).SetInt(baseScale))
			if rec.Cmp(diff) != 0 {
				bad("remainder", "%s: intertrade %s: recorded remainder %s base minor units, the conversion left %s",
					id, it.TempID, rec.RatString(), diff.RatString())
			}
			if diff.Sign() < 0 {
				bad("remainder", "%s: intertrade %s: the conversion created %s base minor units", id, it.TempID, new(big.Rat).Neg(diff).RatString())
			}
			rounding.Add(rounding, rec)
		}
		for _, a := range c.Accounts {
			if isRounding(a.Code) {
				v := new(big.Rat).Mul(big.NewRat(a.Balance, 1), ticks)
				rounding.Add(rounding, v.Mul(v, new(big.Rat).SetFrac(baseScale, pow10(c.Divisions))))
			}
		}
	}
	// The communities' import/export accounts are worth remainder base
	// units more than the base amounts their intertrades moved (when the
	// import/export checks above hold, more than the circle's virtual
	// customers): value the conversions created or destroyed, which a
	// rounding account must hold.
	// Either sign convention of a rounding account is accepted: it may
	// hold the remainder or its opposite.
	if remainder.Cmp(rounding) != 0 && new(big.Rat).Add(remainder, rounding).Sign() != 0 {
		bad("remainder", "conversions left %s base minor units that no rounding account explains (rounding accounts hold %s)",
			remainder.RatString(), rounding.RatString())
	}
	r.Remainder, r.RoundingBalance = remainder.RatString(), rounding.RatString()
	return r
}

// memberKey returns the member's idempotency key of a ledger key
// "pay:<account>:<key>" (local payments and intertrade holds).
func memberKey(ledgerKey string) (string, bool) {
	rest, ok := strings.CutPrefix(ledgerKey, "pay:")
	if !ok {
		return "", false
	}
	_, k, ok := strings.Cut(rest, ":")
	return k, ok
}

func nameOf(owner map[string]string, code string) string {
	if o := owner[code]; o != "" {
		return o
	}
	return code
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }
