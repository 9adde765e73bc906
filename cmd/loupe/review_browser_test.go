package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

const reviewedBrowserConfig = `title: Reviewed sentiment
overlap: 2
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
review:
  policy: [disagreement]
`

// The review round trip as people do it, each in a browser of their own:
// ann and bob disagree on an item; the reviewer rita sees both answers
// side by side and sends ann's back with a comment; ann finds it first in
// her queue with the comment and her old answer, changes it with the keys
// and submits; rita approves the fix; the item's timeline tells every step
// in order, and the project's event chain verifies.
func TestBrowserReviewRoundTrip(t *testing.T) {
	chromium := browserPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	start := time.Now()
	m := MustRunMain(t, "--no-demo")

	const slug = "reviewed-sentiment"
	cfg, err := blocks.ParseConfig([]byte(reviewedBrowserConfig))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := m.DB.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.DB.CreateProject(ctx, slug, reviewedBrowserConfig, cfg, admin)
	if err != nil {
		t.Fatal(err)
	}
	const items = `{"id": "review-001", "data": {"review": "Oh great, a charger that lasts a whole hour. Just what I wanted."}}
{"id": "review-002", "data": {"review": "Arrived a day early and works as described."}}
{"id": "review-003", "data": {"review": "It is a phone case. It holds the phone."}}
`
	if res, err := m.DB.ImportItems(ctx, p, annotate.NewItemDecoder(strings.NewReader(items)), annotate.ImportOptions{}); err != nil || res.Added != 3 {
		t.Fatalf("import: %+v, %v; want 3 items added", res, err)
	}
	users := map[string]*loupe.User{}
	for _, u := range []struct{ name, role string }{{"ann", annotate.RoleLabeler}, {"bob", annotate.RoleLabeler}, {"rita", annotate.RoleReviewer}} {
		hash, err := loupe.HashPassword(u.name + "-password")
		if err != nil {
			t.Fatal(err)
		}
		if users[u.name], err = m.DB.CreateUser(ctx, u.name, loupe.RoleMember, hash); err != nil {
			t.Fatal(err)
		}
		if err := m.DB.SetMember(ctx, p.ID, u.name, u.role); err != nil {
			t.Fatal(err)
		}
	}

	shots := filepath.Dir(screenshotPath(t))
	// Each person has a browser (a fresh profile) of their own, as on two
	// desks; the tabs' helpers are those of the template tests.
	open := func(name string) (*labelTab, func() []string) {
		t.Helper()
		bctx, problems := newBrowser(ctx, t, chromium)
		lt := &labelTab{t: t, m: m, ctx: bctx, project: p, user: users[name], shots: shots}
		lt.do("sign in as "+name,
			chromedp.Navigate(m.URL()+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), name),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), name+"-password"+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/projects/`+slug+`"]`)),
		)
		return lt, problems
	}
	// shot saves the whole page as review-NAME.png with the other tests'
	// screenshots. The viewport is made as tall as the page first: in a
	// capture beyond the viewport the sticky button bar would stay at the
	// viewport's bottom, over the form.
	shot := func(lt *labelTab, name string) {
		t.Helper()
		height := evalJS[int64](lt, "measure the page", `document.documentElement.scrollHeight`)
		lt.do("make the viewport as tall as the page", chromedp.EmulateViewport(1280, height))
		defer func() {
			sctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
			defer cancel()
			if _, err := chromedp.Call(sctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
				t.Fatalf("reset the viewport: %v", err)
			}
		}()
		sctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		if err := os.WriteFile(filepath.Join(shots, "review-"+name+".png"), png, 0o644); err != nil {
			t.Error(err)
		}
	}
	location := func(lt *labelTab) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
		defer cancel()
		loc, err := chromedp.Run(sctx, chromedp.Location())
		if err != nil {
			t.Fatalf("read the location: %v", err)
		}
		return strings.TrimPrefix(loc, m.URL())
	}
	const checkedSentiment = `#label-form input[name="b.sentiment"]:checked`
	reviewURL := "/projects/" + slug + "/review"

	// ann answers the first item with the keys: 1 is positive.
	ann, annProblems := open("ann")
	ann.do("open the labeling page", chromedp.Navigate(m.URL()+"/projects/"+slug+"/label"))
	first := ann.waitItem("ann's first item", "#item-meta[data-item]")
	if got := ann.text("#item-meta strong"); got != "review-001" {
		t.Fatalf("ann's first item is %q, want review-001", got)
	}
	ann.key("ann presses 1", "1")
	ann.waitVisible("positive chosen", checkedSentiment+`[value="positive"]`)
	ann.key("ann presses Enter", kb.Enter)
	second := ann.waitNext("ann's second item", first)

	// bob, through storage, says negative: the answers differ, the item
	// goes to review. The actor is bob, as the web and API handlers make it.
	bobCtx := loupe.WithActor(ctx, users["bob"])
	bobTask, err := m.DB.Next(bobCtx, p, users["bob"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if bobTask.Item.ID != first {
		t.Fatalf("bob's first item is %s, want ann's first %s", bobTask.Item.ExternalID, first)
	}
	if _, _, err := m.DB.Submit(bobCtx, p, annotate.Access{User: users["bob"], Role: annotate.RoleLabeler}, &annotate.Submission{
		ItemID: first, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"negative"`)}}); err != nil {
		t.Fatal(err)
	}
	annV1, err := m.DB.Annotation(ctx, first, users["ann"].ID)
	if err != nil {
		t.Fatal(err)
	}

	// rita sees both answers side by side, the row that differs marked.
	rita, ritaProblems := open("rita")
	rita.do("open the review page", chromedp.Navigate(m.URL()+reviewURL))
	rita.waitVisible("the item in review", `#review[data-item="`+first+`"]`)
	rita.poll("the review page is loaded", `document.readyState === "complete"`)
	if got := rita.text("#review-reason"); !strings.Contains(got, "disagree") {
		t.Errorf("#review-reason = %q, want it to say the labelers disagree", got)
	}
	type answersTable struct {
		Heads    []string `json:"heads"`
		Disagree []string `json:"disagree"` // the rows marked tr.disagree, cells joined by |
	}
	const readAnswers = `(() => ({
  heads: [...document.querySelectorAll('#answers thead th')].map((th) => th.textContent.replace(/\s+/g, ' ').trim()),
  disagree: [...document.querySelectorAll('#answers tbody tr.disagree')].map((tr) => [...tr.children].map((c) => c.textContent.replace(/\s+/g, ' ').trim()).join('|')),
}))()`
	tbl := evalJS[answersTable](rita, "read the answers", readAnswers)
	if len(tbl.Heads) != 3 || !strings.HasPrefix(tbl.Heads[1], "ann version 1") || !strings.HasPrefix(tbl.Heads[2], "bob version 1") {
		t.Errorf("answers table heads %q, want Block, then ann and bob at version 1", tbl.Heads)
	}
	if want := "≠ sentiment|positive|negative"; len(tbl.Disagree) != 1 || tbl.Disagree[0] != want {
		t.Errorf("rows marked as disagreeing %q, want one: %q", tbl.Disagree, want)
	}
	timelineLink := rita.attr("#timeline-link", "href")
	shot(rita, "disagreement")

	// rita picks ann's answer with the keys (the list starts on the first
	// answer: End moves off it, then its first letter picks ann's), writes a
	// comment and sends it back.
	const comment = "The last sentence is sarcastic: read it again."
	const chosen = `document.getElementById('annotation').selectedOptions[0].text`
	rita.do("focus the answer list", chromedp.Focus(chromedp.CSS("#annotation")))
	rita.key("press End in the answer list", kb.End)
	rita.poll("bob's answer chosen", chosen+`.startsWith('bob')`)
	rita.key("type a in the answer list", "a")
	rita.poll("ann's answer chosen", chosen+`.startsWith('ann')`)
	if got := evalJS[string](rita, "read the chosen answer", `document.getElementById('annotation').value`); got != annV1.ID {
		t.Errorf("the answer list holds %q, want ann's annotation %s", got, annV1.ID)
	}
	rita.do("write the comment", chromedp.SendKeys(chromedp.CSS("#comment"), comment))
	rita.do("send it back", chromedp.Click(chromedp.CSS("#reject")))
	rita.waitVisible("the review queue is empty", "#review-empty")
	if got := location(rita); got != reviewURL {
		t.Errorf("after sending back the page is %s, want %s", got, reviewURL)
	}
	if got := rita.text(".flash"); got != "Sent back to the labeler." {
		t.Errorf("flash after sending back = %q, want %q", got, "Sent back to the labeler.")
	}

	// ann, still on her second item (which she holds, so it stays hers
	// first), answers it with 3; then the answer sent back comes before
	// any new item, with rita's comment and ann's old answer.
	ann.key("ann presses 3", "3")
	ann.waitVisible("neutral chosen", checkedSentiment+`[value="neutral"]`)
	ann.key("ann presses Enter", kb.Enter)
	ann.waitNext("the item after the second", second)
	if got := ann.attr("#item-meta", "data-item"); got != first {
		t.Fatalf("after her second item ann got %q, want the item sent back (review-001) before the new review-003", ann.text("#item-meta strong"))
	}
	ann.waitVisible("the note of the sending back", "#returned")
	if got := ann.text("#returned"); !strings.Contains(got, "rita") {
		t.Errorf("#returned = %q, want it to name the reviewer rita", got)
	}
	if got := ann.text("#returned-comment"); !strings.Contains(got, comment) {
		t.Errorf("#returned-comment = %q, want the comment %q", got, comment)
	}
	if got := ann.attr(checkedSentiment, "value"); got != "positive" {
		t.Errorf("the answer sent back shows %q checked, want ann's positive", got)
	}
	ann.screenshot("returned", false)
	ann.key("ann presses 2", "2")
	ann.waitVisible("negative chosen", checkedSentiment+`[value="negative"][data-key="2"]`)
	ann.key("ann presses Enter", kb.Enter)
	ann.waitNext("after the fix", first)
	if a, err := m.DB.Annotation(ctx, first, users["ann"].ID); err != nil || a.Version != 2 || string(a.Values["sentiment"]) != `"negative"` {
		t.Fatalf("ann's answer after the fix: %+v, %v; want version 2, negative", a, err)
	}

	// rita finds the fixed item in the queue again and approves it.
	rita.do("open the review page again", chromedp.Navigate(m.URL()+reviewURL))
	rita.waitVisible("the fixed item in review", `#review[data-item="`+first+`"]`)
	rita.poll("the review page is loaded", `document.readyState === "complete"`)
	if got := rita.text("#review-reason"); !strings.Contains(got, "fixed") {
		t.Errorf("#review-reason after the fix = %q, want it to say the answer was fixed", got)
	}
	tbl = evalJS[answersTable](rita, "read the answers again", readAnswers)
	if len(tbl.Heads) != 3 || !strings.HasPrefix(tbl.Heads[1], "ann version 2") || len(tbl.Disagree) != 0 {
		t.Errorf("answers after the fix: heads %q, disagreeing rows %q; want ann at version 2 and no row marked", tbl.Heads, tbl.Disagree)
	}
	shot(rita, "fixed")
	rita.do("approve", chromedp.Click(chromedp.CSS("#approve")))
	rita.waitVisible("the review queue is empty again", "#review-empty")
	if got := rita.text(".flash"); got != "Approved." {
		t.Errorf("flash after approving = %q, want %q", got, "Approved.")
	}

	// The approved items list links to the item's history, the same page
	// as the review page's link.
	rita.do("open the approved items", chromedp.Navigate(m.URL()+"/projects/"+slug+"/items?state=approved"))
	historyLink := `#items a[href="` + timelineLink + `"]`
	rita.waitVisible("the item's history link", historyLink)
	rita.do("open the history", chromedp.Click(chromedp.CSS(historyLink)))
	rita.waitVisible("the timeline", "#timeline")
	rita.poll("the timeline is loaded", `document.readyState === "complete"`)
	if got := location(rita); got != timelineLink {
		t.Errorf("the history link opened %s, want %s", got, timelineLink)
	}
	if got := rita.text("#item-state"); got != "approved" {
		t.Errorf("#item-state = %q, want approved", got)
	}
	type entry struct {
		Class  string   `json:"class"`
		Who    string   `json:"who"`
		What   string   `json:"what"`
		Values []string `json:"values"`
		Del    []string `json:"del"`
		Ins    []string `json:"ins"`
	}
	got := evalJS[[]entry](rita, "read the timeline", `[...document.querySelectorAll('#timeline > li')].map((li) => {
  const texts = (sel) => [...li.querySelectorAll(sel)].map((e) => e.textContent.replace(/\s+/g, ' ').trim());
  return {class: li.className, who: texts('.who').join(' '), what: texts('.what').join(' '), values: texts('.values li'), del: texts('del'), ins: texts('ins')};
})`)
	want := []entry{
		{Class: "tl-import", What: "imported"},
		{Class: "tl-version", Who: "ann", What: "annotated (version 1)", Values: []string{"sentiment: positive"}},
		{Class: "tl-version", Who: "bob", What: "annotated (version 1)", Values: []string{"sentiment: negative"}},
		{Class: "tl-queue", What: "sent to review: labelers disagree on sentiment"},
		{Class: "tl-review", Who: "rita", What: "sent ann’s answer back “" + comment + "”"},
		{Class: "tl-version", Who: "ann", What: "(version 2)", Del: []string{"positive"}, Ins: []string{"negative"}},
		{Class: "tl-queue", What: "sent to review: the labeler fixed the rejected answer"},
		{Class: "tl-review", Who: "rita", What: "approved"},
	}
	match := func(g, w entry) bool {
		return g.Class == w.Class && (w.Who == "" || g.Who == w.Who) && strings.Contains(g.What, w.What) &&
			strings.Join(g.Values, "|") == strings.Join(w.Values, "|") &&
			strings.Join(g.Del, "|") == strings.Join(w.Del, "|") && strings.Join(g.Ins, "|") == strings.Join(w.Ins, "|")
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = match(got[i], want[i])
	}
	if !ok {
		var b strings.Builder
		for _, e := range got {
			js, _ := json.Marshal(e)
			b.Write(js)
			b.WriteByte('\n')
		}
		t.Errorf("the timeline lists:\n%swant in this order: import; ann annotated v1 (positive); bob annotated v1 (negative); sent to review (disagree); "+
			"rita sent ann’s answer back with the comment; ann’s version 2 (positive → negative); sent to review (fixed); rita approved", b.String())
	}
	shot(rita, "timeline")

	for name, problems := range map[string]func() []string{"ann": annProblems, "rita": ritaProblems} {
		if p := problems(); len(p) > 0 {
			t.Errorf("%s's pages logged errors:\n%s", name, strings.Join(p, "\n"))
		}
	}
	if rep := m.DB.VerifyChain(ctx, p.ID); rep.Err != nil || rep.Events == 0 {
		t.Errorf("the project's event chain: %d events verified, error %v; want all to verify", rep.Events, rep.Err)
	}
	t.Logf("review browser test took %v; screenshots in %s", time.Since(start).Round(time.Millisecond), shots)
}
