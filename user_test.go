package loupe_test

import (
	"strings"
	"testing"

	"github.com/loupehq/loupe"
)

func TestPasswords(t *testing.T) {
	long := strings.Repeat("p", 100) // past bcrypt's 72-byte cut
	hash, err := loupe.HashPassword(long)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not use argon2id with OWASP parameters", hash)
	}
	if !loupe.CheckPassword(hash, long) {
		t.Error("the right password does not match")
	}
	if loupe.CheckPassword(hash, long[:99]+"q") {
		t.Error("a password differing in byte 100 matches: the password is truncated")
	}
	if loupe.CheckPassword(hash, long[:72]) {
		t.Error("a 72-byte prefix matches")
	}
	for _, pw := range []string{"", "short", strings.Repeat("x", loupe.MaxPasswordLen+1)} {
		if _, err := loupe.HashPassword(pw); loupe.ErrorCode(err) != loupe.EINVALID || loupe.ErrorField(err) != "password" {
			t.Errorf("HashPassword(len %d) = %v, want EINVALID on password", len(pw), err)
		}
	}
	if loupe.CheckPassword(hash, strings.Repeat("p", loupe.MaxPasswordLen+1)) {
		t.Error("an over-long password matches")
	}
	for _, pw := range []string{"", "password", long} {
		if loupe.CheckPassword(loupe.DummyPasswordHash, pw) {
			t.Errorf("the dummy hash matches %q", pw)
		}
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2id$v=19$m=99999999,t=2,p=1$AAAA$AAAA", "$2a$10$abcdefghijklmnopqrstuv"} {
		if loupe.CheckPassword(bad, "password") {
			t.Errorf("malformed hash %q matches", bad)
		}
	}
	a, b := loupe.GeneratePassword(), loupe.GeneratePassword()
	if len(a) != loupe.GeneratedPassLen || a == b || loupe.ValidatePassword(a) != nil {
		t.Errorf("generated passwords %q, %q", a, b)
	}
}

func TestValidateUserName(t *testing.T) {
	for _, ok := range []string{"admin", "a", "alice.b", "bob_2", "X-1"} {
		if err := loupe.ValidateUserName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".a", "-a", "a b", "a/b", "ä", strings.Repeat("a", 65)} {
		if err := loupe.ValidateUserName(bad); loupe.ErrorCode(err) != loupe.EINVALID {
			t.Errorf("%q: %v, want EINVALID", bad, err)
		}
	}
}

func TestTokens(t *testing.T) {
	tok := loupe.NewToken()
	if !loupe.LooksLikeToken(tok) || loupe.LooksLikeToken(tok+"x") || loupe.LooksLikeToken("Bearer") {
		t.Errorf("token %q shape check wrong", tok)
	}
	if loupe.HashSecret(tok) == loupe.HashSecret(loupe.NewToken()) || len(loupe.HashSecret(tok)) != 64 {
		t.Error("token hashes collide or have the wrong size")
	}
}
