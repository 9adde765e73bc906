package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// A manager replaces the config through the API or the project page; each
// save is a new version, later annotations record it, and only managers may.
func TestSetConfig(t *testing.T) {
	ts := newTestServer(t, options{})
	mgr := ts.user("mona", loupe.RoleMember)
	ts.user("lee", loupe.RoleMember)
	p := ts.project("sent", sentimentConfig, mgr)
	ts.member(p, "lee", annotate.RoleLabeler)
	ts.importItems(p, `{"id": "a", "data": {"review": "fine"}}`+"\n")

	put := func(c *client, config string) *response {
		body, _ := json.Marshal(map[string]string{"config": config})
		return c.do(http.MethodPut, "/api/v1/projects/sent/config", bytes.NewReader(body), "Content-Type", "application/json")
	}
	mc, lc := ts.tokenClient(ts.token("mona")), ts.tokenClient(ts.token("lee"))

	r := put(lc, strings.Replace(sentimentConfig, "Sentiment", "Mood", 1))
	wantStatus(t, r, http.StatusForbidden)
	r = put(mc, "title: x\nblocks:\n  - type: choice\n    name: c\n    options: [a]\n")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "config:5:5: blocks[0].options: must list at least 2 options") {
		t.Errorf("invalid config: %s", r.Body)
	}
	r = put(mc, strings.Replace(sentimentConfig, "field: review", "field: body", 1))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, `1 items lack the field \"body\"`) {
		t.Errorf("missing field: %s", r.Body)
	}

	r = put(mc, strings.Replace(sentimentConfig, "title: Sentiment", "title: Mood", 1))
	wantStatus(t, r, http.StatusOK)
	var pj struct {
		Title         string `json:"title"`
		ConfigVersion int    `json:"config_version"`
	}
	json.Unmarshal([]byte(r.Body), &pj)
	if pj.Title != "Mood" || pj.ConfigVersion != 2 {
		t.Errorf("after PUT: %+v, want title Mood at version 2", pj)
	}

	// An annotation made now records version 2.
	next := lc.get("/api/v1/projects/sent/next")
	wantStatus(t, next, http.StatusOK)
	var task struct {
		Item struct{ ID string } `json:"item"`
	}
	json.Unmarshal([]byte(next.Body), &task)
	sub := lc.postJSON("/api/v1/projects/sent/items/"+task.Item.ID+"/annotations", map[string]any{"values": map[string]string{"sentiment": "positive"}})
	wantStatus(t, sub, http.StatusCreated)
	if !strings.Contains(sub.Body, `"config_version":2`) {
		t.Errorf("annotation: %s, want config_version 2", sub.Body)
	}

	// The project page's form: an error keeps the text, a save redirects.
	bc := ts.signIn("mona")
	bad := "title: x\nblocks: []\n"
	r = bc.postForm("/projects/sent/config", url.Values{"config": {bad}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.Body, "the interface needs at least one block") || !strings.Contains(r.Body, "blocks: []") {
		t.Errorf("form error page lacks the message or the text:\n%s", abbrev(r.Body))
	}
	r = bc.postForm("/projects/sent/config", url.Values{"config": {sentimentConfig}})
	wantStatus(t, r, http.StatusSeeOther)
	page := bc.get("/projects/sent")
	if !strings.Contains(page.Body, "Config version 3 is now in use.") {
		t.Errorf("no flash after saving:\n%s", abbrev(page.Body))
	}
	lb := ts.signIn("lee")
	wantStatus(t, lb.postForm("/projects/sent/config", url.Values{"config": {sentimentConfig}}), http.StatusForbidden)
	if strings.Contains(lb.get("/projects/sent").Body, `action="/projects/sent/config"`) {
		t.Error("a labeler sees the config form")
	}
}
