package cxp

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPut, "/transactions", strings.NewReader("0123456789"))
	b, err := ReadBody(r, 10)
	if err != nil || string(b) != "0123456789" {
		t.Errorf("at the limit: got %q %v", b, err)
	}
	r = httptest.NewRequest(http.MethodPut, "/transactions", strings.NewReader("0123456789x"))
	_, err = ReadBody(r, 10)
	if want := InvalidField("body", "more than 10 bytes"); !reflect.DeepEqual(err, want) {
		t.Errorf("over the limit: got %v, want %v", err, want)
	}
	r = httptest.NewRequest(http.MethodGet, "/transactions", nil)
	if b, err := ReadBody(r, 10); err != nil || len(b) != 0 {
		t.Errorf("no body: got %q %v", b, err)
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, MissingField("payer"))
	if w.Code != http.StatusBadRequest {
		t.Errorf("status: got %d, want 400", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("content type: got %q", ct)
	}
	want := `{"code":11,"args":{"fieldname":"payer"},"message":"Missing config field: payer"}` + "\n"
	if w.Body.String() != want {
		t.Errorf("body: got %s, want %s", w.Body.String(), want)
	}

	w = httptest.NewRecorder()
	WriteJSON(w, http.StatusOK, TransactionResponse{Status: StatusOK(""), Quantity: Decimal("not a number")})
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"code":27`) {
		t.Errorf("unencodable answer: got %d %s, want 500 with code 27", w.Code, w.Body.String())
	}
}
