package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// The preview renders a posted config against a sample item, or lists the
// config's problems with their places; only admins may use it, and only
// the frame may be framed (by Loupe itself).
func TestPreview(t *testing.T) {
	ts := newTestServer(t, options{})
	ts.user("root", loupe.RoleAdmin)
	mgr := ts.user("mona", loupe.RoleMember)
	p := ts.project("sent", sentimentConfig, mgr)
	ts.member(p, "mona", annotate.RoleManager)
	ts.importItems(p, `{"id": "a", "data": {"review": "first <b>item</b>"}}`+"\n")

	admin := ts.signIn("root")
	r := admin.get("/preview?project=sent")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, "first &lt;b&gt;item&lt;/b&gt;") || !strings.Contains(r.Body, "name: sentiment") {
		t.Errorf("preview page lacks the project's config or its first item:\n%s", abbrev(r.Body))
	}
	if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("preview page CSP = %q", got)
	}

	frame := admin.postForm("/preview/frame", url.Values{"config": {sentimentConfig}, "item": {`{"review": "<img src=x onerror=alert(1)>"}`}})
	wantStatus(t, frame, http.StatusOK)
	for _, want := range []string{`data-name="sentiment"`, "&lt;img src=x onerror=alert(1)&gt;", "/static/label.js"} {
		if !strings.Contains(frame.Body, want) {
			t.Errorf("frame lacks %s:\n%s", want, abbrev(frame.Body))
		}
	}
	if strings.Contains(frame.Body, "<img src=x") {
		t.Error("item content is not escaped in the preview")
	}
	if csp := frame.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") || frame.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("frame headers: CSP %q, X-Frame-Options %q", csp, frame.Header.Get("X-Frame-Options"))
	}

	bad := admin.postForm("/preview/frame", url.Values{"config": {"title: x\nblocks:\n  - type: choice\n    name: c\n    options: [a]\n  - {type: txt, field: f}\n"}})
	wantStatus(t, bad, http.StatusOK)
	for _, want := range []string{"2 problems", "config:5:5: blocks[0].options: must list at least 2 options", `config:6:12: blocks[1].type: unknown block type &#34;txt&#34;`} {
		if !strings.Contains(bad.Body, want) {
			t.Errorf("error frame lacks %q:\n%s", want, abbrev(bad.Body))
		}
	}
	item := admin.postForm("/preview/frame", url.Values{"config": {sentimentConfig}, "item": {"not json"}})
	if !strings.Contains(item.Body, "The sample item is not a JSON object") || !strings.Contains(item.Body, "the sample item has no field review") {
		t.Errorf("bad sample item:\n%s", abbrev(item.Body))
	}

	m := ts.signIn("mona")
	wantStatus(t, m.get("/preview"), http.StatusForbidden)
	wantStatus(t, m.postForm("/preview/frame", url.Values{"config": {sentimentConfig}}), http.StatusForbidden)
}
