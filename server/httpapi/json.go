package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// bindJSON decodes the request body strictly into v: a JSON object with
// known fields of the right types, each key once (CXP's rule,
// cxp.DuplicateKey), and nothing after it. On failure it answers 400 naming
// the field and returns false.
func bindJSON(c *gin.Context, v any) bool {
	if ct := c.ContentType(); ct != "application/json" {
		writeError(c, http.StatusUnsupportedMediaType, "invalid", "send a JSON body with Content-Type: application/json", "")
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		field, msg := jsonProblem(err)
		badRequest(c, field, msg)
		return false
	}
	if path, dup := cxp.DuplicateKey(raw); dup {
		badRequest(c, path, fmt.Sprintf("the key %q appears more than once; send each key once", path))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field, msg := jsonProblem(err)
		badRequest(c, field, msg)
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		badRequest(c, "", "the body must be one JSON object")
		return false
	}
	return true
}

func jsonProblem(err error) (field, message string) {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return "", fmt.Sprintf("the body must be a JSON object, not a JSON %s", te.Value)
		}
		return te.Field, fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, jsonWant(te.Field, te.Type), te.Value)
	case errors.As(err, &se):
		return "", fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &mbe):
		return "", fmt.Sprintf("the body is larger than %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return "", "the body is empty; send a JSON object"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return f, fmt.Sprintf("unknown field %q", f)
	}
	return "", "malformed JSON: " + err.Error()
}

// amountFields are the JSON fields that hold amounts (decimal strings).
var amountFields = map[string]bool{"amount": true, "min": true, "max": true, "price": true}

// jsonWant names, in JSON's words, what a field of Go type t takes.
func jsonWant(field string, t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		if amountFields[field[strings.LastIndex(field, ".")+1:]] {
			return "a decimal string such as \"12.50\""
		}
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	}
	return "of another type"
}
