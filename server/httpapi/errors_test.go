package httpapi

import (
	"net/http"
	"testing"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/contracts"
	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/intertrade"
	"github.com/sxp-network/sxp/server/mail"
	"github.com/sxp-network/sxp/server/memberkeys"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/messages"
	"github.com/sxp-network/sxp/server/payments"
	"github.com/sxp-network/sxp/server/people"
	"github.com/sxp-network/sxp/server/pictures"
)

// TestErrorTableKnowsEveryCode walks every code of every domain package of
// the community server and fails on one that errorTable does not answer: a
// new code must get its row before it can reach a client.
func TestErrorTableKnowsEveryCode(t *testing.T) {
	var keys []errorKey
	for _, c := range members.Codes() {
		keys = append(keys, errorKey{domainMembers, string(c)})
	}
	for _, c := range payments.Codes() {
		keys = append(keys, errorKey{domainPayments, string(c)})
	}
	for _, c := range ledger.Codes() {
		keys = append(keys, errorKey{domainLedger, string(c)})
	}
	for _, c := range announce.Codes() {
		keys = append(keys, errorKey{domainAnnounce, c})
	}
	for _, c := range intertrade.Codes() {
		keys = append(keys, errorKey{domainIntertrade, string(c)})
	}
	for _, c := range mail.Codes() {
		keys = append(keys, errorKey{domainMail, string(c)})
	}
	for _, c := range deals.Codes() {
		keys = append(keys, errorKey{domainDeals, c})
	}
	for _, c := range memberkeys.Codes() {
		keys = append(keys, errorKey{domainMemberKeys, c})
	}
	for _, c := range federation.Codes() {
		keys = append(keys, errorKey{domainFederation, c})
	}
	for _, c := range pictures.Codes() {
		keys = append(keys, errorKey{domainPictures, c})
	}
	for _, c := range messages.Codes() {
		keys = append(keys, errorKey{domainMessages, c})
	}
	keys = append(keys, errorKey{domainPeople, people.CodeInvalid})
	for _, c := range contracts.Codes() {
		keys = append(keys, errorKey{domainContracts, c})
	}
	for _, k := range keys {
		a, ok := errorTable[k]
		if !ok {
			t.Errorf("%s code %q: not in errorTable", k.domain, k.code)
			continue
		}
		// A peer that fails or refuses is the other server's fault: 502.
		gateway := k.domain == domainFederation && a.status == http.StatusBadGateway
		if !a.internal && !gateway && (a.status < 400 || a.status > 499) {
			t.Errorf("%s code %q: status %d, want a 4xx for a refusal", k.domain, k.code, a.status)
		}
	}
	if len(errorTable) != len(keys) {
		t.Errorf("errorTable has %d rows, the domains %d codes: a row is missing or names a code that is gone", len(errorTable), len(keys))
	}
}

// TestDescribeEveryDomain: one refusal of each domain, through the one table.
func TestDescribeEveryDomain(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantOK     bool
	}{
		{"members", &members.Error{Code: members.CodeUsernameTaken, Message: "m"}, 409, "username_taken", true},
		{"payments not found", &payments.Error{Code: payments.CodeNotFound, Message: "m"}, 404, "not_found", true},
		{"ledger internal", &ledger.Error{Code: ledger.CodeUnknownAccount}, 0, "", false},
		{"announce not found", &announce.Error{Code: announce.CodeNotFound, Message: "m"}, 404, "not_found", true},
		{"intertrade not found", &intertrade.Error{Code: intertrade.ErrNotFound, Message: "m"}, 422, "unknown_community", true},
		{"intertrade refused", &intertrade.Error{Code: intertrade.ErrRefused, Message: "m", CXP: 24}, 422, "refused", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e, ok := describe(tt.err)
			if status != tt.wantStatus || e.Code != tt.wantCode || ok != tt.wantOK {
				t.Errorf("got %d %q %v, want %d %q %v", status, e.Code, ok, tt.wantStatus, tt.wantCode, tt.wantOK)
			}
		})
	}
}
