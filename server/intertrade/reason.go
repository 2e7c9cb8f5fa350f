package intertrade

import (
	"github.com/sxp-network/sxp/clearing/cxp"
)

// Reason turns the circle's answer to a payment into plain words for the
// paying member. args are the answer's replacements (for 7, 8, 25, 26, 27).
func Reason(code cxp.Code, args map[string]string) string {
	arg := func(k, fallback string) string {
		if v := args[k]; v != "" {
			return v
		}
		return fallback
	}
	switch code {
	case cxp.OK:
		return "the payment went through"
	case cxp.CodeLimits:
		return "the circle's limit for our community would be exceeded"
	case cxp.CodeSaving:
		return "the circle could not save the payment: " + arg("message", "unknown problem")
	case cxp.CodeUnknownAccount:
		return "the circle does not know one of the communities"
	case cxp.CodeDiagnostics:
		return "the circle reported a problem: " + arg("message", "unknown problem")
	case cxp.CodeInvalidField:
		return "the circle found the payment's " + arg("field", "details") + " invalid"
	case cxp.CodeMissingField, cxp.CodeSign, cxp.CodeInvalidChars, cxp.CodeType:
		return "the circle found the payment malformed (" + arg("fieldname", "a field") + ")"
	case cxp.CodeRatio:
		return "our community's intertrading balance is too large for its trade volume"
	case cxp.CodeNotPermitted:
		// The circle names the payee's URL when the payee's community is
		// blocked (the payer adds its name as "community"), our key id and
		// its block reason when ours is.
		if args["dest_url"] != "" {
			return "the community " + arg("community", args["dest_url"]) + " is not permitted to trade in the circle at the moment; nothing was paid"
		}
		if r := args["reason"]; r != "" {
			return "our community is not permitted to trade in the circle at the moment (the circle says: " + r + "); nothing was paid"
		}
		return "our community is not permitted to trade in the circle at the moment"
	case cxp.CodeWrongKey, cxp.CodeAuthData:
		return "the circle did not accept our community's key; please tell an admin"
	case cxp.CodeRemoteAuth:
		return "the other community's server did not recognise the circle"
	case cxp.CodeRemoteLimits:
		return "the other community can't accept that much for this member"
	case cxp.CodeRemoteValidation:
		return "the other community refused the payment: " + arg("message", "no reason given")
	case cxp.CodeServerNotFound:
		return "the other community's server could not be reached"
	}
	return "the circle refused the payment: " + arg("message", "no reason given")
}

// Plain words for refusals decided on our side.
const (
	reasonCircleUnreachable = "the circle could not be reached; nothing was paid"
	reasonNoCredit          = "you don't have enough credit left for this payment"
	reasonAccountFrozen     = "your account is frozen"
	reasonUnconfirmed       = "the circle has not confirmed the payment yet; the amount is held until it does or refuses"
)
