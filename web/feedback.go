package web

import (
	"net/http"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

const refuseFeedback = "only the project's labelers and managers may send feedback; add the app's user as a labeler"

// apiFeedback takes feedback from a model demo or a product: POST
// /api/v1/projects/{slug}/feedback with {input, output, model, version,
// rating?, correction?, comment?}. The item and the prediction are created
// when new, the feedback is recorded as an event, and the item goes to
// review when the project's policy takes feedback. 201 when the item is
// new, 200 when it was already there.
func (s *Server) apiFeedback(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanLabel, refuseFeedback)
	if !ok {
		return
	}
	var in feedback.Incoming
	if err := decodeJSON(r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	if err := in.Resolve(p.Config.Interface()); err != nil {
		s.error(w, r, err)
		return
	}
	out, err := s.store.RecordFeedback(r.Context(), p, &in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	status := http.StatusOK
	if out.NewItem {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}
