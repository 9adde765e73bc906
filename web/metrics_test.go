package web_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// lockedBuffer is a bytes.Buffer the server's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newOpsServer is newTestServer with the metrics wired as cmd wires them
// and JSON logs written to logs.
func newOpsServer(t *testing.T, m *web.Metrics, logs *lockedBuffer) *testServer {
	t.Helper()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	path := filepath.Join(t.TempDir(), "loupe.db")
	db, err := storage.Open(path, storage.Options{Now: clk.Now, Observe: m.ObserveWrite})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	keys := [][]byte{newKey(t)}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := web.New(db, web.Config{SessionKeys: keys, Now: clk.Now, TempDir: t.TempDir(), Metrics: m, Logger: log})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testServer{t: t, URL: hs.URL, DB: db, Srv: srv, HTTP: hs, Clock: clk, Keys: keys, raw: raw}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	m := web.NewMetrics()
	ts := newOpsServer(t, m, &lockedBuffer{})
	ts.user("admin", loupe.RoleAdmin)
	ts.user("lab", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.importItems(p, reviews(3))
	ts.member(p, "lab", annotate.RoleLabeler)
	lab := ts.tokenClient(ts.token("lab"))
	wantStatus(t, lab.get("/api/v1/projects/a/next"), http.StatusOK)
	wantStatus(t, lab.get("/api/v1/projects/a/next"), http.StatusOK)
	wantStatus(t, lab.get("/api/v1/projects/a/items/no-such-item"), http.StatusNotFound)
	m.ObserveModelCall("we\"ird\nmodel\\x", false, 1500*time.Millisecond)

	admin := ts.tokenClient(ts.token("admin"))
	r := admin.get("/metrics")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want text/plain; version=0.0.4", ct)
	}
	for _, want := range []string{
		"# TYPE loupe_http_requests_total counter\n",
		`loupe_http_requests_total{route="/api/v1/projects/{slug}/next",method="GET",code="200"} 2` + "\n",
		`loupe_http_requests_total{route="/api/v1/projects/{slug}/items/{id}",method="GET",code="404"} 1` + "\n",
		"# TYPE loupe_http_request_duration_seconds histogram\n",
		`loupe_http_request_duration_seconds_bucket{route="/api/v1/projects/{slug}/next",le="+Inf"} 2` + "\n",
		`loupe_http_request_duration_seconds_count{route="/api/v1/projects/{slug}/next"} 2` + "\n",
		"# TYPE loupe_queue_open_items gauge\n",
		`loupe_queue_open_items{project="a"} 3` + "\n",
		`loupe_queue_leases{project="a",state="held"} 1` + "\n",
		`loupe_queue_leases{project="a",state="expired"} 0` + "\n",
		"# TYPE loupe_db_write_seconds histogram\n",
		"# TYPE loupe_db_write_batch_size histogram\n",
		`loupe_model_calls_total{model="we\"ird\nmodel\\x",ok="false"} 1` + "\n",
		`loupe_model_call_seconds_bucket{model="we\"ird\nmodel\\x",le="2.5"} 1` + "\n",
		`loupe_export_jobs{state="running"} 0` + "\n",
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("metrics lack %q; got:\n%s", want, r.Body)
		}
	}
	if strings.Contains(r.Body, "/projects/a/") || strings.Contains(r.Body, "no-such-item") {
		t.Errorf("metrics hold a raw path, not a route pattern:\n%s", r.Body)
	}
	if !regexp.MustCompile(`(?m)^loupe_db_write_batch_size_count [1-9]`).MatchString(r.Body) {
		t.Errorf("no write batch was observed:\n%s", r.Body)
	}
	// Every line is a comment or a sample: name{labels} value.
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? [-+0-9.eInfNa]+$`)
	sc := bufio.NewScanner(strings.NewReader(r.Body))
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("malformed line %q", line)
		}
	}
}

func TestMetricsAdminOnly(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, options{})
	ts.user("admin", loupe.RoleAdmin)
	ts.user("lab", loupe.RoleMember)
	for _, tc := range []struct {
		name string
		c    *client
		want int
	}{
		{"anonymous", ts.client(), http.StatusUnauthorized},
		{"member token", ts.tokenClient(ts.token("lab")), http.StatusForbidden},
		{"member session", ts.signIn("lab"), http.StatusForbidden},
		{"admin session", ts.signIn("admin"), http.StatusOK},
		{"admin token", ts.tokenClient(ts.token("admin")), http.StatusOK},
	} {
		r := tc.c.get("/metrics")
		if r.Status != tc.want {
			t.Errorf("%s: GET /metrics = %d, want %d", tc.name, r.Status, tc.want)
		}
		if r.Status != http.StatusOK && strings.Contains(r.Body, "loupe_") {
			t.Errorf("%s: a refusal shows metrics:\n%s", tc.name, r.Body)
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	ts := newOpsServer(t, web.NewMetrics(), logs)
	c := ts.client()
	hexID := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range []struct {
		sent string
		keep bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"<script>", false},
		{`quote"d`, false},
	} {
		var r *response
		if tc.sent == "" {
			r = c.get("/healthz")
		} else {
			r = c.get("/healthz", "X-Request-Id", tc.sent)
		}
		got := r.Header.Get("X-Request-Id")
		switch {
		case tc.keep && got != tc.sent:
			t.Errorf("sent %q, got back %q; want it echoed", tc.sent, got)
		case !tc.keep && !hexID.MatchString(got):
			t.Errorf("sent %q, got back %q; want a new id", tc.sent, got)
		}
	}
	// Two requests without an id get different ones.
	if a, b := c.get("/healthz").Header.Get("X-Request-Id"), c.get("/healthz").Header.Get("X-Request-Id"); a == b {
		t.Errorf("two requests got the same id %q", a)
	}

	// The access log line is JSON with the id, the route pattern, the
	// status and the duration; an error's line carries the id too.
	c.get("/nope", "X-Request-Id", "trace-42")
	var access, failed bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["request_id"] != "abc-123_X.y" {
			continue
		}
		if rec["msg"] == "request" && rec["level"] == "INFO" && rec["route"] == "/healthz" && rec["method"] == "GET" &&
			rec["status"] == float64(200) && rec["duration"] != nil {
			access = true
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, `"request_id":"trace-42"`) && strings.Contains(line, `"status":404`) {
			failed = true
		}
	}
	if !access {
		t.Errorf("no access log line with request_id, route, status and duration:\n%s", logs)
	}
	if !failed {
		t.Errorf("no log line of the 404 with its request_id:\n%s", logs)
	}
}
