package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testAdminPassword is the admin password of servers started by MustRunMain.
const testAdminPassword = "test-admin-password"

// MustRunMain starts a server on a free port with a database in a temporary
// directory (demo data included unless a flag says otherwise), and closes it
// at cleanup. Extra flags are passed to serve.
func MustRunMain(tb testing.TB, flags ...string) *Main {
	tb.Helper()
	dir := tb.TempDir()
	args := append([]string{"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "loupe.db"), "--log-level", "warn"}, flags...)
	env := &Env{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(k string) string {
		if k == "LOUPE_ADMIN_PASSWORD" {
			return testAdminPassword
		}
		return ""
	}}
	cfg, err := ParseServeFlags(args, env)
	if err != nil {
		tb.Fatalf("ParseServeFlags: %v", err)
	}
	m := &Main{Config: cfg}
	if err := m.Run(context.Background(), env); err != nil {
		tb.Fatalf("Run: %v\n%s", err, env.Stderr)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// runCLI runs a loupe command in-process and returns its exit status and
// output.
func runCLI(tb testing.TB, stdin string, args ...string) (int, string, string) {
	tb.Helper()
	var out, errOut syncBuffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	code := Run(context.Background(), args, env)
	return code, out.String(), errOut.String()
}

// signIn returns an HTTP client with a cookie jar, signed in to the server.
func signIn(tb testing.TB, base, name, password string) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/login", url.Values{"name": {name}, "password": {password}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/" {
		tb.Fatalf("sign-in as %s ended at %s (status %d), want /", name, resp.Request.URL.Path, resp.StatusCode)
	}
	return c
}

func TestServeFirstStart(t *testing.T) {
	m := MustRunMain(t)
	resp, err := http.Get(m.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.String() != "ok" {
		t.Errorf("healthz = %d %q, want 200 ok", resp.StatusCode, body.String())
	}
	c := signIn(t, m.URL(), "admin", testAdminPassword)
	resp, err = c.Get(m.URL() + "/api/v1/projects")
	if err != nil {
		t.Fatal(err)
	}
	body.Reset()
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(body.String(), `"slug":"review-sentiment"`) || !strings.Contains(body.String(), `"item_count":300`) {
		t.Errorf("projects = %s, want the demo project with 300 items", body.String())
	}
}
