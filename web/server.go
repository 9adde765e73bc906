// Package web serves Loupe's browser pages and JSON API over HTTP. Handlers
// parse and validate requests, call the store, and render templates or
// JSON; the store is declared here as small interfaces (store.go) and given
// to New.
package web

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/securecookie"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/metrics"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Default limits.
const (
	DefaultMaxBody   = 1 << 20   // JSON and form bodies
	DefaultMaxImport = 256 << 20 // item files
)

// Config holds the server's settings.
type Config struct {
	// SessionKeys are the HMAC keys that sign session cookies, newest
	// first: a cookie signed with an older key is still accepted, so keys
	// can rotate. At least one key of 32 or more bytes is required.
	SessionKeys [][]byte
	// SecureCookies marks cookies Secure (the site is served over TLS by a
	// proxy) and refuses cross-scheme (http) origins.
	SecureCookies bool
	MaxBody       int64
	MaxImport     int64
	Logger        *slog.Logger
	Now           func() time.Time
	// TempDir is where uploads are spooled before import; "" is os.TempDir.
	TempDir string
	// Include resolves `include: FILE` in configs sent through the browser
	// or the API (the shared block library); nil refuses includes.
	Include func(name string) ([]byte, error)
	// MediaRoot is the folder that holds each project's media, one
	// sub-folder per project slug; "" serves no media.
	MediaRoot string
	// MediaOrigins are the remote origins ("https://images.example.com")
	// whose images and audio items may show; none by default.
	MediaOrigins []string
	// Suggester gives models' suggestions; nil shows none.
	Suggester Suggester
	// ExportDir is where export jobs write their files, one folder a job
	// (see exportjobs.go for how long they stay); "" is a new temporary
	// folder, removed by Close.
	ExportDir string
	// Metrics are the counters served at /metrics; nil makes new ones.
	Metrics *Metrics
}

// Server is Loupe's HTTP handler.
type Server struct {
	store    Store
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	blocks   *blocks.Renderer
	sessions *sessionStore
	shown    *securecookie.SecureCookie // signs the suggestions a page showed
	handler  http.Handler

	agreements agreementCache
	jobs       *exportJobs
	gauges     *metrics.Registry // read at scrape time (metrics.go)
	closeOnce  sync.Once
}

// New returns a server over store. It fails when the config lacks a session
// key or the embedded templates do not parse.
func New(store Store, cfg Config) (*Server, error) {
	if len(cfg.SessionKeys) == 0 || len(cfg.SessionKeys[0]) < 32 {
		return nil, errors.New("web: a session key of at least 32 bytes is required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxImport <= 0 {
		cfg.MaxImport = DefaultMaxImport
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	for _, o := range cfg.MediaOrigins {
		if err := CheckOrigin(o); err != nil {
			return nil, err
		}
	}
	s := &Server{store: store, cfg: cfg, log: cfg.Logger, now: cfg.Now}
	var pairs [][]byte
	for _, k := range cfg.SessionKeys {
		pairs = append(pairs, k, nil) // sign, do not encrypt: the cookie holds only a random id
	}
	s.sessions = newSessionStore(store, pairs, cfg.SecureCookies, cfg.Now)
	s.shown = securecookie.New(cfg.SessionKeys[0], nil).MaxLength(1 << 20).MaxAge(int((24 * time.Hour) / time.Second)).
		SetSerializer(securecookie.JSONEncoder{})
	var err error
	if s.blocks, err = blocks.NewRenderer(); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.jobs, err = newExportJobs(cfg.ExportDir, cfg.TempDir, cfg.Now, cfg.Logger); err != nil {
		return nil, err
	}
	s.gauges = s.newGauges()
	s.handler = s.routes()
	return s, nil
}

// Close stops the server's background work: export jobs waiting to run
// fail, running ones are cancelled and waited for, and their files are
// removed. Call it after the HTTP server has shut down and before the
// store closes.
func (s *Server) Close() error {
	s.closeOnce.Do(s.jobs.close)
	return nil
}

// CheckOrigin returns an error unless o is an origin such as
// https://images.example.com: a scheme (http or https) and a host, nothing
// more.
func CheckOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		strings.ContainsAny(o, " ;'*") {
		return fmt.Errorf("media origin %q must be a scheme and a host, like https://images.example.com", o)
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

var templateFuncs = template.FuncMap{
	"pct": func(a, b int) int {
		if b == 0 {
			return 0
		}
		return a * 100 / b
	},
	"fmtTime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"pct100":  func(f float64) float64 { return f * 100 },
	"ms":      func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) },
	"path":    url.PathEscape,
	"summary": summary,
	"preview": func(p *annotate.Project, it *annotate.Item) string { return itemPreview(p.Config.Interface(), it) },
	"short": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
}

// parsePages parses each page template with the shared layout, once.
func parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", f)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page is what every page template gets: the signed-in user, the page
// title and a one-time message.
type page struct {
	Title string
	User  *loupe.User
	Flash string
}

func (p *page) base() *page { return p }

type pageData interface{ base() *page }

// render executes a page template into a buffer and writes it with status,
// so that a template error never leaves a half-written page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) {
	b := data.base()
	if b.User == nil {
		b.User = currentUser(r)
	}
	if b.Flash == "" {
		b.Flash = s.takeFlash(w, r)
	}
	t, ok := s.pages[name]
	if !ok {
		s.logger(r).Error("no such template", "name", name)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.logger(r).Error("render", "template", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Flash messages travel in a short-lived signed cookie to the next page.
const flashCookie = "loupe_flash"

func (s *Server) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	enc, err := s.sessions.codecs[0].Encode(flashCookie, msg)
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: enc, Path: "/", MaxAge: 60, HttpOnly: true,
		Secure: s.cfg.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	var msg string
	if err := s.sessions.codecs[0].Decode(flashCookie, c.Value, &msg); err != nil {
		return ""
	}
	return msg
}

// redirect answers a successful form post (303 See Other), with an
// optional message for the next page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		s.setFlash(w, r, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// contentSecurityPolicy keeps item content from ever running as script,
// and lets images and audio load only from Loupe itself and the origins
// the admin allowed (--media-origins). frameAncestors is 'none' everywhere
// but the config preview, which the preview page frames.
func (s *Server) contentSecurityPolicy(frameAncestors string) string {
	media := strings.Join(append([]string{"'self'"}, s.cfg.MediaOrigins...), " ")
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + media + " data:; media-src " + media + "; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + frameAncestors
}

// securityHeaders sets headers that keep item content from ever running as
// script and the app from being framed.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", s.contentSecurityPolicy("'none'"))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status a handler wrote, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs each request at info level: its method, route pattern
// (never the path's values or the query, which may hold secrets), status,
// duration and request id; it counts the request in the metrics, and
// turns a panic into a 500.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger(r).Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					http.Error(sw, "Internal error.", http.StatusInternalServerError)
				}
			}
			d := time.Since(start)
			s.cfg.Metrics.observeRequest(r, sw.status, d)
			s.logger(r).Info("request", "method", r.Method, "route", routePattern(r), "status", cmp.Or(sw.status, http.StatusOK), "duration", d)
		}()
		next.ServeHTTP(sw, r)
	})
}

