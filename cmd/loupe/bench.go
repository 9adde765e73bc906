package main

// loupe bench: a load test of the labeling loop over HTTP. N labelers, each
// with its own API token, take the next item and submit an annotation of it
// in a loop, against the real server on a real database. Beside it, in the
// same process, on the same cores and with the same client, run the
// baselines: a bare HTTP handler (what HTTP on this machine costs) and a
// bare modernc SQLite insert per transaction (what one durable write
// costs). docs/benchmarks.md explains the figures.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// benchConfig is what loupe bench is asked to do.
type benchConfig struct {
	Labelers int
	Duration time.Duration
	Items    int
	DB       string
	Sync     string
	Think    time.Duration
}

// Bench limits: the run stays bounded whatever the flags say.
const (
	benchMaxLabelers = 2000
	benchMaxDuration = time.Hour
	benchTimeout     = 30 * time.Second // one request
	benchSlug        = "bench"
)

// benchTarget is the brief's bar: next item + submit p99 within 10 ms with
// 50 concurrent labelers.
const (
	benchTarget         = 10 * time.Millisecond
	benchTargetLabelers = 50
)

const benchProjectConfig = `title: Bench sentiment
overlap: 1
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

func parseBenchFlags(args []string, env *Env) (benchConfig, error) {
	fs := newFlags("bench", "bench [--labelers N] [--duration D] [--items N] [--think D] [--sync FULL|NORMAL] [--db FILE]", env)
	var c benchConfig
	fs.IntVar(&c.Labelers, "labelers", 50, "concurrent labelers, each its own user with an API token")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long the loupe phase and the bare-handler baseline each run")
	fs.IntVar(&c.Items, "items", 20000, "items to import; when the queue runs dry the phase ends early")
	fs.StringVar(&c.DB, "db", "", "create the database as this new `file` and keep it (default: a temporary file, removed after)")
	fs.StringVar(&c.Sync, "sync", storage.SyncFull, "SQLite synchronous mode: FULL or NORMAL")
	fs.DurationVar(&c.Think, "think", 0, "mean time a labeler spends on an item between next and submit, varied ±50% (0: closed loop, as fast as answers come)")
	if _, err := parse(fs, args, 0); err != nil {
		return c, err
	}
	c.Sync = strings.ToUpper(c.Sync)
	switch {
	case c.Labelers < 1 || c.Labelers > benchMaxLabelers:
		return c, fmt.Errorf("%w: --labelers must be between 1 and %d", errUsage, benchMaxLabelers)
	case c.Duration <= 0 || c.Duration > benchMaxDuration:
		return c, fmt.Errorf("%w: --duration must be more than 0 and at most %s", errUsage, benchMaxDuration)
	case c.Items < 1:
		return c, fmt.Errorf("%w: --items must be at least 1", errUsage)
	case c.Think < 0:
		return c, fmt.Errorf("%w: --think must not be negative", errUsage)
	case c.Sync != storage.SyncFull && c.Sync != storage.SyncNormal:
		return c, fmt.Errorf("%w: --sync must be FULL or NORMAL", errUsage)
	}
	return c, nil
}

func runBench(ctx context.Context, args []string, env *Env) error {
	cfg, err := parseBenchFlags(args, env)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loupe-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath := cfg.DB
	if dbPath == "" {
		dbPath = filepath.Join(dir, "loupe.db")
	} else if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("bench: %s already exists; name a new file (bench fills it with generated users and items)", dbPath)
	}

	out := env.Stdout
	fmt.Fprintf(out, "loupe bench: %d labelers, %s per phase, think %s, sync %s, %d items\n",
		cfg.Labelers, cfg.Duration, cfg.Think, cfg.Sync, cfg.Items)
	fmt.Fprintf(out, "machine: %s/%s, %d CPUs, GOMAXPROCS %d, %s; load generator and server share the CPUs\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())

	logs := &benchLog{out: env.Stderr}
	logger := slog.New(&benchLogHandler{l: logs})
	db, err := storage.Open(dbPath, storage.Options{Sync: cfg.Sync, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	tokens, err := benchSetup(ctx, db, cfg)
	if err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	fmt.Fprintf(out, "setup: %d items and %d labelers with API tokens in %s (database %s)\n\n",
		cfg.Items, cfg.Labelers, time.Since(start).Round(time.Millisecond), dbPath)

	client := benchClient(cfg.Labelers)
	defer client.CloseIdleConnections()

	// Baseline 1: a bare handler, same client, same requests, same load.
	fmt.Fprintf(out, "phase 1/3: bare HTTP handler baseline (%s)…\n", cfg.Duration)
	base, err := benchServe(http.HandlerFunc(bareHandler), logger, func(url string) (*benchPhase, error) {
		return drive(ctx, client, url, tokens, cfg)
	})
	if err != nil {
		return err
	}
	client.CloseIdleConnections()

	// Baseline 2: one bare durable insert per transaction, same concurrency.
	fmt.Fprintf(out, "phase 2/3: raw SQLite baseline, two inserts per pair (%s)…\n", cfg.Duration)
	raw, err := rawPairs(ctx, filepath.Join(dir, "raw.db"), cfg)
	if err != nil {
		return err
	}

	// Loupe: the real handler over the real store.
	fmt.Fprintf(out, "phase 3/3: loupe (%s)…\n\n", cfg.Duration)
	srv, err := web.New(db, web.Config{SessionKeys: [][]byte{[]byte(loupe.NewSecret())}, Logger: logger})
	if err != nil {
		return err
	}
	lp, err := benchServe(srv, logger, func(url string) (*benchPhase, error) {
		return drive(ctx, client, url, tokens, cfg)
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	printBench(out, cfg, base, raw, lp, logs)
	if n := lp.failed() + base.failed(); n > 0 {
		return fmt.Errorf("bench: %d requests failed", n)
	}
	if n := logs.busy.Load() + int64(raw.busy); n > 0 {
		return fmt.Errorf("bench: %d SQLITE_BUSY errors", n)
	}
	if raw.errors > 0 {
		return fmt.Errorf("bench: %d inserts of the raw SQLite baseline failed", raw.errors)
	}
	if n := logs.errors.Load(); n > 0 {
		return fmt.Errorf("bench: the server logged %d errors", n)
	}
	return nil
}

// benchSetup fills the database: an admin, the project, its items and the
// labelers, and returns one API token per labeler.
func benchSetup(ctx context.Context, db *storage.DB, cfg benchConfig) ([]string, error) {
	// The dummy hash matches no password: no one signs in with these
	// accounts, and a real hash would only make setup slow.
	admin, err := db.CreateUser(ctx, "admin", loupe.RoleAdmin, loupe.DummyPasswordHash)
	if err != nil {
		return nil, err
	}
	pc, err := blocks.ParseConfig([]byte(benchProjectConfig))
	if err != nil {
		return nil, err
	}
	p, err := db.CreateProject(ctx, benchSlug, benchProjectConfig, pc, admin)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeBenchItems(pw, cfg.Items)) }()
	res, err := db.ImportItems(ctx, p, annotate.NewItemDecoder(pr), annotate.ImportOptions{})
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the generator if the import stopped early
	if err != nil {
		return nil, err
	}
	if res.Added != cfg.Items {
		return nil, fmt.Errorf("imported %d items, want %d", res.Added, cfg.Items)
	}
	tokens := make([]string, cfg.Labelers)
	for i := range tokens {
		name := fmt.Sprintf("labeler%04d", i+1)
		if _, err := db.CreateUser(ctx, name, loupe.RoleMember, loupe.DummyPasswordHash); err != nil {
			return nil, err
		}
		if err := db.SetMember(ctx, p.ID, name, annotate.RoleLabeler); err != nil {
			return nil, err
		}
		if tokens[i], err = db.CreateToken(ctx, name, "bench"); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// writeBenchItems writes n JSONL items shaped like the demo's product
// reviews, without holding them all in memory.
func writeBenchItems(w io.Writer, n int) error {
	bw := bufio.NewWriter(w)
	for i := range n {
		fmt.Fprintf(bw, `{"id":"bench-%07d","data":{"product":"kettle %d","review":"Review %d. The kettle boils quickly and quietly, the lid opens with one hand and the handle stays cool. After a month of daily use it still looks new; I would buy it again.","stars":%d}}`+"\n",
			i+1, i%97, i+1, 1+i%5)
	}
	return bw.Flush()
}

// benchClient returns an HTTP client that keeps a connection open per
// labeler and never goes through a proxy: traffic stays on 127.0.0.1.
func benchClient(labelers int) *http.Client {
	return &http.Client{
		Timeout: benchTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        2 * labelers,
			MaxIdleConnsPerHost: 2 * labelers,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// benchServe serves h on a free port of 127.0.0.1 while run drives it, with
// the same server settings as loupe serve.
func benchServe(h http.Handler, logger *slog.Logger, run func(url string) (*benchPhase, error)) (*benchPhase, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	return run("http://" + ln.Addr().String())
}

// bareHandler is the HTTP baseline: it reads the body and writes a small
// JSON reply shaped like the start of a task, and does nothing else.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	w.Write([]byte(`{"item":{"id":"bare"}}` + "\n"))
}

// benchPhase is what one phase measured.
type benchPhase struct {
	next, submit, pair []time.Duration
	elapsed            time.Duration
	non2xx             map[string]int // "GET next 500" → count
	transport          int            // requests that got no answer
	samples            []string       // the first few failures, for the reader
	dry                time.Duration  // when the queue ran dry; 0 if it did not
}

func (p *benchPhase) failed() int {
	n := p.transport
	for _, c := range p.non2xx {
		n += c
	}
	return n
}

// worker is one labeler's measurements, merged into the phase at the end.
type worker struct {
	next, submit, pair []time.Duration
	non2xx             map[string]int
	transport          int
	samples            []string
}

func (w *worker) fail(desc string) {
	if len(w.samples) < 3 {
		w.samples = append(w.samples, desc)
	}
}

// drive runs the labelers against base for cfg.Duration: each labeler
// does one unmeasured pair (to open its connection), then all start
// together and loop next → think → submit until the time is up or the
// queue runs dry.
func drive(ctx context.Context, client *http.Client, base string, tokens []string, cfg benchConfig) (*benchPhase, error) {
	prefix := base + "/api/v1/projects/" + benchSlug
	var stop atomic.Bool
	var dryOnce sync.Once
	var t0 time.Time
	ph := &benchPhase{non2xx: map[string]int{}}
	workers := make([]*worker, len(tokens))
	var ready, done sync.WaitGroup
	begin := make(chan struct{})
	for i, token := range tokens {
		w := &worker{non2xx: map[string]int{}}
		workers[i] = w
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			l := &labeler{client: client, prefix: prefix, auth: "Bearer " + token, w: w}
			// A warm-up pair opens the connection. Its latencies are
			// dropped; a failure of it still counts.
			l.pair(ctx, 0)
			w.next, w.submit, w.pair = nil, nil, nil
			ready.Done()
			<-begin
			// Labelers do not all start reading at the same instant:
			// spread their first items over one think time.
			if cfg.Think > 0 && !sleepCtx(ctx, rand.N(cfg.Think)) {
				return
			}
			for !stop.Load() && ctx.Err() == nil {
				switch l.pair(ctx, cfg.Think) {
				case pairDry:
					dryOnce.Do(func() { ph.dry = time.Since(t0) })
					stop.Store(true)
				case pairFailed:
					// Do not spin on a server that fails at once.
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	ready.Wait()
	t0 = time.Now()
	timer := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
	close(begin)
	done.Wait()
	timer.Stop()
	ph.elapsed = time.Since(t0)
	if ph.dry > 0 {
		ph.elapsed = ph.dry
	}
	for _, w := range workers {
		ph.next = append(ph.next, w.next...)
		ph.submit = append(ph.submit, w.submit...)
		ph.pair = append(ph.pair, w.pair...)
		ph.transport += w.transport
		for k, v := range w.non2xx {
			ph.non2xx[k] += v
		}
		if len(ph.samples) < 3 {
			ph.samples = append(ph.samples, w.samples[:min(len(w.samples), 3-len(ph.samples))]...)
		}
	}
	return ph, ctx.Err()
}

// labeler is one simulated labeler with its API token.
type labeler struct {
	client *http.Client
	prefix string
	auth   string
	w      *worker
}

type pairResult int

const (
	pairOK pairResult = iota
	pairFailed
	pairDry // the queue had nothing left (204)
)

// pair takes the next item, waits think, and submits an annotation of it,
// recording the latency of each request and of the two together (the
// think time is not part of it).
func (l *labeler) pair(ctx context.Context, think time.Duration) pairResult {
	start := time.Now()
	status, body, err := l.do(ctx, http.MethodGet, l.prefix+"/next", nil)
	tookNext := time.Since(start)
	if err != nil {
		return l.transportErr(ctx, "GET next", err)
	}
	if status == http.StatusNoContent {
		return pairDry
	}
	if status != http.StatusOK {
		return l.httpErr("GET next", status, body)
	}
	var task struct {
		Item struct {
			ID string `json:"id"`
		} `json:"item"`
	}
	if err := json.Unmarshal(body, &task); err != nil || task.Item.ID == "" {
		l.w.non2xx["GET next unreadable"]++
		l.w.fail(fmt.Sprintf("GET next: unreadable answer %.200q", body))
		return pairFailed
	}
	// People read at different speeds: each item takes between half and
	// one and a half times the think time, uniformly.
	if think > 0 && !sleepCtx(ctx, think/2+rand.N(think)) {
		return pairFailed
	}
	req := fmt.Sprintf(`{"values":{"sentiment":"positive"},"client_id":%q}`, uuid.NewString())
	mid := time.Now()
	status, body, err = l.do(ctx, http.MethodPost, l.prefix+"/items/"+url.PathEscape(task.Item.ID)+"/annotations", []byte(req))
	tookSubmit := time.Since(mid)
	if err != nil {
		return l.transportErr(ctx, "POST submit", err)
	}
	if status != http.StatusCreated {
		return l.httpErr("POST submit", status, body)
	}
	l.w.next = append(l.w.next, tookNext)
	l.w.submit = append(l.w.submit, tookSubmit)
	l.w.pair = append(l.w.pair, tookNext+tookSubmit)
	return pairOK
}

// sleepCtx sleeps for d, or until ctx ends; it reports whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (l *labeler) do(ctx context.Context, method, u string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", l.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (l *labeler) transportErr(ctx context.Context, what string, err error) pairResult {
	if ctx.Err() != nil {
		return pairFailed // interrupted: not the server's failure
	}
	l.w.transport++
	l.w.fail(fmt.Sprintf("%s: %v", what, err))
	return pairFailed
}

func (l *labeler) httpErr(what string, status int, body []byte) pairResult {
	l.w.non2xx[fmt.Sprintf("%s %d", what, status)]++
	l.w.fail(fmt.Sprintf("%s: %d %.200s", what, status, bytes.TrimSpace(body)))
	return pairFailed
}

// rawPhase is what the raw SQLite baseline measured.
type rawPhase struct {
	insert, pair []time.Duration
	elapsed      time.Duration
	errors       int
	busy         int
}

// rawPairs is the storage baseline: the same labelers, think time and
// duration, but each "pair" is two bare INSERTs, each committed in its own
// transaction (the two durable writes that next + submit make), through one
// connection (a single writer, as Loupe has, but without group commit) on a
// new WAL database with the given synchronous mode.
func rawPairs(ctx context.Context, path string, cfg benchConfig) (*rawPhase, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+cfg.Sync+")")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY, values_json TEXT NOT NULL, created_at TEXT NOT NULL) STRICT`); err != nil {
		return nil, fmt.Errorf("raw baseline: %w", err)
	}
	insert := func() (time.Duration, error) {
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(`INSERT INTO t (id, values_json, created_at) VALUES (?, ?, ?)`,
			uuid.NewString(), `{"sentiment":"positive"}`, start.UTC().Format(time.RFC3339Nano)); err != nil {
			tx.Rollback()
			return 0, err
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	ph := &rawPhase{}
	var mu sync.Mutex
	var stop atomic.Bool
	var wg sync.WaitGroup
	t0 := time.Now()
	timer := time.AfterFunc(cfg.Duration, func() { stop.Store(true) })
	defer timer.Stop()
	for range cfg.Labelers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inserts, pairs []time.Duration
			var errs, busy int
			failed := func(err error) {
				if ctx.Err() == nil {
					errs++
					if isBusy(err) {
						busy++
					}
				}
			}
			if cfg.Think > 0 && !sleepCtx(ctx, rand.N(cfg.Think)) {
				return
			}
			for !stop.Load() && ctx.Err() == nil {
				a, err := insert()
				if err != nil {
					failed(err)
					continue
				}
				if cfg.Think > 0 && !sleepCtx(ctx, cfg.Think/2+rand.N(cfg.Think)) {
					break
				}
				b, err := insert()
				if err != nil {
					failed(err)
					continue
				}
				inserts = append(inserts, a, b)
				pairs = append(pairs, a+b)
			}
			mu.Lock()
			ph.insert = append(ph.insert, inserts...)
			ph.pair = append(ph.pair, pairs...)
			ph.errors += errs
			ph.busy += busy
			mu.Unlock()
		}()
	}
	wg.Wait()
	ph.elapsed = time.Since(t0)
	return ph, ctx.Err()
}

func isBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked")
}

// latency is a summary of durations.
type latency struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func summarize(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(q float64) time.Duration { // nearest rank
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return latency{n: len(s), p50: q(0.50), p90: q(0.90), p99: q(0.99), max: s[len(s)-1]}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	r := a / b
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	case r >= 1:
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.3f×", r)
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func printBench(out io.Writer, cfg benchConfig, base *benchPhase, raw *rawPhase, lp *benchPhase, logs *benchLog) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\trequest\tcount\tp50\tp90\tp99\tmax\t")
	row := func(phase, req string, d []time.Duration) latency {
		l := summarize(d)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", phase, req, l.n, ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max))
		return l
	}
	row("baseline (bare handler)", "next", base.next)
	row("baseline (bare handler)", "submit", base.submit)
	bp := row("baseline (bare handler)", "pair", base.pair)
	row("baseline (raw sqlite)", "insert", raw.insert)
	rp := row("baseline (raw sqlite)", "pair", raw.pair)
	row("loupe", "next", lp.next)
	row("loupe", "submit", lp.submit)
	lpair := row("loupe", "pair", lp.pair)
	tw.Flush()
	fmt.Fprintln(out)

	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tseconds\tpairs/s\tnon-2xx\tno answer\t")
	fmt.Fprintf(tw, "baseline (bare handler)\t%.1f\t%.0f\t%d\t%d\t\n", base.elapsed.Seconds(), rate(len(base.pair), base.elapsed), base.failed()-base.transport, base.transport)
	fmt.Fprintf(tw, "baseline (raw sqlite)\t%.1f\t%.0f\t-\t%d\t\n", raw.elapsed.Seconds(), rate(len(raw.pair), raw.elapsed), raw.errors)
	fmt.Fprintf(tw, "loupe\t%.1f\t%.0f\t%d\t%d\t\n", lp.elapsed.Seconds(), rate(len(lp.pair), lp.elapsed), lp.failed()-lp.transport, lp.transport)
	tw.Flush()
	fmt.Fprintln(out)

	fmt.Fprintf(out, "ratio loupe/baseline (bare handler): pair p50 %s, p99 %s; throughput %s\n",
		ratio(float64(lpair.p50), float64(bp.p50)), ratio(float64(lpair.p99), float64(bp.p99)),
		ratio(rate(len(lp.pair), lp.elapsed), rate(len(base.pair), base.elapsed)))
	fmt.Fprintf(out, "ratio loupe/baseline (raw sqlite): pair p50 %s, p99 %s; throughput %s\n",
		ratio(float64(lpair.p50), float64(rp.p50)), ratio(float64(lpair.p99), float64(rp.p99)),
		ratio(rate(len(lp.pair), lp.elapsed), rate(len(raw.pair), raw.elapsed)))
	fmt.Fprintf(out, "non-2xx responses: %d, requests without an answer: %d, SQLITE_BUSY: %d, server errors logged: %d\n",
		lp.failed()-lp.transport+base.failed()-base.transport, lp.transport+base.transport, logs.busy.Load()+int64(raw.busy), logs.errors.Load())
	for k, v := range lp.non2xx {
		fmt.Fprintf(out, "  loupe %s: %d\n", k, v)
	}
	for _, s := range append(base.samples, lp.samples...) {
		fmt.Fprintf(out, "  e.g. %s\n", s)
	}
	if lp.dry > 0 {
		fmt.Fprintf(out, "note: the queue ran dry after %.1fs; the loupe phase ended early (raise --items to run the whole duration)\n", lp.dry.Seconds())
	}
	verdict := "met"
	if lpair.n == 0 || lpair.p99 > benchTarget {
		verdict = "NOT met"
	}
	fmt.Fprintf(out, "target (brief): next+submit p99 ≤ %s with %d labelers: %s here (p99 %s with %d labelers, think %s)\n",
		ms(benchTarget), benchTargetLabelers, verdict, ms(lpair.p99), cfg.Labelers, cfg.Think)
}

// benchLog counts what the server logs: errors, and SQLITE_BUSY among them
// (a client sees only "Internal error"). The first few lines go to out.
type benchLog struct {
	out    io.Writer
	mu     sync.Mutex
	shown  int
	errors atomic.Int64
	busy   atomic.Int64
}

// benchLogHandler is a slog.Handler feeding a benchLog with records at
// warning level and above.
type benchLogHandler struct {
	l     *benchLog
	attrs []slog.Attr
}

func (h *benchLogHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

func (h *benchLogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := b.String()
	if r.Level >= slog.LevelError {
		h.l.errors.Add(1)
	}
	if strings.Contains(line, "SQLITE_BUSY") || strings.Contains(line, "database is locked") {
		h.l.busy.Add(1)
	}
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	if h.l.shown < 5 {
		h.l.shown++
		fmt.Fprintf(h.l.out, "server: %s\n", line)
	}
	return nil
}

func (h *benchLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &benchLogHandler{l: h.l, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h *benchLogHandler) WithGroup(string) slog.Handler { return h }

var _ slog.Handler = (*benchLogHandler)(nil)
