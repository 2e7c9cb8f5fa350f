package cxp

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// ReadBody reads r's body, at most limit bytes. A longer body is code 8
// {field: body, value: "more than N bytes"} (answer it 413 if you like: HTTPStatus says 400);
// a body that cannot be read is code 8 {field: body, value: unreadable}.
func ReadBody(r *http.Request, limit int64) ([]byte, *Error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, InvalidField("body", "unreadable")
	}
	if int64(len(b)) > limit {
		return nil, InvalidField("body", "more than "+strconv.FormatInt(limit, 10)+" bytes")
	}
	return b, nil
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Errorf(CodeOther, "cannot encode the answer").Status())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError answers e with its HTTP status and envelope.
func WriteError(w http.ResponseWriter, e *Error) {
	WriteJSON(w, e.HTTPStatus(), e.Status())
}