// csrf refuses cross-origin state-changing requests from browsers
// (Sec-Fetch-Site, or Origin against Host), and with SecureCookies also an
// Origin of another scheme. Requests without either header come from
// non-browser clients, which authenticate with a bearer token or a cookie
// they hold themselves. A site served over TLS (directly or, with
// SecureCookies, behind a proxy) refuses http: origins too.
func (s *Server) csrf(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, loupe.Errorf(loupe.EFORBIDDEN, "cross-origin request refused"))
	}))
	inner := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (s.cfg.SecureCookies || r.TLS != nil) && !isSafeMethod(r.Method) {
			if o := r.Header.Get("Origin"); o != "" && !strings.HasPrefix(o, "https://") {
				s.error(w, r, loupe.Errorf(loupe.EFORBIDDEN, "cross-origin request refused"))
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate puts the request's user in its context: from a bearer token
// (API scripts) or from the session cookie (browsers).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u *loupe.User
		var err error
		if h := r.Header.Get("Authorization"); h != "" {
			token, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || !loupe.LooksLikeToken(token) {
				s.error(w, r, loupe.Errorf(loupe.EUNAUTHORIZED, "the Authorization header must be \"Bearer <token>\""))
				return
			}
			if u, err = s.store.UserByToken(r.Context(), token); err != nil {
				s.error(w, r, err)
				return
			}
		} else if u, err = s.sessionUser(w, r); err != nil {
			s.error(w, r, err)
			return
		}
		if u != nil {
			r = r.WithContext(withUser(r.Context(), u))
		}
		next.ServeHTTP(w, r)
	})
}

// requireUser sends requests without a signed-in user to the sign-in page
// (browser) or answers 401 (API).
func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) != nil {
			next.ServeHTTP(w, r)
			return
		}
		if isAPI(r) || !isSafeMethod(r.Method) {
			s.error(w, r, loupe.Errorf(loupe.EUNAUTHORIZED, "sign in, or send an API token as \"Authorization: Bearer <token>\""))
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// requireAdmin answers 403 to anyone but an admin.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !currentUser(r).IsAdmin() {
			s.error(w, r, loupe.Errorf(loupe.EFORBIDDEN, "only an admin may do this"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies: a declared length over the limit is
// refused at once, before any of the body is read; an undeclared one is cut
// off when it passes the limit.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			err := loupe.Errorf(loupe.ETOOLARGE, "the request body is larger than %d bytes", limit)
			if isAPI(r) {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]apiError{"error": {Code: loupe.ETOOLARGE, Message: loupe.ErrorMessage(err)}})
			} else {
				http.Error(w, loupe.ErrorMessage(err), http.StatusRequestEntityTooLarge)
			}
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// blockStyles serves the styles of every block kind as one sheet.
func (s *Server) blockStyles(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(s.blocks.Stylesheet())
}

// blockScript serves a block kind's script (blocks/static/KIND.js).
func (s *Server) blockScript(w http.ResponseWriter, r *http.Request) {
	js, ok := s.blocks.Script(urlParam(r, "kind"))
	if !ok {
		s.error(w, r, notFoundf("no such script"))
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(js)
}

func urlParam(r *http.Request, name string) string { return chi.URLParam(r, name) }
