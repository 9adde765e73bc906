package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// In the demo project the builtin learner starts suggesting once it has
// seen answers: the labeler accepts one suggestion with a single key
// (Enter) and edits the next one with a digit, and the annotations record
// what was suggested and what became of it.
func TestBrowserAcceptAndEditSuggestions(t *testing.T) {
	chromium := browserPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := MustRunMain(t)
	const slug, labeler, password = "review-sentiment", "sam", "sam-accepts-suggestions"
	hash, err := loupe.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DB.CreateUser(ctx, labeler, loupe.RoleMember, hash); err != nil {
		t.Fatal(err)
	}
	p, err := m.DB.ProjectBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DB.SetMember(ctx, p.ID, labeler, annotate.RoleLabeler); err != nil {
		t.Fatal(err)
	}
	bctx, consoleProblems := newBrowser(ctx, t, chromium)
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v (page problems: %q)", step, err, consoleProblems())
		}
	}
	attr := func(sel, name string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			t.Fatalf("read %s[%s]: %v", sel, name, err)
		}
		return v.Value
	}
	// item waits for a labeling page other than the one of prev, with its
	// scripts run, and returns its item id.
	item := func(step, prev string) string {
		t.Helper()
		do(step, chromedp.WaitVisible(chromedp.CSS(`#item-meta:not([data-item="`+prev+`"])`)),
			chromedp.Poll[chromedp.Void](`document.readyState === "complete"`))
		return attr("#item-meta", "data-item")
	}

	do("sign in",
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), labeler),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/projects/`+slug+`"]`)),
		chromedp.Navigate(m.URL()+"/projects/"+slug+"/label"),
	)
	cur := item("first item", "none")
	// Teach the learner a little: three answers by key.
	for i, key := range []string{"1", "2", "1"} {
		do(fmt.Sprintf("answer %d", i+1), chromedp.KeyEvent(key),
			chromedp.WaitVisible(chromedp.CSS(`#label-form input[name="b.sentiment"][data-key="`+key+`"]:checked`)),
			chromedp.KeyEvent(kb.Enter))
		cur = item(fmt.Sprintf("after answer %d", i+1), cur)
	}

	// A suggestion is pre-filled with its model and score: Enter accepts it.
	do("the fourth item shows a suggestion", chromedp.WaitVisible(chromedp.CSS(`fieldset.blk[data-suggested] .suggested`)))
	accepted := attr(`#label-form input[name="b.sentiment"]:checked`, "value")
	do("accept with Enter", chromedp.KeyEvent(kb.Enter))
	cur = item("after accepting", cur)

	// The next suggestion is changed with a digit before Enter.
	do("the fifth item shows a suggestion", chromedp.WaitVisible(chromedp.CSS(`fieldset.blk[data-suggested] .suggested`)))
	suggested := attr(`#label-form input[name="b.sentiment"]:checked`, "value")
	key := "3" // neutral: the learner, taught positive and negative, never suggests it
	if suggested == "neutral" {
		key = "1"
	}
	do("edit with a digit", chromedp.KeyEvent(key),
		chromedp.WaitVisible(chromedp.CSS(`#label-form input[name="b.sentiment"][data-key="`+key+`"]:checked`)),
		chromedp.KeyEvent(kb.Enter))
	item("after editing", cur)
	if problems := consoleProblems(); len(problems) > 0 {
		t.Errorf("the pages logged errors:\n%s", strings.Join(problems, "\n"))
	}

	outs, err := m.DB.ShownOutcomes(ctx, p.ID)
	if err != nil || len(outs) < 2 {
		t.Fatalf("outcomes = %+v, %v", outs, err)
	}
	acc, edit := outs[len(outs)-2], outs[len(outs)-1]
	if acc.Outcome() != annotate.OutcomeAccepted || acc.Model != "learner" || string(acc.Shown) != `"`+accepted+`"` {
		t.Errorf("the accepted suggestion was recorded as %s (%+v)", acc.Outcome(), acc)
	}
	if edit.Outcome() != annotate.OutcomeEdited || string(edit.Shown) != `"`+suggested+`"` {
		t.Errorf("the edited suggestion was recorded as %s (%+v)", edit.Outcome(), edit)
	}
	if !strings.HasPrefix(acc.Version, "n") || acc.Version == "n0" {
		t.Errorf("suggestion version %q, want the number of answers learned", acc.Version)
	}
}
