package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/httpguard"
	"github.com/podium-broadcast/podium/internal/store"
)

// Error is the body of every 4xx and 5xx answer: {"error":{"code","message","field"}},
// and "line" for a fault of a schedule import.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Line is the 1-based line of an import the fault is on.
	Line int `json:"line,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func apiError(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func badRequest(field, format string, args ...any) *Error {
	return apiError(http.StatusBadRequest, "bad_request", field, format, args...)
}

func invalid(field, format string, args ...any) *Error {
	return apiError(http.StatusUnprocessableEntity, "invalid", field, format, args...)
}

var (
	errUnauthorized = apiError(http.StatusUnauthorized, "unauthorized", "", "missing or unknown token: send Authorization: Bearer TOKEN with the admin token or a broadcaster API key, or sign in to the portal")
	errForbidden    = apiError(http.StatusForbidden, "forbidden", "", "a broadcaster API key may only read; this needs the admin token")
)

func notFound(what, id string) *Error {
	return apiError(http.StatusNotFound, "not_found", "", "%s %q does not exist", what, id)
}

// fromDomain turns an error of the catalog or the store into an API error.
func fromDomain(err error) *Error {
	var apiErr *Error
	var fieldErr *catalog.FieldError
	var refErr *store.RefError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &fieldErr):
		return invalid(fieldErr.Field, "%s %s", fieldErr.Field, fieldErr.Message)
	case errors.As(err, &refErr):
		return apiError(http.StatusUnprocessableEntity, "unknown_reference", refErr.Field, "%s", strings.TrimSuffix(refErr.Err.Error(), ": not found")+" does not exist")
	case errors.Is(err, catalog.ErrNotFound):
		return apiError(http.StatusNotFound, "not_found", "", "%s", strings.TrimSuffix(err.Error(), ": not found")+" does not exist")
	case errors.Is(err, catalog.ErrConflict):
		return apiError(http.StatusConflict, "conflict", "", "%s", strings.TrimSuffix(err.Error(), ": conflict"))
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

// maxBody bounds request bodies; catalog objects are small.
const maxBody = 1 << 20

// decode reads a JSON object into v strictly: a body that is not declared
// application/json (415), an oversized one (413), one that arrives too slowly
// (408), unknown fields, wrong types and trailing data are errors naming
// what is wrong.
func decode(r *http.Request, v any) *Error {
	if e := requireJSON(r); e != nil {
		return e
	}
	if r.ContentLength > maxBody {
		return errTooLarge(maxBody)
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("", "malformed JSON: data after the object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return badRequest("", "malformed JSON: data after the object")
	}
	return nil
}

// requireJSON refuses a body not declared application/json: a browser sends
// a form or a Blob cross-site without a preflight only with other types.
func requireJSON(r *http.Request) *Error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "", "the request has no Content-Type: send a JSON body with Content-Type: application/json")
	}
	if mediaType, _, err := mime.ParseMediaType(ct); err != nil || mediaType != "application/json" {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "", "send a JSON body with Content-Type: application/json, not %q", ct)
	}
	return nil
}

func errTooLarge(limit int64) *Error {
	return apiError(http.StatusRequestEntityTooLarge, "too_large", "", "the request body is larger than %d bytes", limit)
}

// bodyError answers a failure to read a request body: too slow (408), too
// large (413), or nil for other errors.
func bodyError(err error) *Error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, httpguard.ErrBodyTimeout):
		return apiError(http.StatusRequestTimeout, "timeout", "", "%v: send the body at %d bytes/s or more", err, httpguard.MinBodyRate)
	case errors.As(err, &tooLarge):
		return errTooLarge(tooLarge.Limit)
	}
	return nil
}

func jsonError(err error) *Error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if e := bodyError(err); e != nil {
		return e
	}
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("", "malformed JSON: empty body, expected an object")
	case errors.As(err, &syntax):
		return badRequest("", "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return badRequest("", "malformed JSON: expected an object, got %s", typeErr.Value)
		}
		return badRequest(field, "%s must be %s, not %s", field, jsonType(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "unknown field %q", field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: body ends early")
	}
	return badRequest("", "malformed JSON: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a number"
}
