package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// RequestIDHeader carries a request's id, in and out.
const RequestIDHeader = "X-Request-Id"

// maxRequestID is the longest incoming request id kept.
const maxRequestID = 64

type loggerKey struct{}

// requestID gives every request an id: the client's X-Request-Id when it
// is sane (a proxy's, so that its logs and ours join up), else a new one.
// The id is sent back in the response header, and the request's context
// gets a logger that adds it to every line.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), loggerKey{}, s.log.With("request_id", id))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// validRequestID reports whether id is 1 to 64 characters of
// [A-Za-z0-9._-]: nothing that could forge a log line or a header.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logger returns the request's logger (with its request_id), or the
// server's outside a request.
func (s *Server) logger(r *http.Request) *slog.Logger {
	if r != nil {
		if l, ok := r.Context().Value(loggerKey{}).(*slog.Logger); ok {
			return l
		}
	}
	return s.log
}
