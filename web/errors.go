package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/loupehq/loupe"
)

// codes maps each error code to its HTTP status: the one place that does.
var codes = map[string]int{
	loupe.ECONFLICT:     http.StatusConflict,
	loupe.EFORBIDDEN:    http.StatusForbidden,
	loupe.EINTERNAL:     http.StatusInternalServerError,
	loupe.EINVALID:      http.StatusUnprocessableEntity,
	loupe.ENOTFOUND:     http.StatusNotFound,
	loupe.EUNAUTHORIZED: http.StatusUnauthorized,
	loupe.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	loupe.ERATELIMIT:    http.StatusTooManyRequests,
	loupe.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
}

// errorStatus returns the HTTP status for an error code.
func errorStatus(code string) int {
	if s, ok := codes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errBadRequest marks malformed requests (unparsable JSON or forms), which
// get 400 rather than the 422 of well-formed but invalid input.
var errBadRequest = errors.New("bad request")

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// isAPI reports whether the request is for the JSON API.
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// error reports err to the client: JSON for the API, a page for the
// browser. Internal errors are logged and shown only as "Internal error".
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	code := loupe.ErrorCode(err)
	status := errorStatus(code)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		code, status = loupe.ETOOLARGE, http.StatusRequestEntityTooLarge
		err = loupe.Errorf(loupe.ETOOLARGE, "the request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, errBadRequest):
		code, status = loupe.EINVALID, http.StatusBadRequest
	case code == loupe.EINTERNAL:
		s.logger(r).Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	msg := loupe.ErrorMessage(err)
	if errors.Is(err, errBadRequest) {
		msg = strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")
	}
	if code == loupe.ERATELIMIT {
		w.Header().Set("Retry-After", "60")
	}
	if isAPI(r) {
		writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg, Field: loupe.ErrorField(err)}})
		return
	}
	s.render(w, r, status, "error", &errorPage{page: page{Title: http.StatusText(status)}, Status: status, StatusText: http.StatusText(status), Message: msg})
}

// writeJSON writes v as a JSON response. <, > and & are escaped, so the
// body is safe even if a browser were tricked into reading it as HTML.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

type errorPage struct {
	page
	Status     int
	StatusText string
	Message    string
}
