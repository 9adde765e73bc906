package main

// Reliability cases of ../shared/RELIABILITY.md that the first slice
// touches: server timeouts (17), the write storm (19), next-item
// exclusivity (20), kill -9 during a submit storm (24) and graceful
// shutdown. The kill -9 test runs the server in a child process: the test
// binary re-executed into TestHelperServer.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/storage"
)

// runningServer is a server started in-process over a given database file.
type runningServer struct {
	*Main
	Stdout, Stderr *syncBuffer
}

// startServerOn starts a server on a free port over the database at path,
// like MustRunMain but on a file the test chose (so that the CLI can work
// on the same file), and closes it at cleanup.
func startServerOn(tb testing.TB, path string, flags ...string) *runningServer {
	tb.Helper()
	args := append([]string{"--addr", "127.0.0.1:0", "--db", path, "--no-demo", "--log-level", "warn"}, flags...)
	s := &runningServer{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}}
	env := &Env{Stdout: s.Stdout, Stderr: s.Stderr, Getenv: func(k string) string {
		if k == "LOUPE_ADMIN_PASSWORD" {
			return testAdminPassword
		}
		return ""
	}}
	cfg, err := ParseServeFlags(args, env)
	if err != nil {
		tb.Fatalf("ParseServeFlags: %v", err)
	}
	s.Main = &Main{Config: cfg}
	if err := s.Run(context.Background(), env); err != nil {
		s.Close()
		tb.Fatalf("Run: %v\n%s", err, s.Stderr)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newTransport returns a transport that keeps enough idle connections for
// many concurrent clients of one server.
func newTransport(tb testing.TB) *http.Transport {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second}
	tb.Cleanup(tr.CloseIdleConnections)
	return tr
}

// apiClient calls the JSON API with a bearer token.
type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

func (c *apiClient) call(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// next asks for the next item; itemID is "" with status 204 when none is left.
func (c *apiClient) next(slug string) (itemID string, status int, body []byte, err error) {
	status, body, err = c.call("GET", "/api/v1/projects/"+slug+"/next", nil)
	if err != nil || status != http.StatusOK {
		return "", status, body, err
	}
	var t struct {
		Item struct {
			ID string `json:"id"`
		} `json:"item"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.Item.ID == "" {
		return "", status, body, fmt.Errorf("next: unexpected body %q (%v)", body, err)
	}
	return t.Item.ID, status, body, nil
}

// submit annotates an item; annID is the stored annotation's id on 201.
func (c *apiClient) submit(slug, itemID string) (annID string, status int, body []byte, err error) {
	req := map[string]any{"values": map[string]string{"sentiment": "positive"}, "client_id": loupe.NewSecret()[:32]}
	status, body, err = c.call("POST", "/api/v1/projects/"+slug+"/items/"+itemID+"/annotations", req)
	if err != nil || status != http.StatusCreated {
		return "", status, body, err
	}
	var a struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" || a.Version != 1 {
		return "", status, body, fmt.Errorf("submit: unexpected body %q (%v)", body, err)
	}
	return a.ID, status, body, nil
}

// exportAnnotations reads the project's JSONL export and returns, for each
// annotation id, the item it belongs to, and each item's labelers.
func (c *apiClient) exportAnnotations(tb testing.TB, slug string) (map[string]string, map[string][]string) {
	tb.Helper()
	status, body, err := c.call("GET", "/api/v1/projects/"+slug+"/export?format=jsonl", nil)
	if err != nil || status != http.StatusOK {
		tb.Fatalf("export: %d %v %.300s", status, err, body)
	}
	anns, users := map[string]string{}, map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			ID          string `json:"id"`
			Annotations []struct {
				ID   string `json:"id"`
				User string `json:"user"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			tb.Fatalf("export line %q: %v", sc.Bytes(), err)
		}
		for _, a := range rec.Annotations {
			anns[a.ID] = rec.ID
			users[rec.ID] = append(users[rec.ID], a.User)
		}
	}
	return anns, users
}

// testPasswordHash is one slow hash shared by every seeded user.
var testPasswordHash = sync.OnceValues(func() (string, error) { return loupe.HashPassword("seeded-user-password") })

