package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/web"
)

// checkCookieFlags fails the test unless every cookie a response sets is
// HttpOnly, SameSite=Lax, Path=/ and Secure exactly when wantSecure.
func checkCookieFlags(t *testing.T, r *response, wantSecure bool) {
	t.Helper()
	cookies := r.Resp.Cookies()
	if len(cookies) == 0 {
		t.Fatalf("%s: sets no cookie", r)
	}
	for _, c := range cookies {
		if !c.HttpOnly {
			t.Errorf("%s: cookie %s HttpOnly = false, want true", r, c.Name)
		}
		if c.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s: cookie %s SameSite = %v, want Lax", r, c.Name, c.SameSite)
		}
		if c.Path != "/" {
			t.Errorf("%s: cookie %s Path = %q, want /", r, c.Name, c.Path)
		}
		if c.Secure != wantSecure {
			t.Errorf("%s: cookie %s Secure = %v, want %v", r, c.Name, c.Secure, wantSecure)
		}
	}
}

func findCookie(r *response, name string) *http.Cookie {
	for _, c := range r.Resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInCookieFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       options
		wantSecure bool
	}{
		{"plain http", options{}, false},
		{"SecureCookies", options{SecureCookies: true}, true},
		{"TLS", options{TLS: true}, true},
		{"TLS and SecureCookies", options{TLS: true, SecureCookies: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, tt.opts)
			ts.user("alice", loupe.RoleMember)
			r := ts.client().login("alice", testPassword)
			wantStatus(t, r, http.StatusSeeOther)
			checkCookieFlags(t, r, tt.wantSecure)
			sess := findCookie(r, "loupe_session")
			if sess == nil || sess.Value == "" {
				t.Fatalf("%s: no session cookie", r)
			}
			if maxAge := int(web.SessionMax / time.Second); sess.MaxAge <= 0 || sess.MaxAge > maxAge {
				t.Errorf("session cookie MaxAge = %d, want within (0, %d]", sess.MaxAge, maxAge)
			}

			// Signing out clears the cookie with the same flags.
			out := ts.client().do(http.MethodPost, "/logout", nil, "Cookie", "loupe_session="+sess.Value)
			wantStatus(t, out, http.StatusSeeOther)
			checkCookieFlags(t, out, tt.wantSecure)
			if c := findCookie(out, "loupe_session"); c == nil || c.MaxAge >= 0 {
				t.Errorf("%s: session cookie %v, want one cleared with MaxAge < 0", out, c)
			}
		})
	}
}

func TestSignInRotatesSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	alice := ts.user("alice", loupe.RoleMember)
	ts.user("bob", loupe.RoleMember)

	c := ts.signIn("alice")
	first := c.sessionCookie()

	// Signing in again from the same browser gives a new session and ends
	// the old one.
	wantStatus(t, c.login("alice", testPassword), http.StatusSeeOther)
	second := c.sessionCookie()
	if second == first {
		t.Fatalf("signing in again kept the session cookie %q; want a new one", first)
	}
	wantStatus(t, ts.withCookie(first).get("/api/v1/me"), http.StatusUnauthorized)
	if n := ts.count("sessions", "user_id = ?", alice.ID); n != 1 {
		t.Errorf("alice has %d sessions after signing in twice in one browser, want 1", n)
	}

	// Another user signing in on a browser that holds a session never
	// inherits it.
	wantStatus(t, c.login("bob", testPassword), http.StatusSeeOther)
	third := c.sessionCookie()
	if third == second {
		t.Fatalf("signing in as bob kept alice's session cookie")
	}
	wantStatus(t, ts.withCookie(second).get("/api/v1/me"), http.StatusUnauthorized)
	me := decodeBody[struct{ Name string }](t, ts.withCookie(third).get("/api/v1/me"))
	if me.Name != "bob" {
		t.Errorf("GET /api/v1/me with the new cookie: name %q, want bob", me.Name)
	}

	// A cookie value chosen before sign-in (session fixation) is never
	// promoted to a signed-in session.
	fixed := ts.withCookie("attacker-chosen-value")
	wantStatus(t, fixed.login("alice", testPassword), http.StatusSeeOther)
	if got := fixed.sessionCookie(); got == "attacker-chosen-value" || got == "" {
		t.Errorf("session cookie after sign-in = %q, want a new value", got)
	}
	wantStatus(t, ts.withCookie("attacker-chosen-value").get("/api/v1/me"), http.StatusUnauthorized)
}

