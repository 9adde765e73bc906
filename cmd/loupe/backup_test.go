package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe/storage"
)

// TestBackupWhileServing runs loupe backup against the database of a
// running server while labelers submit: the copy passes integrity_check,
// opens with storage.Open, and holds every annotation acknowledged before
// the backup started.
func TestBackupWhileServing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "loupe.db")
	s := startServerOn(t, path)
	seed := seedProject(t, s.DB, "bk", 1, 4, 5000)
	hc := &http.Client{Transport: newTransport(t), Timeout: 30 * time.Second}

	var mu sync.Mutex
	acked := map[string]string{} // annotation id → item id
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, token := range seed.Tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &apiClient{base: s.URL(), token: token, hc: hc}
			for {
				select {
				case <-stop:
					return
				default:
				}
				item, status, body, err := c.next(seed.Slug)
				if err != nil || status != http.StatusOK {
					t.Errorf("next: %d %s %v", status, body, err)
					return
				}
				ann, status, body, err := c.submit(seed.Slug, item)
				if err != nil || status != http.StatusCreated {
					t.Errorf("submit: %d %s %v", status, body, err)
					return
				}
				mu.Lock()
				acked[ann] = item
				mu.Unlock()
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	for deadline := time.Now().Add(20 * time.Second); count() < 50 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	before := maps.Clone(acked)
	mu.Unlock()

	out := filepath.Join(dir, "backup.db")
	code, stdout, stderr := runCLI(t, "", "backup", "--db", path, "--out", out)
	during := count() - len(before)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("loupe backup = %d\n%s%s", code, stdout, stderr)
	}
	if len(before) < 50 {
		t.Fatalf("only %d annotations were acknowledged before the backup", len(before))
	}
	t.Logf("%d annotations acknowledged before the backup, %d while it ran", len(before), during)

	raw := openRaw(t, out)
	pragmaCheck(t, raw, "integrity_check")
	if missing := missingAnnotations(t, raw, before); len(missing) > 0 {
		t.Errorf("%d of %d annotations acknowledged before the backup are missing from the copy, e.g. %s", len(missing), len(before), missing[0])
	}
	cp, err := storage.Open(out, storage.Options{})
	if err != nil {
		t.Fatalf("storage.Open(copy): %v", err)
	}
	if _, err := cp.ProjectBySlug(context.Background(), seed.Slug); err != nil {
		t.Errorf("the copy lacks the project: %v", err)
	}
	cp.Close()

	// The copy is never overwritten, and the arguments are checked.
	if code, _, stderr := runCLI(t, "", "backup", "--db", path, "--out", out); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("backup onto an existing file = %d %q, want 1 and \"already exists\"", code, stderr)
	}
	if code, _, _ := runCLI(t, "", "backup", "--db", path); code != 2 {
		t.Errorf("backup without --out = %d, want 2", code)
	}
	missingDB := filepath.Join(dir, "typo.db")
	if code, _, _ := runCLI(t, "", "backup", "--db", missingDB, "--out", filepath.Join(dir, "x.db")); code != 1 {
		t.Errorf("backup of a missing database = %d, want 1", code)
	}
}

func TestServeLogFormat(t *testing.T) {
	if _, err := ParseServeFlags([]string{"--log-format", "xml"}, &Env{Stdout: &syncBuffer{}, Getenv: func(string) string { return "" }}); err == nil {
		t.Errorf("--log-format xml was accepted")
	}
	m := startServerOn(t, filepath.Join(t.TempDir(), "loupe.db"), "--log-format", "json", "--log-level", "info")
	req, _ := http.NewRequest("GET", m.URL()+"/healthz", nil)
	req.Header.Set("X-Request-Id", "serve-json-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "serve-json-1" {
		t.Errorf("X-Request-Id = %q, want it echoed", got)
	}
	// The access line is written once the response is; wait for it.
	var line string
	for range 100 {
		for _, l := range strings.Split(m.Stderr.String(), "\n") {
			if strings.Contains(l, `"request_id":"serve-json-1"`) {
				line = l
			}
		}
		if line != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "request" || rec["route"] != "/healthz" {
		t.Errorf("access log line = %q (%v), want JSON with msg request and route /healthz; log:\n%s", line, err, m.Stderr)
	}
}
