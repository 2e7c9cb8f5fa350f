package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

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

// errorKey is a domain error code: the domain is the package that defines it
// (codes repeat across domains: "invalid", "not_found").
type errorKey struct{ domain, code string }

// errorAnswer is how a code is answered: the HTTP status, and the code shown
// when it is not the domain's own. internal marks a code that is not the
// caller's fault: logged and answered 500, its cause never shown.
type errorAnswer struct {
	status   int
	public   string
	internal bool
}

// The domains of the community server.
const (
	domainMembers    = "members"
	domainPayments   = "payments"
	domainLedger     = "ledger"
	domainAnnounce   = "announce"
	domainIntertrade = "intertrade"
	domainFederation = "federation"
	domainDeals      = "deals"
	domainMemberKeys = "memberkeys"
	domainMail       = "mail"
	domainPictures   = "pictures"
	domainMessages   = "messages"
	domainPeople     = "people"
	domainContracts  = "contracts"
)

// errorTable is the one table from the domains' codes to HTTP answers, for
// the JSON API and the pages alike. A new domain adds rows here (and its
// Codes() to TestErrorTableKnowsEveryCode), never another mapping function.
var errorTable = map[errorKey]errorAnswer{
	{domainMembers, string(members.CodeInvalid)}:         {status: http.StatusBadRequest},
	{domainMembers, string(members.CodeUsernameTaken)}:   {status: http.StatusConflict},
	{domainMembers, string(members.CodeBadCredentials)}:  {status: http.StatusUnauthorized},
	{domainMembers, string(members.CodeNotApproved)}:     {status: http.StatusForbidden},
	{domainMembers, string(members.CodeBlocked)}:         {status: http.StatusForbidden},
	{domainMembers, string(members.CodeTooManyAttempts)}: {status: http.StatusTooManyRequests},
	{domainMembers, string(members.CodeUnauthenticated)}: {status: http.StatusUnauthorized},
	{domainMembers, string(members.CodeNotFound)}:        {status: http.StatusNotFound},
	{domainMembers, string(members.CodeBusy)}:            {status: http.StatusTooManyRequests},

	{domainPayments, string(payments.CodeInvalid)}:             {status: http.StatusBadRequest},
	{domainPayments, string(payments.CodeUnknownPayee)}:        {status: http.StatusUnprocessableEntity},
	{domainPayments, string(payments.CodePayeeInactive)}:       {status: http.StatusUnprocessableEntity},
	{domainPayments, string(payments.CodeOverLimit)}:           {status: http.StatusUnprocessableEntity},
	{domainPayments, string(payments.CodePayeeOverLimit)}:      {status: http.StatusUnprocessableEntity},
	{domainPayments, string(payments.CodeFrozen)}:              {status: http.StatusForbidden},
	{domainPayments, string(payments.CodePayeeFrozen)}:         {status: http.StatusUnprocessableEntity},
	{domainPayments, string(payments.CodeIdempotencyConflict)}: {status: http.StatusConflict},
	{domainPayments, string(payments.CodeNotFound)}:            {status: http.StatusNotFound},
	{domainPayments, string(payments.CodeNotOpen)}:             {status: http.StatusConflict},
	{domainPayments, string(payments.CodeLimitsExclude)}:       {status: http.StatusUnprocessableEntity},

	// ledger refusals that reach a handler unexplained
	{domainLedger, string(ledger.CodeUnknownAccount)}:       {internal: true},
	{domainLedger, string(ledger.CodeCurrencyMismatch)}:     {internal: true},
	{domainLedger, string(ledger.CodeNonPositiveAmount)}:    {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeSameAccount)}:          {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeAccountFrozen)}:        {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeOverLowerLimit)}:       {status: http.StatusUnprocessableEntity},
	{domainLedger, string(ledger.CodeOverUpperLimit)}:       {status: http.StatusUnprocessableEntity},
	{domainLedger, string(ledger.CodeIdempotencyConflict)}:  {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodePendingNotFound)}:      {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodePendingResolved)}:      {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeGroupFailed)}:          {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeDuplicateAccount)}:     {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeLimitsExcludeBalance)}: {status: http.StatusBadRequest},
	{domainLedger, string(ledger.CodeInvalid)}:              {status: http.StatusBadRequest},

	{domainAnnounce, announce.CodeInvalid}:   {status: http.StatusBadRequest},
	{domainAnnounce, announce.CodeNotFound}:  {status: http.StatusNotFound},
	{domainAnnounce, announce.CodeForbidden}: {status: http.StatusForbidden},
	{domainAnnounce, announce.CodeConflict}:  {status: http.StatusConflict},

	{domainIntertrade, string(intertrade.ErrInvalid)}:  {status: http.StatusBadRequest},
	{domainIntertrade, string(intertrade.ErrNotFound)}: {status: http.StatusUnprocessableEntity, public: "unknown_community"},
	{domainIntertrade, string(intertrade.ErrConflict)}: {status: http.StatusConflict, public: "idempotency_conflict"},
	{domainIntertrade, string(intertrade.ErrRefused)}:  {status: http.StatusUnprocessableEntity},
	// the community runs alone (intertrade.Alone)
	{domainIntertrade, string(intertrade.ErrNotInCircle)}:  {status: http.StatusNotFound},
	{domainIntertrade, string(intertrade.ErrNoCircle)}:     {status: http.StatusUnprocessableEntity, public: "not_in_circle"},
	{domainIntertrade, string(intertrade.ErrAlreadyAsked)}: {status: http.StatusConflict},

	// sxp-fed/1: 401 for a missing or bad signature, 403 for a non-peer
	{domainFederation, federation.CodeBadSignature}:    {status: http.StatusUnauthorized},
	{domainFederation, federation.CodeNotPeer}:         {status: http.StatusForbidden},
	{domainFederation, federation.CodeInvalid}:         {status: http.StatusBadRequest},
	{domainFederation, federation.CodeNotFound}:        {status: http.StatusNotFound},
	{domainFederation, federation.CodeConflict}:        {status: http.StatusConflict},
	{domainFederation, federation.CodeForeignOrigin}:   {status: http.StatusForbidden},
	{domainFederation, federation.CodeTooManyRequests}: {status: http.StatusTooManyRequests},
	// the other server failed or refused what this one asked of it
	{domainFederation, federation.CodePeerUnreachable}: {status: http.StatusBadGateway},
	{domainFederation, federation.CodePeerRefused}:     {status: http.StatusBadGateway},

	{domainMail, string(mail.CodeInvalid)}:  {status: http.StatusBadRequest},
	{domainMail, string(mail.CodeOff)}:      {status: http.StatusNotFound},
	{domainMail, string(mail.CodeBadToken)}: {status: http.StatusBadRequest},
	{domainMail, string(mail.CodeTooMany)}:  {status: http.StatusTooManyRequests},

	{domainDeals, deals.CodeInvalid}:  {status: http.StatusBadRequest},
	{domainDeals, deals.CodeNotFound}: {status: http.StatusNotFound},
	{domainDeals, deals.CodeConflict}: {status: http.StatusConflict},

	{domainMemberKeys, memberkeys.CodeInvalid}:  {status: http.StatusBadRequest},
	{domainMemberKeys, memberkeys.CodeNotFound}: {status: http.StatusNotFound},
	{domainMemberKeys, memberkeys.CodeOwnKey}:   {status: http.StatusConflict},

	{domainPictures, pictures.CodeInvalid}:     {status: http.StatusBadRequest},
	{domainPictures, pictures.CodeTooLarge}:    {status: http.StatusRequestEntityTooLarge},
	{domainPictures, pictures.CodeUnsupported}: {status: http.StatusUnsupportedMediaType},
	{domainPictures, pictures.CodeNotFound}:    {status: http.StatusNotFound},
	{domainPictures, pictures.CodeForbidden}:   {status: http.StatusForbidden},
	{domainPictures, pictures.CodeTooMany}:     {status: http.StatusTooManyRequests},

	{domainMessages, messages.CodeInvalid}:       {status: http.StatusBadRequest},
	{domainMessages, messages.CodeUnknownMember}: {status: http.StatusNotFound},
	{domainMessages, messages.CodeRemote}:        {status: http.StatusUnprocessableEntity},
	{domainMessages, messages.CodeTooMany}:       {status: http.StatusTooManyRequests},

	{domainPeople, people.CodeInvalid}: {status: http.StatusBadRequest},

	{domainContracts, contracts.CodeInvalid}:   {status: http.StatusBadRequest},
	{domainContracts, contracts.CodeNotFound}:  {status: http.StatusNotFound},
	{domainContracts, contracts.CodeConflict}:  {status: http.StatusConflict},
	{domainContracts, contracts.CodeForbidden}: {status: http.StatusForbidden},
}

