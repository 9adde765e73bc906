package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// routes lists every route of the app in one place.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.requestID, s.logRequests, s.securityHeaders, s.csrf)

	r.Get("/healthz", s.healthz)
	r.Get("/static/blocks.css", s.blockStyles)
	r.Get("/static/blocks/{kind}.js", s.blockScript)
	r.Handle("/static/*", s.staticHandler())

	small := func(h http.Handler) http.Handler { return limitBody(s.cfg.MaxBody, h) }
	large := func(h http.Handler) http.Handler { return limitBody(s.cfg.MaxImport, h) }

	r.With(small, s.authenticate, s.requireSignedIn, s.requireAdmin).Get("/metrics", s.serveMetrics)

	r.Group(func(r chi.Router) {
		r.Use(small, s.authenticate)
		r.Get("/login", s.loginPage)
		r.Post("/login", s.login)
		r.Post("/logout", s.logout)
	})

	// Browser pages.
	r.Group(func(r chi.Router) {
		r.Use(s.authenticate, s.requireUser)
		r.With(small).Get("/", s.projectsPage)
		r.With(small, s.requireAdmin).Get("/projects/new", s.newProjectPage)
		r.With(small, s.requireAdmin).Post("/projects", s.createProject)
		r.Route("/projects/{slug}", func(r chi.Router) {
			r.With(small).Get("/", s.projectPage)
			r.With(small).Post("/config", s.configForm)
			r.With(small).Get("/label", s.labelNextPage)
			r.With(small).Get("/media/*", s.serveMedia)
			r.With(small).Get("/items/{id}", s.labelItemPage)
			r.With(small).Post("/items/{id}/annotations", s.submitForm)
			r.With(small).Post("/items/{id}/skip", s.skipForm)
			r.With(small).Get("/members", s.membersPage)
			r.With(small).Post("/members", s.addMemberForm)
			r.With(small).Post("/members/{user}/remove", s.removeMemberForm)
			r.With(small).Get("/import", s.importPage)
			r.With(large).Post("/import", s.importForm)
			r.With(small).Get("/export", s.exportDownload)
			r.With(small).Post("/export", s.startExportForm)
			r.With(small).Get("/exports/{id}/download", s.jobDownload)
			r.With(small).Get("/snapshots/{name}/download", s.snapshotDownload)
			r.With(small).Get("/models", s.modelsPage)
			r.With(small).Get("/review", s.reviewNextPage)
			r.With(small).Get("/items", s.itemsPage)
			r.With(small).Get("/browse", s.browsePage)
			r.With(small).Get("/items/{id}/review", s.reviewItemPage)
			r.With(small).Post("/items/{id}/review", s.reviewForm)
			r.With(small).Get("/items/{id}/timeline", s.timelinePage)
			r.With(small).Get("/audit", s.auditPage)
			r.With(small).Get("/audit.jsonl", s.auditExport)
		})
		r.With(small, s.requireAdmin).Get("/preview", s.previewPage)
		r.With(small, s.requireAdmin).Post("/preview/frame", s.previewFrame)
		r.Route("/admin", func(r chi.Router) {
			r.Use(small, s.requireAdmin)
			r.Get("/users", s.usersPage)
			r.Post("/users", s.createUserForm)
			r.Post("/users/{user}/disable", s.disableUserForm)
			r.Post("/users/{user}/enable", s.enableUserForm)
		})
	})

	// JSON API.
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.authenticate, s.requireUser)
		r.With(small).Get("/me", s.apiMe)
		r.With(small).Get("/projects", s.apiProjects)
		r.With(small, s.requireAdmin).Post("/projects", s.apiCreateProject)
		r.Route("/projects/{slug}", func(r chi.Router) {
			r.With(small).Get("/", s.apiProject)
			r.With(small).Put("/config", s.apiSetConfig)
			r.With(small).Get("/progress", s.apiProgress)
			r.With(small).Get("/next", s.apiNext)
			r.With(large).Post("/items", s.apiImport)
			r.With(large).Post("/predictions", s.apiImportPredictions)
			r.With(small).Get("/items/{id}", s.apiItem)
			r.With(small).Post("/items/{id}/annotations", s.apiSubmit)
			r.With(small).Post("/items/{id}/skip", s.apiSkip)
			r.With(small).Post("/items/{id}/predict", s.apiPredict)
			r.With(small).Get("/members", s.apiMembers)
			r.With(small).Put("/members/{user}", s.apiSetMember)
			r.With(small).Delete("/members/{user}", s.apiRemoveMember)
			r.With(small).Get("/export", s.apiExport)
			r.With(small).Post("/exports", s.apiStartExport)
			r.With(small).Get("/exports", s.apiExportJobs)
			r.With(small).Get("/exports/{id}", s.apiExportJob)
			r.With(small).Get("/exports/{id}/download", s.jobDownload)
			r.With(small).Get("/snapshots", s.apiSnapshots)
			r.With(small).Get("/snapshots/{name}/download", s.snapshotDownload)
			r.With(small).Get("/models", s.apiModels)
			r.With(small).Post("/feedback", s.apiFeedback)
			r.With(small).Get("/review/next", s.apiReviewNext)
			r.With(small).Get("/items", s.apiItems)
			r.With(small).Get("/items/{id}/review", s.apiReviewItem)
			r.With(small).Post("/items/{id}/reviews", s.apiSubmitReview)
			r.With(small).Get("/items/{id}/timeline", s.apiTimeline)
			r.With(small).Get("/audit", s.apiAudit)
			r.With(small).Get("/audit/export", s.auditExport)
			r.With(small).Get("/agreement", s.apiAgreement)
		})
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			s.error(w, r, notFoundf("no such API endpoint: %s %s", r.Method, r.URL.Path))
		})
	})

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, notFoundf("page not found"))
	})
	return r
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}
