package httpapi

import (
	"errors"
	"net/http"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
)

// Errors of the clearing house: one table from the domains' codes to the
// answers of the admin API and pages (an HTTP status) and of the CXP API (a
// CXP code, whose HTTP status is the protocol's, cxp.StatusFor). A refusal
// that already is a *cxp.Error, or a signature's (httpsig), is answered by
// cxp.SignatureError, the CXP side's one mapping.

// errorKey is a domain error code: the domain is the package that defines it.
type errorKey struct{ domain, code string }

// errorAnswer is how a code is answered: status on the admin API and pages,
// cxp on the CXP API (OK: the code is not the caller's on a CXP call; logged
// and answered 27 "internal error").
type errorAnswer struct {
	status int
	cxp    cxp.Code
}

const (
	domainClearing = "clearing"
	domainLedger   = "ledger"
)

var errorTable = map[errorKey]errorAnswer{
	{domainClearing, string(clearing.ErrNotFound)}: {status: http.StatusNotFound, cxp: cxp.CodeOther},
	{domainClearing, string(clearing.ErrInvalid)}:  {status: http.StatusBadRequest},
	{domainClearing, string(clearing.ErrConflict)}: {status: http.StatusConflict},
	// The arbiter without a sealing secret.
	{domainClearing, string(clearing.ErrUnavailable)}: {status: http.StatusServiceUnavailable},

	// The ledger's refusals of an admin's operation (a transfer the limits
	// refuse, a frozen account): the request clashes with the accounts' state.
	{domainLedger, string(ledger.CodeUnknownAccount)}:       {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeCurrencyMismatch)}:     {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeNonPositiveAmount)}:    {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeSameAccount)}:          {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeAccountFrozen)}:        {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeOverLowerLimit)}:       {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeOverUpperLimit)}:       {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeIdempotencyConflict)}:  {status: http.StatusConflict},
	{domainLedger, string(ledger.CodePendingNotFound)}:      {status: http.StatusConflict},
	{domainLedger, string(ledger.CodePendingResolved)}:      {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeGroupFailed)}:          {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeDuplicateAccount)}:     {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeLimitsExcludeBalance)}: {status: http.StatusConflict},
	{domainLedger, string(ledger.CodeInvalid)}:              {status: http.StatusConflict},
}

// refusal is a domain refusal in one shape, with its answer.
type refusal struct {
	errorAnswer
	code, field, message string
}

// describe finds a domain refusal in err's chain and its answer in
// errorTable; ok is false for anything else (internal: logged, never shown).
func describe(err error) (refusal, bool) {
	var (
		ce  *clearing.Error
		le  *ledger.Error
		key errorKey
		r   refusal
	)
	switch {
	case errors.As(err, &ce):
		key, r = errorKey{domainClearing, string(ce.Code)}, refusal{code: string(ce.Code), field: ce.Field, message: ce.Message}
	case errors.As(err, &le):
		key, r = errorKey{domainLedger, string(le.Code)}, refusal{code: string(le.Code), message: le.Message}
	default:
		return refusal{}, false
	}
	a, ok := errorTable[key]
	if !ok {
		return refusal{}, false
	}
	r.errorAnswer = a
	return r, true
}
