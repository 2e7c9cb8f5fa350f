package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// apiError is the body of every error answer:
// {"error":{"code":"...","message":"...","field":"..."}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	CXP     int    `json:"cxp,omitempty"` // the circle's code, for refused intertrades
}

type errorBody struct {
	Error apiError `json:"error"`
}

// writeError answers an error with status and aborts the chain.
func writeError(c *gin.Context, status int, code, message, field string) {
	c.AbortWithStatusJSON(status, errorBody{Error: apiError{Code: code, Message: message, Field: field}})
}

// badRequest answers 400 "invalid" naming the field.
func badRequest(c *gin.Context, field, message string) {
	writeError(c, http.StatusBadRequest, "invalid", message, field)
}

// statusOf maps the codes of the domains of this package to HTTP statuses:
// the one table of them.
var statusOf = map[string]int{
	// members
	string(members.CodeInvalid):         http.StatusBadRequest,
	string(members.CodeUsernameTaken):   http.StatusConflict,
	string(members.CodeBadCredentials):  http.StatusUnauthorized,
	string(members.CodeNotApproved):     http.StatusForbidden,
	string(members.CodeBlocked):         http.StatusForbidden,
	string(members.CodeTooManyAttempts): http.StatusTooManyRequests,
	string(members.CodeUnauthenticated): http.StatusUnauthorized,
	string(members.CodeNotFound):        http.StatusNotFound,
	// payments
	string(payments.CodeUnknownPayee):        http.StatusUnprocessableEntity,
	string(payments.CodePayeeInactive):       http.StatusUnprocessableEntity,
	string(payments.CodeOverLimit):           http.StatusUnprocessableEntity,
	string(payments.CodePayeeOverLimit):      http.StatusUnprocessableEntity,
	string(payments.CodeFrozen):              http.StatusForbidden,
	string(payments.CodePayeeFrozen):         http.StatusUnprocessableEntity,
	string(payments.CodeIdempotencyConflict): http.StatusConflict,
	string(payments.CodeNotOpen):             http.StatusConflict,
	string(payments.CodeLimitsExclude):       http.StatusUnprocessableEntity,
	// federation
	federation.CodeBadSignature: http.StatusUnauthorized,
	federation.CodeNotPeer:      http.StatusForbidden,
	"foreign_origin":            http.StatusForbidden,
	"peer_unreachable":          http.StatusBadGateway,
	"peer_refused":              http.StatusBadGateway,
	"conflict":                  http.StatusConflict,
	"too_many_requests":         http.StatusTooManyRequests,
	// ledger refusals that reach a handler unexplained
	string(ledger.CodeOverLowerLimit): http.StatusUnprocessableEntity,
	string(ledger.CodeOverUpperLimit): http.StatusUnprocessableEntity,
}

// describe turns a domain error into its public form; ok is false for
// internal errors, whose cause must not be shown.
func describe(err error) (status int, e apiError, ok bool) {
	var me *members.Error
	var pe *payments.Error
	var le *ledger.Error
	var fe *federation.Error
	switch {
	case errors.As(err, &fe):
		e = apiError{Code: fe.Code, Message: fe.Message}
	case errors.As(err, &me):
		e = apiError{Code: string(me.Code), Message: me.Message, Field: me.Field}
	case errors.As(err, &pe):
		e = apiError{Code: string(pe.Code), Message: pe.Message, Field: pe.Field}
	case errors.As(err, &le):
		if le.Code == ledger.CodeUnknownAccount || le.Code == ledger.CodeCurrencyMismatch {
			return 0, apiError{}, false
		}
		e = apiError{Code: string(le.Code), Message: le.Message}
	default:
		return 0, apiError{}, false
	}
	status, found := statusOf[e.Code]
	if !found {
		status = http.StatusBadRequest
	}
	if e.Code == "not_found" {
		status = http.StatusNotFound
	}
	return status, e, true
}

// fail answers a domain error: refusals with their code and status,
// a vanished client with 499, anything else with a logged 500.
func (h *Handlers) fail(c *gin.Context, err error) {
	if status, e, ok := describe(err); ok {
		var me *members.Error
		if errors.As(err, &me) && me.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(me.RetryAfter.Seconds())))
		}
		writeError(c, status, e.Code, e.Message, e.Field)
		return
	}
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.AbortWithStatus(499) // the client went away
		return
	}
	h.logger().Error("request failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
	writeError(c, http.StatusInternalServerError, "internal", "something went wrong on the server; it has been logged", "")
}