func TestLogoutEndsSessionServerSide(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	alice := ts.user("alice", loupe.RoleMember)
	c := ts.signIn("alice")
	old := c.sessionCookie()
	wantStatus(t, c.get("/api/v1/me"), http.StatusOK)

	r := c.postForm("/logout", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/login" {
		t.Errorf("POST /logout redirects to %q, want /login", loc)
	}
	if n := ts.count("sessions", "user_id = ?", alice.ID); n != 0 {
		t.Errorf("alice has %d sessions after signing out, want 0", n)
	}

	// The old cookie, replayed, no longer signs anyone in.
	replay := ts.withCookie(old)
	for _, path := range []string{"/", "/projects/a", "/admin/users"} {
		r := replay.get(path)
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
			t.Errorf("GET %s with a signed-out cookie redirects to %q, want /login", path, loc)
		}
	}
	r = replay.get("/api/v1/me")
	wantStatus(t, r, http.StatusUnauthorized)
	if e := decodeBody[apiError](t, r); e.Error.Code != loupe.EUNAUTHORIZED {
		t.Errorf("error code %q, want %q", e.Error.Code, loupe.EUNAUTHORIZED)
	}
	wantStatus(t, replay.postJSON("/api/v1/projects", `{"config": "title: x"}`), http.StatusUnauthorized)
}

func TestTamperedCookiesRejected(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("alice", loupe.RoleMember)
	valid := ts.signIn("alice").sessionCookie()

	codec := securecookie.New(ts.Keys[0], nil)
	var id string
	if err := codec.Decode("loupe_session", valid, &id); err != nil {
		t.Fatalf("decode the session cookie with the server's key: %v", err)
	}
	mustEncode := func(c *securecookie.SecureCookie, name, v string) string {
		s, err := c.Encode(name, v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	tests := []struct {
		name   string
		cookie string
		want   int
	}{
		{"valid", valid, http.StatusOK},
		{"re-signed with the server's key (control)", mustEncode(codec, "loupe_session", id), http.StatusOK},
		{"one byte changed in the middle", flip(valid, len(valid)/2), http.StatusUnauthorized},
		{"one byte changed near the end", flip(valid, len(valid)-3), http.StatusUnauthorized},
		{"truncated by a few bytes", valid[:len(valid)-4], http.StatusUnauthorized},
		{"truncated to half", valid[:len(valid)/2], http.StatusUnauthorized},
		{"extended", valid + "AAAA", http.StatusUnauthorized},
		{"re-signed with another key", mustEncode(securecookie.New(newKey(t), nil), "loupe_session", id), http.StatusUnauthorized},
		{"signed for another cookie name", mustEncode(codec, "loupe_flash", id), http.StatusUnauthorized},
		{"the bare session id", id, http.StatusUnauthorized},
		{"the stored hash of the id", loupe.HashSecret(id), http.StatusUnauthorized},
		{"empty", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.withCookie(tt.cookie).get("/api/v1/me")
			if r.Status != tt.want {
				t.Errorf("GET /api/v1/me with cookie %q: status %d, want %d", tt.cookie, r.Status, tt.want)
			}
		})
	}
}

func TestSessionKeyRotation(t *testing.T) {
	t.Parallel()
	newer, older := newKey(t), newKey(t)
	ts := newTestServer(t, options{Keys: [][]byte{newer, older}})
	ts.user("alice", loupe.RoleMember)
	valid := ts.signIn("alice").sessionCookie()

	var id string
	if err := securecookie.New(newer, nil).Decode("loupe_session", valid, &id); err != nil {
		t.Fatalf("a new cookie is not signed with the newest key: %v", err)
	}
	for _, tt := range []struct {
		name string
		key  []byte
		want int
	}{
		{"signed with the older key", older, http.StatusOK},
		{"signed with a key not configured", newKey(t), http.StatusUnauthorized},
	} {
		enc, err := securecookie.New(tt.key, nil).Encode("loupe_session", id)
		if err != nil {
			t.Fatal(err)
		}
		if r := ts.withCookie(enc).get("/api/v1/me"); r.Status != tt.want {
			t.Errorf("%s: GET /api/v1/me status %d, want %d", tt.name, r.Status, tt.want)
		}
	}
}

func TestDisablingUserEndsSessions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	bob := ts.user("bob", loupe.RoleMember)
	carol := ts.user("carol", loupe.RoleMember)
	phone, laptop := ts.signIn("bob"), ts.signIn("bob")

	if err := ts.DB.SetUserDisabled(context.Background(), "bob", true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{phone, laptop} {
		wantStatus(t, c.get("/api/v1/me"), http.StatusUnauthorized)
	}
	if n := ts.count("sessions", "user_id = ?", bob.ID); n != 0 {
		t.Errorf("disabled bob has %d sessions, want 0", n)
	}
	// Enabling bob again does not bring the old sessions back.
	if err := ts.DB.SetUserDisabled(context.Background(), "bob", false); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, phone.get("/api/v1/me"), http.StatusUnauthorized)

	// The same through the admin page.
	cc := ts.signIn("carol")
	admin := ts.signIn("admin")
	r := admin.postForm("/admin/users/carol/disable", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, cc.get("/api/v1/me"), http.StatusUnauthorized)
	if n := ts.count("sessions", "user_id = ?", carol.ID); n != 0 {
		t.Errorf("disabled carol has %d sessions, want 0", n)
	}
	r = ts.client().login("carol", testPassword)
	wantStatus(t, r, http.StatusUnauthorized)
	if findCookie(r, "loupe_session") != nil {
		t.Errorf("a disabled user's sign-in set a session cookie")
	}
}

