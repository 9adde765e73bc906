package models

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scripted answers the i-th request (from 0) with script(i).
func scripted(t *testing.T, script func(i int64, w http.ResponseWriter, r *http.Request)) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		script(n.Add(1)-1, w, r)
	}))
	return srv.URL, &n
}

func testCaller(t *testing.T, base string, attempts int, timeout time.Duration) *caller {
	t.Helper()
	g := mustGuard(t, []string{base}, nil)
	c := g.Client()
	t.Cleanup(c.CloseIdleConnections)
	return &caller{client: c, timeout: timeout, attempts: attempts, sem: make(chan struct{}, 4),
		backoff: backoff{base: time.Millisecond, max: 5 * time.Millisecond, maxRetryAfter: 2 * time.Second}}
}

func TestCallRetries5xxThenSucceeds(t *testing.T) {
	base, n := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) {
		if i < 2 {
			w.WriteHeader([]int{500, 503}[i])
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	b, err := testCaller(t, base, 3, time.Second).do(context.Background(), request{method: "GET", url: base})
	if err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("got %q, %v", b, err)
	}
	if n.Load() != 3 {
		t.Errorf("requests = %d, want 3", n.Load())
	}
}

func TestCallGivesUpAfterAttempts(t *testing.T) {
	base, n := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	_, err := testCaller(t, base, 3, time.Second).do(context.Background(), request{method: "GET", url: base})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 502 || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("got %v, want HTTP 502 after 3 attempts", err)
	}
	if n.Load() != 3 {
		t.Errorf("requests = %d, want 3", n.Load())
	}
}

func TestCallNeverRetries4xx(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 422} {
		base, n := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
		_, err := testCaller(t, base, 5, time.Second).do(context.Background(), request{method: "GET", url: base})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("%d: got %v", code, err)
		}
		if n.Load() != 1 {
			t.Errorf("%d: requests = %d, want 1", code, n.Load())
		}
	}
}

func TestCallHonoursRetryAfter(t *testing.T) {
	base, n := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "{}")
	})
	start := time.Now()
	if _, err := testCaller(t, base, 2, time.Second).do(context.Background(), request{method: "GET", url: base}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %s, want at least the 1s of Retry-After", d)
	}
	if n.Load() != 2 {
		t.Errorf("requests = %d, want 2", n.Load())
	}

	// A Retry-After beyond the cap is cut to the cap.
	base2, _ := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "{}")
	})
	c := testCaller(t, base2, 2, time.Second)
	c.backoff.maxRetryAfter = 20 * time.Millisecond
	start = time.Now()
	if _, err := c.do(context.Background(), request{method: "GET", url: base2}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %s, want about the 20ms cap", d)
	}
}

// slow holds the request until the client gives up, or d passes.
func slow(d time.Duration, w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(d):
		fmt.Fprint(w, `{"late":true}`)
	}
}

func TestCallTimeoutThenRetry(t *testing.T) {
	base, n := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) {
		if i == 0 {
			slow(5*time.Second, w, r)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	start := time.Now()
	b, err := testCaller(t, base, 2, 100*time.Millisecond).do(context.Background(), request{method: "GET", url: base})
	if err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("got %q, %v", b, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s; the timeout did not cut the slow attempt", d)
	}
	if n.Load() != 2 {
		t.Errorf("requests = %d, want 2", n.Load())
	}
}

func TestCallTimeoutGivesUp(t *testing.T) {
	base, n := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) { slow(5*time.Second, w, r) })
	_, err := testCaller(t, base, 3, 50*time.Millisecond).do(context.Background(), request{method: "GET", url: base})
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("got %v, want a timeout after 3 attempts", err)
	}
	if n.Load() != 3 {
		t.Errorf("requests = %d, want 3", n.Load())
	}
}

// The caller's context bounds the whole call, retries included.
func TestCallContextBoundsRetries(t *testing.T) {
	base, _ := scripted(t, func(i int64, w http.ResponseWriter, r *http.Request) { slow(5*time.Second, w, r) })
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := testCaller(t, base, 5, time.Second).do(ctx, request{method: "GET", url: base})
	if err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s, want about 150ms", d)
	}
}

func TestCallNeverRetriesABlockedURL(t *testing.T) {
	c := testCaller(t, "http://allowed.example", 5, time.Second)
	_, err := c.do(context.Background(), request{method: "GET", url: "http://169.254.169.254/"})
	if !errors.Is(err, ErrBlocked) || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("got %v, want one blocked attempt", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: time.Second, maxRetryAfter: 10 * time.Second}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			if d := b.delay(n, 0); d < want/2 || d > want {
				t.Fatalf("delay(%d) = %s, want in [%s, %s]", n, d, want/2, want)
			}
		}
	}
	if d := b.delay(0, 3*time.Second); d != 3*time.Second {
		t.Errorf("Retry-After 3s: delay %s", d)
	}
	if d := b.delay(0, time.Hour); d != 10*time.Second {
		t.Errorf("Retry-After 1h: delay %s, want the 10s cap", d)
	}
	if d := retryAfter(time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)); d <= 0 || d > 2*time.Second {
		t.Errorf("Retry-After date: %s", d)
	}
}
