package web

import (
	"net/http"
)

// serveMedia serves a file of the project's media folder. Not built yet.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	s.error(w, r, notFoundf("media are not served yet"))
}
