package web_test

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// Images and audio load from Loupe itself and from the origins the admin
// allowed, nowhere else; an origin that is more than scheme and host is
// refused at start.
func TestMediaOrigins(t *testing.T) {
	db, err := storage.Open(filepath.Join(t.TempDir(), "l.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := []byte(strings.Repeat("k", 32))
	for _, bad := range []string{"images.example.com", "https://x.example/path", "https://x.example; script-src *", "ftp://x.example", "https://*.example"} {
		if _, err := web.New(db, web.Config{SessionKeys: [][]byte{key}, MediaOrigins: []string{bad}}); err == nil {
			t.Errorf("origin %q accepted", bad)
		}
	}
	ts := newTestServer(t, options{})
	csp := ts.client().get("/login").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self' data:;") || !strings.Contains(csp, "media-src 'self';") {
		t.Errorf("default CSP = %q, want media from the app only", csp)
	}
	srv, err := web.New(db, web.Config{SessionKeys: [][]byte{key}, MediaOrigins: []string{"https://img.example"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	csp = rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self' https://img.example data:;") || !strings.Contains(csp, "media-src 'self' https://img.example;") {
		t.Errorf("CSP = %q, want https://img.example allowed for images and audio", csp)
	}
}
