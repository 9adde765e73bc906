package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// TestTemplateProjectsInBrowser drives the labeling page of every project
// template in fixtures/templates (the demo projects) in Chromium: each
// subtest signs in as a fresh labeler in a browser context of its own,
// labels the first item with the keys and the mouse, as a labeler would,
// submits, and checks the values stored in the database. The subtests share
// one server and one browser to keep the run short: about 7 s in all on two
// cores, browser start included.
func TestTemplateProjectsInBrowser(t *testing.T) {
	chromium := browserPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	start := time.Now()
	m := MustRunMain(t)
	bctx, _ := newBrowser(ctx, t, chromium)
	shots := os.Getenv("LOUPE_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// Choose a category, tick two tags; "urgent" asks for a reason, which
	// is neither shown nor required before.
	t.Run("text-classification", func(t *testing.T) {
		lt := openLabelTab(t, m, bctx, "text-classification", shots)
		item := lt.waitItem("first item", "#item-meta[data-item]")
		lt.key("press 4 for the category account", "4")
		lt.waitVisible("category chosen", `input[name="b.category"][value="account"][data-key="4"]:checked`)
		if got := lt.conditional("the reason before urgent", "urgency_reason"); got != (formState{Hidden: true, Disabled: true, Valid: true}) {
			t.Errorf("before urgent is ticked: reason block %+v, want it hidden, disabled, not required, and the form valid with a category alone", got)
		}

		lt.key("press 6 for the tag urgent", "6")
		lt.waitVisible("the reason shows", "#blk-urgency_reason-text")
		if got := lt.conditional("the reason after urgent", "urgency_reason"); got != (formState{Required: true}) {
			t.Errorf("after urgent is ticked: reason block %+v, want it shown and required, and the form invalid while it is empty", got)
		}
		lt.key("press 8 for the tag needs follow-up", "8")
		lt.waitVisible("two tags ticked", `input[name="b.tags"][value="needs follow-up"]:checked`)

		const why = "The only admin is away and the team cannot work"
		lt.do("type the reason",
			chromedp.Click(chromedp.CSS("#blk-urgency_reason-text")),
			chromedp.KeyEvent(why),
		)
		lt.screenshot("text-classification", false)
		// Enter in a one-line field submits the form, as in any form.
		lt.key("press Enter in the reason", kb.Enter)
		lt.waitNext("after submit", item)

		wantValues(t, lt.stored(item), map[string]any{
			"category":       "account",
			"tags":           []string{"urgent", "needs follow-up"},
			"urgency_reason": why,
		})
		lt.checkConsole()
	})

	// Two spans with the mouse (one labeled by a key after the selection,
	// one with the label chosen first) and one with the keyboard.
	t.Run("ner", func(t *testing.T) {
		lt := openLabelTab(t, m, bctx, "ner", shots)
		item := lt.waitItem("first item", "#item-meta[data-item]")
		text := lt.itemText(item, "text")
		const value = `document.querySelector('input[name="b.entities"]').value`
		status := func() string {
			return evalJS[string](lt, "read the status", `document.querySelector('.spans-status').textContent`)
		}

		// Mouse, no label chosen yet: the selection waits for a key.
		lt.selectText("select Chidi Nwosu with the mouse", "Chidi Nwosu")
		lt.poll("the selection waits for a label", `document.querySelector('.spans-status').textContent.startsWith('Selected “Chidi Nwosu”')`)
		lt.key("press 1 for Person", "1")
		lt.poll("Chidi Nwosu labeled", value+`.includes('"Chidi Nwosu"')`)

		// Mouse with a chosen label: the span is added at once.
		lt.do("click the label Place", chromedp.Click(chromedp.CSS(`.spans-labels input[value="LOC"]`)))
		lt.selectText("select Tromsø with the mouse", "Tromsø")
		lt.poll("Tromsø labeled at once", value+`.includes('"Tromsø"')`)

		// Keyboard: Home, → over "“ We are proud of" to "the", Shift+→
		// over "team", 2 for Organisation.
		lt.do("focus the text", chromedp.Focus(chromedp.CSS(".spans-text")))
		lt.key("press Home", kb.Home)
		for range 5 {
			lt.key("press →", kb.ArrowRight)
		}
		if got := status(); got != "“the”" {
			t.Errorf("after Home and five →: status %q, want the caret on “the”", got)
		}
		lt.do("press Shift+→", chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
		if got := status(); !strings.HasPrefix(got, "Selected “the team”") {
			t.Errorf("after Shift+→: status %q, want “the team” selected", got)
		}
		lt.key("press 2 for Organisation", "2")
		lt.poll("the team labeled", value+`.includes('"the team"')`)
		if got := evalJS[int](lt, "count the listed spans", `document.querySelectorAll('.spans-list li').length`); got != 3 {
			t.Errorf("the list under the text shows %d spans, want 3", got)
		}

		// Tab leaves the text, whose keys are its own; then the page's keys
		// work again.
		lt.key("press Tab", kb.Tab)
		lt.key("press 5 for usable", "5")
		lt.waitVisible("usable chosen", `input[name="b.quality"][value="usable"]:checked`)
		lt.screenshot("ner", true)
		lt.key("press Enter", kb.Enter)
		lt.waitNext("after submit", item)

		got := lt.stored(item)
		span := func(sub, label string) map[string]any {
			i := strings.Index(text, sub)
			if i < 0 {
				t.Fatalf("the item's text %q does not hold %q", text, sub)
			}
			start := utf8.RuneCountInString(text[:i])
			return map[string]any{"start": start, "end": start + utf8.RuneCountInString(sub), "label": label, "text": sub}
		}
		wantValues(t, got, map[string]any{
			"entities": []any{span("the team", "ORG"), span("Chidi Nwosu", "PER"), span("Tromsø", "LOC")},
			"quality":  "usable",
		})
		// Offsets count code points, as Python's text[start:end] does.
		var spans []struct {
			Start, End int
			Text       string
		}
		if err := json.Unmarshal(got["entities"], &spans); err != nil {
			t.Fatalf("stored entities %s: %v", got["entities"], err)
		}
		runes := []rune(text)
		for _, sp := range spans {
			if sp.Start < 0 || sp.End > len(runes) || sp.Start >= sp.End || string(runes[sp.Start:sp.End]) != sp.Text {
				t.Errorf("span %+v is not the text at its code point offsets in %q", sp, text)
			}
		}
		lt.checkConsole()
	})

	// Rank with a button and a key, switch tabs with the keys, rate, tick
	// an issue and correct the prefilled better answer.
	t.Run("llm-rating", func(t *testing.T) {
		lt := openLabelTab(t, m, bctx, "llm-rating", shots)
		item := lt.waitItem("first item", "#item-meta[data-item]")
		const order = `[...document.querySelectorAll('.rank-item')].map((li) => li.dataset.id + '=' + li.querySelector('select').value).join(' ')`
		if got := evalJS[string](lt, "read the order", order); got != "a= b= c=" {
			t.Errorf("before ranking: %q, want the item's order and no positions", got)
		}

		lt.do("click ↑ of response C", chromedp.Click(chromedp.CSS(`.rank-item[data-id="c"] .rank-up`)))
		lt.poll("C moved up", order+` === 'a=1 c=2 b=3'`)
		lt.do("focus response C", chromedp.Focus(chromedp.CSS(`.rank-item[data-id="c"]`)))
		lt.do("press Shift+↑", chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierShift)))
		lt.poll("C moved to the top", order+` === 'c=1 a=2 b=3'`)
		if got := evalJS[string](lt, "what has focus", `document.querySelector('.rank-list').contains(document.activeElement) && document.activeElement.dataset.id`); got != "c" {
			t.Errorf("after Shift+↑ the focus is on %q, want it to stay on response C", got)
		}

		lt.screenshot("llm-rating-ranked", false)
		// Once ranked, "Keep this order" has nothing left to do: it hides.
		if evalJS[bool](lt, "is Keep this order shown", `document.querySelector('.rank-accept').getClientRects().length > 0`) {
			t.Error(`after ranking, the button "Keep this order" is still shown (and focusable), want it hidden`)
		}
		// The list is one Tab stop: Shift+Tab goes back to the tabs, →
		// opens the second one.
		lt.do("press Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
		const selectedTab = `[role=tab][aria-selected=true]`
		if got := evalJS[string](lt, "what has focus", `document.activeElement.matches('`+selectedTab+`') ? 'the tab' : document.activeElement.outerHTML.slice(0, 120)`); got != "the tab" {
			t.Errorf("Shift+Tab from the ranking focused %s, want the selected tab", got)
			lt.do("focus the tab", chromedp.Focus(chromedp.CSS(selectedTab)))
		}
		lt.key("press →", kb.ArrowRight)
		lt.waitVisible("the second tab shows", `input[name="b.quality"][value="2"]`)
		if got := evalJS[bool](lt, "is the ranking hidden", `document.querySelector('.rank-list').offsetParent === null`); !got {
			t.Error("the ranking is still shown after switching to the second tab")
		}

		lt.key("press 2 to rate", "2")
		lt.waitVisible("rated 2, the issues show", `input[name="b.issues"][value="wrong facts"]`)
		lt.waitVisible("the better answer shows", "#blk-better_answer-text")
		draft := lt.itemText(item, "best_draft")
		if got := evalJS[string](lt, "read the better answer", `document.getElementById('blk-better_answer-text').value`); got != draft {
			t.Errorf("better answer prefilled with %q, want the item's best_draft %q", got, draft)
		}
		lt.key("press 6 for wrong facts", "6")
		lt.waitVisible("wrong facts ticked", `input[name="b.issues"][value="wrong facts"]:checked`)

		const better = "Water when the top 2 cm of soil feel dry."
		lt.do("replace the better answer",
			chromedp.Focus(chromedp.CSS("#blk-better_answer-text")),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.KeyEvent(better),
		)
		lt.screenshot("llm-rating", true)
		// Enter types in a text area: Tab to the Submit button, Enter.
		lt.key("press Tab", kb.Tab)
		lt.poll("Submit has focus", `document.activeElement.id === 'submit'`)
		lt.key("press Enter", kb.Enter)
		lt.waitNext("after submit", item)

		wantValues(t, lt.stored(item), map[string]any{
			"order":         []string{"c", "a", "b"},
			"quality":       2,
			"issues":        []string{"wrong facts"},
			"better_answer": better,
		})
		lt.checkConsole()
	})

	// Submitting without a side is refused by the browser, and by the
	// server when the browser lets it through; then a tie, and B with a
	// reason on the next item.
	t.Run("pairwise", func(t *testing.T) {
		lt := openLabelTab(t, m, bctx, "pairwise", shots)
		item := lt.waitItem("first item", "#item-meta[data-item]")
		const form = `document.getElementById('label-form')`

		evalJS[bool](lt, "watch for invalid controls", form+`.addEventListener('invalid', () => { window.invalidSeen = true; }, true) || true`)
		lt.key("press Enter with no side chosen", kb.Enter)
		lt.poll("the browser refuses", `window.invalidSeen === true`)
		if msg := evalJS[string](lt, "read the message", `document.querySelector('input[name="b.preference"]').validationMessage`); msg == "" {
			t.Error("the browser shows no message for the missing side")
		}

		// Without the browser's check the server refuses, names the block
		// and stores nothing.
		evalJS[bool](lt, "turn off the browser's check", form+`.noValidate = true`)
		lt.expectProblem("the server responded with a status of 422")
		lt.key("press Enter again", kb.Enter)
		lt.waitVisible("the server's message", ".block-pairwise .error")
		lt.poll("the page is loaded", `document.readyState === "complete"`)
		if got := lt.text(".block-pairwise .error"); !strings.Contains(got, "required") {
			t.Errorf("block error %q, want it to say a value is required", got)
		}
		if got := lt.text("main p.error"); !strings.Contains(got, "need attention") {
			t.Errorf("page error %q, want it to say that answers need attention", got)
		}
		if got := lt.attr("#item-meta", "data-item"); got != item {
			t.Errorf("after the refusal the page shows item %s, want the same item %s", got, item)
		}
		if a, err := m.DB.Annotation(t.Context(), item, lt.user.ID); loupe.ErrorCode(err) != loupe.ENOTFOUND {
			t.Errorf("after the refused submit: annotation %+v, error %v; want none stored", a, err)
		}

		lt.key("press t for tie", "t")
		lt.waitVisible("tie chosen", `input[name="b.preference"][value="tie"]:checked`)
		lt.key("press Enter", kb.Enter)
		second := lt.waitNext("after the tie", item)
		wantValues(t, lt.stored(item), map[string]any{"preference": map[string]any{"choice": "tie"}})

		lt.key("press b for Answer B", "b")
		lt.waitVisible("B chosen", `input[name="b.preference"][value="B"]:checked`)
		// A closed select steps through its options with the arrow keys.
		lt.do("choose the reason",
			chromedp.Focus(chromedp.CSS("#blk-preference-reason")),
			chromedp.KeyEvent(kb.ArrowDown+kb.ArrowDown),
		)
		if got := evalJS[string](lt, "read the reason", `document.getElementById('blk-preference-reason').value`); got != "more helpful" {
			t.Errorf("after ↓ ↓ the reason is %q, want more helpful", got)
		}
		lt.screenshot("pairwise", false)
		lt.do("click Submit", chromedp.Click(chromedp.CSS("#submit")))
		lt.waitNext("after the second item", second)
		wantValues(t, lt.stored(second), map[string]any{"preference": map[string]any{"choice": "B", "reason": "more helpful"}})
		lt.checkConsole()
	})

	// Draw a box around the triangle, a little too small, then drag its
	// bottom right corner out to the triangle's corner.
	t.Run("image-boxes", func(t *testing.T) {
		lt := openLabelTab(t, m, bctx, "image-boxes", shots)
		item := lt.waitItem("first item", "#item-meta[data-item]")
		lt.key("press 3 for Triangle", "3")
		lt.waitVisible("triangle chosen", `input[name="ui.shapes.label"][value="triangle"]:checked`)

		evalJS[bool](lt, "scroll to the image", `(document.querySelector('.boxes-stage').scrollIntoView({block: 'center'}), true)`)
		lt.poll("the image is loaded", `(() => { const i = document.querySelector('.boxes-stage img'); return i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0; })()`)
		img := evalJS[rect](lt, "measure the image", `(() => { const r = document.querySelector('.boxes-stage img').getBoundingClientRect(); return {left: r.left, top: r.top, width: r.width, height: r.height}; })()`)
		at := func(fx, fy float64) [2]float64 { return [2]float64{img.Left + fx*img.Width, img.Top + fy*img.Height} }

		// In 001.png (480×320) the triangle spans x 192–295, y 105–209.
		lt.drag("draw a box", at(0.40, 0.33), at(0.55, 0.55))
		lt.poll("the box is drawn", `document.querySelector('input[name="b.shapes"]').value !== ''`)
		drawn := lt.boxes()
		if len(drawn) != 1 || drawn[0].Label != "triangle" || !near(drawn[0].X, 0.40) || !near(drawn[0].Y, 0.33) || !near(drawn[0].Width, 0.15) || !near(drawn[0].Height, 0.22) {
			t.Fatalf("after drawing from (0.40, 0.33) to (0.55, 0.55): %+v, want one triangle box of 0.15 × 0.22 there", drawn)
		}

		se := evalJS[rect](lt, "find the se handle", `(() => { const r = document.querySelector('.box.selected .handle[data-corner="se"]').getBoundingClientRect(); return {left: r.left, top: r.top, width: r.width, height: r.height}; })()`)
		lt.drag("resize by the se handle", [2]float64{se.Left + se.Width/2, se.Top + se.Height/2}, at(0.615, 0.655))
		lt.poll("the box is resized", `JSON.parse(document.querySelector('input[name="b.shapes"]').value)[0].width > 0.2`)
		if got := lt.text(".boxes-count"); got != "1" {
			t.Errorf("box count %q, want 1", got)
		}
		lt.screenshot("image-boxes", false)
		// The image has the focus since the drag; Enter there submits.
		lt.key("press Enter", kb.Enter)
		lt.waitNext("after submit", item)

		var stored []box
		if err := json.Unmarshal(lt.stored(item)["shapes"], &stored); err != nil {
			t.Fatalf("stored shapes: %v", err)
		}
		if len(stored) != 1 {
			t.Fatalf("stored %d boxes (%+v), want 1", len(stored), stored)
		}
		b := stored[0]
		if b.Label != "triangle" {
			t.Errorf("stored label %q, want triangle", b.Label)
		}
		if b.X < 0 || b.Y < 0 || b.Width <= 0 || b.Height <= 0 || b.X+b.Width > 1 || b.Y+b.Height > 1 {
			t.Errorf("stored box %+v is not inside the image in fractions", b)
		}
		if !near(b.X, drawn[0].X) || !near(b.Y, drawn[0].Y) {
			t.Errorf("stored box at (%v, %v), want the top left corner where it was drawn (%v, %v)", b.X, b.Y, drawn[0].X, drawn[0].Y)
		}
		if !near(b.Width, 0.215) || !near(b.Height, 0.325) || b.Width <= drawn[0].Width || b.Height <= drawn[0].Height {
			t.Errorf("stored box %v × %v, want it resized to about 0.215 × 0.325, larger than drawn (%v × %v)", b.Width, b.Height, drawn[0].Width, drawn[0].Height)
		}
		lt.checkConsole()
	})

	// Rate with a digit, answer "no", which asks for a comment.
	t.Run("chat-feedback", func(t *testing.T) {
		lt := openLabelTab(t, m, bctx, "chat-feedback", shots)
		item := lt.waitItem("first item", "#item-meta[data-item]")
		lt.key("press 1 to rate", "1")
		lt.waitVisible("rated 1", `input[name="b.helpfulness"][value="1"]:checked`)
		lt.key("press 6 for yes", "6")
		lt.waitVisible("yes chosen", `input[name="b.resolved"][value="yes"]:checked`)
		if got := lt.conditional("the comment after yes", "comment"); got != (formState{Hidden: true, Disabled: true, Valid: true}) {
			t.Errorf("after yes: comment block %+v, want it hidden, disabled, not required, and the form valid", got)
		}
		lt.key("press 7 for no", "7")
		lt.waitVisible("the comment shows", "#blk-comment-text")
		if got := lt.conditional("the comment after no", "comment"); got != (formState{Required: true}) {
			t.Errorf("after no: comment block %+v, want it shown and required, and the form invalid while it is empty", got)
		}

		const comment = "It did not answer the question.\nA link to the refund policy would do."
		lt.do("type the comment",
			chromedp.Click(chromedp.CSS("#blk-comment-text")),
			chromedp.KeyEvent(comment),
		)
		lt.screenshot("chat-feedback", false)
		lt.do("click Submit", chromedp.Click(chromedp.CSS("#submit")))
		lt.waitNext("after submit", item)

		wantValues(t, lt.stored(item), map[string]any{
			"helpfulness": 1,
			"resolved":    "no",
			"comment":     comment,
		})
		lt.checkConsole()
	})

	t.Logf("template browser tests took %v; screenshots in %s", time.Since(start).Round(time.Millisecond), shots)
}

// formState is what the tests read of a conditional textbox and its form.
type formState struct {
	Hidden   bool `json:"hidden"`
	Disabled bool `json:"disabled"`
	Required bool `json:"required"` // the control takes part in validation
	Valid    bool `json:"valid"`    // the whole form
}

// conditional reads the state of the conditional textbox block named name
// (its wrapper is #blk-NAME, its control #blk-NAME-text) and whether the
// form would pass the browser's checks.
func (lt *labelTab) conditional(step, name string) formState {
	lt.t.Helper()
	return evalJS[formState](lt, step, fmt.Sprintf(`(() => {
  const block = document.getElementById('blk-%[1]s');
  const control = document.getElementById('blk-%[1]s-text');
  return {hidden: block.hidden, disabled: block.disabled, required: control.willValidate, valid: document.getElementById('label-form').checkValidity()};
})()`, name))
}

// rect is a DOMRect, in CSS pixels of the viewport.
type rect struct {
	Left   float64 `json:"left"`
	Top    float64 `json:"top"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// box is a value of a boxes block.
type box struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Label  string  `json:"label"`
}

// near reports whether two fractions of the image are within 1% of it: a
// few pixels of the displayed image.
func near(got, want float64) bool { return math.Abs(got-want) <= 0.01 }

// labelTab is one labeler's tab on a project's labeling page, in a browser
// context of its own (its own cookies).
type labelTab struct {
	t        *testing.T
	m        *Main
	ctx      context.Context
	project  *annotate.Project
	user     *loupe.User
	shots    string
	mu       sync.Mutex
	problems []string
	expected []string // what a problem expected of the test may say
}

// openLabelTab adds a fresh labeler to the project, signs them in through
// the login form in a new browser context and opens the labeling page.
func openLabelTab(t *testing.T, m *Main, bctx context.Context, slug, shots string) *labelTab {
	t.Helper()
	ctx := t.Context()
	name, password := "lab-"+slug, "labels-"+slug+"-well"
	hash, err := loupe.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	user, err := m.DB.CreateUser(ctx, name, loupe.RoleMember, hash)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.DB.ProjectBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DB.SetMember(ctx, p.ID, name, annotate.RoleLabeler); err != nil {
		t.Fatal(err)
	}

	tctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	lt := &labelTab{t: t, m: m, ctx: tctx, project: p, user: user, shots: shots}
	// The tab's first action opens it, and it lives as long as the context
	// of that action: tctx itself, not a step's shorter one.
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	messages := chromedp.Console(tctx)
	go func() {
		for msg, err := range messages {
			if err != nil {
				return
			}
			if msg.Type == chromedp.ConsoleError || msg.IsException() {
				lt.mu.Lock()
				lt.problems = append(lt.problems, fmt.Sprintf("%s (%s:%d)", msg, msg.URL, msg.Line+1))
				lt.mu.Unlock()
			}
		}
	}()
	lt.do("sign in",
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/projects/`+slug+`"]`)),
	)
	lt.do("open the labeling page", chromedp.Navigate(m.URL()+"/projects/"+slug+"/label"))
	return lt
}

