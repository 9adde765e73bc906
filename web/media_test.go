package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/storage"
	"github.com/loupehq/loupe/web"
)

// newMediaServer is newTestServer with a media folder, MediaRoot ("" for
// none).
func newMediaServer(t *testing.T, mediaRoot string) *testServer {
	t.Helper()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	db, err := storage.Open(filepath.Join(t.TempDir(), "loupe.db"), storage.Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("storage.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	keys := [][]byte{newKey(t)}
	srv, err := web.New(db, web.Config{SessionKeys: keys, Now: clk.Now, TempDir: t.TempDir(), MediaRoot: mediaRoot})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testServer{t: t, URL: hs.URL, DB: db, Srv: srv, HTTP: hs, Clock: clk, Keys: keys}
}

// pngBytes returns a small PNG image.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{200, 30, 30, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

const secret = "TOP-SECRET-CONTENT"

// mediaSetup is two projects with media folders, files outside them that
// must never be served, and a labeler of project a only.
type mediaSetup struct {
	ts        *testServer
	lab, mgrB *client
	png       []byte
}

func newMediaSetup(t *testing.T) *mediaSetup {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "media")
	a := filepath.Join(root, "a")
	pic := pngBytes(t)
	files := map[string][]byte{
		"photos/cat.png": pic,
		"photos/CAT.PNG": pic,
		"a b/ü.png":      pic,
		"page.html":      []byte("<!doctype html><html><script>alert(1)</script></html>"),
		"pic.svg":        []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`),
		// A valid PNG that carries HTML after its header: it must go out
		// as image/png, which no browser runs.
		"poly.png": append(append([]byte{}, pic...), []byte("<html><script>alert(1)</script></html>")...),
		// HTML first, PNG after: not a PNG, so a download.
		"polyhtml.png": append([]byte("<html><script>alert(1)</script></html>"), pic...),
		"text.png":     []byte("this is only text, whatever its name says"),
		"fake.mp3":     []byte("<script>alert(1)</script>"),
		"sound.wav":    append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 40)...),
		"clip.mp3":     append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), make([]byte, 64)...),
		"frames.mp3":   append([]byte{0xFF, 0xFB, 0x90, 0x64}, make([]byte, 64)...),
		"song.flac":    append([]byte("fLaC\x00\x00\x00\x22"), make([]byte, 64)...),
		".hidden.png":  pic,
	}
	for name, data := range files {
		writeFile(t, filepath.Join(a, filepath.FromSlash(name)), data)
	}
	writeFile(t, filepath.Join(root, "b", "secret.png"), pic)
	writeFile(t, filepath.Join(root, "secret.txt"), []byte(secret))
	outside := filepath.Join(dir, "outside")
	writeFile(t, filepath.Join(outside, "secret.png"), append(append([]byte{}, pic...), secret...))
	for link, target := range map[string]string{
		"escape.png":  filepath.Join(outside, "secret.png"), // absolute, out of the folder
		"up.png":      "../secret.txt",                      // relative, out of the folder
		"escdir":      outside,                              // a folder out of the folder
		"same.png":    "photos/cat.png",                     // inside: fine
		"photos/link": "../page.html",                       // inside: fine, still a download
	} {
		if err := os.Symlink(target, filepath.Join(a, filepath.FromSlash(link))); err != nil {
			t.Skipf("symbolic links are not available: %v", err)
		}
	}

	ts := newMediaServer(t, root)
	ts.user("lab", loupe.RoleMember)
	ts.user("mgrb", loupe.RoleMember)
	pa := ts.project("a", sentimentConfig, nil)
	pb := ts.project("b", sentimentConfig, nil)
	ts.member(pa, "lab", annotate.RoleLabeler)
	ts.member(pb, "mgrb", annotate.RoleManager)
	return &mediaSetup{ts: ts, lab: ts.signIn("lab"), mgrB: ts.signIn("mgrb"), png: pic}
}

// RELIABILITY case 3: no path reaches a file outside the project's media
// folder, however it is spelt.
func TestMediaPathTraversal(t *testing.T) {
	s := newMediaSetup(t)
	for _, p := range []string{
		"../secret.txt",
		"../../../../etc/passwd",
		"photos/../../secret.txt",
		"..%2fsecret.txt",
		"..%2f..%2f..%2f..%2fetc%2fpasswd",
		"%2e%2e/secret.txt",
		"%2e%2e%2fsecret.txt",
		"%252e%252e/secret.txt",
		"%252e%252e%252fsecret.txt",
		"..%252fsecret.txt",
		"/etc/passwd",
		"%2fetc%2fpasswd",
		"C:%5CWindows%5Cwin.ini",
		"C:/Windows/win.ini",
		"..%5Csecret.txt",
		"photos%5Ccat.png",
		"photos/cat.png%00.html",
		"%00",
		"./photos/cat.png",
		"photos//cat.png",
		".hidden.png",
		"../b/secret.png",
		"escape.png",
		"up.png",
		"escdir/secret.png",
		"photos",
		"photos/",
		"",
		"nope.png",
	} {
		r := s.lab.get("/projects/a/media/" + p)
		if r.Status != http.StatusNotFound {
			t.Errorf("%q: status %d, want 404; body:\n%s", p, r.Status, abbrev(r.Body))
		}
		if strings.Contains(r.Body, secret) || strings.Contains(r.Body, "root:") || strings.Contains(r.Body, "\x89PNG") {
			t.Errorf("%q: the response holds a file's content:\n%s", p, abbrev(r.Body))
		}
	}
	// Links that stay inside the folder are followed.
	if r := s.lab.get("/projects/a/media/same.png"); r.Status != http.StatusOK || r.Body != string(s.png) {
		t.Errorf("same.png (a link inside the folder): status %d", r.Status)
	}
}

// RELIABILITY case 2: only images and sounds whose bytes match their
// extension are served inline; HTML, SVG, polyglots and misleading names
// are downloads, always with nosniff.
func TestMediaTypes(t *testing.T) {
	s := newMediaSetup(t)
	tests := []struct {
		path, ctype, disposition string
	}{
		{"photos/cat.png", "image/png", "inline"},
		{"photos/CAT.PNG", "image/png", "inline"},
		{"a%20b/%C3%BC.png", "image/png", "inline"},
		{"same.png", "image/png", "inline"},
		{"poly.png", "image/png", "inline"},
		{"sound.wav", "audio/wav", "inline"},
		{"clip.mp3", "audio/mpeg", "inline"},
		{"frames.mp3", "audio/mpeg", "inline"},
		{"song.flac", "audio/flac", "inline"},
		{"page.html", "application/octet-stream", "attachment"},
		{"photos/link", "application/octet-stream", "attachment"},
		{"pic.svg", "application/octet-stream", "attachment"},
		{"polyhtml.png", "application/octet-stream", "attachment"},
		{"text.png", "application/octet-stream", "attachment"},
		{"fake.mp3", "application/octet-stream", "attachment"},
	}
	for _, tt := range tests {
		r := s.lab.get("/projects/a/media/" + tt.path)
		if r.Status != http.StatusOK {
			t.Errorf("%s: status %d, want 200; body:\n%s", tt.path, r.Status, abbrev(r.Body))
			continue
		}
		h := r.Header
		if got := h.Get("Content-Type"); got != tt.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, got, tt.ctype)
		}
		if got := h.Get("Content-Disposition"); !strings.HasPrefix(got, tt.disposition+";") {
			t.Errorf("%s: Content-Disposition %q, want %s", tt.path, got, tt.disposition)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", tt.path, got)
		}
		if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "sandbox") || !strings.Contains(got, "default-src 'none'") {
			t.Errorf("%s: Content-Security-Policy %q, want default-src 'none' and sandbox", tt.path, got)
		}
		if got := h.Get("Cache-Control"); !strings.Contains(got, "private") {
			t.Errorf("%s: Cache-Control %q, want private", tt.path, got)
		}
	}
	if got := s.lab.get("/projects/a/media/a%20b/%C3%BC.png").Header.Get("Content-Disposition"); !strings.Contains(got, "filename*=utf-8''%C3%BC.png") {
		t.Errorf("Content-Disposition %q does not name the file", got)
	}
}

// Range requests let audio seek; conditional requests save a download.
func TestMediaRangeAndCaching(t *testing.T) {
	s := newMediaSetup(t)
	r := s.lab.get("/projects/a/media/photos/cat.png", "Range", "bytes=0-7")
	wantStatus(t, r, http.StatusPartialContent)
	if r.Body != string(s.png[:8]) {
		t.Errorf("range body %q, want %q", r.Body, s.png[:8])
	}
	if got, want := r.Header.Get("Content-Range"), "bytes 0-7/"; !strings.HasPrefix(got, want) {
		t.Errorf("Content-Range %q, want %s…", got, want)
	}
	if got := r.Header.Get("Content-Type"); got != "image/png" {
		t.Errorf("range Content-Type %q, want image/png", got)
	}
	r = s.lab.get("/projects/a/media/photos/cat.png", "Range", "bytes=8-")
	wantStatus(t, r, http.StatusPartialContent)
	if r.Body != string(s.png[8:]) {
		t.Errorf("open range: got %d bytes, want %d", len(r.Body), len(s.png)-8)
	}
	full := s.lab.get("/projects/a/media/photos/cat.png")
	wantStatus(t, full, http.StatusOK)
	if full.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("Accept-Ranges %q, want bytes", full.Header.Get("Accept-Ranges"))
	}
	lm := full.Header.Get("Last-Modified")
	if lm == "" {
		t.Fatal("no Last-Modified")
	}
	wantStatus(t, s.lab.get("/projects/a/media/photos/cat.png", "If-Modified-Since", lm), http.StatusNotModified)
}

// Media are the project's: a member of another project, or someone signed
// out, gets nothing; with no media folder nothing is served.
func TestMediaAccess(t *testing.T) {
	s := newMediaSetup(t)
	r := s.lab.get("/projects/b/media/secret.png")
	wantStatus(t, r, http.StatusNotFound)
	if strings.Contains(r.Body, "\x89PNG") {
		t.Error("another project's file leaked")
	}
	wantStatus(t, s.mgrB.get("/projects/b/media/secret.png"), http.StatusOK) // it is there
	wantStatus(t, s.lab.get("/projects/nope/media/photos/cat.png"), http.StatusNotFound)
	if r := s.ts.client().get("/projects/a/media/photos/cat.png"); r.Status == http.StatusOK || strings.Contains(r.Body, "\x89PNG") {
		t.Errorf("signed out: status %d, want no file", r.Status)
	}

	ts := newMediaServer(t, "")
	ts.user("lab", loupe.RoleMember)
	p := ts.project("a", sentimentConfig, nil)
	ts.member(p, "lab", annotate.RoleLabeler)
	wantStatus(t, ts.signIn("lab").get("/projects/a/media/photos/cat.png"), http.StatusNotFound)
}

// The labeling page shows an item's image from the media folder, and
// refuses item references that are not media paths or http(s) URLs.
func TestMediaOnLabelPage(t *testing.T) {
	s := newMediaSetup(t)
	const cfg = `title: Pictures
blocks:
  - {type: image, field: img, alt_field: alt}
  - {type: audio, field: snd}
  - {type: choice, name: c, options: [cat, dog]}
`
	p := s.ts.project("pics", cfg, nil)
	s.ts.member(p, "lab", annotate.RoleLabeler)
	s.ts.importItems(p, `{"id": "1", "data": {"img": "photos/cat.png", "alt": "a cat <b>", "snd": "javascript:alert(1)"}}
`)
	r := s.lab.get("/projects/pics/label")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`<img src="/projects/pics/media/photos/cat.png" alt="a cat &lt;b&gt;"`, "Cannot play this sound"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("label page lacks %s:\n%s", want, abbrev(r.Body))
		}
	}
	if strings.Contains(r.Body, "javascript:alert") && !strings.Contains(r.Body, "<code>javascript:alert(1)</code>") {
		t.Errorf("the javascript: reference appears outside the note:\n%s", abbrev(r.Body))
	}
}
