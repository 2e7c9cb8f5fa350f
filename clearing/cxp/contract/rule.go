package contract

import "slices"

// State is what the arbiter T keeps per contract (design.md): its decision,
// and per party j the level it asked with, the highest round of any valid
// promise of j that T has seen, and whether j is in S (asked, was answered
// aborted, and is not proven dishonest).
type State struct {
	Decision string // "" (none), Aborted or Resolved
	Asked    []int  // -1: has not asked
	Seen     []int  // 0: no promise seen
	S        []bool
}

// NewState is the state of a contract T has never been asked about.
func NewState(n int) State {
	st := State{Asked: make([]int, n), Seen: make([]int, n), S: make([]bool, n)}
	for j := range st.Asked {
		st.Asked[j] = -1
	}
	return st
}

// Clone is a deep copy.
func (st State) Clone() State {
	return State{Decision: st.Decision, Asked: slices.Clone(st.Asked), Seen: slices.Clone(st.Seen), S: slices.Clone(st.S)}
}

// Request is one verified resolve request: party i at level l, and Shown[j]
// the highest round of a valid promise of j in its evidence (0 for none;
// with the evidence M[l] of design.md every entry is l).
type Request struct {
	Party int
	Level int
	Shown []int
}

// EvidenceOf is the Shown of a request at level l with evidence M[l].
func EvidenceOf(n, l int) []int {
	shown := make([]int, n)
	for j := range shown {
		shown[j] = l
	}
	return shown
}

// Decide is T's rule, a pure function of values: given the state of a
// contract and a verified request, the new state and the answer (Aborted or
// Resolved). Exactly design.md:
//
//   - record what the evidence shows in seen (every request, repeats included);
//   - if i asked before, answer the current decision;
//   - else asked[i] = l; drop from S every j with seen[j] > asked[j] + 1;
//   - resolved → resolved;
//     none → (l = 0: aborted, S = {i}; l ≥ 1: resolved);
//     aborted → (l ≥ 1 and S empty: resolved; else add i to S if seen[i] ≤ l+1, aborted).
//
// st is not changed.
func Decide(st State, req Request) (State, string) {
	return decide(st, req, rule{})
}

// rule holds deliberately broken variants of Decide, for the fairness test
// to show that each makes the protocol unfair. The zero rule is design.md's.
type rule struct {
	noDrop    bool // never drop proven-dishonest parties from S
	dropSlack int  // the drop test is seen[j] > asked[j] + 1 + dropSlack
	// repeatsUnseen: a repeat request (i asked before) records nothing in
	// seen, instead of accumulating what its evidence shows.
	repeatsUnseen bool
}

func decide(st State, req Request, ru rule) (State, string) {
	st = st.Clone()
	i, l := req.Party, req.Level
	if ru.repeatsUnseen && st.Asked[i] >= 0 {
		return st, st.Decision
	}
	for j, r := range req.Shown {
		st.Seen[j] = max(st.Seen[j], r)
	}
	if st.Asked[i] >= 0 {
		return st, st.Decision
	}
	st.Asked[i] = l
	if !ru.noDrop {
		for j := range st.S {
			if st.S[j] && st.Seen[j] > st.Asked[j]+1+ru.dropSlack {
				st.S[j] = false
			}
		}
	}
	switch st.Decision {
	case Resolved:
	case "":
		if l == 0 {
			st.Decision = Aborted
			st.S[i] = true
		} else {
			st.Decision = Resolved
		}
	case Aborted:
		if l >= 1 && !slices.Contains(st.S, true) {
			st.Decision = Resolved
		} else if st.Seen[i] <= l+1 {
			st.S[i] = true
		}
	}
	return st, st.Decision
}