const stormConfig = `title: %s
overlap: %d
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

// seeded is a project made by seedProject with its users' API tokens.
type seeded struct {
	Slug   string
	Admin  string   // API token of an admin
	Tokens []string // API token of each labeler
}

// seedProject creates, directly in storage, a project with the given
// overlap and items, an admin, and labelers with API tokens.
func seedProject(tb testing.TB, db *storage.DB, slug string, overlap, labelers, items int) seeded {
	tb.Helper()
	ctx := context.Background()
	hash, err := testPasswordHash()
	if err != nil {
		tb.Fatal(err)
	}
	src := fmt.Sprintf(stormConfig, slug, overlap)
	cfg, err := blocks.ParseConfig([]byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	owner, err := db.CreateUser(ctx, "owner-"+slug, loupe.RoleAdmin, hash)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := db.CreateProject(ctx, slug, src, cfg, owner)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range items {
		fmt.Fprintf(&buf, `{"id":"%s-%d","data":{"review":"review number %d of %s"}}`+"\n", slug, i, i, slug)
	}
	if res, err := db.ImportItems(ctx, p, annotate.NewItemDecoder(&buf), annotate.ImportOptions{}); err != nil || res.Added != items {
		tb.Fatalf("import: %+v %v", res, err)
	}
	s := seeded{Slug: slug}
	if s.Admin, err = db.CreateToken(ctx, owner.Name, "test"); err != nil {
		tb.Fatal(err)
	}
	for i := range labelers {
		name := fmt.Sprintf("%s-labeler-%02d", slug, i)
		if _, err := db.CreateUser(ctx, name, loupe.RoleMember, hash); err != nil {
			tb.Fatal(err)
		}
		if err := db.SetMember(ctx, p.ID, name, "labeler"); err != nil {
			tb.Fatal(err)
		}
		token, err := db.CreateToken(ctx, name, "test")
		if err != nil {
			tb.Fatal(err)
		}
		s.Tokens = append(s.Tokens, token)
	}
	return s
}

// envInt reads a positive integer setting from the environment.
func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// busyWords are what an error caused by SQLite lock contention says.
var busyWords = []string{"SQLITE_BUSY", "database is locked", "(5)", "(517)", "locked"}

func mentionsBusy(b []byte) bool {
	for _, w := range busyWords {
		if bytes.Contains(b, []byte(w)) {
			return true
		}
	}
	return false
}

// TestReliabilityServerTimeouts: slow-header clients (slowloris) are
// disconnected at ReadHeaderTimeout while other requests are served
// meanwhile; every server timeout is set.
func TestReliabilityServerTimeouts(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, "--no-demo")
	h := m.HTTP
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", h.ReadHeaderTimeout, ReadHeaderTimeout},
		{"ReadTimeout", h.ReadTimeout, ReadTimeout},
		{"WriteTimeout", h.WriteTimeout, WriteTimeout},
		{"IdleTimeout", h.IdleTimeout, IdleTimeout},
	} {
		if c.got != c.want || c.got <= 0 {
			t.Errorf("http.Server.%s = %v, want %v (> 0)", c.name, c.got, c.want)
		}
	}
	if ReadHeaderTimeout > 10*time.Second {
		t.Errorf("ReadHeaderTimeout = %v: slow headers may hold a connection too long", ReadHeaderTimeout)
	}
	if h.MaxHeaderBytes <= 0 || h.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want a small positive limit", h.MaxHeaderBytes)
	}

	addr := strings.TrimPrefix(m.URL(), "http://")
	const slow = 8
	type closed struct {
		after time.Duration
		got   string
	}
	results := make(chan closed, slow)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	for range slow {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		done := make(chan struct{})
		go func() {
			// The server answers a header timeout by closing the connection.
			b, _ := io.ReadAll(conn)
			close(done)
			results <- closed{time.Since(start), string(b)}
		}()
		go func() {
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: loupe\r\nX-Slow: "); err != nil {
				return
			}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-stop:
					return
				case <-tick.C:
					if _, err := conn.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
	}

	// Other clients are served while the slow ones trickle.
	hc := &http.Client{Timeout: 5 * time.Second}
	served := 0
	limit := time.After(ReadHeaderTimeout + 8*time.Second)
	var got []closed
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for len(got) < slow {
		select {
		case c := <-results:
			got = append(got, c)
		case <-tick.C:
			resp, err := hc.Get(m.URL() + "/healthz")
			if err != nil {
				t.Fatalf("a normal request failed while slow clients trickled headers: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("healthz = %d during slowloris, want 200", resp.StatusCode)
			}
			served++
		case <-limit:
			t.Fatalf("after %v, %d of %d slow-header connections are still open; want them closed at ReadHeaderTimeout (%v)",
				time.Since(start), slow-len(got), slow, ReadHeaderTimeout)
		}
	}
	for _, c := range got {
		if c.after < ReadHeaderTimeout-300*time.Millisecond || c.after > ReadHeaderTimeout+5*time.Second {
			t.Errorf("slow-header connection closed after %v, want about ReadHeaderTimeout = %v", c.after, ReadHeaderTimeout)
		}
		if strings.Contains(c.got, "200 OK") {
			t.Errorf("a slow-header request was answered: %q", c.got)
		}
	}
	// Generous: CI machines run other test packages meanwhile.
	if served < 3 {
		t.Errorf("only %d normal requests served during the slowloris, want ≥ 3", served)
	}
	t.Logf("%d slow-header connections closed after %v..%v; %d normal requests served meanwhile",
		slow, slices.MinFunc(got, func(a, b closed) int { return int(a.after - b.after) }).after.Round(time.Millisecond),
		slices.MaxFunc(got, func(a, b closed) int { return int(a.after - b.after) }).after.Round(time.Millisecond), served)
}

// stormStats collects what the labelers of a storm saw.
type stormStats struct {
	mu       sync.Mutex
	acked    map[string]string // annotation id → item id, for every 201
	nexts    atomic.Int64
	empty    atomic.Int64
	problems []string // 5xx, busy errors, unexpected statuses, transport errors
}

func (s *stormStats) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 1000 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

func (s *stormStats) ack(annID, itemID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked[annID] = itemID
}

// TestReliabilityWriteStorm: 64 labelers, each with its own token, loop
// next + submit over HTTP for LOUPE_STORM_SECONDS (default 5). No request
// fails with a 5xx or a busy database, and every acknowledged submit is in
// the export afterwards.
func TestReliabilityWriteStorm(t *testing.T) {
	seconds := envInt(t, "LOUPE_STORM_SECONDS", 5)
	const writers = 64
	s := startServerOn(t, filepath.Join(t.TempDir(), "loupe.db"))
	// Enough items that the queue does not run dry: about 2.5× the
	// throughput seen on 2 cores.
	fx := seedProject(t, s.DB, "storm", 1, writers, 5000*seconds)
	tr := newTransport(t)
	stats := &stormStats{acked: map[string]string{}}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	// Meanwhile a second OS process writes the same file: `loupe import`
	// run by a re-executed test binary, once a second.
	var imports []string
	wg.Go(func() {
		dir := t.TempDir()
		for k := 0; time.Now().Before(deadline); k++ {
			file := filepath.Join(dir, fmt.Sprintf("extra-%d.jsonl", k))
			var b strings.Builder
			for i := range 200 {
				fmt.Fprintf(&b, `{"id":"extra-%d-%d","data":{"review":"imported during the storm %d %d"}}`+"\n", k, i, k, i)
			}
			if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
				stats.problem("%v", err)
				return
			}
			cmd := helperCommand("", []string{"import", "--project", fx.Slug, "--db", s.Config.DB, file})
			stdin, err := cmd.StdinPipe() // the helper stops when its stdin closes
			if err != nil {
				stats.problem("%v", err)
				return
			}
			out, err := cmd.CombinedOutput()
			stdin.Close()
			if err != nil || !strings.Contains(string(out), "Imported 200 items") {
				stats.problem("import by a second process: %v\n%s", err, out)
			}
			imports = append(imports, strings.TrimSpace(string(out)))
			time.Sleep(time.Second)
		}
	})
	for i := range writers {
		c := &apiClient{base: s.URL(), token: fx.Tokens[i], hc: &http.Client{Transport: tr, Timeout: time.Minute}}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				itemID, status, body, err := c.next(fx.Slug)
				stats.nexts.Add(1)
				if !stormOK(stats, "next", status, body, err, http.StatusOK, http.StatusNoContent) {
					return
				}
				if status == http.StatusNoContent {
					stats.empty.Add(1)
					return
				}
				annID, status, body, err := c.submit(fx.Slug, itemID)
				if !stormOK(stats, "submit", status, body, err, http.StatusCreated) {
					return
				}
				stats.ack(annID, itemID)
			}
		})
	}
	wg.Wait()
	elapsed := time.Duration(seconds) * time.Second

	for _, p := range stats.problems {
		t.Error(p)
	}
	if n := stats.empty.Load(); n > 0 {
		t.Logf("%d labelers found the queue empty before the end", n)
	}
	if len(stats.acked) == 0 {
		t.Fatal("no submit was acknowledged")
	}
	admin := &apiClient{base: s.URL(), token: fx.Admin, hc: &http.Client{Transport: tr}}
	exported, _ := admin.exportAnnotations(t, fx.Slug)
	lost := 0
	for id, item := range stats.acked {
		if got, ok := exported[id]; !ok || got != item {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged annotation %s of item %s is missing from the export (found under %q)", id, item, got)
			}
		}
	}
	if lost > 0 || len(exported) != len(stats.acked) {
		t.Errorf("export holds %d annotations, %d acknowledged, %d of them missing", len(exported), len(stats.acked), lost)
	}
	for _, w := range []string{"database is locked", "SQLITE_BUSY", "level=ERROR"} {
		if strings.Contains(s.Stderr.String(), w) {
			t.Errorf("server log mentions %q:\n%.2000s", w, s.Stderr)
		}
	}
	t.Logf("write storm: %d labelers × %v: %d submits acknowledged (%.0f/s), %d next calls, %d in the export, %d problems; %d imports by a second process",
		writers, elapsed, len(stats.acked), float64(len(stats.acked))/elapsed.Seconds(), stats.nexts.Load(), len(exported), len(stats.problems), len(imports))
}

// stormOK records a problem unless the call ended with one of the wanted
// statuses, and reports whether the labeler may go on.
func stormOK(s *stormStats, op string, status int, body []byte, err error, want ...int) bool {
	switch {
	case err != nil:
		s.problem("%s: %v", op, err)
		return false
	case status >= 500:
		s.problem("%s: %d %.300s", op, status, body)
		return false
	case mentionsBusy(body) && status >= 300:
		s.problem("%s: busy database: %d %.300s", op, status, body)
		return false
	case !slices.Contains(want, status):
		s.problem("%s: unexpected status %d %.300s", op, status, body)
		return false
	}
	return true
}

// TestReliabilityNextExclusive: 32 labelers take items concurrently. With
// overlap 1 no item is handed to two labelers, and every item is handed out
// before anyone is told the queue is empty; with overlap 3 every item ends
// with exactly 3 distinct labelers.
func TestReliabilityNextExclusive(t *testing.T) {
	for _, c := range []struct {
		overlap, items int
	}{{1, 640}, {3, 160}} {
		t.Run(fmt.Sprintf("overlap%d", c.overlap), func(t *testing.T) {
			const labelers = 32
			s := startServerOn(t, filepath.Join(t.TempDir(), "loupe.db"))
			fx := seedProject(t, s.DB, fmt.Sprintf("excl%d", c.overlap), c.overlap, labelers, c.items)
			tr := newTransport(t)
			var mu sync.Mutex
			given := map[string][]int{} // item id → labelers it was handed to
			stats := &stormStats{acked: map[string]string{}}
			ready := make(chan struct{})
			var wg sync.WaitGroup
			for i := range labelers {
				cl := &apiClient{base: s.URL(), token: fx.Tokens[i], hc: &http.Client{Transport: tr, Timeout: time.Minute}}
				wg.Go(func() {
					<-ready
					for {
						itemID, status, body, err := cl.next(fx.Slug)
						if !stormOK(stats, "next", status, body, err, http.StatusOK, http.StatusNoContent) || status == http.StatusNoContent {
							return
						}
						mu.Lock()
						if slices.Contains(given[itemID], i) {
							mu.Unlock()
							stats.problem("item %s handed to labeler %d twice", itemID, i)
							return
						}
						given[itemID] = append(given[itemID], i)
						mu.Unlock()
						annID, status, body, err := cl.submit(fx.Slug, itemID)
						if !stormOK(stats, "submit", status, body, err, http.StatusCreated) {
							return
						}
						stats.ack(annID, itemID)
					}
				})
			}
			close(ready)
			wg.Wait()
			for _, p := range stats.problems {
				t.Error(p)
			}
			shared := 0
			for item, ls := range given {
				if len(ls) > c.overlap {
					shared++
					if shared <= 10 {
						t.Errorf("item %s was handed to %d labelers %v, overlap is %d", item, len(ls), ls, c.overlap)
					}
				}
			}
			if len(given) != c.items {
				t.Errorf("%d of %d items were handed out before every labeler was told the queue is empty", len(given), c.items)
			}
			admin := &apiClient{base: s.URL(), token: fx.Admin, hc: &http.Client{Transport: tr}}
			exported, users := admin.exportAnnotations(t, fx.Slug)
			if len(exported) != c.items*c.overlap || len(exported) != len(stats.acked) {
				t.Errorf("export holds %d annotations, want %d items × overlap %d (%d acknowledged)", len(exported), c.items, c.overlap, len(stats.acked))
			}
			for item, us := range users {
				distinct := slices.Compact(slices.Sorted(slices.Values(us)))
				if len(distinct) != c.overlap || len(us) != c.overlap {
					t.Errorf("item %s has annotations by %v, want %d distinct labelers", item, us, c.overlap)
				}
			}
			t.Logf("overlap %d: %d labelers took %d items, %d annotations, no item over its overlap", c.overlap, labelers, len(given), len(exported))
		})
	}
}

// TestReliabilityGracefulShutdown: an upload still being sent when Close
// is called is read to the end, imported and answered; the port stops
// accepting connections at once; Close returns once the request is done.
func TestReliabilityGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := startServerOn(t, filepath.Join(t.TempDir(), "loupe.db"))
	fx := seedProject(t, s.DB, "shutdown", 1, 1, 0)
	addr := strings.TrimPrefix(s.URL(), "http://")

	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", s.URL()+"/api/v1/projects/shutdown/items", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+fx.Admin)
	type result struct {
		status int
		body   string
		err    error
	}
	answered := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Transport: newTransport(t)}).Do(req)
		if err != nil {
			answered <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- result{resp.StatusCode, string(b), err}
	}()
	const items = 2000
	line := func(i int) string {
		return fmt.Sprintf(`{"id":"slow-%d","data":{"review":"slow upload %d"}}`+"\n", i, i)
	}
	for i := range items / 2 {
		if _, err := io.WriteString(pw, line(i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the server is reading the body now

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// The listener closes first: new connections are refused while the
	// upload goes on.
	refused := false
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Error("the port still accepts connections 2s after Close was called")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a request was still being read", err)
	case r := <-answered:
		t.Fatalf("the upload was answered before its body was sent: %+v", r)
	default:
	}
	for i := items / 2; i < items; i++ {
		if _, err := io.WriteString(pw, line(i)); err != nil {
			t.Fatalf("the server stopped reading the upload during shutdown: %v", err)
		}
	}
	pw.Close()
	select {
	case r := <-answered:
		if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf(`"added":%d`, items)) {
			t.Errorf("upload in flight during shutdown = %d %q %v, want 200 with %d added", r.status, r.body, r.err, items)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the upload in flight during shutdown was never answered")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the last request finished")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the port accepts connections after Close")
	}
	// What was acknowledged is in the file.
	db, err := storage.Open(s.Config.DB, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.ProjectBySlug(context.Background(), "shutdown")
	if err != nil {
		t.Fatal(err)
	}
	if p.ItemCount != items {
		t.Errorf("after shutdown the project has %d items, want %d", p.ItemCount, items)
	}
}

// The child-process server of the kill -9 and read-only tests.
const (
	helperEnv     = "LOUPE_TEST_HELPER_SERVER"
	helperArgsEnv = "LOUPE_TEST_HELPER_ARGS"
	runningPrefix = "Loupe is running at "
)

// TestHelperServer is not a test: re-executed by the tests below with
// LOUPE_TEST_HELPER_SERVER=1, it runs the loupe command given in
// LOUPE_TEST_HELPER_ARGS (one argument a line) and exits with its status.
// It stops when its standard input closes, so that it never outlives the
// test that started it.
func TestHelperServer(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the child process of the kill -9 and read-only tests; runs only when re-executed by them")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	args := strings.Split(os.Getenv(helperArgsEnv), "\n")
	env := &Env{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(Run(ctx, args, env))
}

// child is a loupe server running in a child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	url    string
	waited chan struct{}
	err    error // from Wait
}

// helperCommand returns the command that re-executes the test binary (or
// bin, when given) into TestHelperServer with args.
func helperCommand(bin string, args []string, prefix ...string) *exec.Cmd {
	if bin == "" {
		bin = os.Args[0]
	}
	argv := append(append(prefix[:len(prefix):len(prefix)], bin), "-test.run=^TestHelperServer$")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperArgsEnv+"="+strings.Join(args, "\n"),
		"LOUPE_ADMIN_PASSWORD="+testAdminPassword)
	return cmd
}

// startChild starts a server on a free port over the database at path in
// a child process and waits until it prints its URL. The child is killed
// at cleanup whatever happens.
func startChild(tb testing.TB, path string) *child {
	tb.Helper()
	cmd := helperCommand("", []string{"serve", "--addr", "127.0.0.1:0", "--db", path, "--no-demo", "--log-level", "warn"})
	c := &child{cmd: cmd, stderr: &syncBuffer{}, waited: make(chan struct{})}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.kill)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), runningPrefix); ok {
				urls <- u
			}
		}
		io.Copy(io.Discard, stdout)
		c.err = cmd.Wait()
		close(c.waited)
	}()
	select {
	case c.url = <-urls:
		return c
	case <-c.waited:
		tb.Fatalf("the server exited before serving (%v):\n%s", c.err, c.stderr)
	case <-time.After(30 * time.Second):
		c.kill()
		tb.Fatalf("the server did not print its URL within 30s:\n%s", c.stderr)
	}
	return nil
}

// kill sends SIGKILL to the child and waits for it to be gone.
func (c *child) kill() {
	c.cmd.Process.Kill()
	<-c.waited
	c.stdin.Close()
}

// openRaw opens the database file read-only without Loupe's storage layer,
// to inspect it while (or after) another process writes it.
func openRaw(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// missingAnnotations returns those of the acknowledged annotations (id →
// item) whose first version is not in the database.
func missingAnnotations(tb testing.TB, db *sql.DB, acked map[string]string) []string {
	tb.Helper()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	var missing []string
	for chunk := range slices.Chunk(ids, 400) {
		q := `SELECT a.id, a.item_id FROM annotations a JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = 1
			WHERE a.id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.Query(q, args...)
		if err != nil {
			tb.Fatal(err)
		}
		found := map[string]string{}
		for rows.Next() {
			var id, item string
			if err := rows.Scan(&id, &item); err != nil {
				tb.Fatal(err)
			}
			found[id] = item
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
		for _, id := range chunk {
			if found[id] != acked[id] {
				missing = append(missing, id)
			}
		}
	}
	return missing
}

