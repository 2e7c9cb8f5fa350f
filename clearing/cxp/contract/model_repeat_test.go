package contract

import "testing"

// TestFairnessRepeatsUnseen runs the exhaustive checker with the variant
// of T's rule where a repeat request records nothing in seen (design.md
// says "seen accumulates over every request, repeats included") and
// asserts what the model finds: no counterexample for n = 2, 3.
//
// Why this variant is not unfair in the model: seen only feeds the drop
// test, and only the coalition ever repeats (an honest party asks once).
// A repeat can raise seen[j] for an honest j at most to what j sent, and an
// honest party that asked at level l sent at most m[l+1], so it is never
// dropped; for a colluder, a higher seen can only drop it from S, which
// helps the honest parties. Taking that power away from the coalition
// leaves every honest party's outcome as it was. The rule keeps
// accumulating (it costs nothing and records the evidence T was shown); if
// this test ever finds a counterexample, the model has learnt a new move
// and design.md's remark becomes a proven requirement.
func TestFairnessRepeatsUnseen(t *testing.T) {
	for _, n := range []int{2, 3} {
		states, _, err := checkAll(n, rule{repeatsUnseen: true}, stateLimit)
		if err != nil {
			t.Fatalf("n = %d: counterexample: %v", n, firstLine(err.Error()))
		}
		t.Logf("n = %d: no counterexample in %d states", n, states)
	}
}