// domainError is a domain refusal in one shape: its domain, code and the
// public parts of its error.
type domainError struct {
	key        errorKey
	message    string
	field      string
	cxp        int
	retryAfter time.Duration
}

// asDomainError finds a domain refusal in err's chain.
func asDomainError(err error) (domainError, bool) {
	var (
		ie *intertrade.Error
		ae *announce.Error
		fe *federation.Error
		me *members.Error
		pe *payments.Error
		le *ledger.Error
		de *deals.Error
		ke *memberkeys.Error
		ma *mail.Error
		pi *pictures.Error
		mg *messages.Error
		pp *people.Error
		ce *contracts.Error
	)
	switch {
	case errors.As(err, &ie):
		return domainError{key: errorKey{domainIntertrade, string(ie.Code)}, message: ie.Message, field: ie.Field, cxp: int(ie.CXP)}, true
	case errors.As(err, &ae):
		return domainError{key: errorKey{domainAnnounce, ae.Code}, message: ae.Message, field: ae.Field}, true
	case errors.As(err, &fe):
		return domainError{key: errorKey{domainFederation, fe.Code}, message: fe.Message}, true
	case errors.As(err, &me):
		return domainError{key: errorKey{domainMembers, string(me.Code)}, message: me.Message, field: me.Field, retryAfter: me.RetryAfter}, true
	case errors.As(err, &pe):
		return domainError{key: errorKey{domainPayments, string(pe.Code)}, message: pe.Message, field: pe.Field}, true
	case errors.As(err, &ma):
		return domainError{key: errorKey{domainMail, string(ma.Code)}, message: ma.Message, field: ma.Field, retryAfter: ma.RetryAfter}, true
	case errors.As(err, &de):
		return domainError{key: errorKey{domainDeals, de.Code}, message: de.Message}, true
	case errors.As(err, &ke):
		return domainError{key: errorKey{domainMemberKeys, ke.Code}, message: ke.Message, field: "key"}, true
	case errors.As(err, &pi):
		return domainError{key: errorKey{domainPictures, pi.Code}, message: pi.Message, field: pi.Field, retryAfter: pi.RetryAfter}, true
	case errors.As(err, &mg):
		return domainError{key: errorKey{domainMessages, mg.Code}, message: mg.Message, field: mg.Field, retryAfter: mg.RetryAfter}, true
	case errors.As(err, &pp):
		return domainError{key: errorKey{domainPeople, people.CodeInvalid}, message: pp.Message, field: pp.Field}, true
	case errors.As(err, &ce):
		return domainError{key: errorKey{domainContracts, ce.Code}, message: ce.Message, field: ce.Field}, true
	case errors.As(err, &le):
		return domainError{key: errorKey{domainLedger, string(le.Code)}, message: le.Message}, true
	}
	return domainError{}, false
}

// describe turns a domain error into its public form by errorTable; ok is
// false for internal errors, whose cause must not be shown (and for a code
// the table does not know, which TestErrorTableKnowsEveryCode rules out).
func describe(err error) (status int, e apiError, ok bool) {
	de, ok := asDomainError(err)
	if !ok {
		return 0, apiError{}, false
	}
	a, found := errorTable[de.key]
	if !found || a.internal {
		return 0, apiError{}, false
	}
	code := de.key.code
	if a.public != "" {
		code = a.public
	}
	return a.status, apiError{Code: code, Message: de.message, Field: de.field, CXP: de.cxp}, true
}

// fail answers a domain error: refusals with their code and status,
// a vanished client with 499, anything else with a logged 500.
func (h *Handlers) fail(c *gin.Context, err error) {
	if status, e, ok := describe(err); ok {
		if de, _ := asDomainError(err); de.retryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(int(de.retryAfter.Seconds())))
		}
		c.AbortWithStatusJSON(status, errorBody{Error: e})
		return
	}
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.AbortWithStatus(499) // the client went away
		return
	}
	h.logger().Error("request failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
	writeError(c, http.StatusInternalServerError, "internal", "something went wrong on the server; it has been logged", "")
}
