package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/loupehq/loupe"
)

type usersPage struct {
	page
	Users     []*loupe.User
	Error     string
	Name      string
	Role      string
	Generated string // a generated password, shown once
	NewUser   string
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, &usersPage{Role: loupe.RoleMember})
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, data *usersPage) {
	users, err := s.store.Users(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	data.Title, data.Users = "Users", users
	s.render(w, r, status, "users", data)
}

// createUserForm adds a user. With no password given, one is generated and
// shown once on the page that answers the post (never in a redirect URL).
func (s *Server) createUserForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.error(w, r, formError(err))
		return
	}
	name, role, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("role"), r.PostForm.Get("password")
	generated := ""
	if password == "" {
		password = loupe.GeneratePassword()
		generated = password
	}
	data := &usersPage{Name: name, Role: role}
	err := loupe.ValidateUserName(name)
	if err == nil {
		err = loupe.ValidateRole(role)
	}
	var hash string
	if err == nil {
		hash, err = loupe.HashPassword(password)
	}
	if err == nil {
		_, err = s.store.CreateUser(r.Context(), name, role, hash)
	}
	if c := loupe.ErrorCode(err); c == loupe.EINVALID || c == loupe.ECONFLICT {
		data.Error = loupe.ErrorMessage(err)
		s.renderUsers(w, r, errorStatus(c), data)
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	if generated == "" {
		s.redirect(w, r, "/admin/users", fmt.Sprintf("User %s added.", name))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderUsers(w, r, http.StatusCreated, &usersPage{Role: loupe.RoleMember, NewUser: name, Generated: generated})
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	name := urlParam(r, "user")
	if disabled && strings.EqualFold(name, currentUser(r).Name) {
		s.error(w, r, loupe.Errorf(loupe.EINVALID, "you cannot disable yourself"))
		return
	}
	if err := s.store.SetUserDisabled(r.Context(), name, disabled); err != nil {
		s.error(w, r, err)
		return
	}
	msg := fmt.Sprintf("%s is enabled.", name)
	if disabled {
		msg = fmt.Sprintf("%s is disabled and signed out everywhere.", name)
	}
	s.redirect(w, r, "/admin/users", msg)
}

func (s *Server) disableUserForm(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, true) }
func (s *Server) enableUserForm(w http.ResponseWriter, r *http.Request)  { s.setDisabled(w, r, false) }
