package loupe

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Session is a signed-in browser session, kept server-side so that it can
// be revoked. The cookie holds only its random id; the store keys rows by
// the SHA-256 of that id, so that a copy of the database cannot be replayed
// as cookies.
type Session struct {
	ID        string // HashSecret of the cookie's id
	UserID    string
	Data      map[string]string
	CreatedAt time.Time
	SeenAt    time.Time
	ExpiresAt time.Time
}

// TokenPrefix starts every API token, so that a leaked token is easy to
// recognise in logs and by secret scanners.
const TokenPrefix = "loupe_"

// NewSecret returns 32 random bytes, URL-safe base64-encoded.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewToken returns a new API token. Only HashSecret(token) is stored.
func NewToken() string { return TokenPrefix + NewSecret() }

// LooksLikeToken reports whether s has the shape of an API token.
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) == len(TokenPrefix)+43
}

// HashSecret returns the hex SHA-256 of a session id or token: what storage
// keeps and looks up.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Login limits: failures allowed in LoginWindow per account and per address
// before further attempts are refused with ERATELIMIT.
const (
	LoginWindow             = 15 * time.Minute
	MaxLoginFailuresAccount = 5
	MaxLoginFailuresAddress = 20
)