func TestSignInFailuresLookAlike(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("alice", loupe.RoleMember)
	ts.user("dave", loupe.RoleMember)
	if err := ts.DB.SetUserDisabled(context.Background(), "dave", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, user, password string }{
		{"wrong password", "alice", "not-the-password"},
		{"unknown user", "nobody", testPassword},
		{"disabled user", "dave", testPassword},
		{"empty password", "alice", ""},
		{"password over 256 bytes", "alice", testPassword + strings.Repeat("x", 300)},
	}
	var firstMsg string
	for i, tt := range tests {
		r := ts.client().login(tt.user, tt.password)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tt.name, r.Status)
		}
		if findCookie(r, "loupe_session") != nil {
			t.Errorf("%s: a session cookie was set", tt.name)
		}
		msg := alertText(r.Body)
		if msg == "" {
			t.Errorf("%s: the page shows no error message", tt.name)
		}
		if i == 0 {
			firstMsg = msg
		} else if msg != firstMsg {
			t.Errorf("%s: message %q, want the same as for a wrong password: %q", tt.name, msg, firstMsg)
		}
	}
	if n := ts.count("sessions", ""); n != 0 {
		t.Errorf("%d sessions after failed sign-ins, want 0", n)
	}
}

func TestPasswordLengthLimit(t *testing.T) {
	t.Parallel()
	max := strings.Repeat("p", loupe.MaxPasswordLen)
	if _, err := loupe.HashPassword(max + "x"); loupe.ErrorCode(err) != loupe.EINVALID {
		t.Errorf("HashPassword(%d bytes) error code = %q, want %q", len(max)+1, loupe.ErrorCode(err), loupe.EINVALID)
	}
	hash, err := loupe.HashPassword(max)
	if err != nil {
		t.Fatalf("HashPassword(%d bytes): %v", len(max), err)
	}
	if !loupe.CheckPassword(hash, max) {
		t.Errorf("CheckPassword with the %d-byte password = false, want true", len(max))
	}
	// A longer password that starts with the real one must never match:
	// nothing is silently cut.
	for _, pw := range []string{max + "x", max + strings.Repeat("p", 1000)} {
		if loupe.CheckPassword(hash, pw) {
			t.Errorf("CheckPassword with a %d-byte password starting with the real one = true, want false", len(pw))
		}
	}

	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	if _, err := ts.DB.CreateUser(context.Background(), "long", loupe.RoleMember, hash); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ts.client().login("long", max+"x"), http.StatusUnauthorized)
	wantStatus(t, ts.client().login("long", max), http.StatusSeeOther)

	// The admin page refuses to create a user with a too-long password.
	admin := ts.signIn("admin")
	before := ts.counts()
	r := admin.postForm("/admin/users", url.Values{"name": {"newbie"}, "role": {"member"}, "password": {max + "x"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if msg := alertText(r.Body); !strings.Contains(msg, "256") {
		t.Errorf("error message %q, want it to name the 256-byte limit", msg)
	}
	sameCounts(t, "creating a user with a too-long password", before, ts.counts())
}

func TestLoginRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("alice", loupe.RoleMember)
	ts.user("bob", loupe.RoleMember)

	// Failures count for the account whatever the case of the name.
	names := []string{"alice", "ALICE", "Alice", "alice", "aLiCe"}
	if len(names) != loupe.MaxLoginFailuresAccount {
		t.Fatalf("test expects a limit of %d, have %d", len(names), loupe.MaxLoginFailuresAccount)
	}
	for _, name := range names {
		wantStatus(t, ts.client().login(name, "wrong-password"), http.StatusUnauthorized)
	}
	// Now even the right password is refused, without a session.
	r := ts.client().login("alice", testPassword)
	wantStatus(t, r, http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Errorf("Retry-After = %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}
	if findCookie(r, "loupe_session") != nil {
		t.Errorf("a rate-limited sign-in set a session cookie")
	}
	if alertText(r.Body) == "" {
		t.Errorf("the rate-limited sign-in page shows no message")
	}
	if n := ts.count("sessions", ""); n != 0 {
		t.Errorf("%d sessions after a rate-limited sign-in, want 0", n)
	}
	// Other accounts from the same address are not locked out.
	wantStatus(t, ts.client().login("bob", testPassword), http.StatusSeeOther)

	// Once the window has passed, alice may sign in again.
	ts.Clock.Add(loupe.LoginWindow + time.Second)
	wantStatus(t, ts.client().login("alice", testPassword), http.StatusSeeOther)
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("alice", loupe.RoleMember)
	// Each name fails once, so that only the address limit can apply.
	for i := range loupe.MaxLoginFailuresAddress - 1 {
		wantStatus(t, ts.client().login("nobody"+strconv.Itoa(i), "wrong-password"), http.StatusUnauthorized)
	}
	wantStatus(t, ts.client().login("alice", testPassword), http.StatusSeeOther)
	wantStatus(t, ts.client().login("nobody-last", "wrong-password"), http.StatusUnauthorized)

	r := ts.client().login("alice", testPassword)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if findCookie(r, "loupe_session") != nil {
		t.Errorf("a rate-limited sign-in set a session cookie")
	}
}

func TestSuccessfulLoginClearsAccountFailures(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("alice", loupe.RoleMember)
	for round := range 3 {
		for range loupe.MaxLoginFailuresAccount - 1 {
			wantStatus(t, ts.client().login("alice", "wrong-password"), http.StatusUnauthorized)
		}
		if r := ts.client().login("alice", testPassword); r.Status != http.StatusSeeOther {
			t.Fatalf("round %d: sign-in after %d failures: status %d, want 303", round, loupe.MaxLoginFailuresAccount-1, r.Status)
		}
	}
}

func TestSignInRedirectStaysLocal(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("alice", loupe.RoleMember)
	// Browsers drop tabs and newlines from URLs, so "/\t/evil" is "//evil".
	browserView := strings.NewReplacer("\t", "", "\n", "", "\r", "")
	tests := []struct {
		next, want string
	}{
		{"/projects/a/label", "/projects/a/label"},
		{"", "/"},
		{"//evil.example/", ""},
		{"https://evil.example/", ""},
		{`/\evil.example/`, ""},
		{"javascript:alert(1)", ""},
		{"/\t/evil.example/", ""},
		{"/\\\t/evil.example/", ""},
		{"\t//evil.example/", ""},
	}
	for _, tt := range tests {
		c := ts.client()
		r := c.postForm("/login", url.Values{"name": {"alice"}, "password": {testPassword}, "next": {tt.next}})
		wantStatus(t, r, http.StatusSeeOther)
		loc := browserView.Replace(r.Header.Get("Location"))
		if tt.want != "" && loc != tt.want {
			t.Errorf("sign in with next=%q: Location %q, want %q", tt.next, loc, tt.want)
		}
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Errorf("sign in with next=%q: Location %q (as a browser reads it) leaves the site", tt.next, r.Header.Get("Location"))
		}
		// Signed in, the sign-in page redirects at once: the same rule.
		r = c.get("/login?next=" + url.QueryEscape(tt.next))
		wantStatus(t, r, http.StatusSeeOther)
		loc = browserView.Replace(r.Header.Get("Location"))
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Errorf("GET /login?next=%q signed in: Location %q (as a browser reads it) leaves the site", tt.next, r.Header.Get("Location"))
		}
	}
}
