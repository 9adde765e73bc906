package web

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
)

type loginPage struct {
	page
	Name  string
	Next  string
	Error string
}

// safeNext returns next if it is a local path, so that the sign-in page
// cannot be used to send people to another site.
// Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would
// become "//evil.example": any control character makes next unsafe.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", &loginPage{page: page{Title: "Sign in"}, Next: safeNext(r.URL.Query().Get("next"))})
}

// clientAddr returns the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkLogin verifies a name and password, with rate limiting per account
// and per address. Unknown users and wrong passwords get the same answer,
// after the same work.
func (s *Server) checkLogin(r *http.Request, name, password string) (*loupe.User, time.Duration, error) {
	ctx := r.Context()
	userKey := "user:" + strings.ToLower(name)
	addrKey := "addr:" + clientAddr(r)
	for _, lim := range []struct {
		key string
		max int
	}{{userKey, loupe.MaxLoginFailuresAccount}, {addrKey, loupe.MaxLoginFailuresAddress}} {
		n, until, err := s.store.LoginFailures(ctx, lim.key, loupe.LoginWindow)
		if err != nil {
			return nil, 0, err
		}
		if n >= lim.max {
			wait := max(until.Sub(s.now()).Round(time.Second), time.Second)
			return nil, wait, loupe.Errorf(loupe.ERATELIMIT, "too many failed sign-ins; try again in %s", wait)
		}
	}
	u, err := s.store.UserByName(ctx, name)
	hash := loupe.DummyPasswordHash
	if err == nil {
		hash = u.PassHash
	} else if loupe.ErrorCode(err) != loupe.ENOTFOUND {
		return nil, 0, err
	}
	ok := loupe.CheckPassword(hash, password)
	if !ok || u == nil || u.Disabled {
		if err := s.store.RecordLoginFailure(ctx, userKey, addrKey); err != nil {
			return nil, 0, err
		}
		return nil, 0, loupe.Errorf(loupe.EUNAUTHORIZED, "wrong user name or password")
	}
	if err := s.store.ClearLoginFailures(ctx, userKey); err != nil {
		return nil, 0, err
	}
	return u, 0, nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	name, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	u, wait, err := s.checkLogin(r, name, password)
	if code := loupe.ErrorCode(err); code == loupe.EUNAUTHORIZED || code == loupe.ERATELIMIT {
		if code == loupe.ERATELIMIT {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		}
		s.render(w, r, errorStatus(code), "login", &loginPage{page: page{Title: "Sign in"}, Name: name, Next: next, Error: loupe.ErrorMessage(err)})
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.signIn(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.signOut(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	s.redirect(w, r, "/login", "You are signed out.")
}

// badRequestf returns an error answered with 400: the request itself could
// not be read.
func badRequestf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func notFoundf(format string, args ...any) error {
	return loupe.Errorf(loupe.ENOTFOUND, format, args...)
}

func forbiddenf(format string, args ...any) error {
	return loupe.Errorf(loupe.EFORBIDDEN, format, args...)
}