func pragmaCheck(tb testing.TB, db *sql.DB, pragma string) {
	tb.Helper()
	rows, err := db.Query("PRAGMA " + pragma)
	if err != nil {
		tb.Fatalf("PRAGMA %s: %v", pragma, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) != 1 || out[0] != "ok" {
		tb.Fatalf("PRAGMA %s = %q, want ok", pragma, out)
	}
}

// TestReliabilityKill9: a server in a child process is killed with SIGKILL
// at a random moment of a submit storm, then restarted on the same file,
// LOUPE_KILL_ITERATIONS times (default 5). Every annotation the server
// acknowledged with 201 is in the database after each restart, and the file
// passes integrity_check.
func TestReliabilityKill9(t *testing.T) {
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		t.Skipf("kill -9 needs Unix processes and signals; skipped on %s", runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	t.Parallel()
	iterations := envInt(t, "LOUPE_KILL_ITERATIONS", 5)
	const workers = 8
	path := filepath.Join(t.TempDir(), "loupe.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// overlap = workers: each item takes every worker's annotation, so the
	// queue lasts without importing an item per submit.
	fx := seedProject(t, db, "kill", workers, workers, 1000+60*iterations)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, seed))
	acked := map[string]string{}
	var lastAcked map[string]string
	var empties, problems int
	start := time.Now()
	for i := range iterations {
		c := startChild(t, path)
		// The restarted server replayed the WAL of the killed one: what it
		// acknowledged before the kill must be there.
		raw := openRaw(t, path)
		if lost := missingAnnotations(t, raw, lastAcked); len(lost) > 0 {
			t.Fatalf("iteration %d: %d of %d annotations acknowledged before kill -9 are missing after restart, e.g. %v (seed %d)",
				i, len(lost), len(lastAcked), lost[:min(5, len(lost))], seed)
		}
		pragmaCheck(t, raw, "quick_check")
		raw.Close()

		tr := &http.Transport{MaxIdleConnsPerHost: workers}
		stats := &stormStats{acked: map[string]string{}}
		var killed atomic.Bool
		killAfter := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
		var wg sync.WaitGroup
		for w := range workers {
			cl := &apiClient{base: c.url, token: fx.Tokens[w], hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
			wg.Go(func() {
				for !killed.Load() {
					itemID, status, body, err := cl.next(fx.Slug)
					if err != nil && killed.Load() {
						return
					}
					if !stormOK(stats, "next", status, body, err, http.StatusOK, http.StatusNoContent) {
						return
					}
					if status == http.StatusNoContent {
						stats.empty.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					annID, status, body, err := cl.submit(fx.Slug, itemID)
					if err != nil && killed.Load() {
						return // sent but not acknowledged: it may or may not be stored
					}
					if !stormOK(stats, "submit", status, body, err, http.StatusCreated) {
						return
					}
					stats.ack(annID, itemID)
				}
			})
		}
		time.Sleep(killAfter)
		killed.Store(true)
		c.kill()
		wg.Wait()
		tr.CloseIdleConnections()
		for _, p := range stats.problems {
			t.Errorf("iteration %d: %s", i, p)
		}
		problems += len(stats.problems)
		empties += int(stats.empty.Load())
		for id, item := range stats.acked {
			acked[id] = item
		}
		lastAcked = stats.acked
	}

	// After the last kill: the file opens through storage (which replays
	// the WAL), passes integrity_check, and holds every acknowledged
	// annotation of every iteration.
	db, err = storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatalf("after kill -9 the database does not open: %v", err)
	}
	raw := openRaw(t, path)
	pragmaCheck(t, raw, "integrity_check")
	var fkProblems int
	if err := raw.QueryRow("SELECT count(*) FROM pragma_foreign_key_check").Scan(&fkProblems); err != nil || fkProblems != 0 {
		t.Errorf("foreign_key_check: %d problems (%v)", fkProblems, err)
	}
	lost := missingAnnotations(t, raw, acked)
	var stored int
	if err := raw.QueryRow("SELECT count(*) FROM annotations").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if err := db.Close(); err != nil {
		t.Error(err)
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged annotations lost, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
	if empties > 0 {
		t.Logf("the queue ran dry %d times; more items would give more writes per iteration", empties)
	}
	if len(acked) == 0 {
		t.Error("no submit was acknowledged in any iteration")
	}
	t.Logf("kill -9: %d iterations in %v (seed %d): %d annotations acknowledged, %d stored (some unacknowledged writes committed), %d lost, %d problems",
		iterations, time.Since(start).Round(time.Millisecond), seed, len(acked), stored, len(lost), problems)
}
