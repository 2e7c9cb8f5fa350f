package cxp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Decode reads body, which must be exactly one JSON object, into the struct v points to,
// strictly:
//   - not a JSON object (empty, malformed, an array, trailing data) → 15 {fieldname: body, type: JSON object}
//   - a key v has no field for, or a repeated key → 8 {field: key, value: the value's JSON text}
//   - a value of the wrong JSON type → 15 {fieldname: key, type: number|string|boolean|integer|…}
//   - a string that is not valid UTF-8 → 13 {fieldname: key}
//
// Booleans accept true/false and 1/0 (the seed's clients send 1). null leaves a field at
// its zero value (absent). Limiting the body's size is the caller's job (see ReadBody).
func Decode(body []byte, v any) *Error {
	return decode(body, v, true)
}

// decodeLenient is Decode that skips unknown keys: the client reads answers this way so
// that a server may add fields.
func decodeLenient(body []byte, v any) *Error {
	return decode(body, v, false)
}

var errBody = func() *Error { return TypeError("body", "JSON object") }

func decode(body []byte, v any, strict bool) *Error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic("cxp.Decode: v must be a non-nil pointer to a struct")
	}
	fields := fieldsOf(rv.Elem().Type())
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errBody()
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errBody()
		}
		key, ok := tok.(string)
		if !ok {
			return errBody()
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errBody()
		}
		f, known := fields[key]
		if !known {
			if strict {
				return InvalidField(clip(key), clip(string(raw)))
			}
			continue
		}
		if seen[key] {
			return InvalidField(key, clip(string(raw)))
		}
		seen[key] = true
		if err := setField(rv.Elem().FieldByIndex(f.index), key, raw); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return errBody()
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBody() // trailing data
	}
	return nil
}

// DuplicateKey finds the first key that an object in the JSON text body
// repeats, at any depth, and returns its path (keys joined by ".", array
// elements by their index). encoding/json keeps the last of repeated keys,
// so two parties can read one body differently; CXP refuses such bodies
// (Decode), and so does the community API. Malformed JSON has no duplicate:
// the decoder that follows reports it.
func DuplicateKey(body []byte) (path string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		key    string // the current key (object) or index (array)
		index  int
		expect bool // object: the next token is a key
	}
	var stack []*frame
	pathOf := func() string {
		parts := make([]string, len(stack))
		for i, f := range stack {
			parts[i] = f.key
		}
		return strings.Join(parts, ".")
	}
	// value is called after a whole value was read inside the top frame.
	value := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.object {
			top.expect = true
		} else {
			top.index++
			top.key = strconv.Itoa(top.index)
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if len(stack) > 0 {
			if top := stack[len(stack)-1]; top.object && top.expect {
				if k, ok := tok.(string); ok {
					if top.keys[k] {
						top.key = k
						return pathOf(), true
					}
					top.keys[k] = true
					top.key, top.expect = k, false
					continue
				}
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{key: "0"})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		value()
		if len(stack) == 0 {
			return "", false
		}
	}
}

type fieldInfo struct{ index []int }

var fieldCache sync.Map // reflect.Type → map[string]fieldInfo

// fieldsOf maps JSON names to struct fields, flattening embedded structs (Status).
func fieldsOf(t reflect.Type) map[string]fieldInfo {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]fieldInfo)
	}
	m := map[string]fieldInfo{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			index := append(append([]int(nil), prefix...), i)
			if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, index)
				continue
			}
			if !sf.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			m[name] = fieldInfo{index: index}
		}
	}
	walk(t, nil)
	fieldCache.Store(t, m)
	return m
}

var decimalType = reflect.TypeOf(Decimal(""))

// setField stores raw into f, checking its JSON type against f's Go type.
func setField(f reflect.Value, key string, raw json.RawMessage) *Error {
	if string(raw) == "null" {
		f.SetZero()
		return nil
	}
	if f.Kind() == reflect.Pointer {
		nv := reflect.New(f.Type().Elem())
		if err := setField(nv.Elem(), key, raw); err != nil {
			return err
		}
		f.Set(nv)
		return nil
	}
	first := raw[0]
	switch {
	case f.Type() == decimalType:
		d, err := ParseDecimal(string(raw))
		if err != nil {
			return TypeError(key, "number")
		}
		f.SetString(string(d))
		return nil
	case f.Kind() == reflect.String:
		if first != '"' {
			return TypeError(key, "string")
		}
		if !utf8.Valid(raw) {
			return InvalidChars(key)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return TypeError(key, "string")
		}
		f.SetString(s)
		return nil
	case f.Kind() == reflect.Bool:
		b, ok := parseFlag(string(raw))
		if !ok {
			return TypeError(key, "boolean")
		}
		f.SetBool(b)
		return nil
	case f.Kind() >= reflect.Int && f.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || f.OverflowInt(n) {
			return TypeError(key, "integer")
		}
		f.SetInt(n)
		return nil
	}
	// Objects and arrays (clients, exchanges): plain encoding/json on the
	// value, which keeps the last of repeated keys: refuse those first.
	if path, dup := DuplicateKey(raw); dup {
		return InvalidField(key+"."+path, clip(string(raw)))
	}
	p := reflect.New(f.Type())
	if err := json.Unmarshal(raw, p.Interface()); err != nil {
		return TypeError(key, jsonTypeName(f.Type()))
	}
	f.Set(p.Elem())
	return nil
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.Kind().String()
}
