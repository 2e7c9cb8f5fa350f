package httpapi

import (
	"net/http"
	"testing"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/ledger"
)

// TestErrorTableKnowsEveryCode walks every code of every domain package of
// the clearing house and fails on one the table does not answer; a
// signature refusal of every kind must have its CXP code.
func TestErrorTableKnowsEveryCode(t *testing.T) {
	var keys []errorKey
	for _, c := range clearing.Codes() {
		keys = append(keys, errorKey{domainClearing, string(c)})
	}
	for _, c := range ledger.Codes() {
		keys = append(keys, errorKey{domainLedger, string(c)})
	}
	for _, k := range keys {
		a, ok := errorTable[k]
		if !ok {
			t.Errorf("%s code %q: not in errorTable", k.domain, k.code)
			continue
		}
		unavailable := k == errorKey{domainClearing, string(clearing.ErrUnavailable)} // the house lacks configuration
		if (a.status < 400 || a.status > 499) && !(unavailable && a.status == http.StatusServiceUnavailable) {
			t.Errorf("%s code %q: status %d, want a 4xx for a refusal", k.domain, k.code, a.status)
		}
	}
	if len(errorTable) != len(keys) {
		t.Errorf("errorTable has %d rows, the domains %d codes: a row is missing or names a code that is gone", len(errorTable), len(keys))
	}
	for _, k := range httpsig.Kinds() {
		e, ok := cxp.SignatureError(&httpsig.Error{Kind: k})
		if !ok || (e.Code != cxp.CodeNotPermitted && e.Code != cxp.CodeWrongKey && e.Code != cxp.CodeAuthData) {
			t.Errorf("signature refusal %v: got %v %v, want code 16, 17 or 18", k, e, ok)
		}
	}
}