// do runs browser actions, each step bounded so that a page that never
// comes says which step it was stuck on.
func (lt *labelTab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	lt.t.Helper()
	ctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		lt.t.Fatalf("%s: %v (page problems: %q)", step, err, lt.consoleProblems())
	}
}

// evalJS evaluates a JavaScript expression on the page and decodes its value.
func evalJS[T any](lt *labelTab, step, expr string) T {
	lt.t.Helper()
	ctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		lt.t.Fatalf("%s: %s: %v", step, expr, err)
	}
	return v
}

// key presses keys, each a character or a kb constant.
func (lt *labelTab) key(step, keys string) {
	lt.t.Helper()
	lt.do(step, chromedp.KeyEvent(keys))
}

func (lt *labelTab) waitVisible(step, sel string) {
	lt.t.Helper()
	lt.do(step, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// poll waits until a JavaScript expression is true.
func (lt *labelTab) poll(step, expr string) {
	lt.t.Helper()
	lt.do(step, chromedp.Poll[chromedp.Void](expr))
}

func (lt *labelTab) text(sel string) string {
	lt.t.Helper()
	ctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		lt.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (lt *labelTab) attr(sel, name string) string {
	lt.t.Helper()
	ctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		lt.t.Fatalf("read %s[%s]: %v", sel, name, err)
	}
	return v.Value
}

// waitItem waits for the labeling page whose #item-meta matches sel and for
// its scripts to have run (module scripts run before the load event), and
// returns the item's id.
func (lt *labelTab) waitItem(step, sel string) string {
	lt.t.Helper()
	lt.do(step,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
	)
	return lt.attr("#item-meta", "data-item")
}

// waitNext waits for the page of the item after itemID, which comes once
// the submission is stored, and returns its id.
func (lt *labelTab) waitNext(step, itemID string) string {
	lt.t.Helper()
	return lt.waitItem(step, `#item-meta:not([data-item="`+itemID+`"])`)
}

// itemText returns a text field of the item's data.
func (lt *labelTab) itemText(itemID, field string) string {
	lt.t.Helper()
	it, err := lt.m.DB.Item(lt.t.Context(), lt.project.ID, itemID)
	if err != nil {
		lt.t.Fatal(err)
	}
	s, ok := it.Data[field].(string)
	if !ok {
		lt.t.Fatalf("item %s: field %s is %T, want text", it.ExternalID, field, it.Data[field])
	}
	return s
}

// stored returns the values of the labeler's annotation of the item, as
// stored in the database.
func (lt *labelTab) stored(itemID string) map[string]json.RawMessage {
	lt.t.Helper()
	a, err := lt.m.DB.Annotation(lt.t.Context(), itemID, lt.user.ID)
	if err != nil {
		lt.t.Fatalf("annotation of item %s by %s: %v", itemID, lt.user.Name, err)
	}
	if a.Version != 1 {
		lt.t.Errorf("annotation of item %s at version %d, want 1", itemID, a.Version)
	}
	return a.Values
}

// drag presses the left button at from, moves to to in a few steps and
// releases it there, as a hand on a mouse does.
func (lt *labelTab) drag(step string, from, to [2]float64) {
	lt.t.Helper()
	held := func(p *input.DispatchMouseEventParams) {
		p.Button = input.MouseButtonLeft
		p.Buttons = 1
	}
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.MouseEvent(chromedp.MouseMoved, from[0], from[1]),
		chromedp.MouseEvent(chromedp.MousePressed, from[0], from[1], held, chromedp.ClickCount(1)),
	}
	const steps = 4
	for i := 1; i <= steps; i++ {
		f := float64(i) / steps
		actions = append(actions, chromedp.MouseEvent(chromedp.MouseMoved, from[0]+f*(to[0]-from[0]), from[1]+f*(to[1]-from[1]), held))
	}
	actions = append(actions, chromedp.MouseEvent(chromedp.MouseReleased, to[0], to[1], held, chromedp.ClickCount(1)))
	lt.do(step, actions...)
}

// selectText selects the first occurrence of sub in the spans block's text
// by dragging the mouse from inside its first character to inside its last.
func (lt *labelTab) selectText(step, sub string) {
	lt.t.Helper()
	arg, _ := json.Marshal(sub)
	// The text nodes of the box, less the label names drawn after spans.
	r := evalJS[struct {
		X1 float64 `json:"x1"`
		Y1 float64 `json:"y1"`
		X2 float64 `json:"x2"`
		Y2 float64 `json:"y2"`
	}](lt, step, `((sub) => {
  const box = document.querySelector('.spans-text');
  const walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  const nodes = [];
  let text = '';
  for (let n; (n = walk.nextNode());) {
    if (n.parentElement.closest('.spans-tag')) continue;
    nodes.push({ n, at: text.length });
    text += n.data;
  }
  const i = text.indexOf(sub);
  if (i < 0) throw new Error('no ' + sub + ' in ' + text);
  const char = (o) => {
    const { n, at } = nodes.findLast((x) => x.at <= o);
    const r = document.createRange();
    r.setStart(n, o - at);
    r.setEnd(n, o - at + 1);
    return r.getBoundingClientRect();
  };
  const a = char(i);
  const b = char(i + sub.length - 1);
  return { x1: a.left + 1, y1: (a.top + a.bottom) / 2, x2: b.right - 1, y2: (b.top + b.bottom) / 2 };
})(`+string(arg)+`)`)
	lt.drag(step, [2]float64{r.X1, r.Y1}, [2]float64{r.X2, r.Y2})
}

// boxes returns the boxes of the page's boxes block, from its hidden input.
func (lt *labelTab) boxes() []box {
	lt.t.Helper()
	s := evalJS[string](lt, "read the boxes", `document.querySelector('input[name="b.shapes"]').value`)
	var out []box
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		lt.t.Fatalf("boxes input %q: %v", s, err)
	}
	return out
}

