package loupe

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Global roles. An admin may do anything; a member sees only the projects
// they belong to, with the project role they hold there.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Limits on user names and passwords.
const (
	MaxUserNameLen    = 64
	MinPasswordLen    = 8
	MaxPasswordLen    = 256 // bytes; longer is refused, never silently cut
	GeneratedPassLen  = 20
	passwordSaltBytes = 16
)

// Argon2id parameters: OWASP's minimum for argon2id is m=19 MiB, t=2, p=1.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// User is a person who signs in to Loupe.
type User struct {
	ID        string
	Name      string
	Role      string // RoleAdmin or RoleMember
	Disabled  bool
	CreatedAt time.Time
	PassHash  string `json:"-"`
}

// IsAdmin reports whether u holds the global admin role.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin && !u.Disabled }

// ValidateUserName returns EINVALID when name is not a usable user name.
func ValidateUserName(name string) error {
	switch {
	case name == "":
		return FieldErrorf("name", "user name is required")
	case len(name) > MaxUserNameLen:
		return FieldErrorf("name", "user name is longer than %d characters", MaxUserNameLen)
	case !userNameRE.MatchString(name):
		return FieldErrorf("name", "user name %q may hold only letters, digits, '.', '_' and '-', and must start with a letter or digit", name)
	}
	return nil
}

// ValidateRole returns EINVALID unless role is a global role.
func ValidateRole(role string) error {
	if role != RoleAdmin && role != RoleMember {
		return FieldErrorf("role", "role %q is unknown; use admin or member", role)
	}
	return nil
}

// ValidatePassword returns EINVALID when pw is too short or too long. A long
// password is refused with an explicit error rather than truncated.
func ValidatePassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return FieldErrorf("password", "password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return FieldErrorf("password", "password is longer than %d bytes", MaxPasswordLen)
	}
	return nil
}

// HashPassword validates pw and returns its argon2id hash in the PHC string
// format. It returns EINVALID for a password that is too short or too long.
func HashPassword(pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, passwordSaltBytes)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC hash. It does the same
// work for a malformed hash as for a real one, so that callers can pass a
// dummy hash for unknown users and keep sign-in time equal.
func CheckPassword(hash, pw string) bool {
	if len(pw) > MaxPasswordLen {
		return false
	}
	var m, t uint32
	var p uint8
	var salt, want []byte
	parts := strings.Split(hash, "$")
	ok := len(parts) == 6 && parts[1] == "argon2id"
	if ok {
		_, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p)
		enc := base64.RawStdEncoding
		s, err2 := enc.DecodeString(parts[4])
		w, err3 := enc.DecodeString(parts[5])
		salt, want = s, w
		ok = err == nil && err2 == nil && err3 == nil && len(want) > 0 && m > 0 && t > 0 && p > 0 && m <= 1<<21 && t <= 16
	}
	if !ok {
		m, t, p, salt, want = argonMemory, argonTime, argonThreads, make([]byte, passwordSaltBytes), make([]byte, argonKeyLen)
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && ok
}

// DummyPasswordHash is a well-formed hash that matches no password; sign-in
// checks it for unknown users so that their timing equals a real check.
var DummyPasswordHash = func() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(make([]byte, passwordSaltBytes)), enc.EncodeToString(make([]byte, argonKeyLen)))
}()

// GeneratePassword returns a random password of GeneratedPassLen characters
// drawn from an alphabet without look-alike characters.
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	return randomFrom(alphabet, GeneratedPassLen)
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}
