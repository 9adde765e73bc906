package web

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
)

// exportDownload serves the browser's export link as a file download.
func (s *Server) exportDownload(w http.ResponseWriter, r *http.Request) { s.streamExport(w, r) }

// apiExport serves GET /api/v1/projects/{slug}/export?format=jsonl.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) { s.streamExport(w, r) }

// streamExport writes the project's annotated items as they are read, so
// the first bytes leave at once and memory stays flat however large the
// project. An error after the first byte aborts the response, so that a
// cut-off file is never mistaken for a complete one.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	name := r.URL.Query().Get("format")
	if name == "" {
		name = "jsonl"
	}
	format, err := export.LookupFormat(name)
	if err != nil {
		s.error(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a large export may take longer than the server's write timeout
	h := w.Header()
	h.Set("Content-Type", format.ContentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, p.Slug, s.now().UTC().Format("20060102-150405"), format.Ext))
	h.Set("Cache-Control", "no-store")
	cw := &countWriter{w: w}
	enc := export.NewJSONLEncoder(cw)
	n := 0
	err = s.store.ExportRecords(r.Context(), p.ID, func(rec *export.Record) error {
		if err := enc.Encode(rec); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			enc.Flush()
			rc.Flush()
		}
		return nil
	})
	if err == nil {
		err = enc.Close()
	}
	if err != nil && cw.n == 0 {
		s.error(w, r, err)
	} else if err != nil {
		s.log.Error("export failed", "project", p.Slug, "records", n, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
