package cxp

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestNewErrorMessages(t *testing.T) {
	tests := []struct {
		code Code
		args map[string]string
		want string
	}{
		{CodeLimits, nil, "Transaction would exceed limits on server."},
		{CodeSaving, map[string]string{"message": "disk full"}, `Problem saving transaction on server: "disk full"`},
		{CodeUnknownAccount, nil, "Unknown account & failed to create a new account on intertrading server."},
		{CodeDiagnostics, map[string]string{"message": "HTTP 502"}, `Diagnostics from server: "HTTP 502"`},
		{CodeInvalidField, map[string]string{"field": "temp_id", "value": "t1"}, "Invalid transaction field: temp_id: t1"},
		{CodeMissingField, map[string]string{"fieldname": "payer"}, "Missing config field: payer"},
		{CodeSign, map[string]string{"fieldname": "quantity", "rel": ">", "val": "-5"}, "Field quantity should be > 0: -5"},
		{CodeInvalidChars, map[string]string{"fieldname": "description"}, "Field description contains invalid characters."},
		{CodeRatio, map[string]string{"num": "20", "balance": "-300.00", "volume": "1000.00"}, "Your Intertrading ratio (balance/volume) exceeds 20%: -300.00 / 1000.00"},
		{CodeType, map[string]string{"fieldname": "quantity", "type": "number"}, "Type error in field quantity. Should be a number."},
		{CodeNotPermitted, nil, "Your exchange is not permitted on this network."},
		{CodeWrongKey, nil, "Wrong key."},
		{CodeAuthData, map[string]string{"reason": "missing nonce"}, "Not enough data to authenticate."},
		{CodeRemoteAuth, nil, "Server failed to authenticate with remote client."},
		{CodeRemoteLimits, nil, "Transaction would exceed remote client's account limits."},
		{CodeRemoteValidation, map[string]string{"message": "no such member"}, "Misc validation error on remote client: no such member"},
		{CodeServerNotFound, map[string]string{"server": "https://b.example"}, "Server not found: https://b.example"},
		{CodeOther, map[string]string{"message": "anything"}, "anything"},
		// A missing argument leaves its placeholder; an argument's own @ is not expanded again.
		{CodeServerNotFound, nil, "Server not found: @server"},
		{CodeInvalidField, map[string]string{"field": "@value", "value": "x"}, "Invalid transaction field: @value: x"},
		{Code(99), map[string]string{"message": "m"}, "m"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			e := NewError(tt.code, tt.args)
			if e.Message != tt.want {
				t.Errorf("got %q, want %q", e.Message, tt.want)
			}
			if e.Args == nil {
				t.Errorf("Args is nil, want a map")
			}
			if got, want := e.Error(), fmt.Sprintf("cxp %d: %s", tt.code, tt.want); got != want {
				t.Errorf("Error(): got %q, want %q", got, want)
			}
		})
	}
}

func TestHTTPStatus(t *testing.T) {
	want := map[Code]int{
		OK: 200, CodeLimits: 409, CodeSaving: 500, CodeUnknownAccount: 404, CodeDiagnostics: 500,
		CodeInvalidField: 400, CodeMissingField: 400, CodeSign: 400, CodeInvalidChars: 400, CodeRatio: 409,
		CodeType: 400, CodeNotPermitted: 403, CodeWrongKey: 401, CodeAuthData: 401, CodeRemoteAuth: 502,
		CodeRemoteLimits: 409, CodeRemoteValidation: 422, CodeServerNotFound: 502, CodeOther: 500, Code(99): 500,
	}
	for code, status := range want {
		if got := NewError(code, nil).HTTPStatus(); got != status {
			t.Errorf("code %d: got HTTP %d, want %d", code, got, status)
		}
	}
	// Every seed code has a message and a status.
	for code := range templates {
		if _, ok := httpStatuses[code]; !ok {
			t.Errorf("code %d has no HTTP status", code)
		}
	}
	if len(templates) != 19 {
		t.Errorf("got %d codes, want 19 (0 and the seed's 18)", len(templates))
	}
}

func TestAsErrorAndCodeOf(t *testing.T) {
	wrapped := fmt.Errorf("relay: %w", NewError(CodeRemoteLimits, nil))
	e, ok := AsError(wrapped)
	if !ok || e.Code != CodeRemoteLimits {
		t.Errorf("AsError: got %v %v", e, ok)
	}
	if _, ok := AsError(errors.New("plain")); ok {
		t.Errorf("AsError of a plain error: got ok")
	}
	if CodeOf(nil) != OK || CodeOf(wrapped) != CodeRemoteLimits || CodeOf(errors.New("x")) != CodeOther {
		t.Errorf("CodeOf: got %d %d %d", CodeOf(nil), CodeOf(wrapped), CodeOf(errors.New("x")))
	}
}

func TestStatusEnvelope(t *testing.T) {
	ok := StatusOK("")
	if ok.Code != OK || ok.Message != "OK" || ok.Args == nil || len(ok.Args) != 0 || ok.Err() != nil {
		t.Errorf("StatusOK: got %+v", ok)
	}
	s := Status{Code: CodeRemoteValidation, Args: map[string]string{"message": "x"}, Message: "from the server"}
	if e := s.Err(); e.Code != CodeRemoteValidation || e.Message != "from the server" || e.Args["message"] != "x" {
		t.Errorf("Err keeps the received message: got %+v", e)
	}
	if e := (Status{Code: CodeWrongKey}).Err(); e.Message != "Wrong key." || e.Args == nil {
		t.Errorf("Err renders a missing message: got %+v", e)
	}
	if st := (&Error{Code: CodeWrongKey, Message: "Wrong key."}).Status(); st.Args == nil {
		t.Errorf("Status of an Error with nil args: args is nil, want {}")
	}
	if StatusFor(CodeNotPermitted) != http.StatusForbidden {
		t.Errorf("StatusFor(16): got %d", StatusFor(CodeNotPermitted))
	}
}
