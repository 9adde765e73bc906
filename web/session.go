package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/loupehq/loupe"
)

// Session lifetimes: a session ends after SessionIdle without a request,
// and at the latest SessionMax after sign-in.
const (
	SessionIdle  = 12 * time.Hour
	SessionMax   = 7 * 24 * time.Hour
	sessionTouch = 5 * time.Minute // how stale seen_at may get before a request refreshes it
	cookieName   = "loupe_session"
	userIDKey    = "user_id"
)

// sessionStore is a gorilla/sessions Store that keeps sessions in the
// database. The cookie carries only a random id, signed (HMAC) so that a
// tampered, truncated or forged cookie is rejected before any lookup; the
// database keys the session by the id's hash.
type sessionStore struct {
	db     SessionStore
	codecs []securecookie.Codec
	secure bool
	now    func() time.Time
}

func newSessionStore(db SessionStore, keys [][]byte, secure bool, now func() time.Time) *sessionStore {
	codecs := securecookie.CodecsFromPairs(keys...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(int(SessionMax / time.Second))
		}
	}
	return &sessionStore{db: db, codecs: codecs, secure: secure, now: now}
}

func (st *sessionStore) options(r *http.Request) *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		MaxAge:   int(SessionIdle / time.Second),
		HttpOnly: true,
		Secure:   st.secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	}
}

// Get implements sessions.Store.
func (st *sessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

// New implements sessions.Store: it loads the session named by the cookie,
// or returns a new, empty one when there is no valid cookie or the session
// has ended.
func (st *sessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(st, name)
	sess.Options = st.options(r)
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, st.codecs...); err != nil {
		return sess, nil // tampered or expired: treat as signed out
	}
	row, err := st.db.Session(r.Context(), loupe.HashSecret(id))
	if loupe.ErrorCode(err) == loupe.ENOTFOUND {
		return sess, nil
	} else if err != nil {
		return sess, err
	}
	if st.now().Sub(row.CreatedAt) > SessionMax {
		return sess, nil
	}
	sess.ID = id
	sess.IsNew = false
	for k, v := range row.Data {
		sess.Values[k] = v
	}
	sess.Values[userIDKey] = row.UserID
	sess.Values[seenKey] = row.SeenAt
	return sess, nil
}

const seenKey = "\x00seen" // not stored: when the session was last marked seen

// Save implements sessions.Store: MaxAge < 0 ends the session; otherwise it
// is created or updated and the cookie (re)issued.
func (st *sessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := st.db.DeleteSession(ctx, loupe.HashSecret(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	data := map[string]string{}
	var userID string
	for k, v := range sess.Values {
		ks, ok := k.(string)
		vs, ok2 := v.(string)
		switch {
		case !ok || !ok2 || ks == seenKey:
		case ks == userIDKey:
			userID = vs
		default:
			data[ks] = vs
		}
	}
	if userID == "" {
		return fmt.Errorf("save session: no user")
	}
	row := &loupe.Session{UserID: userID, Data: data, ExpiresAt: st.now().Add(SessionIdle)}
	if sess.ID == "" {
		sess.ID = loupe.NewSecret()
		row.ID = loupe.HashSecret(sess.ID)
		if err := st.db.CreateSession(ctx, row); err != nil {
			return err
		}
	} else {
		row.ID = loupe.HashSecret(sess.ID)
		if err := st.db.SaveSession(ctx, row); err != nil {
			return err
		}
	}
	encoded, err := securecookie.EncodeMulti(sess.Name(), sess.ID, st.codecs...)
	if err != nil {
		return fmt.Errorf("encode session cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// signIn starts a new session for u, ending the one the request came with
// (if any), so that a session id fixed before sign-in is never promoted.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, u *loupe.User) error {
	old, err := s.sessions.Get(r, cookieName)
	if err != nil {
		return err
	}
	if old.ID != "" {
		if err := s.store.DeleteSession(r.Context(), loupe.HashSecret(old.ID)); err != nil {
			return err
		}
	}
	sess := sessions.NewSession(s.sessions, cookieName)
	sess.Options = s.sessions.options(r)
	sess.Values[userIDKey] = u.ID
	return s.sessions.Save(r, w, sess)
}

// signOut ends the request's session server-side and clears the cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.sessions.Get(r, cookieName)
	if err != nil {
		return err
	}
	sess.Options.MaxAge = -1
	return s.sessions.Save(r, w, sess)
}

// sessionUser returns the user of the request's session, or nil when there
// is no live session. It refreshes the session's expiry at most every few
// minutes, to keep reads from turning into writes.
func (s *Server) sessionUser(w http.ResponseWriter, r *http.Request) (*loupe.User, error) {
	if _, err := r.Cookie(cookieName); err != nil {
		return nil, nil
	}
	sess, err := s.sessions.Get(r, cookieName)
	if err != nil {
		return nil, err
	}
	id, _ := sess.Values[userIDKey].(string)
	if sess.IsNew || id == "" {
		return nil, nil
	}
	u, err := s.store.UserByID(r.Context(), id)
	if loupe.ErrorCode(err) == loupe.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, nil
	}
	if seen, _ := sess.Values[seenKey].(time.Time); s.now().Sub(seen) > sessionTouch {
		if err := s.sessions.Save(r, w, sess); err != nil && loupe.ErrorCode(err) != loupe.ENOTFOUND {
			return nil, err
		}
	}
	return u, nil
}

type ctxKey int

const userCtxKey ctxKey = 0

// The user is also the actor of the events the request's writes append.
func withUser(ctx context.Context, u *loupe.User) context.Context {
	return loupe.WithActor(context.WithValue(ctx, userCtxKey, u), u)
}

// currentUser returns the signed-in user of the request, or nil.
func currentUser(r *http.Request) *loupe.User {
	u, _ := r.Context().Value(userCtxKey).(*loupe.User)
	return u
}
