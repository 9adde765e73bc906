package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/fixtures"
	"github.com/loupehq/loupe/models"
	"github.com/loupehq/loupe/predict"
	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// Config is the server's configuration, from flags and the environment.
type Config struct {
	Addr          string
	DB            string
	NoDemo        bool
	SecureCookies bool
	Sync          string
	LogLevel      string
	LogFormat     string // text or json
	MediaRoot     string
	MediaOrigins  []string
	ModelOrigins  []string // the origins live models may be reached at
	PublicURL     string   // Loupe's address as others reach it (sent to Label Studio backends)

	AdminPassword string   // LOUPE_ADMIN_PASSWORD: the first admin's password
	SessionKeys   [][]byte // LOUPE_SESSION_KEY (+ _PREVIOUS): cookie signing keys
}

// Server timeouts. Slow clients cannot hold connections open: headers must
// arrive within ReadHeaderTimeout and whole bodies within ReadTimeout.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 2 * time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	ShutdownTimeout   = 30 * time.Second
)

// Main is a running server: its database, HTTP server and background jobs.
type Main struct {
	Config  Config
	DB      *storage.DB
	HTTP    *http.Server
	Log     *slog.Logger
	Runner  *models.Runner
	Predict *predict.Service
	Web     *web.Server
	Metrics *web.Metrics // served at /metrics

	ln       net.Listener
	stopJobs context.CancelFunc
	jobsDone chan struct{}
}

// ParseServeFlags reads the serve command's flags and environment.
func ParseServeFlags(args []string, env *Env) (Config, error) {
	fs := newFlags("serve", "[serve] [--addr HOST:PORT] [--db FILE] [--no-demo] [--secure-cookies] [--media-origins URLS] [--model-origins URLS] [--log-format text|json]", env)
	var c Config
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "the address to listen on")
	fs.StringVar(&c.DB, "db", "loupe.db", "the SQLite database `file`")
	fs.BoolVar(&c.NoDemo, "no-demo", false, "do not load the demo projects into an empty database")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", false, "mark cookies Secure (set when a TLS proxy serves Loupe)")
	fs.StringVar(&c.Sync, "sync", storage.SyncFull, "SQLite synchronous mode: FULL (an acknowledged write survives power loss) or NORMAL")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text, or json (one JSON object a line, for log collectors)")
	fs.StringVar(&c.MediaRoot, "media-root", "", "the folder of media files (images, audio), one sub-folder per project slug (default: DB-media beside the database)")
	origins := fs.String("media-origins", "", "comma-separated origins (https://images.example.com) whose images and audio items may show; none by default")
	modelOrigins := fs.String("model-origins", "", "comma-separated origins (http://ml-backend:9090) of live models that projects may call; none by default")
	fs.StringVar(&c.PublicURL, "public-url", "", "Loupe's address as others reach it, sent to Label Studio ML backends")
	if _, err := parse(fs, args, 0); err != nil {
		return c, err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("%w: --log-format must be text or json, not %q", errUsage, c.LogFormat)
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if err := web.CheckOrigin(o); err != nil {
			return c, fmt.Errorf("%w: --media-origins: %v", errUsage, err)
		}
		c.MediaOrigins = append(c.MediaOrigins, o)
	}
	for _, o := range strings.Split(*modelOrigins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			c.ModelOrigins = append(c.ModelOrigins, o)
		}
	}
	if c.MediaRoot == "" {
		c.MediaRoot = strings.TrimSuffix(c.DB, filepath.Ext(c.DB)) + "-media"
	}
	c.AdminPassword = env.Getenv("LOUPE_ADMIN_PASSWORD")
	for _, name := range []string{"LOUPE_SESSION_KEY", "LOUPE_SESSION_KEY_PREVIOUS"} {
		v := env.Getenv(name)
		if v == "" {
			continue
		}
		key, err := decodeKey(v)
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
		c.SessionKeys = append(c.SessionKeys, key)
	}
	if len(c.SessionKeys) > 0 && env.Getenv("LOUPE_SESSION_KEY") == "" {
		return c, errors.New("LOUPE_SESSION_KEY_PREVIOUS is set but LOUPE_SESSION_KEY is not")
	}
	return c, nil
}

