package contract

import (
	"reflect"
	"testing"
)

// TestDecide walks each branch of T's rule on values (the arbiter's HTTP
// tests walk the same branches through PostgreSQL).
func TestDecide(t *testing.T) {
	type step struct {
		party, level int
		want         string
	}
	tests := []struct {
		name  string
		n     int
		steps []step
		want  State
	}{
		{"none, level 0: aborted, S = {i}", 3, []step{{0, 0, Aborted}},
			State{Aborted, []int{0, -1, -1}, []int{0, 0, 0}, []bool{true, false, false}}},
		{"none, level >= 1: resolved", 3, []step{{1, 2, Resolved}},
			State{Resolved, []int{-1, 2, -1}, []int{2, 2, 2}, []bool{false, false, false}}},
		{"resolved stays resolved", 3, []step{{1, 1, Resolved}, {2, 0, Resolved}, {0, 4, Resolved}},
			State{Resolved, []int{4, 1, 0}, []int{4, 4, 4}, []bool{false, false, false}}},
		{"aborted, S not empty: aborted, i joins S", 3, []step{{0, 0, Aborted}, {1, 1, Aborted}, {2, 0, Aborted}},
			State{Aborted, []int{0, 1, 0}, []int{1, 1, 1}, []bool{true, true, true}}},
		{"overturn: 0 went on after asking", 3, []step{{0, 0, Aborted}, {1, 2, Resolved}, {0, 0, Resolved}},
			State{Resolved, []int{0, 2, -1}, []int{2, 2, 2}, []bool{false, false, false}}},
		{"seen[j] = asked[j] + 1 is no proof", 2, []step{{0, 0, Aborted}, {1, 1, Aborted}},
			State{Aborted, []int{0, 1}, []int{1, 1}, []bool{true, true}}},
		{"a repeat records what it shows, and decides nothing", 3, []step{{0, 0, Aborted}, {0, 3, Aborted}},
			State{Aborted, []int{0, -1, -1}, []int{3, 3, 3}, []bool{true, false, false}}},
		{"i not added when seen[i] > l + 1, then overturned", 3, []step{{0, 0, Aborted}, {0, 3, Aborted}, {1, 0, Aborted}, {2, 1, Resolved}},
			State{Resolved, []int{0, 0, 1}, []int{3, 3, 3}, []bool{false, false, false}}},
		{"level 0 with S empty stays aborted", 3, []step{{0, 0, Aborted}, {0, 2, Aborted}, {1, 0, Aborted}},
			State{Aborted, []int{0, 0, -1}, []int{2, 2, 2}, []bool{false, false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewState(tt.n)
			for k, s := range tt.steps {
				before := st.Clone()
				next, got := Decide(st, Request{Party: s.party, Level: s.level, Shown: EvidenceOf(tt.n, s.level)})
				if got != s.want {
					t.Fatalf("step %d (party %d, level %d): got %s, want %s", k, s.party, s.level, got, s.want)
				}
				if !reflect.DeepEqual(st, before) {
					t.Fatalf("step %d: Decide changed its argument", k)
				}
				st = next
			}
			if !reflect.DeepEqual(st, tt.want) {
				t.Fatalf("got %+v, want %+v", st, tt.want)
			}
		})
	}
}
