package web

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/loupehq/loupe/blocks"
)

// inlineMedia are the files served for the page to show: by extension, the
// type they are served as and how their first bytes must look. A file
// whose bytes do not match its extension, and any other file, is served
// as a download (application/octet-stream, attachment), never as a type
// a browser could run, such as HTML or SVG.
var inlineMedia = map[string]struct {
	ctype string
	is    func(head []byte) bool
}{
	".png":  {"image/png", sniffed("image/png")},
	".jpg":  {"image/jpeg", sniffed("image/jpeg")},
	".jpeg": {"image/jpeg", sniffed("image/jpeg")},
	".gif":  {"image/gif", sniffed("image/gif")},
	".webp": {"image/webp", sniffed("image/webp")},
	".mp3":  {"audio/mpeg", isMP3},
	".ogg":  {"audio/ogg", sniffed("application/ogg")},
	".oga":  {"audio/ogg", sniffed("application/ogg")},
	".opus": {"audio/ogg", sniffed("application/ogg")},
	".wav":  {"audio/wav", sniffed("audio/wave")},
	".webm": {"audio/webm", sniffed("video/webm")},
	".flac": {"audio/flac", func(b []byte) bool { return bytes.HasPrefix(b, []byte("fLaC")) }},
	".m4a":  {"audio/mp4", isMP4Audio},
}

// sniffed returns a check that the standard sniffer sees the type t.
func sniffed(t string) func([]byte) bool {
	return func(b []byte) bool { return http.DetectContentType(b) == t }
}

// isMP3 recognises an MP3 file: an ID3 tag, or an MPEG audio frame header.
func isMP3(b []byte) bool {
	if bytes.HasPrefix(b, []byte("ID3")) {
		return true
	}
	// Frame sync (11 bits set), then a layer other than "reserved".
	return len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0 && b[1]&0x06 != 0
}

// isMP4Audio recognises an MPEG-4 file (an "ftyp" box first), as M4A
// files are.
func isMP4Audio(b []byte) bool {
	if len(b) < 12 || string(b[4:8]) != "ftyp" {
		return false
	}
	brand := string(b[8:12])
	return brand == "M4A " || brand == "M4B " || http.DetectContentType(b) == "video/mp4"
}

// serveMedia serves a file of the project's media folder,
// MediaRoot/SLUG/PATH, to users who may view the project. The path must be
// a plain relative path (blocks.IsMediaPath), and the file is opened
// through an os.Root, so that neither "..", an absolute path nor a
// symbolic link can reach outside the folder. Images and sounds whose
// bytes match their extension are served inline; anything else only as a
// download. Range requests (for seeking in audio) and conditional
// requests are answered by http.ServeContent. Every refusal is a 404.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.project(w, r)
	if !ok {
		return
	}
	name := urlParam(r, "*")
	if r.URL.RawPath != "" {
		// The router matched the escaped path: decode it once, and only
		// then (a double decoding would turn %252e into ".").
		var err error
		if name, err = url.PathUnescape(name); err != nil {
			s.error(w, r, notFoundf("this is not a media path"))
			return
		}
	}
	if !blocks.IsMediaPath(name) || !filepath.IsLocal(filepath.FromSlash(name)) {
		s.error(w, r, notFoundf("%q is not a media path: media paths are relative, such as photos/cat.png", name))
		return
	}
	missing := notFoundf("this project has no media file %q", name)
	if s.cfg.MediaRoot == "" || !filepath.IsLocal(p.Slug) {
		s.error(w, r, missing)
		return
	}
	root, err := os.OpenRoot(filepath.Join(s.cfg.MediaRoot, p.Slug))
	if err != nil {
		s.error(w, r, missing)
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			// Escaping links, permissions, …: worth an admin's look, but
			// the user learns only that there is no such file.
			s.logger(r).Warn("media file refused", "project", p.Slug, "path", name, "err", err)
		}
		s.error(w, r, missing)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		s.error(w, r, missing)
		return
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		s.error(w, r, err)
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.error(w, r, err)
		return
	}

	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// Should a browser be led to open the file as a page, it runs nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, no-cache")
	disposition := "attachment"
	if m, ok := inlineMedia[strings.ToLower(path.Ext(name))]; ok && m.is(head[:n]) {
		disposition = "inline"
		h.Set("Content-Type", m.ctype)
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	if d := mime.FormatMediaType(disposition, map[string]string{"filename": path.Base(name)}); d != "" {
		disposition = d
	}
	h.Set("Content-Disposition", disposition)
	http.ServeContent(w, r, "", info.ModTime(), f)
}