// decodeKey accepts a key as base64 (standard or URL alphabet) of at least
// 32 bytes.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < 32 {
				return nil, errors.New("the key must hold at least 32 bytes (base64 of 32 random bytes, e.g. from `openssl rand -base64 32`)")
			}
			return b, nil
		}
	}
	return nil, errors.New("the key must be base64")
}

func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// Run opens the database, prepares a first start (admin, demo projects,
// session key) and starts serving. It returns once the server listens.
func (m *Main) Run(ctx context.Context, env *Env) error {
	level, err := logLevel(m.Config.LogLevel)
	if err != nil {
		return fmt.Errorf("%w: --log-level: %v", errUsage, err)
	}
	if m.Config.LogFormat == "json" {
		m.Log = slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	} else {
		m.Log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	}
	m.Metrics = web.NewMetrics()
	if m.DB, err = storage.Open(m.Config.DB, storage.Options{Sync: m.Config.Sync, Logger: m.Log, Observe: m.Metrics.ObserveWrite}); err != nil {
		return err
	}
	// An import killed midway leaves its hidden items behind.
	if err := m.DB.DropAbandonedImports(ctx); err != nil {
		return err
	}
	firstStart, err := m.firstStart(ctx, env)
	if err != nil {
		return err
	}
	keys := m.Config.SessionKeys
	if len(keys) == 0 {
		stored, err := m.DB.EnsureSetting(ctx, "session_key", loupe.NewSecret())
		if err != nil {
			return err
		}
		key, err := base64.RawURLEncoding.DecodeString(stored)
		if err != nil {
			return fmt.Errorf("stored session key: %w", err)
		}
		if firstStart {
			m.Log.Info("generated a session signing key and stored it in the database; set LOUPE_SESSION_KEY to manage it yourself")
		}
		keys = [][]byte{key}
	}
	if m.Runner, err = models.NewRunner(m.DB, models.Options{Allow: m.Config.ModelOrigins, Getenv: env.Getenv, Logger: m.Log,
		Hostname: m.Config.PublicURL, Observe: m.Metrics.ObserveModelCall}); err != nil {
		return fmt.Errorf("%w: --model-origins: %s", errUsage, loupe.ErrorMessage(err))
	}
	m.Predict = predict.New(m.DB, m.Runner, predict.Options{Logger: m.Log})
	srv, err := web.New(m.DB, web.Config{SessionKeys: keys, SecureCookies: m.Config.SecureCookies, Logger: m.Log,
		Include: fixtures.Include, MediaRoot: m.Config.MediaRoot, MediaOrigins: m.Config.MediaOrigins, Suggester: m.Predict,
		ExportDir: strings.TrimSuffix(m.Config.DB, filepath.Ext(m.Config.DB)) + "-exports", Metrics: m.Metrics})
	if err != nil {
		return err
	}
	m.Web = srv
	m.HTTP = &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return err
	}
	go m.HTTP.Serve(m.ln)
	jobs, stop := context.WithCancel(context.Background())
	m.stopJobs, m.jobsDone = stop, make(chan struct{})
	go m.runJobs(jobs)

	abs, _ := filepath.Abs(m.Config.DB)
	fmt.Fprintf(env.Stdout, "Loupe is running at %s\nDatabase: %s\n", m.URL(), abs)
	return nil
}

