package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func get(t *testing.T, c *http.Client, u string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func mustGuard(t *testing.T, allow []string, r Resolver) *Guard {
	t.Helper()
	g, err := NewGuard(allow, r)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func port(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	return u.Port()
}

// RELIABILITY case 4: every URL below is refused before any connection
// and before any name is resolved.
func TestGuardRefusesBeforeConnecting(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request reached the server: %s", r.URL)
	}))
	p := port(t, srv)
	var resolved atomic.Int64
	g := mustGuard(t, []string{"https://api.openai.example", "http://ml-backend:9090"}, staticResolver(&resolved, "127.0.0.1"))
	c := g.Client()
	for _, u := range []string{
		"file:///etc/passwd",
		"gopher://127.0.0.1:" + p + "/",
		"http://127.0.0.1:" + p + "/",
		"http://[::1]:" + p + "/",
		"http://localhost:" + p + "/",
		"http://0.0.0.0:" + p + "/",
		"http://2130706433:" + p + "/",
		"http://0x7f.1:" + p + "/",
		"http://0177.0.0.1:" + p + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:169.254.169.254]/latest/meta-data/",
		"http://[::ffff:127.0.0.1]:" + p + "/",
		"http://[fe80::1%25eth0]/",
		"http://ml-backend:9091/",      // allowed host, other port
		"https://ml-backend:9090/",     // allowed host and port, other scheme
		"http://api.openai.example/",   // allowed host, other scheme (port 80)
		"http://user:pw@evil.example/", // not allowed; the password is not echoed
	} {
		t.Run(u, func(t *testing.T) {
			_, err := get(t, c, u)
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("got %v, want a blocked error", err)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	if n := conns.n.Load(); n != 0 {
		t.Errorf("the server saw %d connections, want 0", n)
	}
	if n := resolved.Load(); n != 0 {
		t.Errorf("the resolver was asked %d times, want 0", n)
	}
}

func TestNewGuardRejects(t *testing.T) {
	for _, entry := range []string{
		"http://169.254.169.254",
		"http://[::ffff:169.254.169.254]",
		"http://[fe80::1]",
		"http://0.0.0.0:8080",
		"http://[::]",
		"http://224.0.0.1",
		"http://255.255.255.255",
		"http://100.100.100.200",
		"http://2130706433",
		"http://0x7f000001",
		"file:///etc",
		"ftp://models.example",
		"http://user:pass@models.example",
		"http://models.example/v1",
		"http://models.example?x=1",
		"http://models.example:99999",
		"http://",
	} {
		if _, err := NewGuard([]string{entry}, nil); err == nil {
			t.Errorf("NewGuard(%q) = nil error, want one", entry)
		}
	}
	g, err := NewGuard([]string{"http://ml-backend:9090", "https://API.OpenAI.example/", "http://127.0.0.1:8000", "http://[::1]:8000", " ", "http://10.0.0.5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{"http://ml-backend:9090/predict", "https://api.openai.example:443/v1/chat/completions", "http://127.0.0.1:8000/", "http://[::1]:8000/x", "http://10.0.0.5:80/", "HTTP://ML-BACKEND:9090"} {
		if err := g.CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", ok, err)
		}
	}
}

// A name the admin allowed is checked after resolution, at connect time:
// resolving to metadata, link-local, unspecified or multicast addresses,
// even wrapped in IPv6, is refused without a connection.
func TestGuardChecksResolvedAddresses(t *testing.T) {
	for _, addrs := range [][]string{
		{"169.254.169.254"},
		{"::ffff:169.254.169.254"},
		{"::a9fe:a9fe"},
		{"64:ff9b::a9fe:a9fe"},
		{"2002:a9fe:a9fe::1"},
		{"fe80::1"},
		{"0.0.0.0"},
		{"::"},
		{"224.0.0.251"},
		{"fd00:ec2::254"},
		{"127.0.0.1", "169.254.169.254"}, // one bad answer spoils the name
	} {
		t.Run(strings.Join(addrs, ","), func(t *testing.T) {
			var resolved atomic.Int64
			g := mustGuard(t, []string{"http://models.example:8080"}, staticResolver(&resolved, addrs...))
			_, err := get(t, g.Client(), "http://models.example:8080/health")
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("got %v, want a blocked error", err)
			}
			if resolved.Load() == 0 {
				t.Error("the name was never resolved: the check must run after resolution")
			}
		})
	}
}

// DNS rebinding: the allowed name answers a good address, then the
// metadata address. The second connection is refused at connect time.
func TestGuardDNSRebinding(t *testing.T) {
	var hits atomic.Int64
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	p := port(t, srv)
	var n atomic.Int64
	flip := func(_ context.Context, host string) ([]netip.Addr, error) {
		if n.Add(1)%2 == 1 {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
	}
	g := mustGuard(t, []string{"http://rebind.example:" + p}, flip)
	c := g.Client()
	if _, err := get(t, c, "http://rebind.example:"+p+"/"); err != nil {
		t.Fatalf("first request: %v", err)
	}
	c.CloseIdleConnections() // force a new connection, hence a new lookup
	_, err := get(t, c, "http://rebind.example:"+p+"/")
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("second request: got %v, want a blocked error", err)
	}
	if h := hits.Load(); h != 1 {
		t.Errorf("server hits = %d, want 1", h)
	}
}

// A public-looking allowed host that redirects to localhost is refused at
// the redirect; redirects within allowed origins are followed, at most 3.
func TestGuardRedirects(t *testing.T) {
	var secret atomic.Int64
	var srv *httptest.Server
	srv, _ = countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := port(t, srv)
		switch r.URL.Path {
		case "/to-localhost":
			http.Redirect(w, r, "http://localhost:"+p+"/secret", http.StatusFound)
		case "/to-loopback":
			http.Redirect(w, r, "http://127.0.0.1:"+p+"/secret", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/secret":
			secret.Add(1)
		case "/ok":
			fmt.Fprint(w, "ok")
		}
	}))
	p := port(t, srv)
	g := mustGuard(t, []string{"https://api.public.example", "http://api.public.example:" + p}, staticResolver(nil, "127.0.0.1"))
	c := g.Client()
	base := "http://api.public.example:" + p
	for _, path := range []string{"/to-localhost", "/to-loopback", "/to-metadata", "/to-file", "/loop"} {
		_, err := get(t, c, base+path)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: got %v, want a blocked error", path, err)
		}
	}
	if resp, err := get(t, c, base+"/same"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/same: got %v, %v; want 200", resp, err)
	}
	if n := secret.Load(); n != 0 {
		t.Errorf("/secret was reached %d times", n)
	}
}