// screenshot saves the whole page as NAME.png in the screenshot folder and,
// with dark, also as NAME-dark.png in the dark colour scheme.
func (lt *labelTab) screenshot(name string, dark bool) {
	lt.t.Helper()
	shot := func(file string) {
		ctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			lt.t.Errorf("screenshot %s: %v", file, err)
			return
		}
		if err := os.WriteFile(filepath.Join(lt.shots, file), png, 0o644); err != nil {
			lt.t.Error(err)
		}
	}
	shot("label-" + name + ".png")
	if !dark {
		return
	}
	scheme := func(value string) {
		ctx, cancel := context.WithTimeout(lt.ctx, 15*time.Second)
		defer cancel()
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: value}},
		}); err != nil {
			lt.t.Fatalf("emulate prefers-color-scheme: %s: %v", value, err)
		}
	}
	scheme("dark")
	lt.poll("dark scheme", `matchMedia('(prefers-color-scheme: dark)').matches`)
	shot("label-" + name + "-dark.png")
	scheme("light")
	lt.poll("light scheme", `matchMedia('(prefers-color-scheme: light)').matches`)
}

// consoleProblems returns the errors the pages logged, less the expected
// ones.
func (lt *labelTab) consoleProblems() []string {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var out []string
	for _, p := range lt.problems {
		// Chromium reports some problems twice (a log entry and a console
		// message); once is enough.
		if !slices.Contains(out, p) && !slices.ContainsFunc(lt.expected, func(e string) bool { return strings.Contains(p, e) }) {
			out = append(out, p)
		}
	}
	return out
}

// expectProblem tells checkConsole that a page may log an error saying msg.
func (lt *labelTab) expectProblem(msg string) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.expected = append(lt.expected, msg)
}

// checkConsole reports errors the pages logged.
func (lt *labelTab) checkConsole() {
	lt.t.Helper()
	if p := lt.consoleProblems(); len(p) > 0 {
		lt.t.Errorf("the pages logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// wantValues compares stored values with the wanted ones, block by block, as
// JSON: no block missing, none extra (hidden blocks store nothing).
func wantValues(t *testing.T, got map[string]json.RawMessage, want map[string]any) {
	t.Helper()
	for name, w := range want {
		raw, ok := got[name]
		if !ok {
			t.Errorf("stored values %s: no %s, want %v", dump(got), name, w)
			continue
		}
		wb, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		var g, wv any
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Errorf("stored %s = %s: %v", name, raw, err)
			continue
		}
		json.Unmarshal(wb, &wv)
		if !reflect.DeepEqual(g, wv) {
			t.Errorf("stored %s = %s, want %s", name, raw, wb)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("stored values %s hold %s, want no value for it", dump(got), name)
		}
	}
}

func dump(values map[string]json.RawMessage) string {
	b, _ := json.Marshal(values)
	return string(b)
}