// URL returns the address the server listens on, as a URL.
func (m *Main) URL() string {
	addr := m.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// firstStart creates the admin and the demo projects in an empty database.
// It reports whether the database was empty.
func (m *Main) firstStart(ctx context.Context, env *Env) (bool, error) {
	n, err := m.DB.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	password, generated := m.Config.AdminPassword, false
	if password == "" {
		password, generated = loupe.GeneratePassword(), true
	}
	hash, err := loupe.HashPassword(password)
	if err != nil {
		return false, fmt.Errorf("LOUPE_ADMIN_PASSWORD: %s", loupe.ErrorMessage(err))
	}
	admin, err := m.DB.CreateUser(ctx, "admin", loupe.RoleAdmin, hash)
	if err != nil {
		return false, err
	}
	if !m.Config.NoDemo {
		if err := loadDemo(ctx, m.DB, admin, m.Config.MediaRoot); err != nil {
			return false, err
		}
	}
	if generated {
		fmt.Fprintf(env.Stdout, "Created the admin account. Sign in as admin with the password %s\n(shown only now; set LOUPE_ADMIN_PASSWORD before the first start to choose it)\n", password)
	} else {
		fmt.Fprintln(env.Stdout, "Created the admin account. Sign in as admin with the password from LOUPE_ADMIN_PASSWORD.")
	}
	return true, nil
}

// loadDemo creates the demo projects from fixtures/: the sentiment demo and
// every template, with their items and media.
func loadDemo(ctx context.Context, db *storage.DB, admin *loupe.User, mediaRoot string) error {
	demos, err := fixtures.Demo()
	if err != nil {
		return err
	}
	for _, d := range demos {
		if err := createFromFixture(ctx, db, d, d.Slug, admin, mediaRoot, true); err != nil {
			return err
		}
	}
	return nil
}

// createFromFixture creates a project from a fixture's config under slug;
// with items, it also imports the fixture's items and writes its media into
// mediaRoot/slug (files already there are kept).
func createFromFixture(ctx context.Context, db *storage.DB, f fixtures.Project, slug string, creator *loupe.User, mediaRoot string, items bool) error {
	cfg, err := blocks.Parse(blocks.Source{Name: f.Slug + ".yaml", Data: f.Config, Include: fixtures.Include})
	if err != nil {
		return fmt.Errorf("template %s: %w", f.Slug, err)
	}
	p, err := db.CreateProject(ctx, slug, string(cfg.Source()), cfg, creator)
	if err != nil {
		return err
	}
	if !items {
		return nil
	}
	if _, err := db.ImportItems(ctx, p, annotate.NewItemDecoder(bytes.NewReader(f.Items)), annotate.ImportOptions{}); err != nil {
		return fmt.Errorf("template %s: %w", f.Slug, err)
	}
	if f.Media == nil || mediaRoot == "" {
		return nil
	}
	for name, data := range f.Media() {
		path := filepath.Join(mediaRoot, slug, filepath.FromSlash(name))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("template %s media: %w", f.Slug, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("template %s media: %w", f.Slug, err)
		}
	}
	return nil
}

// runJobs does the periodic upkeep: checkpoints keep the WAL bounded even
// under long readers, and sweeps drop expired sessions and old sign-in
// failures.
func (m *Main) runJobs(ctx context.Context) {
	defer close(m.jobsDone)
	checkpoint := time.NewTicker(time.Minute)
	sweep := time.NewTicker(time.Hour)
	rescore := time.NewTicker(time.Minute)
	defer checkpoint.Stop()
	defer sweep.Stop()
	defer rescore.Stop()
	m.rescore(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-rescore.C:
			m.rescore(ctx)
		case <-checkpoint.C:
			if err := m.DB.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				m.Log.Warn("checkpoint", "err", err)
			}
		case <-sweep.C:
			if err := m.DB.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.Log.Warn("sweep", "err", err)
			}
		}
	}
}

// rescore reorders the queues of projects ordered by uncertainty or
// disagreement, from the models' latest view.
func (m *Main) rescore(ctx context.Context) {
	ps, err := m.DB.AllProjects(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.Log.Warn("rescore", "err", err)
		}
		return
	}
	for _, p := range ps {
		if err := m.Predict.Rescore(ctx, p); err != nil && ctx.Err() == nil {
			m.Log.Warn("rescore", "project", p.Slug, "err", err)
		}
	}
}

// Close shuts down gracefully: no new connections, in-flight requests
// finish (up to ShutdownTimeout), then the database closes.
func (m *Main) Close() error {
	var err error
	if m.HTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		err = m.HTTP.Shutdown(ctx)
	}
	if m.Web != nil {
		m.Web.Close() // stops export jobs before the database closes
	}
	if m.stopJobs != nil {
		m.stopJobs()
		<-m.jobsDone
	}
	if m.Predict != nil {
		err = errors.Join(err, m.Predict.Close())
	}
	if m.Runner != nil {
		err = errors.Join(err, m.Runner.Close())
	}
	if m.DB != nil {
		err = errors.Join(err, m.DB.Close())
	}
	return err
}

func runServe(ctx context.Context, args []string, env *Env) error {
	cfg, err := ParseServeFlags(args, env)
	if err != nil {
		return err
	}
	m := &Main{Config: cfg}
	if err := m.Run(ctx, env); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(env.Stdout, "Shutting down: finishing requests in flight…")
	return m.Close()
}