// Loopback and private addresses are reachable through an origin the
// admin listed: a literal IP, or a name.
func TestGuardAllowsListedPrivateOrigins(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	p := port(t, srv)
	g := mustGuard(t, []string{srv.URL, "http://ml:" + p}, staticResolver(nil, "127.0.0.1"))
	for _, u := range []string{srv.URL + "/health", "http://ml:" + p + "/health"} {
		if _, err := get(t, g.Client(), u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here")
	}
	v6 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	v6.Listener.Close()
	v6.Listener = ln
	v6.Start()
	defer v6.Close()
	if _, err := get(t, g.Client(), v6.URL); !errors.Is(err, ErrBlocked) {
		t.Errorf("[::1] not listed: got %v, want blocked", err)
	}
	g6 := mustGuard(t, []string{v6.URL}, nil)
	if _, err := get(t, g6.Client(), v6.URL+"/"); err != nil {
		t.Errorf("[::1] listed: %v", err)
	}
}

// The environment's proxy is never used: it would connect on our behalf.
func TestGuardIgnoresProxyFromEnvironment(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.Add(1) }))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	p := port(t, srv)
	g := mustGuard(t, []string{"http://ml.example:" + p}, staticResolver(nil, "127.0.0.1"))
	if _, err := get(t, g.Client(), "http://ml.example:"+p+"/"); err != nil {
		t.Fatal(err)
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("the proxy saw %d requests", n)
	}
}

func TestBannedIP(t *testing.T) {
	for addr, banned := range map[string]bool{
		"169.254.169.254":          true,
		"169.254.0.1":              true,
		"::ffff:169.254.169.254":   true,
		"::ffff:a9fe:a9fe":         true,
		"0.0.0.0":                  true,
		"0.1.2.3":                  true,
		"::":                       true,
		"fe80::1":                  true,
		"fe80::1%eth0":             true,
		"ff02::1":                  true,
		"224.0.0.1":                true,
		"255.255.255.255":          true,
		"100.100.100.200":          true,
		"64:ff9b::169.254.169.254": true,
		"127.0.0.1":                false,
		"::1":                      false,
		"10.1.2.3":                 false,
		"192.168.1.1":              false,
		"172.16.0.1":               false,
		"fd12::1":                  false,
		"8.8.8.8":                  false,
		"2606:4700::1111":          false,
		"::ffff:127.0.0.1":         false,
	} {
		if got := bannedIP(netip.MustParseAddr(addr)) != ""; got != banned {
			t.Errorf("bannedIP(%s) = %v, want %v", addr, got, banned)
		}
	}
}

// Errors carry the status and a short reason, never the body; bodies are
// read up to a cap.
func TestErrorsNeverEchoTheBody(t *testing.T) {
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			w.WriteHeader(500)
			fmt.Fprint(w, "SECRET-BODY root:x:0:0")
		case "/huge":
			chunk := strings.Repeat("x", 1<<20)
			for range MaxBodyBytes>>20 + 1 {
				io.WriteString(w, chunk)
			}
		case "/bad-json/health":
			fmt.Fprint(w, "SECRET-BODY {")
		}
	}))
	r, _, _ := testRunner(t, Options{Allow: []string{srv.URL}})
	c := &caller{client: r.client, timeout: 5e9, attempts: 1, sem: make(chan struct{}, 1), backoff: r.backoff}
	ls := &LabelStudio{base: srv.URL, call: c}
	_, err := c.do(context.Background(), request{method: "GET", url: srv.URL + "/500"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 {
		t.Errorf("got %v, want a StatusError 500", err)
	}
	_, err2 := c.do(context.Background(), request{method: "GET", url: srv.URL + "/huge"})
	if err2 == nil || !strings.Contains(err2.Error(), "larger than") {
		t.Errorf("huge body: got %v, want a size error", err2)
	}
	ls.base = srv.URL + "/bad-json"
	_, err3 := ls.Health(context.Background())
	for _, e := range []error{err, err2, err3} {
		if e != nil && strings.Contains(e.Error(), "SECRET") {
			t.Errorf("error %q echoes the body", e)
		}
	}
	if err3 == nil {
		t.Error("bad JSON: no error")
	}
}
